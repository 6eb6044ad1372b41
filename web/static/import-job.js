/* EventFeed workspace: follow an import applied in the background. Polls the job's JSON
   status, moves the progress bar, and reloads the page (which shows the summary or the
   error) once the job has ended. Without JavaScript the page's Reload button does the same. */
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box || !window.fetch) { return; }
  var state = box.getAttribute("data-status");
  if (state !== "queued" && state !== "running") { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("import-progress");
  var done = document.getElementById("import-done");
  var said = document.getElementById("import-job-state");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        if (job.status === "done" || job.status === "failed") { window.location.reload(); return; }
        if (bar) { bar.max = job.total || 1; bar.value = job.done; bar.textContent = (bar.getAttribute("data-of") || "%d of %t").replace("%d", job.done).replace("%t", job.total); }
        if (done) { done.textContent = String(job.done); }
        if (said && job.status === "running") {
          said.textContent = said.getAttribute("data-applying") || "Applying: nothing is saved until every talk is written, all at once.";
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
