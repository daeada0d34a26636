/* The import page's progress: asks how far the dry run or the import has got, and shows the page again when done. */
(function () {
  "use strict";
  var root = document.getElementById("import-progress");
  if (!root) { return; }
  var status = document.getElementById("import-status");
  function ask() {
    fetch(root.dataset.status, { credentials: "same-origin" }).then(function (answer) {
      return answer.json();
    }).then(function (now) {
      if (now.stage !== "checking" && now.stage !== "importing") {
        window.location.reload();
        return;
      }
      var doing = now.stage === "checking" ? "Checking" : "Importing";
      status.textContent = doing + ": " + now.done + " of " + (now.total || "…") + " rows done.";
      window.setTimeout(ask, 1000);
    }).catch(function () { window.setTimeout(ask, 5000); });
  }
  window.setTimeout(ask, 500);
})();
