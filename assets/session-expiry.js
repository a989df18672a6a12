/*
 * When the server answers a Dash request with 401 (the sign-in expired, or a TV's kiosk token was revoked), reload
 * the page: the page route then sends the browser to Google sign-in, or shows the TV that its link was revoked
 * (auth.py). 403 (not allowed) is left alone, so a refused callback can never cause a reload loop; reloads are also
 * at most one a minute.
 */
(function () {
  "use strict";

  var KEY = "kpi-auth-reload-at";
  var MIN_GAP_MS = 60 * 1000;
  var originalFetch = window.fetch;
  if (!originalFetch) {
    return;
  }

  function isDashRequest(input) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    return url.indexOf("/_dash-") !== -1;
  }

  function reloadOnce() {
    var last = 0;
    try {
      last = parseInt(window.sessionStorage.getItem(KEY) || "0", 10);
      window.sessionStorage.setItem(KEY, String(Date.now()));
    } catch (e) {
      // Storage may be unavailable (private mode); the page reload below still happens once.
    }
    if (Date.now() - last > MIN_GAP_MS) {
      window.location.reload();
    }
  }

  window.fetch = function (input, init) {
    return originalFetch.call(this, input, init).then(function (response) {
      if (response.status === 401 && isDashRequest(input)) {
        reloadOnce();
      }
      return response;
    });
  };
})();
