// Vouch's one script: small conveniences; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons next to commands and digests.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => {
      navigator.clipboard?.writeText(button.dataset.copy).then(() => {
        button.textContent = "copied";
      });
    });
  }
});
