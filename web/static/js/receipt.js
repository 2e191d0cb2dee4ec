// Print button of the window receipt (no inline script: the CSP allows only 'self' files).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-receipt");
  if (button) {
    button.addEventListener("click", () => window.print());
  }
});
