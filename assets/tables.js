/*
 * Clientside half of the pages' tables (callbacks/tracker_page.py register_table, layouts/components.py
 * data_table).
 *
 * kpiTables.reload: the page's callback wrote what a table's rows are (its view and the data version) into
 *   <table>-query; when that changed, the grid drops the blocks it holds and asks for its first block again
 *   (keeping the user's sort and filter). The server answers each request from <table>-query.
 * Column widths: once a block is on screen, every column takes the width of its content and label, then the
 *   columns share the width left over, so no name is cut while the table has room (a table wider than its
 *   panel scrolls inside the grid).
 */
(function () {
  "use strict";

  var shown = {}; // grid id -> the view its blocks were read for (JSON)
  var watched = {}; // grid id -> true once its column-width listeners are on

  function fitColumns(api) {
    if (api.isDestroyed() || api.getDisplayedRowCount() === 0) {
      return;
    }
    api.autoSizeAllColumns();
    var limits = api.getColumnState().map(function (state) {
      return { key: state.colId, minWidth: state.width };
    });
    api.sizeColumnsToFit({ columnLimits: limits });
  }

  function watch(gridId, api) {
    if (watched[gridId]) {
      return;
    }
    watched[gridId] = true;
    var later = function () {
      window.setTimeout(function () {
        fitColumns(api);
      }, 0);
    };
    api.addEventListener("modelUpdated", later);
    api.addEventListener("gridSizeChanged", later);
  }

  function reload(query, gridId) {
    var noUpdate = window.dash_clientside.no_update;
    var key = JSON.stringify(query);
    if (!query || shown[gridId] === key) {
      return noUpdate;
    }
    shown[gridId] = key;
    window.dash_ag_grid.getApiAsync(gridId).then(function (api) {
      watch(gridId, api);
      api.purgeInfiniteCache();
    });
    return key;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    kpiTables: { reload: reload },
  });
})();
