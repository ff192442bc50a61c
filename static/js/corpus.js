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
    // A change of encoder: its progress line shows while one runs (reencoded_count is a number)
    // and goes once the new index is swapped in (null), as the status badge turns "Ready".
    const change = statusBox.querySelector("[data-encoder-change]");
    if (change && "reencoded_count" in data) change.hidden = data.reencoded_count === null;
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

  // The counts now, without waiting for the next poll (after each upload batch).
  const refreshStatus = () => {
    if (!statusBox) return;
    fetch(statusBox.dataset.apiUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then(showStatus)
      .catch(() => {});
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
  // Batches through the API with "n of N files, x of y MB"; files over the size limit or of a
  // kind CRIER does not take are refused before they are sent (the server still judges the
  // rest); leaving the page while files are on their way asks first; the files not answered
  // yet are kept in this browser (IndexedDB, by corpus) so that an interrupted upload can be
  // resumed from the corpus page: what was stored stays, and what the server already holds is
  // answered "already there", never stored twice.
  const form = document.querySelector("[data-upload-form]");
  const feedback = document.querySelector("[data-feedback]");
  if (!form || !feedback || !window.FormData || !window.XMLHttpRequest) return;

  const input = form.querySelector("input[type=file]");
  const button = form.querySelector("button[type=submit]");
  const progressBox = form.querySelector("[data-progress]");
  const progress = progressBox.querySelector("progress");
  const progressText = progressBox.querySelector("[data-progress-text]");
  const list = feedback.querySelector("[data-feedback-list]");
  const summary = feedback.querySelector("[data-feedback-summary]");
  const reload = feedback.querySelector("[data-feedback-reload]");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const maxBytes = Number(form.dataset.maxBytes || 0);
  const accepted = (form.dataset.accept || "").split(",").filter(Boolean);
  const corpusKey = String(form.dataset.corpusId || location.pathname);
  const resumeBox = document.querySelector("[data-resume]");

  const mb = (bytes) => (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
  const mib = (bytes) => (bytes / 1048576).toFixed(1); // as the server words its limit
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  // Why the browser will not send a file, or null.
  const refusal = (file) => {
    const name = file.name.toLowerCase();
    const dot = name.lastIndexOf(".");
    const suffix = dot >= 0 ? name.slice(dot) : "";
    const known = accepted.includes(suffix) || /^image\/(jpeg|png|webp|gif|bmp|x-ms-bmp|tiff)$/.test(file.type);
    if (!known) return "not an image CRIER takes (JPEG, PNG, WebP, GIF, BMP or TIFF); not sent.";
    if (!file.size) return "the file is empty; not sent.";
    if (maxBytes && file.size > maxBytes) {
      return `the file is ${mib(file.size)} MiB; CRIER accepts at most ${mib(maxBytes)} MiB per image; not sent.`;
    }
    return null;
  };

  // --- the files not answered yet, kept for a resume ---
  const STORE = "pending";
  const database = () =>
    new Promise((resolve, reject) => {
      const request = indexedDB.open("crier-uploads", 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  const storeOp = (mode, act) =>
    database().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(STORE, mode);
          const request = act(tx.objectStore(STORE));
          tx.oncomplete = () => resolve(request && request.result);
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error);
        }),
    );
  // One record per file ("<corpus>/<n>"), deleted as the server answers for it, so a batch
  // costs one small delete, not a rewrite of the whole list. Where the files themselves cannot
  // be kept (no room, no IndexedDB) their names and sizes are, in localStorage.
  const namesKey = `crier-upload-pending-${corpusKey}`;
  const range = () => IDBKeyRange.bound(`${corpusKey}/`, `${corpusKey}/\uffff`);
  let keyOf = new Map(); // File → its record's key
  const keepNames = (files) => {
    try {
      if (files.length) {
        const names = files.map((file) => ({ name: file.name, size: file.size }));
        localStorage.setItem(namesKey, JSON.stringify(names));
      } else {
        localStorage.removeItem(namesKey);
      }
    } catch (error) { /* nothing to keep it in: no resume */ }
  };
  const keepAll = (files) => {
    const keys = new Map(files.map((file, n) => [file, `${corpusKey}/${String(n).padStart(6, "0")}`]));
    return storeOp("readwrite", (store) => {
      store.delete(range());
      keys.forEach((key, file) => store.put(file, key));
    })
      .then(() => {
        keyOf = keys;
        localStorage.removeItem(namesKey);
      })
      .catch(() => {
        keyOf = new Map();
        keepNames(files);
      });
  };
  const answered = (files, stillPending) => {
    if (!keyOf.size) return Promise.resolve(keepNames(stillPending));
    return storeOp("readwrite", (store) => {
      files.forEach((file) => keyOf.has(file) && store.delete(keyOf.get(file)));
    }).catch(() => {});
  };
  const forgetAll = () => {
    keyOf = new Map();
    keepNames([]);
    return storeOp("readwrite", (store) => store.delete(range())).catch(() => {});
  };
  const recall = () =>
    database()
      .then(
        (db) =>
          new Promise((resolve, reject) => {
            const store = db.transaction(STORE).objectStore(STORE);
            const keys = store.getAllKeys(range());
            const files = store.getAll(range());
            files.onsuccess = () => resolve({ keys: keys.result, files: files.result });
            files.onerror = () => reject(files.error);
          }),
      )
      .catch(() => null)
      .then((kept) => {
        if (kept && kept.files.length) {
          return { files: kept.files, names: kept.files, keys: new Map(kept.files.map((f, n) => [f, kept.keys[n]])) };
        }
        try {
          const names = JSON.parse(localStorage.getItem(namesKey) || "[]");
          return names.length ? { files: null, names } : null;
        } catch (error) {
          return null;
        }
      });

  const batchesOf = (files) => {
    const limit = Number(form.dataset.batchFiles || BATCH_FILES);
    const batches = [];
    let current = [];
    let bytes = 0;
    files.forEach((file) => {
      if (current.length && (current.length >= limit || bytes + file.size > BATCH_BYTES)) {
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
      failed: true,
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

  const warnBeforeLeaving = (event) => {
    event.preventDefault();
    event.returnValue = ""; // the browser's own "Leave site?" question
  };

  let uploading = false;
  const upload = async (chosen, { fromInput = false, keys = null } = {}) => {
    if (uploading) return;
    uploading = true;
    const tally = { accepted: 0, duplicates: 0, rejected: 0 };
    list.replaceChildren();
    reload.hidden = true;
    feedback.hidden = false;
    if (resumeBox) resumeBox.hidden = true;
    const refused = chosen.map((file) => [file, refusal(file)]).filter(([, why]) => why);
    refused.forEach(([file, why]) => addLine("rejected", "not sent", file.name, why));
    tally.rejected += refused.length;
    const files = chosen.filter((file) => !refusal(file));
    const total = files.reduce((sum, file) => sum + file.size, 0);
    let pending = files.slice();
    let sentBytes = 0;
    let doneFiles = 0;
    const showProgress = (bytes) => {
      progress.value = total ? Math.round((bytes / total) * 100) : 100;
      progressText.textContent = `${doneFiles} of ${files.length} files, ${mb(bytes)} of ${mb(total)} MB`;
    };
    if (files.length) {
      button.disabled = true;
      progressBox.hidden = false;
      window.addEventListener("beforeunload", warnBeforeLeaving);
      summary.textContent = `Uploading ${plural(files.length, "file")} (${mb(total)} MB)…`;
      showProgress(0);
      if (keys) keyOf = keys; // resumed: the records are there already
      else await keepAll(pending);
    }
    const imageBase = feedback.dataset.imageBase;
    for (const batch of batchesOf(files)) {
      const size = batch.reduce((sum, file) => sum + file.size, 0);
      const answer = await send(batch, (share) => showProgress(sentBytes + share * size));
      if (answer === null && sentBytes === 0 && !refused.length && fromInput) {
        window.removeEventListener("beforeunload", warnBeforeLeaving);
        uploading = false;
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      const { accepted: added = [], duplicates = [], rejected = [], failed = false } = answer || {};
      added.forEach((item) => addLine("accepted", "added", item.filename));
      duplicates.forEach((item) => addLine("duplicate", "already there", item.filename, "",
        `${imageBase}${item.existing_id}/`));
      rejected.forEach((item) => addLine("rejected", "rejected", item.filename, item.error));
      tally.accepted += added.length;
      tally.duplicates += duplicates.length;
      tally.rejected += rejected.length;
      sentBytes += size;
      doneFiles += batch.length;
      showProgress(sentBytes);
      if (!failed) {
        // Answered: no longer pending (a failed request's files stay, for a resume).
        pending = pending.filter((file) => !batch.includes(file));
        await answered(batch, pending);
      }
      refreshStatus(); // the status card counts what is stored already
    }
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    progressBox.hidden = true;
    button.disabled = false;
    input.value = "";
    input.dispatchEvent(new Event("change", { bubbles: true }));
    summary.textContent = `${tally.accepted} added, ${tally.duplicates} already there, ${tally.rejected} rejected.`;
    uploading = false;
    if (pending.length) offerResume({ files: pending, names: pending, keys: keyOf });
    if (tally.accepted) {
      refreshGrid(); // the new images, still waiting to be indexed
      sawBusy = true;
      if (statusBox) {
        statusBox.querySelector("[data-field=status]").textContent = "Indexing";
        statusBox.querySelector("[data-field=status]").className = "badge badge-indexing";
      }
      schedulePoll();
    }
  };

  form.addEventListener("submit", (event) => {
    const files = Array.from(input.files || []);
    if (!files.length) return;
    event.preventDefault();
    upload(files, { fromInput: true });
  });

  // --- resuming an interrupted upload ---
  const offerResume = (kept) => {
    if (!resumeBox || !kept) return;
    const bytes = kept.names.reduce((sum, file) => sum + (file.size || 0), 0);
    const text = resumeBox.querySelector("[data-resume-text]");
    const start = resumeBox.querySelector("[data-resume-start]");
    const shown = kept.names.slice(0, 5).map((file) => file.name).join(", ");
    const more = kept.names.length > 5 ? `, and ${kept.names.length - 5} more` : "";
    text.textContent = `${plural(kept.names.length, "file")} (${mb(bytes)} MB) were not uploaded yet: ${shown}${more}.`
      + (kept.files ? "" : " Choose them again under “Add images”: those already stored are reported as already there.");
    start.hidden = !kept.files;
    start.onclick = () => {
      const details = form.closest("details");
      if (details) details.open = true;
      upload(kept.files, { keys: kept.keys });
    };
    resumeBox.querySelector("[data-resume-forget]").onclick = () => {
      forgetAll();
      resumeBox.hidden = true;
    };
    resumeBox.hidden = false;
  };
  recall().then((kept) => {
    if (kept && !uploading) offerResume(kept);
  });
})();
