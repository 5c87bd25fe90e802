// Live progress of a send: every few seconds the numbers are fetched again and the
// bar, the counts and the sentence updated; the page works without it too.
(function () {
  "use strict";
  var section = document.querySelector("[data-progress-url]");
  if (!section) { return; }
  var bar = section.querySelector("progress");
  var text = section.querySelector("#progress-text");
  function refresh() {
    fetch(section.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (n) {
        bar.max = n.total || 1;
        bar.value = n.done;
        Object.keys(n.counts).forEach(function (status) {
          var cell = section.querySelector('[data-count="' + status + '"]');
          if (cell) { cell.textContent = n.counts[status]; }
        });
        if (n.status === "sending") { setTimeout(refresh, 3000); }
        else { location.reload(); }
      })
      .catch(function () { setTimeout(refresh, 10000); });
  }
  if (section.closest("main").querySelector('[data-field="status-label"]') && bar.value < bar.max) {
    setTimeout(refresh, 3000);
  }
})();
