// Small DOM helpers: elements are built with textContent only (never innerHTML), so
// message bodies and queue names can hold anything without injecting markup.

/** h("tag.class", {attr: value, onclick: fn}, ...children) -> Element. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A document-unique id for label/aria pairs. */
export const uid = (prefix) => `${prefix}-${++ids}`;

/** A table inside a keyboard-scrollable region (narrow screens scroll it sideways).
 *  columns: [{label, numeric?}]; returns {wrap, table, tbody}. */
export function table(caption, columns, { captionHidden = false } = {}) {
  const tbody = h("tbody");
  const tableEl = h(
    "table",
    {},
    h(captionHidden ? "caption.visually-hidden" : "caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h(c.numeric ? "th.num" : "th", { scope: "col" }, c.label)))),
    tbody,
  );
  const wrap = h("div.table-wrap", { role: "region", "aria-label": caption, tabindex: "0" }, tableEl);
  return { wrap, table: tableEl, tbody };
}

/** Keep tbody's rows in step with items without rebuilding unchanged cells, so focus and
 *  text selection survive the 5 s refresh. cells(item) -> [{content, numeric?, header?}]:
 *  a cell whose content signature is unchanged is left alone. */
export function syncRows(tbody, items, key, cells, emptyText) {
  const existing = new Map([...tbody.querySelectorAll(":scope > tr[data-key]")].map((tr) => [tr.dataset.key, tr]));
  tbody.querySelector(":scope > tr.empty")?.remove();
  let previous = null;
  for (const item of items) {
    const k = key(item);
    let tr = existing.get(k);
    existing.delete(k);
    const specs = cells(item);
    if (!tr || tr.children.length !== specs.length) {
      const fresh = h("tr", { dataset: { key: k } }, specs.map((s) => h(s.header ? "th" : "td", s.header ? { scope: "row" } : {})));
      if (tr) tr.replaceWith(fresh);
      tr = fresh;
    }
    specs.forEach((spec, i) => {
      const cell = tr.children[i];
      const sig = signature(spec.content);
      if (cell.dataset.sig !== sig) {
        cell.dataset.sig = sig;
        if (spec.field) cell.dataset.field = spec.field;
        cell.classList.toggle("num", Boolean(spec.numeric));
        fill(cell, typeof spec.content === "function" ? spec.content() : spec.content);
      }
    });
    const want = previous ? previous.nextElementSibling : tbody.firstElementChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    previous = tr;
  }
  for (const tr of existing.values()) tr.remove();
  if (!items.length && emptyText) {
    const cols = tbody.parentElement.querySelectorAll("thead th").length || 1;
    tbody.append(h("tr.empty", {}, h("td", { colspan: cols }, emptyText)));
  }
}

// Cells given as functions carry their signature in fn.sig (their inputs), so links and
// buttons are rebuilt only when what they show changes.
function signature(content) {
  if (typeof content === "function") return `fn:${content.sig ?? Math.random()}`;
  return `v:${JSON.stringify(content)}`;
}

/** Wrap a builder with the signature of its inputs (see syncRows). */
export function cell(sig, build) {
  build.sig = JSON.stringify(sig);
  return build;
}

export const fmtInt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));

/** Seconds as "42 s", "3 min 5 s", "2 h 10 min"; null as an em dash. */
export function fmtAge(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString("en-GB", { hour12: false }) : "—");

/** A text badge: the word carries the meaning, the colour only repeats it. */
export const badge = (text, kind = "neutral", title) => h(`span.badge.badge-${kind}`, { title }, text);
