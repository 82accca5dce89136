// The DLQ tools of a queue page: "Redrive to source" with live progress.

import { api, q } from "./client.js";
import { fmtInt, fmtTime, h } from "./dom.js";
import { announce, isBusy, messageBox, setBusy } from "./ui.js";

const POLL_MS = 1000;
const DONE = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

/** The "Dead-letter queue" section for a queue that is some queue's DLQ. onProgress() is
 *  called on every poll and at the end, so the page's counts follow the move. Returns
 *  {el, stop()}; stop() ends the polling when the page is left. */
export function redriveSection(queue, onProgress) {
  const msg = messageBox();
  const button = h("button.button.primary", { type: "button", id: "redrive-button" }, "Redrive to source");
  const bar = h("progress", { id: "redrive-progress", max: 1, value: 0, "aria-labelledby": "redrive-status" });
  const status = h("p", { id: "redrive-status" }, "No redrive started yet.");
  // The text is the live region (announced politely); the bar is its visual twin.
  const live = h("div.progress", { "aria-live": "polite", "aria-atomic": "true" }, status);
  const progressBox = h("div", { hidden: true }, bar, live);
  let timer = null;
  let stopped = false;

  function show(task) {
    progressBox.hidden = false;
    const toMove = Math.max(task.to_move ?? 0, task.moved ?? 0);
    bar.max = Math.max(1, toMove);
    bar.value = task.moved ?? 0;
    const state = task.status.charAt(0) + task.status.slice(1).toLowerCase();
    status.dataset.status = task.status;
    status.textContent =
      `${state}: ${fmtInt(task.moved)} of ${fmtInt(task.to_move)} messages moved` +
      ` (started ${fmtTime(task.started_ms)})` +
      (task.failure_reason ? `. Reason: ${task.failure_reason}` : ".");
  }

  async function poll(handle) {
    timer = null;
    if (stopped) return;
    try {
      const data = await api("GET", `${q(queue.name)}/redrive`);
      if (stopped) return;
      const task = handle ? data.tasks.find((t) => t.task_handle === handle) : data.tasks[0];
      if (!task) {
        // A task just started may not be listed yet; with no task of ours, nothing to show.
        if (handle) timer = setTimeout(() => poll(handle), POLL_MS);
        return;
      }
      show(task);
      onProgress();
      if (DONE.has(task.status)) {
        setBusy(button, false);
        const text = `Redrive ${task.status.toLowerCase()}: ${fmtInt(task.moved)} of ${fmtInt(task.to_move)} messages moved.`;
        // The progress line (a live region) already says it; the box keeps it visible.
        if (handle) msg.show(text, task.status === "COMPLETED" ? "ok" : "error");
        return;
      }
      setBusy(button, true);
      timer = setTimeout(() => poll(task.task_handle), POLL_MS);
    } catch (err) {
      if (stopped) return;
      msg.show(`Could not read the redrive progress: ${err.message}`, "error");
      setBusy(button, false);
    }
  }

  button.addEventListener("click", async () => {
    if (isBusy(button)) return;
    msg.clear();
    setBusy(button, true);
    try {
      const started = await api("POST", `${q(queue.name)}/redrive`, {});
      announce(`Redrive of ${queue.name} started.`);
      status.textContent = "Started, waiting for progress…";
      progressBox.hidden = false;
      poll(started.task_handle);
    } catch (err) {
      setBusy(button, false);
      msg.show(`${err.code}: ${err.message}`, "error");
    }
  });

  // A task started earlier (here or elsewhere) is shown, and followed while it runs.
  poll(null);

  const el = h(
    "section.dlq",
    { "aria-labelledby": "h-dlq" },
    h("h2", { id: "h-dlq" }, "Dead-letter queue"),
    h("p", {}, "This queue receives the messages that ", h("strong", {}, queue.dead_letter_sources.join(", ")), " could not process. Redrive moves them back to where they came from."),
    h("div.actions", {}, button),
    progressBox,
    msg.el,
  );
  return {
    el,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
