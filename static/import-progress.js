// Live progress of a CSV import: every two seconds the numbers are fetched again and
// the bar and counts updated; once the import stops the page is loaded again to show
// the report. Without this script the page refreshes itself (see import_job.html).
(function () {
  "use strict";
  var section = document.querySelector("[data-import-progress-url]");
  if (!section) { return; }
  var url = section.getAttribute("data-import-progress-url");
  var bar = section.querySelector("progress");
  function show(n) {
    bar.max = n.bytes_total || 1;
    bar.value = n.bytes_read;
    bar.textContent = n.percent + "%";
    Array.prototype.forEach.call(section.querySelectorAll("[data-count]"), function (cell) {
      var value = n[cell.getAttribute("data-count")];
      if (typeof value === "number") { cell.textContent = String(value); }
    });
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      })
      .then(function (n) {
        if (n.status !== "running") { location.reload(); return; }
        show(n);
        setTimeout(refresh, 2000);
      })
      .catch(function () { setTimeout(refresh, 10000); });
  }
  setTimeout(refresh, 1000);
})();
