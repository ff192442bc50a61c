// Searching with a part of the query image: drag across the preview to select it. The selection
// is written into the form's "region" field as fractions of the image (left,top,right,bottom),
// which can also be typed by hand; without this script the field still works.
(() => {
  "use strict";

  const MIN_SIDE = 0.02;
  const clamp = (v) => Math.min(1, Math.max(0, v));

  const enhance = (form) => {
    const picker = form.querySelector("[data-region-picker]");
    const image = form.querySelector("[data-preview]");
    const box = form.querySelector("[data-region-box]");
    const field = form.querySelector("[data-region]");
    const details = form.querySelector("[data-region-details]");
    const clear = form.querySelector("[data-region-clear]");
    const fileInput = form.querySelector("input[type=file]");
    if (!picker || !image || !box || !field) return;

    const draw = ([l, t, r, b]) => {
      Object.assign(box.style, {
        left: `${l * 100}%`, top: `${t * 100}%`, width: `${(r - l) * 100}%`, height: `${(b - t) * 100}%`,
      });
      box.hidden = false;
    };
    const reset = () => {
      field.value = "";
      box.hidden = true;
    };
    const point = (event) => {
      const rect = image.getBoundingClientRect();
      return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
    };

    let start = null;
    const current = (event) => {
      const [x, y] = point(event);
      return [Math.min(start[0], x), Math.min(start[1], y), Math.max(start[0], x), Math.max(start[1], y)];
    };
    image.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      start = point(event);
      image.setPointerCapture(event.pointerId);
    });
    image.addEventListener("pointermove", (event) => {
      if (start) draw(current(event));
    });
    image.addEventListener("pointerup", (event) => {
      if (!start) return;
      const region = current(event);
      start = null;
      if (region[2] - region[0] < MIN_SIDE || region[3] - region[1] < MIN_SIDE) {
        reset();
        return;
      }
      field.value = region.map((v) => v.toFixed(4)).join(",");
      draw(region);
      if (details) details.open = true; // show the numbers that will be searched
    });
    image.addEventListener("dragstart", (event) => event.preventDefault());
    image.classList.add("selectable");

    field.addEventListener("change", () => {
      const values = field.value.split(",").map(Number);
      if (values.length === 4 && values.every((v) => v >= 0 && v <= 1) && values[2] > values[0] && values[3] > values[1]) {
        draw(values);
      } else {
        box.hidden = true;
      }
    });
    if (clear) clear.addEventListener("click", reset);
    if (fileInput) fileInput.addEventListener("change", reset); // a new picture, a new selection
  };

  document.querySelectorAll("form.search-form").forEach(enhance);
})();
