// Every page: on a wide screen the folded parts marked [data-open-wide] start open (a phone
// keeps them folded so its first screen shows results or images); an error the page opens
// with ([data-focus-on-load], also autofocus) is focused and in view.
(() => {
  "use strict";

  if (window.matchMedia && window.matchMedia("(min-width: 900px)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach((details) => {
      details.open = true;
    });
  }
  const error = document.querySelector("[data-focus-on-load]");
  if (error && document.activeElement !== error) {
    error.focus({ preventScroll: true });
    error.scrollIntoView({ block: "nearest" });
  }
})();
