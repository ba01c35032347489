/* closeloop console: countdowns, keyboard shortcuts, claim-on-focus. No inline script anywhere (CSP). */
(function () {
  "use strict";
  var AMBER_MS = 15 * 60 * 1000;
  var selectedId = null;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function role() { return document.body.getAttribute("data-role") || ""; }
  function canApprove() { return role() === "approver" || role() === "admin"; }
  function canEdit() { return canApprove() || role() === "agent"; }

  function toast(message, bad) {
    var el = document.getElementById("toast");
    if (!el) { return; }
    el.textContent = message;
    el.className = bad ? "bad" : "good";
    el.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { el.hidden = true; }, 4000);
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function formatLeft(ms) {
    var sign = ms < 0 ? "-" : "";
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return sign + (h ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) { return; }
      el.textContent = formatLeft(left);
      el.classList.toggle("red", left < 0);
      el.classList.toggle("amber", left >= 0 && left < AMBER_MS);
      el.classList.toggle("ok", left >= AMBER_MS);
    });
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-list li.case")); }
  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-current"); });
    if (!row) { selectedId = null; return; }
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
    selectedId = row.getAttribute("data-case-id");
    row.scrollIntoView({ block: "nearest" });
  }
  function selected() {
    return selectedId ? document.getElementById("case-" + selectedId) : null;
  }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(selected());
    var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields || {});
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRF-Token": csrf(), "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.text().then(function (text) {
        var message = text;
        try { var data = JSON.parse(text); message = data.error || data.done || text; } catch (e) { /* plain text */ }
        return { ok: response.ok, status: response.status, message: message };
      });
    });
  }

  function approveSelected() {
    var row = selected();
    if (!row || !canApprove()) { return; }
    var hash = row.getAttribute("data-draft-hash");
    if (!hash) { toast("This case has no draft to approve.", true); return; }
    post("/cases/" + row.getAttribute("data-case-id") + "/approve", { seen_hash: hash }).then(function (result) {
      toast(result.ok ? "Approved case #" + row.getAttribute("data-case-id") + "; the outbox sends it." : result.message, !result.ok);
      if (window.htmx) { window.htmx.trigger("#queue-list", "refresh"); }
    });
  }

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var page = document.body.getAttribute("data-page");
    if (page === "queue") {
      var row = selected();
      if (event.key === "j") { move(1); }
      else if (event.key === "k") { move(-1); }
      else if ((event.key === "Enter" || event.key === "o") && row) { window.location.href = "/cases/" + row.getAttribute("data-case-id"); }
      else if (event.key === "e" && row && canEdit()) { window.location.href = "/cases/" + row.getAttribute("data-case-id") + "?edit=1"; }
      else if (event.key === "a") { approveSelected(); }
      else { return; }
      event.preventDefault();
    } else if (page === "case") {
      var editor = document.getElementById("draft-text");
      if (event.key === "e" && editor && !editor.readOnly) { editor.focus(); }
      else if (event.key === "a" && canApprove() && document.getElementById("approve")) { document.getElementById("approve").click(); }
      else if (event.key === "u") { window.location.href = "/"; }
      else { return; }
      event.preventDefault();
    }
  }

  function setUpEditor() {
    var editor = document.getElementById("draft-text");
    if (!editor || editor.readOnly) { return; }
    var claimed = false;
    editor.addEventListener("focus", function () {
      if (claimed) { return; }
      claimed = true;
      post("/cases/" + editor.getAttribute("data-case-id") + "/claim").then(function (result) {
        if (!result.ok) { editor.readOnly = true; toast(result.message, true); }
      });
    });
    if (/[?&]edit=1\b/.test(window.location.search)) {
      editor.focus();
      editor.setSelectionRange(editor.value.length, editor.value.length);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    document.addEventListener("keydown", onKey);
    document.body.addEventListener("htmx:afterSettle", function (event) {
      if (event.target && event.target.id === "queue-list") {
        tick();
        if (selectedId) { select(document.getElementById("case-" + selectedId)); }
      }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      var xhr = event.detail && event.detail.xhr;
      if (xhr && xhr.status === 401) { window.location.href = "/login"; return; }
      toast(xhr ? xhr.responseText || ("error " + xhr.status) : "request failed", true);
    });
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("#queue-list li.case");
      if (row && !event.target.closest("a")) { select(row); }
    });
    setUpEditor();
  });
})();
