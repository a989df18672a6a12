/*
 * The TV's live link (web/screens.py): new data within seconds, and a screen that reports in.
 *
 * - Every POLL_MS the TV asks GET /tv/data-version (a short hash of the data version, one cheap query, never
 *   cached). When the answer differs from the last one it writes it into the tv-live store, which makes the
 *   slide's server callback (callbacks/tv.py) render again: a webhook's sync reaches the wall within seconds
 *   instead of at the next refresh. The first answer is always written, in case the data moved while the page
 *   was loading. A failed request is ignored here; the next one tries again.
 * - Every REPORT_MS, and whenever the slide changes, it POSTs /tv/report: the slide showing (the header's page and
 *   group), the window's size, the app version the page was served with (meta kpi-version), and how many errors
 *   the page has had since it loaded with the last one's message (window.onerror, unhandled rejections).
 *
 * Idle on every page but /tv (no #tv-root). One timer, no growing state: the page runs for weeks.
 */
(function () {
  "use strict";

  var POLL_MS = 3000;
  var REPORT_MS = 45000;
  var MAX_ERROR = 500;

  var shownVersion = null;
  var reportedSlide = null;
  var reportedAt = 0;
  var errors = 0;
  var lastError = "";
  var polling = false;

  function noteError(message) {
    errors += 1;
    lastError = String(message || "error").slice(0, MAX_ERROR);
    reportedAt = 0; // a failing page says so at the next tick, not in up to 45 seconds
  }

  window.addEventListener("error", function (event) {
    noteError(event.message || (event.error && event.error.message));
  });
  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    noteError("unhandled rejection: " + ((reason && reason.message) || reason));
  });

  function text(id) {
    var el = document.getElementById(id);
    return el ? el.textContent.trim() : "";
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function appVersion() {
    var meta = document.querySelector('meta[name="kpi-version"]');
    return ((meta && meta.getAttribute("content")) || "unknown").slice(0, 64);
  }

  function currentSlide() {
    var title = text("tv-title");
    var group = text("tv-group");
    return (group ? title + " · " + group : title).slice(0, 200);
  }

  function report(slide) {
    reportedSlide = slide;
    reportedAt = Date.now();
    var body = {
      slide: slide,
      width: Math.max(1, Math.round(window.innerWidth)),
      height: Math.max(1, Math.round(window.innerHeight)),
      version: appVersion(),
      errors: errors,
      error: lastError,
    };
    window
      .fetch("/tv/report", {
        method: "POST",
        cache: "no-store",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("_csrf_token") },
        body: JSON.stringify(body),
      })
      .catch(function () {});
  }

  function pollVersion() {
    if (polling) {
      return;
    }
    polling = true;
    window
      .fetch("/tv/data-version", { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        polling = false;
        var version = answer && answer.version;
        if (typeof version === "string" && version !== shownVersion && window.dash_clientside.set_props) {
          shownVersion = version;
          window.dash_clientside.set_props("tv-live", { data: version });
        }
      })
      .catch(function () {
        polling = false;
      });
  }

  function tick() {
    if (!document.getElementById("tv-root") || !window.fetch) {
      return;
    }
    pollVersion();
    var slide = currentSlide();
    if (slide && (slide !== reportedSlide || Date.now() - reportedAt >= REPORT_MS)) {
      report(slide);
    }
  }

  window.dash_clientside = window.dash_clientside || {};
  window.setInterval(tick, POLL_MS);
})();
