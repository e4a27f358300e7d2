// The course server's only script (served from this site; every page works without it). It renders
// nothing itself: the server's pages are the one rendering, and this script fetches fresh copies of
// their parts. It adds: due times in the student's own time zone, drag and drop, an upload that answers
// in place with its receipt, live status without a reload, and the live dashboard.
"use strict";
(function () {
  // A followed submission is long-polled: the server holds the request until it changes or WAIT_S pass.
  var POLL_MS = 500, WAIT_S = 10, DASHBOARD_MS = 2000, RETRY_MS = 3000;
  var served = new WeakMap();  // each refreshable part -> the HTML the server sent for it


  function $(id) { return document.getElementById(id); }

  function say(message) {  // one polite announcement for screen readers (the region exists from the start)
    var live = $("live-status");
    if (live) { live.textContent = message; }
  }

  // "Sun 13 Dec 2026, 17:59 EST" on the wall clock of `zone` (the server's format).
  function wallClock(date, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {weekday: "short", day: "numeric", month: "short", year: "numeric",
                                      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone})
      .formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    var name = new Intl.DateTimeFormat("en-US", {timeZone: zone, timeZoneName: "short"})
      .formatToParts(date).filter(function (p) { return p.type === "timeZoneName"; });
    return parts.weekday + " " + parts.day + " " + parts.month + " " + parts.year + ", " + parts.hour + ":" +
      parts.minute + (name.length ? " " + name[0].value : "");
  }

  // Due times are shown in the course's zone; a student elsewhere also sees them in their own zone.
  function localTimes(root) {
    var courseZone = document.body.dataset.timezone, zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone || !courseZone || zone === courseZone) { return; }
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when) || el.dataset.done) { return; }
      el.dataset.done = "1";
      var here = wallClock(when, zone);
      try { if (here === wallClock(when, courseZone)) { return; } } catch (e) { /* unknown zone: show ours */ }
      var span = document.createElement("span");
      span.className = "local-time";
      span.textContent = "Your time (" + zone.replace(/_/g, " ") + "): " + here;
      el.parentNode.appendChild(span);
    });
  }

  // The server's HTML of `url`, parsed.
  function fetchPage(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  // Replace each part of this page marked data-refresh by its fresh copy from `doc`, when it changed
  // (parts that did not change are left alone, so focus and scroll stay where they are).
  function replaceParts(doc) {
    doc.querySelectorAll("[data-refresh][id]").forEach(function (fresh) {
      var current = $(fresh.id);
      if (!current || served.get(current) === fresh.outerHTML) { return; }
      var node = document.importNode(fresh, true);
      served.set(node, fresh.outerHTML);
      current.replaceWith(node);
      localTimes(node);
    });
  }

  function remember(root) {  // what the server sent, before this script adds to it
    root.querySelectorAll("[data-refresh][id]").forEach(function (el) { served.set(el, el.outerHTML); });
  }

  function refresh(url) { return fetchPage(url).then(replaceParts); }

  // Follow one submission until it is graded (or failed): ask for its state with the ETag of the state
  // last seen (the server answers when it changes, or 304 after WAIT_S seconds), refresh the page's parts
  // whenever it changes, and announce each new state.
  function follow(id, pageUrls) {
    var last = null, etag = null;
    function poll() {
      var asked = Date.now(), headers = {"Accept": "application/json"};
      if (etag) { headers["If-None-Match"] = etag; }
      fetch("/api/submissions/" + id + "?wait=" + WAIT_S,
            {credentials: "same-origin", cache: "no-store", headers: headers})
        .then(function (r) {
          if (r.status === 304) {  // unchanged all along: ask again (not in a tight loop if it came back early)
            setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - asked)));
            return null;
          }
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          etag = r.headers.get("ETag");
          return r.json();
        })
        .then(function (s) {
          if (s === null) { return; }
          var done = (s.status === "graded" || s.status === "error") && !s.regrading;
          var key = [s.status, s.regrading, s.score, s.max_score, s.position, s.manual].join("|");
          var next = function () { if (!done) { setTimeout(poll, POLL_MS); } };
          if (key === last) { next(); return; }
          last = key;
          say("Submission " + id + ": " + s.status + (s.regrading ? " (regrading)" : "") + ". " + (s.message || ""));
          Promise.all(pageUrls.map(refresh)).then(next, function () { last = null; setTimeout(poll, RETRY_MS); });
        })
        .catch(function () { setTimeout(poll, RETRY_MS); });
    }
    poll();
  }

  // The assignment page: hand in without leaving it; the receipt is the submission's own page part.
  function upload(form) {
    var input = $("file"), error = $("upload-error"), button = $("submit");
    var file = input.files && input.files[0];
    if (!file) { return; }
    var params = new URLSearchParams({assignment: form.dataset.assignment, filename: file.name});
    if ($("confirm")) {
      params.set("confirm_late_days", form.elements["confirm_late_days"].value);
      params.set("confirm_penalty", form.elements["confirm_penalty"].value);
    }
    error.hidden = true;
    button.disabled = true;
    button.textContent = "Uploading\u2026";
    function done() { button.disabled = false; button.textContent = "Hand in"; }
    fetch("/api/submissions?" + params.toString(), {
      method: "POST", credentials: "same-origin", body: file,
      headers: {"X-CSRF-Token": form.elements["csrf"].value, "Content-Type": "application/octet-stream",
                "Accept": "application/json"}
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      done();
      if (!res.ok) {
        error.hidden = false;
        error.textContent = res.body.message || "The upload was refused.";
        return;
      }
      form.reset();
      showReceipt(res.body);
    }).catch(function () {
      done();
      error.hidden = false;
      error.textContent = "The upload did not reach the server; check your connection and try again.";
    });
  }

  function showReceipt(s) {
    var box = $("receipt"), body = $("receipt-body");
    // At once, from the upload's answer: when and what was received (the full receipt follows).
    body.textContent = "";
    [["Received", s.received_text], ["SHA-256", s.sha256], ["Status", s.status]].forEach(function (pair) {
      var p = document.createElement("p");
      p.textContent = pair[0] + ": " + pair[1];
      body.appendChild(p);
    });
    $("receipt-link").href = s.page_url;
    box.hidden = false;
    $("receipt-heading").focus();
    say("Handed in. Received " + s.received_text + ".");
    var receiptUrl = s.page_url + "?receipt=1";
    fetchPage(receiptUrl).then(function (doc) {
      var part = doc.getElementById("submission");
      if (part) {
        body.textContent = "";
        var node = document.importNode(part, true);
        served.set(node, part.outerHTML);
        body.appendChild(node);
      }
    }).catch(function () { /* the short receipt stays; follow() fills in the rest */ })
      .then(function () { follow(s.id, [receiptUrl, location.pathname]); });
  }

  function setUpUpload(form) {
    form.addEventListener("submit", function (e) { e.preventDefault(); upload(form); });
    var zone = $("dropzone");
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { $("file").files = e.dataTransfer.files; }
    });
  }

  // The instructor's pages follow the class: their data-refresh parts are fetched again every few seconds.
  function live(url) {
    function poll() {
      refresh(url).then(function () { setTimeout(poll, DASHBOARD_MS); },
                        function () { setTimeout(poll, RETRY_MS); });
    }
    setTimeout(poll, DASHBOARD_MS);
  }

  // Actions that touch a whole class ask first (data-confirm holds the question).
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    remember(document);
    localTimes(document);
    var form = $("upload-form");
    if (form && window.fetch) { setUpUpload(form); }
    var sub = $("submission");
    if (sub && window.fetch && sub.dataset.done !== "1") { follow(sub.dataset.id, [location.pathname]); }
    confirmations();
    if (window.fetch) {
      document.querySelectorAll("[data-live]").forEach(function (el) { live(el.dataset.live); });
    }
  });
})();
