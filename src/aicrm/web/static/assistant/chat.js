// The assistant's chat panel: posts each message as JSON and shows the answer. Works on the dashboard (session
// cookie + CSRF token from <meta name="csrf-token">) and on the public /chat page (no sign-in; the conversation
// token is kept in sessionStorage so a reload continues the chat). Text is inserted with textContent only.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function add(log, kind, text, meta) {
    var li = document.createElement("li");
    li.className = "assistant-msg " + kind;
    li.textContent = text;
    if (meta) {
      var small = document.createElement("span");
      small.className = "meta";
      small.textContent = meta;
      li.appendChild(small);
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  function setup(panel) {
    var isPublic = panel.hasAttribute("data-public");
    var endpoint = panel.getAttribute("data-endpoint");
    var storeKey = "aicrm-assistant:" + endpoint + ":" + (panel.getAttribute("data-customer-id") || "");
    var log = panel.querySelector("[data-assistant-log]");
    var form = panel.querySelector("[data-assistant-form]");
    var input = form.querySelector("input[name=text]");
    var button = form.querySelector("button");
    var conversation = null;
    try { conversation = JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (e) { conversation = null; }
    add(log, "assistant", "Hello! How can I help you today?");

    var reset = panel.querySelector("[data-assistant-reset]");
    if (reset) {
      reset.addEventListener("click", function () {
        conversation = null;
        try { sessionStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
        while (log.firstChild) log.removeChild(log.firstChild);
        add(log, "assistant", "Hello! How can I help you today?");
        input.focus();
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      add(log, "customer", text);
      input.value = "";
      button.disabled = true;
      var body = { text: text };
      if (conversation !== null) body.conversation_id = conversation;
      var customer = panel.getAttribute("data-customer-id");
      if (!isPublic && customer) body.customer_id = parseInt(customer, 10);
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      if (!isPublic) headers["X-CSRF-Token"] = csrfToken();
      fetch(endpoint, { method: "POST", headers: headers, body: JSON.stringify(body), credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok) {
            var err = res.data && res.data.error;
            add(log, "notice", err ? err.message + (err.hint ? " " + err.hint : "") : "The message could not be sent.");
            if (err && err.code === "not_found") {  // a forgotten conversation: start afresh next time
              conversation = null;
              try { sessionStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
            }
            return;
          }
          var data = res.data;
          conversation = data.conversation_id;
          try { sessionStorage.setItem(storeKey, JSON.stringify(conversation)); } catch (e) { /* private mode */ }
          var meta = isPublic ? "" : (data.intent || "no intent") + " · " + Math.round(data.confidence * 100) + "% · " + data.action;
          add(log, "assistant", data.reply, meta);
          if (data.handoff) add(log, "notice", "A colleague has taken over this conversation.");
        })
        .catch(function () { add(log, "notice", "The server could not be reached."); })
        .then(function () { button.disabled = false; input.focus(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-assistant-panel]").forEach(setup);
  });
})();
