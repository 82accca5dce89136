// The console's entry point: a hash router over two pages (dashboard, queue).
//   #/               dashboard
//   #/queues/NAME    one queue
// Hashes not starting with "#/" are in-page jumps, not routes (on first load they give
// the dashboard, never an empty page). The skip link moves focus itself instead of
// changing the hash, so it neither replaces the current route nor adds a history entry.

import { renderDashboard } from "./dashboard.js";
import { renderQueue } from "./queue.js";

let cleanup = null;
let firstRender = true;

/** The queue name of a "#/queues/NAME" hash, or null (also for a malformed %-escape,
 *  which would otherwise throw and leave the page blank). */
function queueName(hash) {
  const match = hash.match(/^#\/queues\/([^/]+)$/);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

function route() {
  let hash = location.hash || "#/";
  if (!hash.startsWith("#/")) {
    if (!firstRender) return;
    hash = "#/";
  }
  const main = document.getElementById("main");
  if (cleanup) cleanup();
  delete main.dataset.loaded;
  const name = queueName(hash);
  let current = "dashboard";
  if (name !== null) {
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
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
route();
