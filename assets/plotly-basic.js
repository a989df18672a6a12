/*
 * Serve the partial plotly.js bundle (plotly.js-basic-dist-min 4.1.1: scatter, bar and pie, the only trace types
 * the dashboard draws) instead of the full 4.8 MB plotly.min.js: 400 KB instead of 1.4 MB on the wire.
 *
 * Dash's Graph loads plotly.js on first use from window._dashPlotlyJSURL, which the renderer sets on start-up;
 * this pins that URL to the vendored bundle under assets/lazy/ (excluded from Dash's automatic asset loading, so
 * pages without a chart never download it). The version must match plotly.py's bundled plotly.js
 * (tests/test_mobile.py checks it).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? script.src : window.location.origin + "/assets/";
  var url = new URL("lazy/plotly-basic-4.1.1.min.js", base).href;
  Object.defineProperty(window, "_dashPlotlyJSURL", {
    configurable: true,
    get: function () {
      return url;
    },
    set: function () {
      // The renderer's own value (the full bundle) is ignored on purpose.
    },
  });
})();
