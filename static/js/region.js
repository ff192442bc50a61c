// Searching with a part of the query image. On the preview, drag to draw a region, drag inside
// it to move it, drag its corner to resize it; or focus the preview and use the arrow keys
// (move), Shift+arrows (resize) and Enter (search). The region is written into the form's
// "region" field as fractions of the image (left,top,right,bottom), which can also be typed by
// hand; without this script the field still works.
(() => {
  "use strict";

  const MIN_SIDE = 0.02;
  const STEP = 0.02; // of the width or height, per key press
  const HANDLE_PX = 16; // the corner that resizes, in CSS pixels
  const clamp = (v, lo = 0, hi = 1) => Math.min(hi, Math.max(lo, v));
  const percent = (v) => `${Math.round(v * 100)}%`;

  const parse = (text) => {
    const values = String(text).split(",").map((v) => Number(v.trim()));
    const ok = values.length === 4 && values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
    return ok && values[2] - values[0] >= MIN_SIDE && values[3] - values[1] >= MIN_SIDE ? values : null;
  };

  const enhance = (form) => {
    const picker = form.querySelector("[data-region-picker]");
    const image = form.querySelector("[data-preview]");
    const box = form.querySelector("[data-region-box]");
    const field = form.querySelector("[data-region]");
    const details = form.querySelector("[data-region-details]");
    const clear = form.querySelector("[data-region-clear]");
    const readout = form.querySelector("[data-region-readout]");
    const fileInput = form.querySelector("input[type=file]");
    if (!picker || !image || !box || !field) return;

    let region = null;
    const draw = () => {
      if (!region) {
        box.hidden = true;
        return;
      }
      const [l, t, r, b] = region;
      box.style.left = `${l * 100}%`;
      box.style.top = `${t * 100}%`;
      box.style.width = `${(r - l) * 100}%`;
      box.style.height = `${(b - t) * 100}%`;
      box.hidden = false;
    };
    const describe = () => {
      if (!readout) return;
      readout.textContent = region
        ? `Region from ${percent(region[0])} to ${percent(region[2])} across, ` +
          `${percent(region[1])} to ${percent(region[3])} down.`
        : "The whole image.";
    };
    const set = (next, { announce = false } = {}) => {
      region = next;
      field.value = region ? region.map((v) => v.toFixed(4)).join(",") : "";
      draw();
      if (announce) describe();
      if (region && details) details.open = true; // show the numbers that will be searched
    };

    const point = (event) => {
      const rect = image.getBoundingClientRect();
      return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
    };
    const modeAt = (event) => {
      if (!region) return "draw";
      const rect = image.getBoundingClientRect();
      const [x, y] = [event.clientX - rect.left, event.clientY - rect.top];
      const [l, t, r, b] = [region[0] * rect.width, region[1] * rect.height, region[2] * rect.width, region[3] * rect.height];
      if (Math.abs(x - r) <= HANDLE_PX && Math.abs(y - b) <= HANDLE_PX) return "resize";
      if (x >= l && x <= r && y >= t && y <= b) return "move";
      return "draw";
    };

    let drag = null; // {mode, start: [x, y], from: region at the start}
    const dragged = (event) => {
      const [x, y] = point(event);
      const [sx, sy] = drag.start;
      if (drag.mode === "draw") return [Math.min(sx, x), Math.min(sy, y), Math.max(sx, x), Math.max(sy, y)];
      const [l, t, r, b] = drag.from;
      if (drag.mode === "resize") {
        return [l, t, clamp(r + x - sx, l + MIN_SIDE), clamp(b + y - sy, t + MIN_SIDE)];
      }
      const dx = clamp(x - sx, -l, 1 - r);
      const dy = clamp(y - sy, -t, 1 - b);
      return [l + dx, t + dy, r + dx, b + dy];
    };
    image.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      drag = { mode: modeAt(event), start: point(event), from: region };
      image.setPointerCapture(event.pointerId);
      picker.focus({ preventScroll: true });
    });
    image.addEventListener("pointermove", (event) => {
      if (!drag) {
        picker.dataset.hover = modeAt(event);
        return;
      }
      region = dragged(event);
      draw();
    });
    image.addEventListener("pointerup", (event) => {
      if (!drag) return;
      const next = dragged(event);
      drag = null;
      const tooSmall = next[2] - next[0] < MIN_SIDE || next[3] - next[1] < MIN_SIDE;
      set(tooSmall ? null : next, { announce: true });
    });
    image.addEventListener("dragstart", (event) => event.preventDefault());
    image.classList.add("selectable");

    // The keyboard: the preview is focusable once a picture is chosen.
    picker.addEventListener("keydown", (event) => {
      if (image.hidden) return;
      if (event.key === "Enter") {
        event.preventDefault();
        form.requestSubmit();
        return;
      }
      if (event.key === "Escape" && region) {
        event.preventDefault();
        set(null, { announce: true });
        return;
      }
      const delta = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] }[event.key];
      if (!delta) return;
      event.preventDefault();
      const [dx, dy] = delta;
      const [l, t, r, b] = region || [0.25, 0.25, 0.75, 0.75]; // the first key press starts one
      if (!region) {
        set([l, t, r, b], { announce: true });
      } else if (event.shiftKey) {
        set([l, t, clamp(r + dx, l + MIN_SIDE), clamp(b + dy, t + MIN_SIDE)], { announce: true });
      } else {
        const mx = clamp(dx, -l, 1 - r);
        const my = clamp(dy, -t, 1 - b);
        set([l + mx, t + my, r + mx, b + my], { announce: true });
      }
    });

    const syncFocusable = () => {
      picker.tabIndex = image.hidden ? -1 : 0;
    };
    field.addEventListener("change", () => {
      region = parse(field.value);
      draw();
      describe();
    });
    if (clear) clear.addEventListener("click", () => set(null, { announce: true }));
    if (fileInput) {
      fileInput.addEventListener("change", () => {
        set(null); // a new picture, a new selection
        syncFocusable();
      });
    }
    image.addEventListener("load", syncFocusable);
    syncFocusable();
  };

  document.querySelectorAll("form.search-form").forEach(enhance);
})();
