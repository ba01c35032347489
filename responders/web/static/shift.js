/* closeloop console: a shift's shortcuts (the `?` list, lanes, reject, hand-off, snooze, snippets, next, undo).
   app.js keeps j/k, Enter/o, e, a and u; this file adds the rest and says why a key did nothing. No inline
   script anywhere (CSP). */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }
  function role() { return document.body.getAttribute("data-role") || ""; }
  function canApprove() { return role() === "approver" || role() === "admin"; }
  function page() { return document.body.getAttribute("data-page") || ""; }

  function say(message) {
    var el = byId("toast");
    if (!el) { return; }
    el.textContent = message;
    el.className = "bad";
    el.hidden = false;
    window.clearTimeout(say.timer);
    say.timer = window.setTimeout(function () { el.hidden = true; }, 4000);
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function openHelp() {
    var dialog = byId("shortcuts");
    if (!dialog || dialog.open) { return; }
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    var close = byId("shortcuts-close");
    if (close) { close.focus(); }
  }

  function click(id) {
    var el = byId(id);
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  }

  function focus(id) {
    var el = byId(id);
    if (el) { el.focus(); return true; }
    return false;
  }

  function insertSnippet() {
    var select = byId("snippet"), editor = byId("draft-text");
    if (!select || !editor || editor.readOnly) { return; }
    var option = select.options[select.selectedIndex];
    if (!option) { return; }
    var text = option.getAttribute("data-text") || "";
    var start = editor.selectionStart, end = editor.selectionEnd;
    if (document.activeElement !== editor && start === 0 && end === 0) {
      // Never typed in: the snippet goes before the sign-off, not above the greeting.
      var lines = editor.value.replace(/\s+$/, "").split("\n");
      start = end = lines.length > 1 ? editor.value.length - lines[lines.length - 1].length - 1 : editor.value.length;
    }
    var before = editor.value.slice(0, start), after = editor.value.slice(end);
    var spaced = (before && !/\s$/.test(before) ? " " : "") + text + (after && !/^\s/.test(after) ? " " : "");
    editor.focus();
    editor.value = before + spaced + after;
    var caret = (before + spaced).length;
    editor.setSelectionRange(caret, caret);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
    editor.dispatchEvent(new KeyboardEvent("keyup", { bubbles: true }));
  }

  function onQueueKey(key) {
    if (/^[1-9]$/.test(key)) {
      var tab = document.querySelector('nav.lanes a[data-key="' + key + '"]');
      if (tab) { window.location.href = tab.getAttribute("href"); return true; }
      return false;
    }
    if (key === "a") {
      // app.js approves the selected case; say why nothing happened when it cannot.
      if (!canApprove()) { say("Only approvers can approve. Open the case and mark the reply ready instead."); }
      else if (!document.querySelector("#queue-list li.case.selected")) { say("Select a case first (j/k), then press a."); }
      return false;
    }
    return false;
  }

  function onCaseKey(key) {
    switch (key) {
      case "r": return focus("reject-reason") || (say("Only approvers can reject a reply."), true);
      case "m": return click("ready") || (say("This reply cannot be marked ready."), true);
      case "s": return focus("snooze-for");
      case "v": return focus("resolve-note");
      case "i": return focus("snippet");
      case "n": return click("next-case");
      case "z": return click("undo");
      case "a":
        if (!canApprove()) { say("Only approvers can approve. Press m to mark the reply ready."); return true; }
        if (!byId("approve")) { say("There is no reply to approve here."); return true; }
        return false;  // app.js clicks Approve & next
      default: return false;
    }
  }

  function onKey(event) {
    var t = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && t && t.getAttribute &&
        t.getAttribute("data-submit-on") === "ctrl-enter" && t.form) {
      event.preventDefault();
      if (t.form.reportValidity()) { t.form.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Enter" && event.target.id === "snippet") { event.preventDefault(); insertSnippet(); }
      return;
    }
    var handled = false;
    if (event.key === "?") { openHelp(); handled = true; }
    else if (page() === "queue") { handled = onQueueKey(event.key); }
    else if (page() === "case") { handled = onCaseKey(event.key); }
    if (handled) { event.preventDefault(); event.stopImmediatePropagation(); }
  }

  function hideUndoWhenSent() {
    var bar = byId("undo-bar");
    if (!bar) { return; }
    var until = Date.parse(bar.getAttribute("data-until"));
    if (isNaN(until)) { return; }
    window.setTimeout(function () {
      var button = byId("undo");
      if (button) { button.disabled = true; }
      bar.classList.add("closed");
    }, Math.max(0, until - Date.now()));
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Capture: runs before app.js's listener, so a key handled here is not handled twice.
    document.addEventListener("keydown", onKey, true);
    var insert = byId("insert-snippet");
    if (insert) { insert.addEventListener("click", insertSnippet); }
    hideUndoWhenSent();
  });
})();
