/* closeloop console: countdowns, keyboard shortcuts with real focus, a queue that refreshes in place without
   moving focus or what is being read, claim-on-typing. No inline script anywhere (CSP). */
(function () {
  "use strict";
  var AMBER_MS = 15 * 60 * 1000;
  // A poll waits while the user is busy: a key or a pointer press within this many milliseconds.
  var BUSY_MS = 4000;
  var selectedId = null;
  var lastInput = 0;
  var rowSource = {};  // case id -> the row's HTML as the server last sent it (what a refresh compares)
  var store = window.sessionStorage;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function role() { return document.body.getAttribute("data-role") || ""; }
  function canApprove() { return role() === "approver" || role() === "admin"; }
  function canEdit() { return canApprove() || role() === "agent"; }
  function remember(key, value) {
    try { if (value === null) { store.removeItem(key); } else { store.setItem(key, value); } } catch (e) { /* private mode */ }
  }
  function recall(key) { try { return store.getItem(key); } catch (e) { return null; } }

  function toast(message, bad) {
    var el = document.getElementById("toast");
    if (!el) { return; }
    // The live region stays in the page (a region shown only when it speaks is often not heard); empty, it
    // takes no room.
    el.textContent = message;
    el.className = bad ? "bad" : "good";
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { el.textContent = ""; }, bad ? 8000 : 4000);
  }
  function announce(message) {
    var el = document.getElementById("live");
    if (!el || !message) { return; }
    // A new text node each time: screen readers announce a change even when the words repeat.
    el.textContent = "";
    window.setTimeout(function () { el.textContent = message; }, 50);
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

  /* ---- the queue: selection is focus ---- */

  function list() { return document.getElementById("queue-list"); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-list li.case")); }
  function rowOf(id) { return id ? document.getElementById("case-" + id) : null; }
  function selected() { return rowOf(selectedId); }

  // One row is in the Tab order (the selected one, else the first): Tab enters the list once, j/k move in it.
  function rove() {
    var all = rows();
    var current = selected() || all[0];
    all.forEach(function (r) { r.setAttribute("tabindex", r === current ? "0" : "-1"); });
  }
  function mark(row) {
    rows().forEach(function (r) {
      if (r !== row) { r.classList.remove("selected"); r.removeAttribute("aria-current"); }
    });
    if (row) {
      row.classList.add("selected");
      row.setAttribute("aria-current", "true");
      selectedId = row.getAttribute("data-case-id");
    } else {
      selectedId = null;
    }
    rove();
  }
  function select(row, focus) {
    mark(row);
    if (row && focus !== false) { row.focus(); }
    if (row) { row.scrollIntoView({ block: "nearest" }); }
  }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(selected());
    var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }
  function neighbour(row) {
    var all = rows(), index = all.indexOf(row);
    return all[index + 1] || all[index - 1] || null;
  }
  function openCase(row, edit) {
    var id = row.getAttribute("data-case-id");
    remember("closeloop.order", rows().map(function (r) { return r.getAttribute("data-case-id"); }).join(","));
    remember("closeloop.opened", id);
    window.location.href = "/cases/" + id + (edit ? "?edit=1" : "");
  }

  // Back from a case: focus that case again, or the one after it where it was approved or has left the list.
  function restoreFromCase() {
    var opened = recall("closeloop.opened"), approved = recall("closeloop.approved");
    var order = (recall("closeloop.order") || "").split(",");
    remember("closeloop.opened", null);
    remember("closeloop.approved", null);
    if (!opened) { return; }
    var row = rowOf(opened), target = row;
    if (!row || approved === opened) {
      target = null;
      if (row) { target = neighbour(row); }
      for (var i = order.indexOf(opened) + 1; !target && i > 0 && i < order.length; i++) { target = rowOf(order[i]); }
      target = target || rows()[0] || null;
    }
    if (target) { select(target); }
  }

  /* ---- the live refresh: rows updated in place ---- */

  // Busy: a key or pointer press moments ago, or text selected in the list (a refresh would drop it).
  // Focus resting in the list is not busy: rows update in place around it, so the list never goes stale.
  function busy() {
    var selection = window.getSelection ? window.getSelection() : null;
    var selecting = selection && !selection.isCollapsed && selection.anchorNode && list() && list().contains(selection.anchorNode);
    return Date.now() - lastInput < BUSY_MS || Boolean(selecting);
  }
  function counter(name) {
    var el = list();
    if (!el) { return; }
    el.setAttribute(name, String(Number(el.getAttribute(name) || "0") + 1));
  }
  function focusPath(row, el) {
    // Where focus is inside a row: the row itself (-1) or the n-th focusable in it.
    if (el === row) { return -1; }
    return Array.prototype.indexOf.call(row.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"), el);
  }
  function focusAt(row, path) {
    var el = path < 0 ? row : row.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")[path];
    (el || row).focus({ preventScroll: true });
  }
  // What a row says, without what changes by itself (countdowns) or what this script adds (selection).
  function signature(row) {
    var copy = row.cloneNode(true);
    copy.removeAttribute("tabindex");
    copy.removeAttribute("aria-current");
    copy.classList.remove("selected");
    copy.querySelectorAll("[data-deadline]").forEach(function (el) { el.textContent = ""; el.removeAttribute("class"); });
    return copy.outerHTML;
  }
  function remembered() {
    rowSource = {};
    rows().forEach(function (r) { rowSource[r.getAttribute("data-case-id")] = signature(r); });
  }
  function around(host, skipList) {
    return Array.prototype.slice.call(host.children).filter(function (c) { return c !== skipList; })
      .map(function (c) { return c.outerHTML; }).join("");
  }

  function refresh(html) {
    var host = list();
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = template.content;
    var oldList = host.querySelector("ol.cases"), newList = fresh.querySelector("ol.cases");
    if (!oldList || !newList) { host.innerHTML = html; remembered(); rove(); counter("data-refreshes"); return; }

    var active = document.activeElement;
    var activeRow = active && active.closest ? active.closest("#queue-list li.case") : null;
    var activeId = activeRow ? activeRow.getAttribute("data-case-id") : null;
    var path = activeRow ? focusPath(activeRow, active) : null;
    var anchor = activeRow || selected() || rows().filter(function (r) { return r.getBoundingClientRect().bottom > 0; })[0];
    var anchorId = anchor ? anchor.getAttribute("data-case-id") : null;
    var anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
    var oldOrder = rows().map(function (r) { return r.getAttribute("data-case-id"); });

    // What is around the list (summary, empty state, pager) is replaced only when it changed.
    if (around(host, oldList) !== around(fresh, newList)) {
      Array.prototype.slice.call(host.children).forEach(function (child) {
        if (child !== oldList) { host.removeChild(child); }
      });
      var before = true;
      Array.prototype.slice.call(fresh.children).forEach(function (child) {
        if (child === newList) { before = false; return; }
        var copy = document.importNode(child, true);
        if (before) { host.insertBefore(copy, oldList); } else { host.appendChild(copy); }
      });
    }

    var newRows = Array.prototype.slice.call(newList.children);
    var newIds = newRows.map(function (r) { return r.getAttribute("data-case-id"); });
    var sources = {};
    var added = 0;
    newRows.forEach(function (nr, index) {
      var id = nr.getAttribute("data-case-id");
      sources[id] = signature(nr);
      var old = rowOf(id), node = old;
      if (!old) { added += 1; }
      if (!old || rowSource[id] !== sources[id]) { node = document.importNode(nr, true); }
      var place = oldList.children[index] || null;
      if (old && node !== old) { oldList.replaceChild(node, old); }
      if (oldList.children[index] !== node) { oldList.insertBefore(node, place); }
    });
    var removed = 0;
    Array.prototype.slice.call(oldList.children).forEach(function (r) {
      if (newIds.indexOf(r.getAttribute("data-case-id")) < 0) { oldList.removeChild(r); removed += 1; }
    });
    rowSource = sources;
    tick();

    // The selection and the focus stay where they were; a row that left passes them to its successor.
    if (selectedId && !rowOf(selectedId)) {
      var successor = null, at = oldOrder.indexOf(selectedId);
      for (var i = at + 1; !successor && i < oldOrder.length; i++) { successor = rowOf(oldOrder[i]); }
      mark(successor || rows()[rows().length - 1] || null);
    } else {
      mark(selected());
    }
    if (activeId) {
      var again = rowOf(activeId);
      if (again && (document.activeElement !== active || !active.isConnected)) { focusAt(again, path); }
      else if (!again && selected()) { selected().focus({ preventScroll: true }); }
    }
    var kept = rowOf(anchorId);
    if (kept) { window.scrollBy(0, kept.getBoundingClientRect().top - anchorTop); }

    var words = [];
    if (added) { words.push(added === 1 ? "1 new case" : added + " new cases"); }
    if (removed) { words.push(removed === 1 ? "1 case left the list" : removed + " cases left the list"); }
    if (words.length) { announce(words.join(", ") + "."); }
    counter("data-refreshes");
  }

  /* ---- actions ---- */

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
    if (!canApprove()) { toast("Only approvers can approve.", true); return; }
    if (!row) { toast("Select a case first (j/k).", true); return; }
    var hash = row.getAttribute("data-draft-hash");
    if (!hash) { toast("This case has no draft to approve.", true); return; }
    var id = row.getAttribute("data-case-id");
    post("/cases/" + id + "/approve", { seen_hash: hash }).then(function (result) {
      toast(result.ok ? "Approved case #" + id + "; the outbox sends it." : result.message, !result.ok);
      if (result.ok && selectedId === id) {
        var next = neighbour(rowOf(id));
        if (next) { select(next); }
      }
      if (window.htmx) { window.htmx.trigger("#queue-list", "refresh"); }
    });
  }

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function onControl(event) {
    var t = event.target;
    return t && t.closest && t.closest("a[href], button, summary") !== null;
  }

  function onKey(event) {
    lastInput = Date.now();
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
      else if (event.key === "Enter" && !onControl(event) && row) { openCase(row, false); }
      else if (event.key === "o" && row) { openCase(row, false); }
      else if (event.key === "e" && row && canEdit()) { openCase(row, true); }
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

  // The case is claimed for editing when the user types in the draft, not when focus passes through it.
  function setUpEditor() {
    var editor = document.getElementById("draft-text");
    if (!editor || editor.readOnly) { return; }
    var claimed = false;
    editor.addEventListener("input", function () {
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

  function setUpCase() {
    var main = document.querySelector("[data-case-id].case-main");
    if (!main) { return; }
    var id = main.getAttribute("data-case-id");
    remember("closeloop.opened", id);
    var done = /[?&]done=([a-z]+)/.exec(window.location.search);
    if (done && done[1] === "approved") { remember("closeloop.approved", id); }
    var notice = document.querySelector(".case-main .notice");
    if (done && notice && !/[?&]edit=1\b/.test(window.location.search)) {
      notice.setAttribute("tabindex", "-1");
      notice.focus();
    }
  }

  // A skip link moves focus, not only the scroll position; into the queue it lands on the selected case.
  function skip(event) {
    var link = event.target.closest && event.target.closest("a.skip");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return; }
    event.preventDefault();
    if (target === list() && rows().length) { select(selected() || rows()[0]); return; }
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    remembered();
    tick();
    window.setInterval(tick, 1000);
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", function () { lastInput = Date.now(); });
    document.addEventListener("click", skip);
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (event.target !== list()) { return; }
      var config = event.detail && event.detail.requestConfig;
      var polled = !(config && config.triggeringEvent);
      if (polled && busy()) { event.preventDefault(); counter("data-refreshes-skipped"); }
    });
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (event.target !== list() || !event.detail || event.detail.xhr.status !== 200) { return; }
      event.detail.shouldSwap = false;
      refresh(event.detail.serverResponse);
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
    document.addEventListener("focusin", function (event) {
      var row = event.target.closest && event.target.closest("#queue-list li.case");
      if (row && row !== selected()) { mark(row); }
    });
    if (list()) { rove(); restoreFromCase(); }
    setUpCase();
    setUpEditor();
  });
})();
