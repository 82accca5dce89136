// The queue page's message tools: send (with message attributes) and peek.

import { api, q } from "./client.js";
import { badge, fill, fmtTime, h, table, uid } from "./dom.js";
import { announce, isBusy, messageBox, setBusy } from "./ui.js";

const TYPES = ["String", "Number", "Binary"];

/** A labelled form field: {wrap, input}. kind is "input", "textarea" or "select". */
export function field(labelText, kind, attrs = {}, options = []) {
  const id = uid("f");
  const hint = attrs.hint;
  delete attrs.hint;
  const hintId = hint ? `${id}-hint` : undefined;
  const input =
    kind === "select"
      ? h("select", { id, "aria-describedby": hintId, ...attrs }, options.map((o) => h("option", { value: o }, o)))
      : h(kind, { id, "aria-describedby": hintId, ...attrs });
  const wrap = h("div.field", {}, h("label", { for: id }, labelText), input, hint ? h("span.hint", { id: hintId }, hint) : null);
  return { wrap, input };
}

function attributeRow(list, index) {
  const name = field("Name", "input", { type: "text", autocomplete: "off", dataset: { role: "attr-name" } });
  const type = field("Type", "select", { dataset: { role: "attr-type" } }, TYPES);
  const value = field("Value", "input", { type: "text", autocomplete: "off", dataset: { role: "attr-value" }, hint: "Binary values are base64." });
  const row = h("div.attr-row", { role: "group", "aria-label": `Attribute ${index}` }, name.wrap, type.wrap, value.wrap);
  const remove = h("button.button.small", { type: "button", "aria-label": `Remove attribute ${index}` }, "Remove");
  remove.addEventListener("click", () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    // Keep keyboard users somewhere sensible instead of dropping focus on <body>.
    (next?.querySelector("input") || list.closest("fieldset").querySelector("button.add-attr"))?.focus();
  });
  row.append(h("div.field.field-button", {}, remove));
  return row;
}

/** Collect {name: {data_type, string_value|binary_value}} from the rows; rows with an
 *  empty name are ignored. Throws Error on a value that does not fit its type. */
function collectAttributes(list) {
  const out = {};
  for (const row of list.querySelectorAll(".attr-row")) {
    const name = row.querySelector("[data-role=attr-name]").value.trim();
    if (!name) continue;
    const type = row.querySelector("[data-role=attr-type]").value;
    const value = row.querySelector("[data-role=attr-value]").value;
    if (type === "Number" && (value.trim() === "" || Number.isNaN(Number(value)))) {
      throw new Error(`Attribute ${name}: "${value}" is not a number.`);
    }
    if (type === "Binary") out[name] = { data_type: type, binary_value: value.trim() };
    else out[name] = { data_type: type, string_value: value };
  }
  return out;
}

/** The "Send a message" section. onSent() is called after a successful send. */
export function sendSection(queue, onSent) {
  const msg = messageBox();
  const body = field("Message body", "textarea", { rows: 4, required: true, name: "body" });
  const delay = field("Delay (seconds)", "input", { type: "number", min: 0, max: 900, value: "0", inputmode: "numeric", name: "delay" });
  const group = field("Message group ID", "input", { type: "text", required: true, name: "group" });
  const dedup = field("Deduplication ID", "input", { type: "text", name: "dedup", hint: "Optional with content-based deduplication." });
  const list = h("div.attr-list");
  let count = 0;
  const add = h("button.button.small.add-attr", { type: "button" }, "Add attribute");
  add.addEventListener("click", () => {
    const row = attributeRow(list, ++count);
    list.append(row);
    row.querySelector("input").focus();
  });
  const submit = h("button.button.primary", { type: "submit" }, "Send message");
  const form = h(
    "form",
    { id: "send-form", novalidate: true },
    body.wrap,
    queue.fifo ? h("div.row", {}, group.wrap, dedup.wrap) : delay.wrap,
    h("fieldset", {}, h("legend", {}, "Message attributes"), list, add),
    h("div.actions", {}, submit),
    msg.el,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (isBusy(submit)) return;
    msg.clear();
    if (!body.input.value) {
      msg.show("The message body must not be empty.", "error");
      body.input.focus();
      return;
    }
    const request = { body: body.input.value };
    try {
      const attributes = collectAttributes(list);
      if (Object.keys(attributes).length) request.attributes = attributes;
    } catch (err) {
      msg.show(err.message, "error");
      return;
    }
    if (queue.fifo) {
      request.group_id = group.input.value;
      if (dedup.input.value) request.dedup_id = dedup.input.value;
    } else if (Number(delay.input.value) > 0) {
      request.delay_s = Number(delay.input.value);
    }
    setBusy(submit, true);
    try {
      const sent = await api("POST", `${q(queue.name)}/messages`, request);
      msg.show(`Message ${sent.message_id} sent.`, "ok");
      announce(`Message sent to ${queue.name}.`);
      body.input.value = "";
      if (queue.fifo) dedup.input.value = "";
      onSent();
    } catch (err) {
      msg.show(`${err.code}: ${err.message}`, "error");
    } finally {
      setBusy(submit, false);
    }
  });
  return h("section", { "aria-labelledby": "h-send" }, h("h2", { id: "h-send" }, "Send a message"), form);
}

function bodyCell(text) {
  if (text.length <= 120) return h("pre.body", {}, text);
  return h("details", {}, h("summary", {}, `${text.slice(0, 80)}… (${text.length} characters)`), h("pre.body", {}, text));
}

function attributesCell(m) {
  const entries = Object.entries(m.message_attributes || {});
  if (!entries.length) return "—";
  return h(
    "ul.plain",
    {},
    entries.map(([name, v]) => h("li", {}, h("code", {}, name), ` (${v.data_type}): `, v.string_value ?? v.binary_value ?? "")),
  );
}

const STATE_KIND = { visible: "ok", in_flight: "info", delayed: "neutral" };

/** The "Peek at messages" section: shows messages without receiving them. Returns
 *  {el, refresh()}: refresh() re-peeks only if the user has peeked already. */
export function peekSection(queue) {
  const msg = messageBox();
  const max = field("How many", "input", { type: "number", min: 1, max: 100, value: "10", inputmode: "numeric" });
  const submit = h("button.button", { type: "submit" }, "Peek");
  const result = table("Messages, oldest first (peeking does not receive them)", [
    { label: "Message ID" },
    { label: "State" },
    { label: "Receives", numeric: true },
    { label: "Sent" },
    { label: "Body" },
    { label: "Attributes" },
  ]);
  result.wrap.hidden = true;
  let peeked = false;
  // asked: the user pressed Peek (announce the result); a refresh after another action
  // stays quiet so it does not talk over that action's own announcement.
  async function peek(asked) {
    if (isBusy(submit)) return;
    const n = Math.min(100, Math.max(1, Number(max.input.value) || 10));
    setBusy(submit, true);
    try {
      const data = await api("GET", `${q(queue.name)}/peek?max=${n}`);
      fill(
        result.tbody,
        data.messages.length
          ? data.messages.map((m) =>
              h(
                "tr",
                { dataset: { key: m.message_id } },
                h("th", { scope: "row" }, h("code", {}, m.message_id)),
                h("td", {}, badge(m.state.replace("_", " "), STATE_KIND[m.state] || "neutral")),
                h("td.num", {}, m.receive_count),
                h("td", {}, fmtTime(m.sent_ms), m.group_id ? h("div.small", {}, `group ${m.group_id}`) : null),
                h("td", {}, bodyCell(m.body)),
                h("td", {}, attributesCell(m)),
              ),
            )
          : h("tr.empty", {}, h("td", { colspan: 6 }, "The queue holds no messages.")),
      );
      result.wrap.hidden = false;
      peeked = true;
      const shown = `${data.messages.length} message${data.messages.length === 1 ? "" : "s"} shown.`;
      msg.show(shown, "ok");
      // The box appears together with its text, which screen readers may not announce.
      if (asked) announce(`Peek: ${shown}`);
    } catch (err) {
      msg.show(`${err.code}: ${err.message}`, "error");
    } finally {
      setBusy(submit, false);
    }
  }
  const form = h("form.inline", { id: "peek-form" }, max.wrap, h("div.field.field-button", {}, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    peek(true);
  });
  const el = h("section", { "aria-labelledby": "h-peek" }, h("h2", { id: "h-peek" }, "Peek at messages"), form, msg.el, result.wrap);
  return { el, refresh: () => (peeked ? peek(false) : undefined) };
}
