/*
 * Clientside half of the TV page (callbacks/tv.py): the wall clock, the local day, and the periodic full reload.
 *
 * tv.tick runs every second in the browser, never on the server. It writes the clock ("14:05") only when the
 * minute changes and the day ("2026-03-04", in TIMEZONE) only when the day changes; the server callback listens
 * to the day, so the TV moves to the new day at midnight without waiting for its next refresh. The time comes
 * from the browser clock plus the offset the server computed (zero unless a test injected a clock).
 *
 * Every `reload_ms` the page reloads itself completely, which keeps the memory of a browser left on for weeks
 * flat. It first asks the server for the page and reloads only when that answers (no redirect to a sign-in, no
 * error): reloading into an error page would leave the screen dead until someone walked up to it.
 */
(function () {
  "use strict";

  var loadedAt = Date.now();
  var reloading = false;
  var formatters = {};

  function formatter(tz, kind) {
    var key = tz + "|" + kind;
    if (!formatters[key]) {
      var options =
        kind === "time"
          ? { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
          : { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" };
      formatters[key] = new Intl.DateTimeFormat("en-CA", options);
    }
    return formatters[key];
  }

  function localDay(tz, moment) {
    var parts = {};
    formatter(tz, "day")
      .formatToParts(moment)
      .forEach(function (part) {
        parts[part.type] = part.value;
      });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  function reloadWhenServerAnswers() {
    if (reloading || !window.fetch) {
      return;
    }
    reloading = true;
    window
      .fetch(window.location.href, { cache: "no-store", credentials: "same-origin", redirect: "follow" })
      .then(function (response) {
        if (response.ok && !response.redirected) {
          window.location.reload();
        } else {
          reloading = false;
          loadedAt = Date.now() - 0.9 * currentReloadMs; // try again in a while, not every second
        }
      })
      .catch(function () {
        reloading = false;
        loadedAt = Date.now() - 0.9 * currentReloadMs;
      });
  }

  var currentReloadMs = 6 * 3600 * 1000;

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tv = {
    tick: function (_n, config, shownClock, shownDay) {
      var noUpdate = window.dash_clientside.no_update;
      if (!config) {
        return [noUpdate, noUpdate];
      }
      var tz = config.tz || "UTC";
      var now = new Date(Date.now() + (config.offset_ms || 0));
      currentReloadMs = config.reload_ms || currentReloadMs;
      if (Date.now() - loadedAt > currentReloadMs) {
        reloadWhenServerAnswers();
      }
      var clock = formatter(tz, "time").format(now);
      var day = localDay(tz, now);
      return [clock === shownClock ? noUpdate : clock, day === shownDay ? noUpdate : day];
    },
  };
})();
