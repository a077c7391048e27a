// Follows a background import: asks /api/imports/<id> every 2 s and updates the status in place
// (a polite live region), until the job is done or failed; a job done with warnings reloads the
// page, which lists them. Without JavaScript, reload the page.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box || box.dataset.finished === "1") { return; }
  var status = document.getElementById("import-status");
  var bar = document.getElementById("import-progress");
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { setTimeout(poll, 5000); return; }
        if (job.state === "done" && job.warnings && job.warnings.length) {
          window.location.reload();  // the page names each intervention a warning is about
          return;
        } else if (job.state === "done") {
          status.textContent = "Done: " + job.message + ".";
        } else if (job.state === "failed") {
          status.textContent = job.message;
          status.setAttribute("role", "alert");
        } else {
          status.textContent = "Running: checked " + job.done + " of about " + job.total +
            " rows (" + job.percent + "%).";
        }
        if (bar) { bar.value = job.percent; bar.textContent = job.percent + "%"; }
        if (job.state !== "done" && job.state !== "failed") { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
