/* EventFeed workspace: while a talk's date, time and zone are typed, show its start in the
   series' zone, the talk's zone and the browser's zone; suggest the browser's zone for a new
   series. Only enhances: the server checks and converts every time itself. */
(function () {
  "use strict";

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  // Offset (minutes east of UTC) of a zone at a UTC instant, from Intl's wall-clock parts.
  function offsetAt(zone, ms) {
    var f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    var p = {};
    f.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    var wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return Math.round((wall - ms) / 60000);
  }

  // The UTC instant of a wall time in a zone (first occurrence; null inside a DST gap).
  function instantOf(day, time, zone) {
    var d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day), t = /^(\d{1,2}):(\d{2})/.exec(time);
    if (!d || !t) return null;
    var wall = Date.UTC(+d[1], +d[2] - 1, +d[3], +t[1], +t[2]);
    var candidates = [];
    [offsetAt(zone, wall - 86400000), offsetAt(zone, wall + 86400000)].forEach(function (off) {
      var ms = wall - off * 60000;
      if (offsetAt(zone, ms) === off && candidates.indexOf(ms) < 0) candidates.push(ms);
    });
    candidates.sort();
    return candidates.length ? candidates[0] : null;
  }

  function show(ms, zone) {
    var lang = document.documentElement.lang === "en" ? "en-GB" : document.documentElement.lang;
    var text = new Intl.DateTimeFormat(lang || "en-GB", { timeZone: zone, weekday: "short", day: "numeric",
      month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(new Date(ms));
    return text + " — " + zone;
  }

  function knownZone(zone) {
    try { new Intl.DateTimeFormat("en", { timeZone: zone }); return true; } catch (e) { return false; }
  }

  function setupPreview(form) {
    var box = form.querySelector("[data-when-preview]");
    if (!box) return;
    var list = box.querySelector("ul");
    var fields = ["date", "start_time", "timezone"].map(function (id) { return form.querySelector("#" + id); });
    function update() {
      var zone = fields[2].value.trim() || form.getAttribute("data-series-zone");
      var option = document.querySelector('#zone-list option[label="' + zone.replace(/"/g, "") + '"]');
      if (option) zone = option.value;
      list.textContent = "";
      if (!knownZone(zone)) { box.hidden = true; return; }
      var ms = instantOf(fields[0].value, fields[1].value, zone);
      if (ms === null) { box.hidden = true; return; }
      var zones = [[box.getAttribute("data-label-series") || "Series", form.getAttribute("data-series-zone")],
        [box.getAttribute("data-label-talk") || "Talk", zone],
        [box.getAttribute("data-label-browser") || "Your browser", browserZone()]];
      zones.forEach(function (pair) {
        if (!pair[1] || !knownZone(pair[1])) return;
        var li = document.createElement("li");
        li.textContent = pair[0] + ": " + show(ms, pair[1]);
        list.appendChild(li);
      });
      box.hidden = false;
    }
    fields.forEach(function (f) { if (f) { f.addEventListener("input", update); f.addEventListener("change", update); } });
    if (fields.every(Boolean)) update();
  }

  function setupZoneSuggest() {
    var hint = document.querySelector("[data-zone-suggest]");
    var zone = browserZone();
    if (!hint || !zone) return;
    var field = document.getElementById(hint.getAttribute("data-zone-suggest"));
    if (!field) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = (hint.getAttribute("data-label") || "Use your browser’s zone: %s").replace("%s", zone);
    button.addEventListener("click", function () { field.value = zone; field.focus(); });
    hint.appendChild(button);
    hint.hidden = false;
  }

  function setupSlug() {
    // A new series' slug field suggests one made from the name (the server makes the same).
    var name = document.getElementById("name"), slug = document.getElementById("slug");
    if (!name || !slug || slug.readOnly) return;
    function suggest() {
      slug.placeholder = name.value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100);
    }
    name.addEventListener("input", suggest);
    suggest();
  }

  // Live preview: while Markdown is typed (debounced), ask the server to render it exactly
  // as the public page does, and show the answer; the Preview button works without this.
  function setupLivePreview(box) {
    var field = document.getElementById(box.getAttribute("data-preview-of"));
    var form = field && field.form;
    var token = form && form.querySelector('input[name="csrf_token"]');
    var target = box.querySelector(".prose");
    if (!field || !token || !target || !window.fetch) return;
    var timer = null, asked = 0;
    function render() {
      var mine = ++asked;
      var body = new URLSearchParams();
      body.set("text", field.value);
      fetch(box.getAttribute("data-preview-url"), {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": token.value, "Accept": "text/html" }
      }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (html === null || mine !== asked) return;  // an answer to older text arrived late
        target.innerHTML = html;  // sanitised by the server, as on the public page
        box.hidden = !field.value.trim();
        box.setAttribute("data-rendered", String(mine));
      }).catch(function () {});
    }
    field.addEventListener("input", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(render, 300);
    });
  }

  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  function ready() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-series-zone]"), setupPreview);
    setupZoneSuggest();
    setupSlug();
    Array.prototype.forEach.call(document.querySelectorAll("[data-preview-of]"), setupLivePreview);
    focusErrors();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
