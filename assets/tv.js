/*
 * Clientside half of the TV page (callbacks/tv.py): the wall clock, the local day, and the periodic full reload.
 *
 * tv.tick runs every second in the browser, never on the server. It writes the clock ("14:05") only when the
 * minute changes and the day ("2026-03-04", in TIMEZONE) only when the day changes; the server callback listens
 * to the day, so the TV moves to the new day at midnight without waiting for its next refresh. The time comes
 * from the browser clock plus the offset the server computed (zero unless a test injected a clock).
 *
 * Every `reload_ms`, and once a day when the TV's clock passes `reload_at_ms` (kpi.toml [tv] reload_at, 04:00 by
 * default), the page reloads itself completely, which keeps the memory of a browser left on for weeks flat. It first asks the server for the page and reloads only when that answers (no redirect to a sign-in, no
 * error): reloading into an error page would leave the screen dead until someone walked up to it.
 *
 * The fit (after every render and resize, on the next animation frame): the server cannot know how wide "157%"
 * or a long name is on this screen, so the browser fits the slide once it is laid out.
 * - KPI numbers shrink until the widest of a card row fits its card; the row shares that size, so the numbers
 *   stay comparable at a glance. The group in the header shrinks the same way.
 * - Names on the boards wrap onto a second line, and shrink when two lines are not enough; the names of one board
 *   share the smallest size, so no row reads smaller than its neighbours.
 * - Each board (layouts/tv.py `board`, with data-total) shows the rows that fit above its "and N more" line and
 *   hides the rest; the line counts what was left out.
 * Nothing here changes what React rendered except inline styles and the text of the empty .tv-more line, and
 * every pass starts by undoing the last one, so a re-render or a larger screen is fitted afresh.
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

  var retryAt = 0; // after a failed attempt, the next one waits a minute

  function reloadWhenServerAnswers() {
    if (reloading || !window.fetch || Date.now() < retryAt) {
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
          retryAt = Date.now() + 60000;
        }
      })
      .catch(function () {
        reloading = false;
        loadedAt = Date.now() - 0.9 * currentReloadMs;
        retryAt = Date.now() + 60000;
      });
  }

  var currentReloadMs = 6 * 3600 * 1000;

  // --- the fit ----------------------------------------------------------------------------------------------

  var MIN_SCALE = 0.35; // below this a number is unreadable from across the room; never reached in practice
  var NAME_LINES = 2;

  function overflows(el) {
    return el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
  }

  function cssSize(el) {
    el.style.fontSize = "";
    return parseFloat(getComputedStyle(el).fontSize);
  }

  // The largest font size (<= the CSS size) at which `fits(el)` holds, in a few proportional steps.
  function shrinkToFit(el, base, fits) {
    var size = base;
    for (var step = 0; step < 12 && !fits(el) && size > base * MIN_SCALE; step++) {
      var ratio = el.scrollWidth > el.clientWidth ? el.clientWidth / el.scrollWidth : 0.92;
      size = Math.max(base * MIN_SCALE, Math.floor(size * Math.min(0.97, ratio)));
      el.style.fontSize = size + "px";
    }
    return size;
  }

  function fitWidth(el) {
    return el.scrollWidth <= el.clientWidth + 1;
  }

  function fitValues(root) {
    root.querySelectorAll(".tv-cards").forEach(function (row) {
      var values = row.querySelectorAll(".kpi-value");
      var sizes = Array.prototype.map.call(values, function (el) {
        return shrinkToFit(el, cssSize(el), fitWidth);
      });
      var shared = Math.min.apply(null, sizes);
      values.forEach(function (el) {
        el.style.fontSize = shared + "px";
      });
    });
    root.querySelectorAll(".tv-group, .tv-hero-text").forEach(function (el) {
      shrinkToFit(el, cssSize(el), fitWidth);
    });
  }

  function fitNames(root) {
    root.querySelectorAll(".tv-board").forEach(function (board) {
      var names = board.querySelectorAll(".lb-name");
      var sizes = Array.prototype.map.call(names, function (el) {
        return shrinkToFit(el, cssSize(el), function (name) {
          var lineHeight = parseFloat(getComputedStyle(name).fontSize) * 1.2;
          return fitWidth(name) && name.scrollHeight <= NAME_LINES * lineHeight + 1;
        });
      });
      if (!sizes.length) {
        return;
      }
      var shared = Math.min.apply(null, sizes);
      names.forEach(function (el) {
        el.style.fontSize = shared + "px";
      });
    });
  }

  function setText(el, text) {
    if (el.textContent !== text) {
      el.textContent = text;
    }
  }

  // Show the rows that fit above the "and N more" line (or all of them, when they all fit without it).
  function fitBoard(board) {
    var rows = board.querySelectorAll(".lb-row");
    var more = board.querySelector(".tv-more");
    var total = parseInt(board.getAttribute("data-total"), 10) || rows.length;
    rows.forEach(function (row) {
      row.style.display = "";
    });
    if (!more) {
      return;
    }
    var style = getComputedStyle(board);
    var bottom = board.getBoundingClientRect().bottom - parseFloat(style.paddingBottom) - parseFloat(style.borderBottomWidth);
    setText(more, "and " + total + " more");
    more.style.display = "";
    var moreHeight = more.getBoundingClientRect().height;
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var reserve = i + 1 < total ? moreHeight : 0;
      if (rows[i].getBoundingClientRect().bottom > bottom - reserve + 0.5) {
        break;
      }
      shown = i + 1;
    }
    shown = Math.max(shown, Math.min(1, rows.length)); // the leader is always on the board
    for (var j = shown; j < rows.length; j++) {
      rows[j].style.display = "none";
    }
    if (shown >= total) {
      more.style.display = "none";
      setText(more, "");
    } else {
      setText(more, "and " + (total - shown) + " more");
    }
  }

  var observer = null;
  var boxes = null; // a ResizeObserver of the boards (fit observes each new slide's)
  var observed = [];
  var watched = null;
  var pending = false;

  function fit() {
    pending = false;
    var root = document.getElementById("tv-root");
    if (!root) {
      return;
    }
    fitValues(root);
    fitNames(root);
    var boards = Array.prototype.slice.call(root.querySelectorAll(".tv-board"));
    boards.forEach(fitBoard);
    if (boxes) {
      observed.forEach(function (board) {
        if (!board.isConnected) {
          boxes.unobserve(board); // a slide that rotated away: let it go
        }
      });
      boards.forEach(function (board) {
        boxes.observe(board); // once per element: observing it again changes nothing
      });
      observed = boards;
    }
    root.setAttribute("data-fitted", window.innerWidth + "x" + window.innerHeight);
    if (observer) {
      observer.takeRecords(); // our own changes (the "and N more" text) need no second pass
    }
  }

  function scheduleFit() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(fit);
    }
  }

  // Watch the TV frame for renders (a new frame, after a reload of the layout, is watched afresh).
  function watch() {
    var root = document.getElementById("tv-root");
    if (!root || root === watched) {
      return;
    }
    if (observer) {
      observer.disconnect();
    } else {
      window.addEventListener("resize", scheduleFit);
    }
    watched = root;
    observer = new MutationObserver(scheduleFit);
    observer.observe(root, { childList: true, subtree: true, characterData: true });
    // A board's height settles after the first fit (fonts load, the slide's grid sizes its rows): fit again then,
    // or a board keeps the rows it counted in a smaller box and leaves the rest of it empty.
    if (window.ResizeObserver && !boxes) {
      boxes = new ResizeObserver(scheduleFit);
    }
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(scheduleFit);
    }
    scheduleFit();
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tv = {
    tick: function (_n, config, shownClock, shownDay) {
      var noUpdate = window.dash_clientside.no_update;
      if (!config) {
        return [noUpdate, noUpdate];
      }
      watch(); // the first tick comes once the frame is on the page
      var tz = config.tz || "UTC";
      var now = new Date(Date.now() + (config.offset_ms || 0));
      currentReloadMs = config.reload_ms || currentReloadMs;
      if (Date.now() - loadedAt > currentReloadMs || (config.reload_at_ms && now.getTime() >= config.reload_at_ms)) {
        reloadWhenServerAnswers();
      }
      var clock = formatter(tz, "time").format(now);
      var day = localDay(tz, now);
      return [clock === shownClock ? noUpdate : clock, day === shownDay ? noUpdate : day];
    },
  };
})();
