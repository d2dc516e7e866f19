(function () {
  "use strict";
  // Status filters: a toggle hides or shows the result rows of its status; a block left with no
  // visible row is hidden too. Everything else on the page is static.
  var hidden = new Set();
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-status]"));
  var blocks = Array.prototype.slice.call(document.querySelectorAll("section[data-block]"));
  var toggles = Array.prototype.slice.call(document.querySelectorAll("button[data-filter]"));
  var reset = document.querySelector("button[data-filter-reset]");
  var note = document.getElementById("filter-note");
  var empty = document.getElementById("filter-empty");

  function apply() {
    var shown = 0;
    rows.forEach(function (row) {
      var hide = hidden.has(row.getAttribute("data-status"));
      row.hidden = hide;
      if (!hide) { shown += 1; }
    });
    blocks.forEach(function (block) {
      block.hidden = !block.querySelector("tr[data-status]:not([hidden])");
    });
    toggles.forEach(function (button) {
      button.setAttribute("aria-pressed", hidden.has(button.getAttribute("data-filter")) ? "false" : "true");
    });
    note.textContent = hidden.size ? shown + " of " + rows.length + " results shown" : "";
    empty.hidden = shown > 0 || rows.length === 0;
  }

  toggles.forEach(function (button) {
    button.addEventListener("click", function () {
      var status = button.getAttribute("data-filter");
      if (hidden.has(status)) { hidden.delete(status); } else { hidden.add(status); }
      apply();
    });
  });
  reset.addEventListener("click", function () { hidden.clear(); apply(); });
  apply();
})();
