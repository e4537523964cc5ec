// Progressive enhancement for long work (ceremonies, swaps, CRL runs): a section with
// data-progress-url polls that JSON (every data-progress-every ms, 2000 by default) and
// fills in its [data-field] elements, until the answer says "done". Without script the
// page is simply static.
(function () {
  "use strict";
  function show(section, data) {
    section.querySelectorAll("[data-field]").forEach(function (el) {
      var value = data[el.dataset.field];
      if (value === null || value === undefined || value === "") { value = "—"; }
      if (typeof value === "object") { value = Object.keys(value).length ? JSON.stringify(value) : "—"; }
      el.textContent = String(value);
      if (el.classList.contains("state") && data.state) { el.className = "state state-" + (data.stateClass || data.state); }
    });
  }
  function follow(section) {
    var url = section.dataset.progressUrl;
    var every = parseInt(section.dataset.progressEvery || "2000", 10);
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          show(section, data);
          if (data.done) {
            var note = section.querySelector("[data-live]");
            if (note) { note.remove(); }
            return;
          }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, Math.max(every, 5000)); });
    }
    setTimeout(tick, 1000);
  }
  document.querySelectorAll("[data-progress-url]").forEach(follow);
})();
