/* EventFeed embed, host side: include once on a page with EventFeed iframes
   (<iframe data-eventfeed-embed src=".../embed/series/...">); sizes each one to its content.
   Listens only to messages from the iframes' own origin (where this script comes from). */
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = script ? new URL(script.src, window.location.href).origin : null;

  function frames() {
    return document.querySelectorAll("iframe[data-eventfeed-embed]");
  }

  window.addEventListener("message", function (event) {
    if (!origin || event.origin !== origin) return;
    var data = event.data;
    if (!data || data.type !== "eventfeed-embed-height" || typeof data.height !== "number") return;
    var list = frames();
    for (var i = 0; i < list.length; i++) {
      if (list[i].contentWindow === event.source) {
        list[i].style.height = Math.max(60, Math.min(data.height, 20000)) + "px";
      }
    }
  });

  function ping() {
    var list = frames();
    for (var i = 0; i < list.length; i++) {
      if (list[i].contentWindow) list[i].contentWindow.postMessage({ type: "eventfeed-embed-ping" }, origin);
    }
  }

  // A frame may have loaded before this script: ask each for its height.
  Array.prototype.forEach.call(frames(), function (frame) { frame.addEventListener("load", ping); });
  ping();
})();
