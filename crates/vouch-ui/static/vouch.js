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

// The audit page's file chooser: the chosen file is streamed as it is (not a multipart
// form) to /audit/upload, which hashes it, stores nothing and redirects to its audit.
// Without this script the form stays hidden and the digest form (`b3sum FILE`) is the way.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form || !window.fetch) return;
  const status = document.getElementById("upload-status");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) {
      status.textContent = "choose a file first";
      return;
    }
    status.textContent = `hashing ${file.name}…`;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: file,
        headers: { "Content-Type": "application/octet-stream" },
      });
      if (response.redirected) {
        window.location.assign(response.url);
        return;
      }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const why = page.querySelector(".verdict.bad");
      status.textContent = `refused (${response.status}): ${why ? why.textContent : response.statusText}`;
    } catch (error) {
      status.textContent = `the upload failed: ${error}`;
    }
  });
});
