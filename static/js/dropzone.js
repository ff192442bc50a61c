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

  const enhance = (zone) => {
    const input = zone.querySelector("input[type=file]");
    if (!input) return;
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
      const dropped = Array.from(event.dataTransfer.files || []);
      if (!dropped.length) return;
      const transfer = new DataTransfer();
      (input.multiple ? dropped : dropped.slice(0, 1)).forEach((file) => transfer.items.add(file));
      input.files = transfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
    });
    input.addEventListener("change", () => describe(zone, input));
  };

  document.querySelectorAll("[data-dropzone]").forEach(enhance);
})();
