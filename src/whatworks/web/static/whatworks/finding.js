// The finding form, progressively enhanced: the server renders every entry's fields (each in a
// fieldset with a legend); this shows only the entry chosen ("What does the study report?"),
// offers only the measures that entry gives, and asks /api/effect-size for a live preview in
// words as the editor types. Without JavaScript the form works as rendered.
(function () {
  "use strict";
  var form = document.querySelector("form.finding-form");
  if (!form) { return; }
  var preview = document.getElementById("effect-preview");
  var url = form.getAttribute("data-effect-url");
  var ratios = (form.getAttribute("data-ratio-measures") || "").split(" ");
  var measure = form.querySelector('[name="measure"]');
  var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-reported-as]"));
  var timer = null;

  function kind() {
    var checked = form.querySelector('[name="reported_as"]:checked');
    return checked ? checked.value : "other";
  }

  function group(key) {
    return form.querySelector('fieldset[data-reported-as="' + key + '"]');
  }

  function arrange() {
    var key = kind();
    var chosen = group(key);
    groups.forEach(function (g) { g.hidden = g !== chosen; });
    var allowed = chosen ? chosen.getAttribute("data-measures").split(" ").filter(Boolean) : [];
    var firstAllowed = null;
    Array.prototype.forEach.call(measure.options, function (option) {
      if (!option.value) { return; }
      var ok = !allowed.length || allowed.indexOf(option.value) >= 0;
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && firstAllowed === null) { firstAllowed = option.value; }
    });
    if (measure.value && measure.options[measure.selectedIndex].disabled) {
      measure.value = allowed.length === 1 ? firstAllowed : "";
    } else if (!measure.value && allowed.length === 1) {
      measure.value = firstAllowed;
    }
    var isRatio = ratios.indexOf(measure.value) >= 0;
    form.querySelectorAll('[id$="-entered_as-group"]').forEach(function (el) { el.hidden = !isRatio; });
  }

  function clearLiveErrors() {
    form.querySelectorAll(".live-error").forEach(function (el) {
      var input = form.querySelector('[aria-describedby~="' + el.id + '"]');
      if (input) {
        var rest = input.getAttribute("aria-describedby").split(" ").filter(function (x) { return x !== el.id; });
        if (rest.length) { input.setAttribute("aria-describedby", rest.join(" ")); } else { input.removeAttribute("aria-describedby"); }
        input.removeAttribute("aria-invalid");
      }
      el.remove();
    });
  }

  function showFieldError(name, message) {
    var input = form.querySelector('[name="' + kind() + "-" + name + '"]') ||
                form.querySelector('[name="' + name + '"]');
    if (!input || input.closest("[hidden]")) { return false; }
    var p = document.createElement("p");
    p.className = "error live-error";
    p.id = (input.id || name) + "-live-error";
    p.textContent = message;
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    described.push(p.id);
    input.setAttribute("aria-describedby", described.join(" "));
    input.insertAdjacentElement("beforebegin", p);
    return true;
  }

  function say(lines) {
    preview.textContent = "";
    lines.forEach(function (line) {
      if (!line[1]) { return; }
      var p = document.createElement("p");
      p.className = line[0];
      if (line[0] === "effect-summary") {
        var strong = document.createElement("strong");
        strong.textContent = line[1];
        p.appendChild(strong);
      } else {
        p.textContent = line[1];
      }
      preview.appendChild(p);
    });
  }

  function update() {
    var key = kind();
    var chosen = group(key);
    if (!chosen || !measure.value) { return; }
    var params = new URLSearchParams();
    params.set("measure", measure.value);
    if (key !== "other") { params.set("reported_as", key); }
    var outcome = form.querySelector('[name="outcome"]');
    if (outcome && outcome.value) { params.set("outcome", outcome.value); }
    var any = false;
    var prefix = key === "other" ? "" : key + "-";
    chosen.querySelectorAll("input").forEach(function (input) {
      if ((input.type === "radio" && !input.checked) || input.value === "") { return; }
      var name = input.name.slice(prefix.length);
      if (name === "entered_as" && ratios.indexOf(measure.value) < 0) { return; }
      params.set(name, input.value);
      if (name !== "entered_as") { any = true; }
    });
    form.querySelectorAll("#entry-cluster input").forEach(function (input) {
      if (input.value !== "") { params.set(input.name, input.value); }
    });
    if (!any) { return; }
    fetch(url + "?" + params.toString(), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (result) {
        clearLiveErrors();
        var ok = result[0], body = result[1];
        if (ok) {
          say([["effect-summary", body.summary], ["effect-sentence", body.sentence],
               ["effect-adjustment", body.adjustment]]);
          preview.setAttribute("data-yi", body.yi);
        } else {
          var fields = (body.error && body.error.fields) || {};
          var shown = [];
          Object.keys(fields).forEach(function (name) {
            if (!showFieldError(name, fields[name].join(" "))) { shown.push(fields[name].join(" ")); }
          });
          say([["effect-problem", shown.length ? shown.join(" ") : "Check the values marked above."]]);
          preview.removeAttribute("data-yi");
        }
      })
      .catch(function () { say([["effect-problem", "The preview is unavailable; the values are checked when you save."]]); });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "reported_as" || event.target === measure) { arrange(); }
    update();
  });
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 250);
  });
  arrange();
  if (!preview.querySelector(".effect-summary")) { update(); }
}());
