/*
 * The TV as a screen left alone for weeks (layouts/tv.py, callbacks/tv.py): it says when it cannot reach the
 * server, and it celebrates the people who reach today's sales goal. Loaded on every page; does nothing without
 * the TV frame (#tv-root).
 *
 * Reconnecting: every few seconds (the TV's refresh, at most 10 s) the screen asks /healthz. When that fails twice
 * in a row, "Reconnecting…" shows over the slide; the first answer hides it again. Dash's own intervals keep
 * running meanwhile, so the slides come back by themselves once the server answers.
 *
 * Goals: the server sends tv-goals = {day, people} (who has reached the daily goal in the screen's sales groups).
 * Each name is shown once per screen per day, for five seconds, without sound; the names already shown are kept in
 * this browser's localStorage under "kpi-tv-goals:<day>" (other days' keys are dropped), so a reload does not
 * repeat them.
 */
(function () {
  "use strict";

  var PROBE_MAX_MS = 10000;
  var FAILURES_BEFORE_BANNER = 2;
  var CELEBRATE_MS = 5000;
  var KEY_PREFIX = "kpi-tv-goals:";

  // --- reconnecting -------------------------------------------------------------------------------------------

  var probeTimer = null;
  var failures = 0;

  function setReconnecting(on) {
    var banner = document.getElementById("tv-reconnecting");
    if (banner) {
      banner.classList.toggle("tv-hidden", !on);
    }
  }

  function probe() {
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = controller ? window.setTimeout(function () { controller.abort(); }, 5000) : null;
    window
      .fetch("/healthz", { cache: "no-store", credentials: "same-origin", signal: controller && controller.signal })
      .then(function (response) {
        return response.ok;
      })
      .catch(function () {
        return false;
      })
      .then(function (ok) {
        window.clearTimeout(timeout);
        failures = ok ? 0 : failures + 1;
        setReconnecting(failures >= FAILURES_BEFORE_BANNER);
      });
  }

  function startProbing(config) {
    if (probeTimer || !window.fetch) {
      return;
    }
    var every = Math.min(PROBE_MAX_MS, Math.max(1000, ((config && config.refresh) || 10) * 1000));
    probeTimer = window.setInterval(function () {
      if (!document.getElementById("tv-root")) {
        window.clearInterval(probeTimer);
        probeTimer = null;
        return;
      }
      probe();
    }, every);
  }

  // --- goals --------------------------------------------------------------------------------------------------

  var queue = [];
  var showing = false;

  function shownToday(day) {
    try {
      var names = JSON.parse(window.localStorage.getItem(KEY_PREFIX + day) || "[]");
      return Array.isArray(names) ? names : [];
    } catch (e) {
      return [];
    }
  }

  function remember(day, names) {
    try {
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf(KEY_PREFIX) === 0 && key !== KEY_PREFIX + day) {
          window.localStorage.removeItem(key);
        }
      }
      window.localStorage.setItem(KEY_PREFIX + day, JSON.stringify(names));
    } catch (e) {
      /* private mode or a full storage: the celebration may repeat after a reload, nothing worse */
    }
  }

  function sentence(names) {
    var who = names.length === 1 ? names[0] : names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
    return who + (names.length === 1 ? " has" : " have") + " reached today's goal";
  }

  function showNext() {
    var toast = document.getElementById("tv-celebrate");
    if (!toast || !queue.length) {
      showing = false;
      return;
    }
    showing = true;
    var names = queue.shift();
    toast.textContent = "★ " + sentence(names);
    toast.classList.remove("tv-hidden");
    window.setTimeout(function () {
      toast.classList.add("tv-hidden");
      toast.textContent = "";
      showNext();
    }, CELEBRATE_MS);
  }

  function celebrate(goals) {
    if (!goals || !goals.day || !Array.isArray(goals.people)) {
      return;
    }
    var seen = shownToday(goals.day);
    var fresh = goals.people.filter(function (name) {
      return seen.indexOf(name) < 0;
    });
    if (!fresh.length) {
      return;
    }
    remember(goals.day, seen.concat(fresh));
    queue.push(fresh);
    if (!showing) {
      showNext();
    }
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tvScreen = {
    goals: function (goals, config) {
      startProbing(config);
      celebrate(goals);
      return window.dash_clientside.no_update;
    },
  };
})();
