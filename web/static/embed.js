/* EventFeed embed (runs inside the iframe): show times in the viewer's zone and tell the host
   page how tall the schedule is. Stores nothing: no cookies, no storage. */
(function () {
  "use strict";
  var MESSAGE = "eventfeed-embed-height";

  function browserZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return null; }
    return zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone) ? zone : null;
  }

  // The server renders the times: without ?tz= it asks once for the browser's zone.
  var params = new URLSearchParams(window.location.search);
  if (!params.has("tz")) {
    var zone = browserZone();
    if (zone) {
      params.set("tz", zone);
      window.location.replace(window.location.pathname + "?" + params.toString());
      return;
    }
  }

  function height() {
    return Math.ceil(document.documentElement.getBoundingClientRect().height);
  }

  function tell() {
    if (window.parent === window) return;
    // Only a height is sent: nothing private, so any parent may read it.
    window.parent.postMessage({ type: MESSAGE, height: height() }, "*");
  }

  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data && event.data.type === "eventfeed-embed-ping") tell();
  });
  window.addEventListener("load", tell);
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(tell).observe(document.documentElement);
  } else {
    window.addEventListener("resize", tell);
  }
  tell();
})();
