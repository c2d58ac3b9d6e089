// Loaded in <head> without defer: marks the page as scripted at once (class "js" on <html>,
// so style.css shows the phone's menu button instead of the no-script menu list, without a
// flash), then starts Det Fælles Designsystem's behaviour (error summary focus, the phone's
// menu drawer, accordions) once the deferred dkfds.min.js has run.
// Every page works without it: forms, confirmation steps and links need no script.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init();
  }
});
