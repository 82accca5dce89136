// Queue page (#/queues/NAME): live counts, DLQ redrive, send, peek, attributes, purge.

import { api, q } from "./client.js";
import { badge, fill, fmtAge, fmtInt, h } from "./dom.js";
import { field, peekSection, sendSection } from "./queue_messages.js";
import { redriveSection } from "./queue_redrive.js";
import { announce, confirmDialog, isBusy, messageBox, setBusy } from "./ui.js";

const REFRESH_MS = 5000;

// Attributes an operator may change, with the input that fits each (AWS ranges).
const EDITABLE = [
  { name: "VisibilityTimeout", type: "number", min: 0, max: 43200, hint: "Seconds, 0 to 43200." },
  { name: "DelaySeconds", type: "number", min: 0, max: 900, hint: "Seconds, 0 to 900." },
  { name: "ReceiveMessageWaitTimeSeconds", type: "number", min: 0, max: 20, hint: "Long polling, 0 to 20 s." },
  { name: "MessageRetentionPeriod", type: "number", min: 60, max: 1209600, hint: "Seconds, 60 (1 min) to 1209600 (14 days)." },
  { name: "MaximumMessageSize", type: "number", min: 1024, hint: "Bytes." },
  { name: "RedrivePolicy", type: "json", hint: 'JSON, e.g. {"deadLetterTargetArn": "arn:…", "maxReceiveCount": 5}; empty removes it.' },
  { name: "RedriveAllowPolicy", type: "json", hint: 'JSON, e.g. {"redrivePermission": "allowAll"}.' },
  { name: "ContentBasedDeduplication", type: "bool", fifo: true },
  { name: "DeduplicationScope", type: "choice", options: ["queue", "messageGroup"], fifo: true },
  { name: "FifoThroughputLimit", type: "choice", options: ["perQueue", "perMessageGroupId"], fifo: true },
];

const STATS = [
  ["visible", "Visible", (s) => fmtInt(s.visible)],
  ["in_flight", "In flight", (s) => fmtInt(s.in_flight)],
  ["delayed", "Delayed", (s) => fmtInt(s.delayed)],
  ["oldest_age", "Oldest message", (s) => fmtAge(s.oldest_age_s)],
  ["sent_total", "Sent (total)", (s) => fmtInt(s.sent_total)],
  ["received_total", "Received (total)", (s) => fmtInt(s.received_total)],
  ["deleted_total", "Deleted (total)", (s) => fmtInt(s.deleted_total)],
  ["dead_lettered_total", "Dead-lettered (total)", (s) => fmtInt(s.dead_lettered_total)],
];

function statsList() {
  const values = {};
  const dl = h(
    "dl.stats",
    { id: "queue-stats" },
    STATS.map(([key, label]) => {
      values[key] = h("dd", { dataset: { field: key } }, "…");
      return h("div", {}, h("dt", {}, label), values[key]);
    }),
  );
  return {
    dl,
    update(summary) {
      for (const [key, , format] of STATS) {
        const text = format(summary);
        if (values[key].textContent !== text) values[key].textContent = text;
      }
    },
  };
}

function attributesSection(queue, attributes, onSaved) {
  const msg = messageBox();
  const inputs = new Map();
  const fields = EDITABLE.filter((a) => !a.fifo || queue.fifo).map((spec) => {
    const current = attributes[spec.name] ?? "";
    let f;
    const common = { name: spec.name };
    if (spec.type === "number") f = field(spec.name, "input", { ...common, type: "number", min: spec.min, max: spec.max, value: current, inputmode: "numeric", hint: spec.hint });
    else if (spec.type === "json") f = field(spec.name, "textarea", { ...common, rows: 2, value: current, spellcheck: "false", hint: spec.hint });
    else if (spec.type === "bool") f = field(spec.name, "select", common, ["false", "true"]);
    else f = field(spec.name, "select", common, spec.options);
    if (spec.type === "bool" || spec.type === "choice") f.input.value = current || f.input.options[0].value;
    inputs.set(spec.name, { input: f.input, initial: f.input.value });
    return f.wrap;
  });
  const readOnly = Object.entries(attributes).filter(([name]) => !inputs.has(name)).sort(([a], [b]) => a.localeCompare(b));
  const submit = h("button.button.primary", { type: "submit" }, "Save attributes");
  const form = h("form", { id: "attributes-form" }, h("div.grid", {}, fields), h("div.actions", {}, submit), msg.el);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (isBusy(submit)) return;
    msg.clear();
    const changed = {};
    for (const [name, { input, initial }] of inputs) if (input.value !== initial) changed[name] = input.value;
    if (!Object.keys(changed).length) {
      msg.show("Nothing changed.", "ok");
      return;
    }
    setBusy(submit, true);
    try {
      const data = await api("PATCH", `${q(queue.name)}/attributes`, { attributes: changed });
      for (const [name, entry] of inputs) {
        if (name in data.attributes) entry.input.value = data.attributes[name];
        entry.initial = entry.input.value;
      }
      const text = `Saved ${Object.keys(changed).join(", ")}.`;
      msg.show(text, "ok");
      announce(text);
      onSaved();
    } catch (err) {
      msg.show(`${err.code}: ${err.message}`, "error");
    } finally {
      setBusy(submit, false);
    }
  });
  return h(
    "section",
    { "aria-labelledby": "h-attrs" },
    h("h2", { id: "h-attrs" }, "Attributes"),
    form,
    h(
      "details",
      {},
      h("summary", {}, "All attributes (read-only)"),
      h("div.table-wrap", { role: "region", "aria-label": "All attributes", tabindex: "0" }, h("table", {}, h("caption.visually-hidden", {}, "All attributes"), h("tbody", {}, readOnly.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, h("code.wrap", {}, value))))))),
    ),
  );
}

function purgeSection(queue, onPurged) {
  const msg = messageBox();
  const button = h("button.button.danger", { type: "button", id: "purge-button" }, "Purge queue…");
  button.addEventListener("click", async () => {
    if (isBusy(button)) return;
    msg.clear();
    const yes = await confirmDialog({
      title: `Purge ${queue.name}?`,
      body: "Every message in the queue is deleted, including in-flight and delayed ones. This cannot be undone, and a queue can be purged once every 60 seconds.",
      confirmLabel: "Purge all messages",
      danger: true,
    });
    if (!yes) return;
    setBusy(button, true);
    try {
      await api("POST", `${q(queue.name)}/purge`, {});
      msg.show(`${queue.name} purged.`, "ok");
      announce(`${queue.name} purged.`);
      onPurged();
    } catch (err) {
      msg.show(`${err.code}: ${err.message}`, "error");
    } finally {
      setBusy(button, false);
    }
  });
  return h("section.danger-zone", { "aria-labelledby": "h-purge" }, h("h2", { id: "h-purge" }, "Purge"), h("p", {}, "Delete every message in this queue."), button, msg.el);
}

/** Render the page of queue `name` into main; returns a cleanup that stops its timers. */
export function renderQueue(main, name) {
  let stopped = false;
  const cleanups = [];
  const back = h("p.breadcrumb", {}, h("a", { href: "#/" }, "← Dashboard"));
  const title = h("h1", { tabindex: "-1" }, name);
  fill(main, back, title, h("p", {}, "Loading…"));
  // The router focuses the h1 right after this returns; the content that arrives later
  // replaces only what follows it, since detaching the focused h1 would drop focus to
  // <body> and leave screen-reader users nowhere.
  const showBelowTitle = (...children) => {
    while (title.nextSibling) title.nextSibling.remove();
    title.after(...children.flat().filter(Boolean));
  };

  (async () => {
    let data;
    try {
      data = await api("GET", q(name));
    } catch (err) {
      if (stopped) return;
      showBelowTitle(h("p.message.message-error", { role: "alert" }, `Could not load queue ${name}: ${err.code}: ${err.message}`));
      return;
    }
    if (stopped) return;
    const queue = data.queue;
    const stats = statsList();
    stats.update(queue);
    const problem = h("p.message.message-error", { role: "alert", hidden: true });
    let peek = null;
    const refresh = async () => {
      try {
        const fresh = await api("GET", q(name));
        if (stopped) return;
        problem.hidden = true;
        stats.update(fresh.queue);
      } catch (err) {
        if (stopped) return;
        problem.hidden = false;
        problem.textContent = `Could not refresh: ${err.message}`;
      }
    };
    const afterChange = () => {
      refresh();
      peek?.refresh();
    };
    peek = peekSection(queue);
    const isDlq = queue.dead_letter_sources.length > 0;
    const redrive = isDlq ? redriveSection(queue, afterChange) : null;
    if (redrive) cleanups.push(() => redrive.stop());
    fill(title, name, queue.fifo ? [" ", badge("FIFO", "info")] : null, isDlq ? [" ", badge("DLQ", "warn")] : null);
    showBelowTitle(
      h("p.small", {}, h("code.wrap", {}, queue.arn)),
      queue.dead_letter_target_arn ? h("p", {}, "Dead-letter queue: ", h("a", { href: `#/queues/${encodeURIComponent(queue.dead_letter_target_arn.split(":").at(-1))}` }, queue.dead_letter_target_arn.split(":").at(-1))) : null,
      problem,
      h("section", { "aria-labelledby": "h-stats" }, h("h2.visually-hidden", { id: "h-stats" }, "Counts"), stats.dl),
      redrive?.el,
      sendSection(queue, afterChange),
      peek.el,
      attributesSection(queue, data.attributes, refresh),
      purgeSection(queue, afterChange),
    );
    main.dataset.loaded = `queue:${name}`;
    const timer = setInterval(refresh, REFRESH_MS);
    cleanups.push(() => clearInterval(timer));
  })();

  return () => {
    stopped = true;
    for (const cleanup of cleanups) cleanup();
  };
}
