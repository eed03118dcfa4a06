// aicrm dashboard behaviour: render Plotly figures embedded as JSON, send the CSRF token with HTMX requests,
// and show errors. No inline scripts, so the page can run under a strict Content-Security-Policy.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function toast(message) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.classList.remove("show"); }, 5000);
  }

  function renderPlots(root) {
    if (typeof window.Plotly === "undefined") return;
    (root || document).querySelectorAll("[data-plot]").forEach(function (el) {
      if (el.dataset.rendered) return;
      var source = document.getElementById(el.dataset.plot);
      if (!source) return;
      var fig;
      try { fig = JSON.parse(source.textContent); } catch (e) { return; }
      el.dataset.rendered = "1";
      window.Plotly.newPlot(el, fig.data, fig.layout, CONFIG).then(function () {
        var target = fig.layout && fig.layout.meta && fig.layout.meta.target;
        el.on("plotly_click", function (ev) {
          var point = ev && ev.points && ev.points[0];
          if (!point || point.customdata === undefined) return;
          var url = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
          if (typeof url !== "string" || url.charAt(0) !== "/") return;
          if (target && window.htmx) { window.htmx.ajax("GET", url, { target: target }); }
          else { window.location.href = url; }
        });
      });
    });
  }

  function showActiveTab() {
    // On a phone the tabs scroll sideways; bring the current page's tab into view so the user sees where they are.
    var tabs = document.querySelector(".tabs"), active = tabs && tabs.querySelector("a.active");
    if (active && tabs.scrollWidth > tabs.clientWidth) {
      tabs.scrollLeft = Math.max(0, active.offsetLeft - (tabs.clientWidth - active.offsetWidth) / 2);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    showActiveTab();
    renderPlots(document);
    document.body.addEventListener("htmx:configRequest", function (ev) {
      ev.detail.headers["X-CSRF-Token"] = csrfToken();
    });
    document.body.addEventListener("htmx:afterSwap", function (ev) { renderPlots(ev.target); });
    document.body.addEventListener("htmx:responseError", function (ev) {
      var xhr = ev.detail.xhr, message = "The request failed (" + xhr.status + ").";
      try {
        var body = JSON.parse(xhr.responseText);
        if (body && body.error) message = body.error.message;
      } catch (e) {
        // DOMParser builds an inert document: nothing in the response loads or runs.
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var text = (doc.body.textContent || "").trim();
        if (text && text.length < 300) message = text;
      }
      toast(message);
    });
    document.body.addEventListener("htmx:sendError", function () { toast("The server could not be reached."); });
  });
})();
