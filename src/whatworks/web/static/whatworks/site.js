/* whatworks: small progressive enhancements; every page works without them.
   1. Filter panels (<details data-open-wide>) start closed, so on a phone the results come right
      after the "Filters" button; on a wide screen they open as a sidebar.
   2. Wide tables in a .table-scroll region get a visible "scroll" cue while they overflow. */
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 48.01rem)");
  function placeFilters() {
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) {
      if (!d.dataset.touched) { d.open = wide.matches; }
    });
  }
  document.querySelectorAll("details[data-open-wide] > summary").forEach(function (s) {
    s.addEventListener("click", function () { s.parentNode.dataset.touched = "1"; });
  });
  placeFilters();
  if (wide.addEventListener) { wide.addEventListener("change", placeFilters); }

  function markOverflow() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var over = box.scrollWidth > box.clientWidth + 1;
      var cue = box.previousElementSibling;
      if (!(cue && cue.classList.contains("scroll-cue"))) {
        cue = document.createElement("p");
        cue.className = "scroll-cue";
        cue.setAttribute("aria-hidden", "true");
        cue.textContent = "Scroll sideways to see all of it \u2192";
        box.parentNode.insertBefore(cue, box);
      }
      cue.hidden = !over;
      box.toggleAttribute("data-overflowing", over);
    });
  }
  markOverflow();
  window.addEventListener("resize", markOverflow);
})();
