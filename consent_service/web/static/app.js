// Starts Det Fælles Designsystem's behaviour (error summary focus, accordions, menus).
// Every page works without it: forms, confirmation steps and links need no script.
document.addEventListener("DOMContentLoaded", function () {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init();
  }
});
