/*
 * Clientside half of the page frame (callbacks/shell.py) and of the folding controls (callbacks/controls.py).
 *
 * kpiShell.toggleMenu: the ☰ button opens and closes the phone menu; a tap on one of its links closes it.
 * kpiShell.toggleControls: on a phone the control bar folds into one summary line; tapping it opens or
 *   closes the bar (the class is-open on the .controls box; assets/mobile.css hides the bar otherwise).
 */
(function () {
  "use strict";

  function triggeredBy(suffix) {
    var context = window.dash_clientside && window.dash_clientside.callback_context;
    var triggered = (context && context.triggered) || [];
    return triggered.some(function (item) {
      return item.prop_id.slice(-suffix.length) === suffix;
    });
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    kpiShell: {
      toggleMenu: function () {
        var isOpen = arguments[arguments.length - 1]; // after the toggler, the path and every link's clicks
        return triggeredBy("navbar-toggler.n_clicks") ? !isOpen : false;
      },
      toggleControls: function (_clicks, className) {
        var classes = (className || "").split(" ").filter(Boolean);
        var open = classes.indexOf("is-open") >= 0;
        classes = classes.filter(function (name) {
          return name !== "is-open";
        });
        if (!open) {
          classes.push("is-open");
        }
        return classes.join(" ");
      },
    },
  });
})();
