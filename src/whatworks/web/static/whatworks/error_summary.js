// GOV.UK-style error summary: focus moves to it when the page loads, and each link moves focus
// to its field (a fragment link alone scrolls but does not focus in every browser).
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return; }
    event.preventDefault();
    var group = target.closest("fieldset[hidden]");
    if (group) { group.hidden = false; }
    target.focus();
    target.scrollIntoView({ block: "center" });
  });
}());
