// "Delete selected" on the corpus page: counts the ticked images, offers "Select all on this
// page", and refuses an empty selection before the confirmation page does. The checkboxes
// belong to the form through form="select-many", so a refreshed grid keeps working.
(() => {
  "use strict";

  const form = document.querySelector("[data-select-many]");
  if (!form) return;
  const count = form.querySelector("[data-selected-count]");
  const selectAll = form.querySelector("[data-select-all]");
  const boxes = () => Array.from(document.querySelectorAll(`input[type=checkbox][form="${form.id}"]`));

  const update = () => {
    const all = boxes();
    const ticked = all.filter((box) => box.checked).length;
    count.textContent = ticked ? `${ticked} selected.` : "";
    if (selectAll) {
      selectAll.hidden = all.length === 0;
      selectAll.textContent = ticked === all.length && ticked ? "Select none" : "Select all on this page";
    }
  };
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches(`input[form="${form.id}"]`)) update();
  });
  if (selectAll) {
    selectAll.addEventListener("click", () => {
      const all = boxes();
      const tick = !all.every((box) => box.checked);
      all.forEach((box) => {
        box.checked = tick;
      });
      update();
    });
  }
  form.addEventListener("submit", (event) => {
    if (boxes().some((box) => box.checked)) return;
    event.preventDefault();
    count.textContent = "Select the images to delete first.";
  });
  update();
})();
