/* EventFeed workspace, announce page: refresh the delivery counts every few seconds, and
   suggest the browser's zone for the second preview. Only enhances: the page works without. */
(function () {
  "use strict";
  var box = document.getElementById("announce-status");
  if (!box) return;
  var url = box.getAttribute("data-status-url");
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        ["queued", "sent", "deferred", "bounced"].forEach(function (state) {
          var cell = document.getElementById("count-" + state);
          if (cell && String(counts[state]) !== cell.textContent) cell.textContent = String(counts[state]);
        });
      })
      .catch(function () {});
  }
  window.setInterval(refresh, 3000);
  var zone = document.getElementById("zone");
  if (zone && !/[?&]zone=/.test(window.location.search)) {
    try {
      var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (mine) zone.value = mine;
    } catch (e) { /* keep UTC */ }
  }
})();
