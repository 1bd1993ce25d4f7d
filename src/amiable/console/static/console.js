// The amiable console's only script: everything works without it; it makes
// the AMIs table nicer to use (clicking a row selects it, the selected row
// is highlighted).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.images")) {
    const mark = () => {
      for (const row of table.tBodies[0].rows) {
        const radio = row.querySelector("input[type=radio]");
        row.classList.toggle("selected", Boolean(radio && radio.checked));
      }
    };
    table.addEventListener("change", mark);
    table.addEventListener("click", (event) => {
      const row = event.target.closest("tr");
      if (!row || event.target.closest("a, input, label, button")) return;
      const radio = row.querySelector("input[type=radio]");
      if (radio) {
        radio.checked = true;
        mark();
      }
    });
    mark();
  }
});
