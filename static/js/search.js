// The search form, made quicker: paste a picture (Ctrl/Cmd+V) or drop one anywhere on the page
// to search with it; the picture is kept in this browser (IndexedDB; never stored on the server)
// so that the results page can search again with another region, or show more results, without
// choosing it again. Without this script the form still works as a plain upload. "Show more"
// also serves the pages whose next results are a link (more like this, text search).
(() => {
  "use strict";

  const form = document.querySelector("form[data-search-form]");
  const input = form && form.querySelector("input[type=file]");
  const regionField = form && form.querySelector("[data-region]");

  // --- announcements for screen readers ---------------------------------------------------
  const announcer = document.createElement("p");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  announcer.dataset.announcer = "";
  (document.querySelector("main") || document.body).append(announcer);
  const announce = (text) => {
    announcer.textContent = text;
  };
  // A visible line at the top of the page, read out at once (a drop that was not a picture).
  const notice = (text) => {
    let line = document.querySelector("[data-page-notice]");
    if (!line) {
      line = document.createElement("p");
      line.className = "message message-error";
      line.setAttribute("role", "alert");
      line.dataset.pageNotice = "";
      const main = document.querySelector("main") || document.body;
      main.insertBefore(line, main.firstChild);
    }
    line.textContent = text;
    line.hidden = false;
    line.scrollIntoView({ block: "nearest" });
  };

  // --- the kept query picture ---------------------------------------------------------------
  const STORE = "query";
  const KEY = "last";
  const database = () =>
    new Promise((resolve, reject) => {
      const request = indexedDB.open("crier-search", 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  const keep = (file) =>
    database().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(STORE, "readwrite");
          tx.objectStore(STORE).put(file, KEY);
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
        }),
    );
  const kept = () =>
    database().then(
      (db) =>
        new Promise((resolve, reject) => {
          const request = db.transaction(STORE).objectStore(STORE).get(KEY);
          request.onsuccess = () => resolve(request.result || null);
          request.onerror = () => reject(request.error);
        }),
    );

  const choose = (file) => {
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  // --- the query sent small -----------------------------------------------------------------
  // A phone photo is 3-6 MB; the model sees a few hundred pixels. The picture is sent as the
  // server would decode it anyway: its long side (or, with a region, the region's long side) at
  // most data-scale-side px, resampled with the browser's best filter, EXIF orientation applied,
  // transparency on white (as the server composites it), as a JPEG of quality 0.9. The region
  // stays fractions of the picture. data-scale-side="0" (or a browser without
  // createImageBitmap) sends the file as chosen; whatever happens, the server judges it.
  const JPEG_QUALITY = 0.9;
  const regionShare = () => {
    const values = String(regionField ? regionField.value : "").split(",").map(Number);
    if (values.length !== 4 || !values.every(Number.isFinite)) return 1;
    const share = Math.max(values[2] - values[0], values[3] - values[1]);
    return share > 0 && share <= 1 ? share : 1;
  };
  // The picture's size as shown (EXIF orientation applied), from an <img> that has only read
  // the header: the full decode happens once, already at the smaller size, below.
  const shownSize = (file) =>
    new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const probe = new Image();
      probe.onload = () => {
        URL.revokeObjectURL(url);
        resolve([probe.naturalWidth, probe.naturalHeight]);
      };
      probe.onerror = () => {
        URL.revokeObjectURL(url);
        reject(new Error("not a picture"));
      };
      probe.src = url;
    });
  const scaledDown = async (file) => {
    const side = Number(form.dataset.scaleSide || 0);
    if (!side || !window.createImageBitmap || !file.type.startsWith("image/")) return file;
    let bitmap = null;
    try {
      const [shownWidth, shownHeight] = await shownSize(file);
      const scale = side / (Math.max(shownWidth, shownHeight) * regionShare());
      if (scale >= 1) return file;
      const width = Math.max(1, Math.round(shownWidth * scale));
      const height = Math.max(1, Math.round(shownHeight * scale));
      bitmap = await createImageBitmap(file, {
        imageOrientation: "from-image", resizeWidth: width, resizeHeight: height, resizeQuality: "high",
      });
      const resized = bitmap;
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, width, height);
      context.drawImage(resized, 0, 0);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
      if (!blob || blob.size >= file.size) return file;
      return new File([blob], file.name, { type: "image/jpeg", lastModified: file.lastModified });
    } catch (error) {
      return file; // not a picture this browser can read: the server says what is wrong
    } finally {
      if (bitmap) bitmap.close();
    }
  };
  // Puts the small copy in the form without a "change" event (the preview and region stay).
  const swapIn = (file) => {
    if (file === input.files[0]) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
  };

  let keptFile = null;
  if (form) {
    window.addEventListener("pageshow", () => { // back to a page
      delete form.dataset.saved;
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.disabled = false;
      });
    });
    form.addEventListener("submit", (event) => {
      const file = input.files[0];
      if (!file || form.dataset.saved === "yes") return;
      event.preventDefault();
      const send = () => {
        form.dataset.saved = "yes";
        form.submit();
      };
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true; // one search at a time while the copy is made
      scaledDown(file)
        .then((small) => {
          swapIn(small);
          return keep(small);
        })
        .then(send, send); // without storage the search still runs
    });

    // --- paste and drop anywhere --------------------------------------------------------------
    const imageIn = (files) => Array.from(files || []).find((file) => file.type.startsWith("image/"));
    const hidePageNotice = () => {
      const line = document.querySelector("[data-page-notice]");
      if (line) line.hidden = true;
    };
    const searchWith = (file, how) => {
      hidePageNotice();
      choose(file);
      announce(`Searching with the ${how} image…`);
      form.requestSubmit();
    };
    document.addEventListener("paste", (event) => {
      const file = imageIn(event.clipboardData && event.clipboardData.files);
      if (!file) return; // text pastes go where they always went
      event.preventDefault();
      searchWith(file, "pasted");
    });
    const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
    document.addEventListener("dragover", (event) => {
      if (!carriesFiles(event) || event.defaultPrevented) return;
      event.preventDefault(); // allow the drop
      document.body.classList.add("dropping");
    });
    document.addEventListener("dragleave", (event) => {
      if (!event.relatedTarget) document.body.classList.remove("dropping");
    });
    document.addEventListener("drop", (event) => {
      document.body.classList.remove("dropping");
      if (event.defaultPrevented || !carriesFiles(event)) return; // a drop box took it
      event.preventDefault();
      const file = imageIn(event.dataTransfer.files);
      if (file) searchWith(file, "dropped");
      else notice(`${Array.from(event.dataTransfer.files).map((f) => f.name).join(", ") || "That"} is not an image; drop a picture to search with it.`);
    });
  }

  // --- the results page: the query back in the form, and "Show more" ------------------------
  const results = document.querySelector("[data-results]");
  const more = results && results.querySelector("[data-show-more]");

  // Each copy of an uploaded query can be compared with it: the kept picture goes in the form.
  const showCompareForms = (root) =>
    root.querySelectorAll("form[data-compare-upload]").forEach((compare) => {
      compare.hidden = !keptFile;
    });
  document.addEventListener("submit", (event) => {
    const compare = event.target.closest("form[data-compare-upload]");
    if (!compare || !keptFile) return;
    const transfer = new DataTransfer();
    transfer.items.add(keptFile);
    compare.querySelector("input[type=file]").files = transfer.files;
  });

  if (form && form.hasAttribute("data-restore-query")) {
    kept()
      .then((file) => {
        if (!file) return;
        keptFile = file;
        const searched = regionField ? regionField.defaultValue : "";
        choose(file); // shows the preview (and clears the region, as for any new picture)
        if (regionField && searched) {
          regionField.value = searched;
          regionField.dispatchEvent(new Event("change"));
        }
        if (more && more.tagName === "BUTTON") more.hidden = false;
        showCompareForms(document);
      })
      .catch(() => {}); // no storage: the form is empty, as without this script
  }

  if (more) {
    // Copies and look-alikes have a list each: a new tile joins the one of its kind.
    const listOf = (tile) =>
      results.querySelector(`[data-results-list="${tile.dataset.kind}"]`) || results.querySelector("[data-results-list]");
    const shown = () => results.querySelectorAll("[data-results-list] > li").length;
    const count = results.querySelector("[data-results-count]");
    const request = () => {
      if (more.tagName === "A") return fetch(more.href, { credentials: "same-origin" });
      const data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      data.append("image", keptFile, keptFile.name);
      data.append("k", results.dataset.k);
      data.append("offset", more.dataset.nextOffset);
      if (results.dataset.minScore) data.append("min_score", results.dataset.minScore);
      if (results.dataset.region) data.append("region", results.dataset.region);
      new URLSearchParams(results.dataset.filters || "").forEach((value, name) => data.append(name, value));
      return fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
    };
    more.addEventListener("click", (event) => {
      event.preventDefault();
      if (more.getAttribute("aria-disabled") === "true") return;
      if (more.tagName === "BUTTON" && !keptFile) return;
      more.setAttribute("aria-disabled", "true");
      announce("Loading more results…");
      request()
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          const page = new DOMParser().parseFromString(html, "text/html");
          const tiles = Array.from(page.querySelectorAll("[data-results-list] > li"));
          tiles.forEach((tile) => {
            const list = listOf(tile);
            list.append(document.adoptNode(tile));
            const section = list.closest("[data-kind-section]");
            if (section) section.hidden = false;
          });
          if (count) count.textContent = String(shown());
          showCompareForms(results);
          const next = page.querySelector("[data-show-more]");
          if (next && more.tagName === "A") more.href = next.getAttribute("href");
          else if (next) more.dataset.nextOffset = next.dataset.nextOffset;
          else more.parentElement.hidden = true;
          more.removeAttribute("aria-disabled");
          announce(`${tiles.length} more result${tiles.length === 1 ? "" : "s"} shown; ${shown()} in all.`);
          const firstLink = tiles.length && tiles[0].querySelector("a");
          if (firstLink) firstLink.focus(); // carry on reading where the new ones start
        })
        .catch(() => {
          more.removeAttribute("aria-disabled");
          announce("More results could not be loaded; try again.");
        });
    });
  }
})();
