/* EventFeed: detect the viewer's timezone once, copy feed addresses, and fill in the zone of a
   subscribe form. No dependencies; the only script of the site (the CSP allows no inline one). */
(function () {
  "use strict";
  var COOKIE = "tz";

  function getCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function browserZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return null; }
    return zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone) ? zone : null;
  }

  function detectZone() {
    // The server renders times; the browser only tells it which zone to use, then reloads once.
    // Only pages that show times in the viewer's zone say which one they used.
    if (!document.body.hasAttribute("data-viewer-zone")) return;
    var params = new URLSearchParams(window.location.search);
    if (params.has("tz") || getCookie(COOKIE)) return;
    var zone = browserZone();
    if (!zone) return;
    document.cookie = COOKIE + "=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    var guard = "eventfeed-tz-reloaded";
    try {
      if (sessionStorage.getItem(guard)) return;
      sessionStorage.setItem(guard, "1");
    } catch (e) { /* storage blocked: the cookie still guards the loop */ }
    if (getCookie(COOKIE) && document.body.getAttribute("data-viewer-zone") !== zone) {
      window.location.reload();
    }
  }

  function fallbackCopy(input) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  function text(element, name, fallback) {
    // Interface texts in the page's language come in data attributes (English fallback).
    return element.getAttribute(name) || fallback;
  }

  function setupCopy() {
    var buttons = document.querySelectorAll("[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      var input = document.getElementById(button.getAttribute("data-copy-target"));
      if (!input) return;
      var status = button.closest(".subscribe").querySelector(".copy-status");
      var label = button.textContent;
      button.hidden = false;
      input.addEventListener("focus", function () { input.select(); });
      button.addEventListener("click", function () {
        function done(ok) {
          button.textContent = ok ? text(button, "data-copied", "Copied") : label;
          if (status) status.textContent = ok ? text(button, "data-copied-status", "Address copied to the clipboard.") : text(button, "data-copy-hint", "Press Ctrl+C (⌘C) to copy the selected address.");
          if (!ok) input.select();
          window.setTimeout(function () { button.textContent = label; }, 2000);
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(function () { done(true); },
            function () { done(fallbackCopy(input)); });
        } else {
          done(fallbackCopy(input));
        }
      });
    });
  }

  function fillZones() {
    // A subscribe form's zone field starts as the browser's zone (the reader may change it).
    var fields = document.querySelectorAll("input[data-fill-zone]");
    Array.prototype.forEach.call(fields, function (field) {
      var zone = browserZone();
      if (!field.value && zone) field.value = zone;
    });
  }

  function suggestZones() {
    // The manage page's zone field keeps the saved zone; when the browser's differs, a button
    // offers it (the reader decides, then saves the form).
    var fields = document.querySelectorAll("input[data-suggest-zone]");
    Array.prototype.forEach.call(fields, function (field) {
      var zone = browserZone();
      if (!zone || field.value === zone) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small zone-suggestion";
      button.textContent = text(field, "data-suggest-label", "Use %s (this device's timezone)").replace("%s", zone);
      button.addEventListener("click", function () {
        field.value = zone;
        button.remove();
        field.focus();
      });
      field.insertAdjacentElement("afterend", button);
    });
  }

  function ready() {
    setupCopy();
    fillZones();
    suggestZones();
  }

  detectZone();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
