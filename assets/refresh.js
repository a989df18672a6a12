/*
 * Clientside half of the shared page controls (callbacks/controls.py).
 *
 * kpiControls.refreshPrefs: keeps the auto-refresh switch and minutes in step with a localStorage dcc.Store,
 *   so the browser remembers the choice, and sets the refresh Interval (minutes clamped to 1..60).
 * kpiControls.stepDate: previous / next day on the date picker, in the browser (no server round trip).
 * kpiControls.countdown: notes when the next refresh is due; a one-second timer below writes the visible
 *   countdown ("next in 4:59") into every element with a data-countdown attribute, without a server call.
 */
(function () {
  "use strict";

  var MIN_MINUTES = 1;
  var MAX_MINUTES = 60;
  var DEFAULT_MINUTES = 5;
  var deadlines = {}; // countdown element id -> {due: epoch ms, off: bool}

  function clampMinutes(value, fallback) {
    var minutes = parseInt(value, 10);
    if (isNaN(minutes)) {
      return fallback === undefined ? DEFAULT_MINUTES : fallback;
    }
    return Math.min(MAX_MINUTES, Math.max(MIN_MINUTES, minutes));
  }

  // What the person typed in the minutes box. The number input reports NaN for anything outside its min..max,
  // so 500 would read as "nothing typed"; the box itself still holds "500", which clamps to 60.
  function typedMinutes(minutes) {
    if (typeof minutes === "number" ? isFinite(minutes) : minutes !== null && minutes !== undefined && minutes !== "") {
      return minutes;
    }
    var box = triggeredIds()
      .filter(function (propId) {
        return /-refresh-minutes\.value$/.test(propId);
      })
      .map(function (propId) {
        return document.getElementById(propId.slice(0, -".value".length));
      })[0];
    return box ? box.value : minutes;
  }

  function triggeredIds() {
    var context = window.dash_clientside && window.dash_clientside.callback_context;
    var triggered = (context && context.triggered) || [];
    return triggered
      .map(function (item) {
        return item.prop_id || "";
      })
      .filter(function (propId) {
        return propId && propId !== ".";
      });
  }

  function refreshPrefs(on, minutes, prefsTimestamp, prefs, unitMs) {
    var unit = unitMs || 60000;
    var fromUser = triggeredIds().some(function (propId) {
      return propId.indexOf("-refresh-prefs.") === -1;
    });
    var state;
    if (fromUser) {
      // Nothing readable typed (an empty box): keep the minutes in use rather than jump to the default.
      var kept = prefs && typeof prefs === "object" ? clampMinutes(prefs.minutes) : DEFAULT_MINUTES;
      state = { on: Boolean(on), minutes: clampMinutes(typedMinutes(minutes), kept) };
    } else if (prefs && typeof prefs === "object") {
      state = { on: Boolean(prefs.on), minutes: clampMinutes(prefs.minutes) };
    } else {
      state = { on: Boolean(on), minutes: clampMinutes(minutes) };
    }
    var noUpdate = window.dash_clientside.no_update;
    var samePrefs = prefs && prefs.on === state.on && prefs.minutes === state.minutes;
    return [
      state.on === Boolean(on) ? noUpdate : state.on,
      state.minutes === minutes ? noUpdate : state.minutes,
      samePrefs ? noUpdate : state,
      state.minutes * unit,
      !state.on,
    ];
  }

  // Previous / next day: move the picker's ISO date by one day, never past its max_date_allowed (today).
  function stepDate(prevClicks, nextClicks, current, maxDate) {
    var triggered = triggeredIds();
    var step = triggered.some(function (propId) {
      return /-prev\.n_clicks$/.test(propId);
    })
      ? -1
      : 1;
    var match = /^(\d{4})-(\d{2})-(\d{2})/.exec(current || "");
    if (!match) {
      return window.dash_clientside.no_update;
    }
    var moved = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3] + step));
    var iso = moved.toISOString().slice(0, 10);
    if (maxDate && iso > String(maxDate).slice(0, 10)) {
      return window.dash_clientside.no_update;
    }
    return iso;
  }

  function countdown(nIntervals, interval, disabled, elementId) {
    deadlines[elementId] = { due: Date.now() + (interval || 0), off: Boolean(disabled) };
    render();
    return disabled ? "Auto refresh is off" : "Refreshes every " + Math.round((interval || 0) / 1000) + " s";
  }

  function format(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function render() {
    Object.keys(deadlines).forEach(function (elementId) {
      var element = document.getElementById(elementId);
      if (!element) {
        delete deadlines[elementId];
        return;
      }
      var entry = deadlines[elementId];
      var text = "";
      if (!entry.off) {
        var left = Math.max(0, Math.ceil((entry.due - Date.now()) / 1000));
        text = "next in " + format(left);
      }
      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
  }

  window.setInterval(render, 1000);
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    kpiControls: { refreshPrefs: refreshPrefs, countdown: countdown, stepDate: stepDate },
  });
})();
