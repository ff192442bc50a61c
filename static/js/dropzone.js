// Drag and drop onto [data-dropzone] boxes, plus a preview of a chosen image. The file input
// inside stays the real control, so the form works the same without this script.
(() => {
  "use strict";

  const describe = (zone, input) => {
    const chosen = zone.querySelector("[data-chosen]");
    if (chosen) {
      const n = input.files.length;
      chosen.textContent = n ? `${n} file${n === 1 ? "" : "s"} chosen.` : "";
    }
    const preview = zone.querySelector("[data-preview]");
    if (!preview) return;
    if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
    const file = input.files[0];
    if (file && file.type.startsWith("image/")) {
      preview.dataset.url = URL.createObjectURL(file);
      preview.src = preview.dataset.url;
      preview.alt = `Preview of ${file.name}`;
      preview.hidden = false;
    } else {
      preview.hidden = true;
      preview.removeAttribute("src");
    }
  };

  // A picture by its type or, when the browser gives none, its name.
  const IMAGE_NAME = /\.(jpe?g|jpe|jfif|png|webp|gif|bmp|tiff?|mpo)$/i;
  const isImage = (file) => (file.type ? file.type.startsWith("image/") : IMAGE_NAME.test(file.name));

  // A visible (and announced) line in the box: what a drop left out.
  const say = (zone, text) => {
    let line = zone.querySelector("[data-zone-message]");
    if (!line) {
      line = document.createElement("p");
      line.className = "error zone-message";
      line.setAttribute("role", "alert");
      line.dataset.zoneMessage = "";
      zone.append(line);
    }
    line.textContent = text;
    line.hidden = !text;
  };

  const enhance = (zone) => {
    const input = zone.querySelector("input[type=file]");
    if (!input) return;
    const preview = zone.querySelector("[data-preview]");
    if (preview) {
      // A file named like a picture that is not one: no broken-image icon, just no preview.
      preview.addEventListener("error", () => {
        if (preview.getAttribute("src")) preview.hidden = true;
      });
    }
    const on = (event) => {
      event.preventDefault();
      zone.classList.add("dragover");
    };
    const off = () => zone.classList.remove("dragover");
    zone.addEventListener("dragenter", on);
    zone.addEventListener("dragover", on);
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) off();
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      off();
      const all = Array.from(event.dataTransfer.files || []);
      if (!all.length) return;
      const dropped = all.filter(isImage);
      const left = all.filter((file) => !isImage(file)).map((file) => file.name);
      say(zone, left.length
        ? `${left.length === all.length ? "Not" : `Left out, not`} an image: ${left.join(", ")}.`
        : "");
      if (!dropped.length) return;
      const transfer = new DataTransfer();
      (input.multiple ? dropped : dropped.slice(0, 1)).forEach((file) => transfer.items.add(file));
      input.files = transfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
    });
    input.addEventListener("change", () => describe(zone, input));
    input.form?.addEventListener("reset", () => say(zone, ""));
  };

  document.querySelectorAll("[data-dropzone]").forEach(enhance);
})();
