// The console's entry point: a hash router over two pages (dashboard, queue).
//   #/               dashboard
//   #/queues/NAME    one queue
// Hashes not starting with "#/" (e.g. the skip link's "#main") are in-page jumps, not routes.

import { renderDashboard } from "./dashboard.js";
import { renderQueue } from "./queue.js";

let cleanup = null;
let firstRender = true;

function route() {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return;
  const main = document.getElementById("main");
  if (cleanup) cleanup();
  delete main.dataset.loaded;
  const queueMatch = hash.match(/^#\/queues\/([^/]+)$/);
  let current = "dashboard";
  if (queueMatch) {
    const name = decodeURIComponent(queueMatch[1]);
    document.title = `${name} · ekiden console`;
    cleanup = renderQueue(main, name);
    current = "queue";
  } else {
    document.title = "Dashboard · ekiden console";
    cleanup = renderDashboard(main);
  }
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Move focus to the new page's heading so screen readers announce the change, but not
  // on first load (the browser's own start position is expected there).
  if (!firstRender) main.querySelector("h1")?.focus();
  firstRender = false;
}

window.addEventListener("hashchange", route);
route();
