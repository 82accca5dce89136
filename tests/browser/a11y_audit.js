// The console's accessibility audit, run in the page by tests/browser/a11y.py: a function
// expression returning one line per problem (see that module for the rules).
(() => {
  const problems = [];
  const shown = (e) => !e.closest("[hidden], [aria-hidden=true]");
  const describe = (e) => e.outerHTML.slice(0, 120);
  const textOf = (ids) => ids.split(/\s+/).map((id) => document.getElementById(id)?.textContent.trim() || "").join(" ").trim();
  const name = (e) => {
    if (e.getAttribute("aria-label")?.trim()) return e.getAttribute("aria-label").trim();
    if (e.getAttribute("aria-labelledby")) return textOf(e.getAttribute("aria-labelledby"));
    if (e.labels && e.labels.length) return [...e.labels].map((l) => l.textContent.trim()).join(" ");
    if (e.getAttribute("title")?.trim()) return e.getAttribute("title").trim();
    if (e.matches("button, a, summary")) return e.textContent.trim();
    return "";
  };
  const all = (selector) => [...document.querySelectorAll(selector)].filter(shown);

  for (const e of all("input:not([type=hidden]), select, textarea, button, summary")) {
    if (!name(e)) problems.push(`no accessible name: ${describe(e)}`);
  }
  for (const e of all("a[href]")) if (!name(e)) problems.push(`link without text: ${describe(e)}`);

  const seen = new Map();
  for (const e of document.querySelectorAll("[id]")) seen.set(e.id, (seen.get(e.id) || 0) + 1);
  for (const [id, n] of seen) if (n > 1) problems.push(`id used ${n} times: ${id}`);
  for (const attr of ["aria-labelledby", "aria-describedby", "aria-controls"]) {
    for (const e of document.querySelectorAll(`[${attr}]`)) {
      for (const id of e.getAttribute(attr).split(/\s+/)) {
        if (!document.getElementById(id)) problems.push(`${attr} names missing id ${id}: ${describe(e)}`);
      }
    }
  }
  for (const label of document.querySelectorAll("label[for]")) {
    if (!document.getElementById(label.htmlFor)) problems.push(`label for missing id: ${describe(label)}`);
  }

  for (const img of all("img")) if (!img.hasAttribute("alt")) problems.push(`img without alt: ${describe(img)}`);
  for (const svg of all("svg")) {
    if (svg.parentElement.closest("svg")) continue;
    if (svg.getAttribute("role") !== "img" || !name(svg)) problems.push(`svg without role=img and a name: ${describe(svg)}`);
  }

  const headings = all("h1, h2, h3, h4, h5, h6").filter((e) => !e.closest("dialog"));
  const h1s = headings.filter((e) => e.tagName === "H1");
  if (h1s.length !== 1) problems.push(`${h1s.length} h1 elements`);
  let level = 0;
  for (const e of headings) {
    const next = Number(e.tagName[1]);
    if (next > level + 1) problems.push(`heading level skips from h${level} to h${next}: ${e.textContent.trim()}`);
    if (!e.textContent.trim()) problems.push(`empty heading: ${describe(e)}`);
    level = next;
  }

  for (const t of all("table")) {
    const caption = t.querySelector(":scope > caption")?.textContent.trim();
    if (!caption && !name(t)) problems.push(`table without caption or label: ${describe(t)}`);
  }
  for (const e of all("[tabindex]")) if (Number(e.getAttribute("tabindex")) > 0) problems.push(`positive tabindex: ${describe(e)}`);
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title.trim()) problems.push("no document title");
  if (!document.querySelector("[aria-live=polite], [role=status]")) problems.push("no polite live region");
  return problems;
})
