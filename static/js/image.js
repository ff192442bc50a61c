// The image page: the arrow keys go to the previous and next image of the corpus (the links of
// [data-image-nav]), and "Zoom to the original" shows the picture at its own pixels in a frame
// that scrolls (clicking the picture does the same). Without this script the links still work
// and the picture links to the original file.
(() => {
  "use strict";

  const nav = document.querySelector("[data-image-nav]");
  const frame = document.querySelector("[data-zoom-frame]");
  const button = document.querySelector("[data-zoom-button]");

  if (nav) {
    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const rel = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
      if (!rel) return;
      // Keys typed into a field, or scrolling the zoomed picture, stay theirs.
      const inside = event.target.closest && event.target.closest(
        "input, textarea, select, [contenteditable], pre, .zoom-frame.zoomed",
      );
      if (inside) return;
      const link = nav.querySelector(`a[rel=${rel}]`);
      if (!link) return;
      event.preventDefault();
      window.location.assign(link.href);
    });
  }

  if (frame && button) {
    const link = frame.querySelector("[data-zoom-link]");
    const zoom = (on) => {
      frame.classList.toggle("zoomed", on);
      button.setAttribute("aria-pressed", String(on));
      if (on) {
        frame.tabIndex = 0; // a frame that scrolls can be scrolled from the keyboard
        frame.setAttribute("role", "group");
        frame.setAttribute("aria-label", frame.dataset.label);
        frame.focus({ preventScroll: true });
      } else {
        frame.removeAttribute("tabindex");
        frame.removeAttribute("role");
        frame.removeAttribute("aria-label");
      }
    };
    button.hidden = false;
    button.addEventListener("click", () => zoom(!frame.classList.contains("zoomed")));
    link.addEventListener("click", (event) => {
      event.preventDefault();
      zoom(!frame.classList.contains("zoomed"));
    });
    frame.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && frame.classList.contains("zoomed")) {
        zoom(false);
        button.focus();
      }
    });
  }
})();
