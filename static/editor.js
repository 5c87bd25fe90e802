// Autosave for the issue and article forms: a few seconds after typing stops, the
// text is posted in the background. The version field travels along, so a save
// based on an older version is refused by the server and the text stays here.
// A copy is kept in this browser until the server has it, so a lost session or
// connection loses nothing.
(function () {
  "use strict";
  var DELAY = 3000;

  function setup(form) {
    var url = form.getAttribute("data-autosave");
    var status = form.querySelector(".autosave-status");
    var version = form.querySelector("input[name=version]");
    var key = "postbode:" + location.pathname;
    var timer = null;
    var stopped = false;

    function say(text) {
      if (status) { status.textContent = text; }
    }

    function fields() {
      var data = new FormData(form);
      data.delete("image");
      return data;
    }

    function keepCopy() {
      var copy = {};
      fields().forEach(function (value, name) {
        if (name !== "csrf_token") { copy[name] = value; }
      });
      try { localStorage.setItem(key, JSON.stringify(copy)); } catch (e) { /* full */ }
    }

    function save() {
      if (stopped) { return; }
      var body = fields();
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        redirect: "error",
        headers: { "X-CSRFToken": body.get("csrf_token"), "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (json) { return [response, json]; });
      }).then(function (pair) {
        var response = pair[0], json = pair[1];
        if (response.ok) {
          version.value = json.version;
          try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
          say(form.getAttribute("data-saved-text") + " " + json.saved_at);
          (json.notices || []).forEach(function (notice) { say(notice); });
        } else {
          say(json.error ? json.error.message : form.getAttribute("data-offline-text"));
          if (response.status === 409) { stopped = true; }
        }
      }).catch(function () {
        say(form.getAttribute("data-offline-text"));
      });
    }

    form.addEventListener("input", function (event) {
      if (event.target.type === "file") { return; }
      keepCopy();
      clearTimeout(timer);
      timer = setTimeout(save, DELAY);
    });
    form.addEventListener("submit", function () {
      clearTimeout(timer);
      try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
    });

    // A copy left from a session that ended before the server had it: offer it back.
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (saved) {
      var restore = document.createElement("button");
      restore.type = "button";
      restore.className = "button secondary";
      restore.textContent = form.getAttribute("data-restore-text") || "Niet-opgeslagen tekst terugzetten";
      restore.addEventListener("click", function () {
        Object.keys(saved).forEach(function (name) {
          var input = form.elements[name];
          if (input && name !== "version" && input.type !== "file") { input.value = saved[name]; }
        });
        restore.remove();
        say("");
      });
      form.insertBefore(restore, form.firstChild);
    }
  }

  document.querySelectorAll("form[data-autosave]").forEach(setup);
})();
