// The corpus page: uploads through the API with a progress bar and per-file feedback, and an
// indexing status and image grid that refresh themselves. Without this script the plain forms
// still work.
(() => {
  "use strict";

  const POLL_MS = 1500;
  const BATCH_FILES = 20;
  const BATCH_BYTES = 16 * 1024 * 1024;

  // --- indexing status ---------------------------------------------------------------------
  const statusBox = document.querySelector("[data-corpus-status]");
  let timer = null;

  const isBusy = (data) => data.status === "indexing" || Number(data.pending_count) > 0;

  const showStatus = (data) => {
    statusBox.querySelectorAll("[data-field]").forEach((el) => {
      const value = data[el.dataset.field];
      if (value === undefined || value === null) return;
      if (el.dataset.field === "status") {
        el.textContent = value.charAt(0).toUpperCase() + value.slice(1);
        el.className = `badge badge-${value}`;
      } else {
        el.textContent = value;
      }
    });
  };

  // The grid is server-rendered: fetch this page again and swap in its grid, so new images
  // appear (and their badges clear) without losing the upload feedback above.
  const grid = document.querySelector("[data-image-grid]");
  // Swapping the grid's HTML would drop keyboard focus to the page's start: remember what had
  // it (a link or button, by where it leads and what it says) and focus its twin afterwards,
  // or the grid's heading if it is gone.
  const focusKey = (el) =>
    el && el !== grid && grid.contains(el)
      ? `${el.tagName}|${el.getAttribute("href") || ""}|${el.textContent.trim()}`
      : null;
  const refocus = (key) => {
    if (key === null) return;
    const twin = [...grid.querySelectorAll("a, button, input, select, textarea")]
      .find((el) => focusKey(el) === key);
    const target = twin || grid.querySelector("h2");
    if (!target) return;
    if (!twin) target.tabIndex = -1;
    target.focus();
  };
  const refreshGrid = () => {
    if (!grid) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-image-grid]");
        if (!fresh) return;
        const focused = focusKey(document.activeElement);
        grid.innerHTML = fresh.innerHTML;
        refocus(focused);
      })
      .catch(() => {}); // the old grid stays; a reload shows the new one
  };

  let sawBusy = false;
  const poll = () => {
    timer = null;
    fetch(statusBox.dataset.apiUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        showStatus(data);
        if (isBusy(data)) {
          sawBusy = true;
          schedulePoll();
        } else if (sawBusy) {
          sawBusy = false;
          refreshGrid();
        }
      })
      .catch(() => {}); // the page still shows the last known status; a reload refreshes it
  };

  const schedulePoll = () => {
    if (statusBox && timer === null) timer = setTimeout(poll, POLL_MS);
  };

  if (statusBox && isBusy({
    status: statusBox.dataset.status,
    pending_count: statusBox.dataset.pending,
  })) {
    schedulePoll();
  }

  // --- uploads -----------------------------------------------------------------------------
  const form = document.querySelector("[data-upload-form]");
  const feedback = document.querySelector("[data-feedback]");
  if (!form || !feedback || !window.FormData || !window.XMLHttpRequest) return;

  const input = form.querySelector("input[type=file]");
  const button = form.querySelector("button[type=submit]");
  const progressBox = form.querySelector("[data-progress]");
  const progress = progressBox.querySelector("progress");
  const list = feedback.querySelector("[data-feedback-list]");
  const summary = feedback.querySelector("[data-feedback-summary]");
  const reload = feedback.querySelector("[data-feedback-reload]");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  const batchesOf = (files) => {
    const batches = [];
    let current = [];
    let bytes = 0;
    files.forEach((file) => {
      if (current.length && (current.length >= BATCH_FILES || bytes + file.size > BATCH_BYTES)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(file);
      bytes += file.size;
    });
    if (current.length) batches.push(current);
    return batches;
  };

  const addLine = (kind, label, filename, detail, href) => {
    const item = document.createElement("li");
    const badge = document.createElement("span");
    badge.className = `badge badge-${kind}`;
    badge.textContent = label;
    item.append(badge, ` ${filename}`);
    if (detail) {
      const text = document.createElement("span");
      text.className = "error";
      text.textContent = detail;
      item.append(": ", text);
    }
    if (href) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = "see the stored copy";
      item.append(" ", link);
    }
    list.append(item);
  };

  // Resolves with the API's answer, or with every file rejected when the request failed;
  // resolves with null when the API is not there at all, so the plain form can take over.
  const send = (batch, onProgress) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    const rejectAll = (message) => ({
      accepted: [],
      duplicates: [],
      rejected: batch.map((file) => ({ filename: file.name, error: message })),
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (error) {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else if (!body && (xhr.status === 404 || xhr.status === 405)) resolve(null);
      else resolve(rejectAll((body && body.error && body.error.message) || `Upload failed (HTTP ${xhr.status}).`));
    });
    xhr.addEventListener("error", () => resolve(rejectAll("Network error: the file was not uploaded.")));
    const data = new FormData();
    batch.forEach((file) => data.append("images", file, file.name));
    xhr.send(data);
  });

  form.addEventListener("submit", async (event) => {
    const files = Array.from(input.files || []);
    if (!files.length) return;
    event.preventDefault();
    const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
    const tally = { accepted: 0, duplicates: 0, rejected: 0 };
    let sent = 0;
    button.disabled = true;
    progressBox.hidden = false;
    progress.value = 0;
    list.replaceChildren();
    reload.hidden = true;
    feedback.hidden = false;
    summary.textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`;
    const imageBase = feedback.dataset.imageBase;
    for (const batch of batchesOf(files)) {
      const size = batch.reduce((sum, file) => sum + file.size, 0);
      const answer = await send(batch, (share) => {
        progress.value = Math.round(((sent + share * size) / total) * 100);
      });
      if (answer === null && sent === 0) {
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      sent += size;
      const { accepted = [], duplicates = [], rejected = [] } = answer || {};
      accepted.forEach((item) => addLine("accepted", "added", item.filename));
      duplicates.forEach((item) => addLine("duplicate", "already there", item.filename, "",
        `${imageBase}${item.existing_id}/`));
      rejected.forEach((item) => addLine("rejected", "rejected", item.filename, item.error));
      tally.accepted += accepted.length;
      tally.duplicates += duplicates.length;
      tally.rejected += rejected.length;
    }
    progress.value = 100;
    progressBox.hidden = true;
    button.disabled = false;
    input.value = "";
    input.dispatchEvent(new Event("change", { bubbles: true }));
    summary.textContent = `${tally.accepted} added, ${tally.duplicates} already there, ${tally.rejected} rejected.`;
    if (tally.accepted) {
      refreshGrid(); // the new images, still waiting to be indexed
      sawBusy = true;
      if (statusBox) {
        statusBox.querySelector("[data-field=status]").textContent = "Indexing";
        statusBox.querySelector("[data-field=status]").className = "badge badge-indexing";
      }
      schedulePoll();
    }
  });
})();
