// The course server's only script (served from this site; pages work without it):
// local times, drag and drop, the upload that answers in place, live status, the live dashboard.
"use strict";
(function () {
  function $(id) { return document.getElementById(id); }

  function localTimes(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when) || el.dataset.done) { return; }
      el.dataset.done = "1";
      el.title = "your time: " + when.toLocaleString();
      el.insertAdjacentText("afterend", " (your time: " + when.toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) + ")");
    });
  }

  function text(el, value) { if (el) { el.textContent = value; } }
  function points(v) { return v === null || v === undefined ? "-" : String(Math.round(v * 100) / 100); }

  // Live status of one submission: poll until graded or error.
  function follow(id, onUpdate) {
    function poll() {
      fetch("/api/submissions/" + id, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          onUpdate(s);
          if (s.status !== "graded" && s.status !== "error" || s.regrading) { setTimeout(poll, 400); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  function showSubmission(s) {
    var box = $("submission");
    if (!box) { return; }
    box.dataset.status = s.status;
    var status = $("status");
    text(status, s.status);
    if (status) { status.className = "state state-" + s.status; }
    text($("status-message"), s.message);
    text($("queue"), s.position ? "position " + s.position + ", about " + s.wait_seconds + " s" : "-");
    if (s.score !== null && s.score !== undefined) {
      text($("score"), points(s.score) + " / " + points(s.max_score) +
        (s.feedback === "public" ? " (public checks only until grades are released)" : "") + (s.manual ? " manual" : ""));
      $("report-link").hidden = false;
    }
    if (s.summary) { text($("summary"), s.summary); $("summary").hidden = false; }
  }

  function showReceipt(s) {
    var box = $("receipt");
    box.hidden = false;
    box.innerHTML = "";
    var lines = [["Received", new Date(s.received_at).toLocaleString()], ["SHA-256", s.sha256],
                 ["Status", s.status], ["Queue", s.position ? "position " + s.position + ", about " + s.wait_seconds + " s" : "-"],
                 ["Score", s.score === null ? "-" : points(s.score) + " / " + points(s.max_score)]];
    var dl = document.createElement("dl");
    dl.className = "receipt";
    lines.forEach(function (pair) {
      var dt = document.createElement("dt"); dt.textContent = pair[0];
      var dd = document.createElement("dd"); dd.textContent = pair[1];
      dd.id = "receipt-" + pair[0].toLowerCase().replace(/[^a-z0-9]+/g, "");
      dl.appendChild(dt); dl.appendChild(dd);
    });
    box.appendChild(dl);
    var link = document.createElement("a");
    link.href = s.page_url; link.id = "receipt-link"; link.textContent = "Submission " + s.id + ": details and report";
    box.appendChild(link);
  }

  function upload(form) {
    var input = $("file");
    var error = $("upload-error");
    var file = input.files && input.files[0];
    if (!file) { return; }
    var confirm = $("confirm");
    if (confirm && !confirm.checked) { error.hidden = false; error.textContent = "Confirm the late cost first."; return; }
    var params = new URLSearchParams({assignment: form.dataset.assignment, filename: file.name});
    if (confirm) {
      params.set("confirm_late_days", form.elements["confirm_late_days"].value);
      params.set("confirm_penalty", form.elements["confirm_penalty"].value);
    }
    error.hidden = true;
    $("submit").disabled = true;
    fetch("/api/submissions?" + params.toString(), {
      method: "POST", credentials: "same-origin", body: file,
      headers: {"X-CSRF-Token": form.elements["csrf"].value, "Content-Type": "application/octet-stream"}
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      $("submit").disabled = false;
      if (!res.ok) { error.hidden = false; error.textContent = res.body.message || "The upload was refused."; return; }
      showReceipt(res.body);
      form.reset();
      follow(res.body.id, showReceipt);
    }).catch(function () {
      $("submit").disabled = false;
      error.hidden = false; error.textContent = "The upload did not reach the server; check your connection and try again.";
    });
  }

  function dashboard(box) {
    function poll() {
      fetch(box.dataset.live, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (d) {
          ["queued", "grading", "graded", "error"].forEach(function (k) { text($("queue-" + k), d.queue[k]); });
          d.assignments.forEach(function (a) {
            var row = $("assignment-row-" + a.id);
            if (!row) { return; }
            text(row.querySelector(".submitted"), a.submitted); text(row.querySelector(".graded"), a.graded);
            text(row.querySelector(".pending"), a.pending); text(row.querySelector(".errors"), a.errors);
            text(row.querySelector(".mean"), points(a.mean));
          });
          d.students.forEach(function (s) {
            Object.keys(s.cells).forEach(function (aid) {
              var c = s.cells[aid], cell = $("cell-" + s.id + "-" + aid);
              if (!cell) { return; }
              cell.className = "state-" + c.state;
              cell.textContent = (c.final === null ? "-" : points(c.final)) + (c.manual ? " manual" : "") +
                (c.pending ? " (grading)" : "") + (c.errors ? " (" + c.errors + " grader error" + (c.errors === 1 ? "" : "s") + ")" : "");
            });
          });
          setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    var form = $("upload-form");
    if (form && window.fetch) {
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
    var sub = $("submission");
    if (sub && sub.dataset.status !== "graded" && sub.dataset.status !== "error") { follow(sub.dataset.id, showSubmission); }
    var dash = $("dashboard");
    if (dash) { dashboard(dash); }
  });
})();
