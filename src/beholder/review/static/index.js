// The export buttons of the queue list.
(function () {
  "use strict";
  const output = document.getElementById("export-result");

  async function runExport(mode) {
    output.hidden = false;
    output.textContent = "Exporting…";
    try {
      const response = await fetch("/api/export", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ mode: mode }),
      });
      const data = await response.json();
      if (!response.ok) {
        output.textContent = "Export failed: " + (data.detail || response.status);
        return;
      }
      output.textContent =
        "Exported " + data.n_images + " images (" + data.n_removed +
        " removed) to " + data.out_dir;
      output.dataset.done = "1";
    } catch (error) {
      output.textContent = "Export failed: " + error;
    }
  }

  for (const id of ["export-links", "export-copies"]) {
    const button = document.getElementById(id);
    if (button) {
      button.addEventListener("click", function () {
        runExport(button.dataset.mode);
      });
    }
  }
})();
