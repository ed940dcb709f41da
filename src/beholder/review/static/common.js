// Shared by every page: the reviewer's name, kept in this browser.
(function () {
  "use strict";
  const KEY = "beholder.reviewer";
  const input = document.getElementById("reviewer");

  function load() {
    try {
      return localStorage.getItem(KEY);
    } catch (error) {
      return null;
    }
  }

  function store(value) {
    try {
      localStorage.setItem(KEY, value);
    } catch (error) {
      // Private windows may refuse storage; the name then lasts one page.
    }
  }

  input.value = load() || input.dataset.default || "";
  input.addEventListener("change", function () {
    input.value = input.value.trim();
    store(input.value);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === "Escape") {
      input.blur();
    }
    event.stopPropagation();
  });

  window.beholder = {
    reviewer: function () {
      return input.value.trim() || input.dataset.default || "reviewer";
    },
  };
})();
