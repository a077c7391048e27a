// Live effect-size preview for the finding form: asks /api/effect-size as the editor types.
(function () {
  "use strict";
  var form = document.querySelector("form.finding-form");
  if (!form) { return; }
  var preview = document.getElementById("effect-preview");
  var url = form.getAttribute("data-effect-url");
  var timer = null;
  var stats = ["ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
               "sd1i", "sd2i", "xi", "mi", "ri", "ti", "ni", "fi", "pi"];

  function clearFieldErrors() {
    form.querySelectorAll(".live-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function showFieldError(name, message) {
    var input = form.querySelector('[name="' + name + '"]');
    if (!input) { return false; }
    var p = document.createElement("p");
    p.className = "error live-error";
    p.id = "id_" + name + "-live-error";
    p.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", p.id);
    input.parentNode.appendChild(p);
    return true;
  }

  function update() {
    var params = new URLSearchParams();
    params.set("measure", form.querySelector('[name="measure"]').value);
    var any = false;
    stats.forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (input && input.value !== "") { params.set(name, input.value); any = true; }
    });
    if (!any) { return; }
    fetch(url + "?" + params.toString(), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (result) {
        clearFieldErrors();
        var ok = result[0], body = result[1];
        if (ok) {
          preview.textContent = "Effect size " + body.yi.toFixed(4) + ", variance " +
            body.vi.toFixed(5) + " (standard error " + body.se.toFixed(4) + ")";
          preview.setAttribute("data-yi", body.yi);
        } else {
          var fields = (body.error && body.error.fields) || {};
          var shown = [];
          Object.keys(fields).forEach(function (name) {
            if (!showFieldError(name, fields[name].join(" "))) { shown.push(fields[name].join(" ")); }
          });
          preview.textContent = shown.length ? shown.join(" ") : "Check the values marked above.";
          preview.removeAttribute("data-yi");
        }
      })
      .catch(function () { preview.textContent = "The preview is unavailable; the values are checked when you save."; });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 250);
  });
  form.addEventListener("change", update);
}());
