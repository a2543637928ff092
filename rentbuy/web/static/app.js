// rentbuy: submit the report form in the background and swap the answer in place.
// The page works without this script (the form is a plain GET); this only saves a full reload.
(function () {
  "use strict";

  function bind() {
    var form = document.getElementById("plan-form");
    if (!form || !window.fetch || !window.DOMParser || !window.URLSearchParams) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = new URLSearchParams(new FormData(form));
      var url = (form.getAttribute("action") || "/") + "?" + params.toString();
      var main = document.getElementById("main");
      main.setAttribute("aria-busy", "true");
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
          if (!fresh) { window.location.assign(url); return; }
          main.replaceWith(fresh);
          window.history.pushState(null, "", url);
          bind();
        })
        .catch(function () { window.location.assign(url); });
    });
  }

  window.addEventListener("popstate", function () { window.location.reload(); });
  document.addEventListener("DOMContentLoaded", bind);
})();
