// Line charts drawn as inline SVG (no chart library). Each series has a colour AND a dash
// pattern AND a legend entry with its latest value, so colour is never the only signal.

const SVG = "http://www.w3.org/2000/svg";
const STYLES = [
  { cls: "s0", dash: "" },
  { cls: "s1", dash: "6 4" },
  { cls: "s2", dash: "2 3" },
  { cls: "s3", dash: "10 3 2 3" },
  { cls: "s4", dash: "1 5" },
  { cls: "s5", dash: "12 6" },
];
const W = 640;
const H = 220;
const PAD = { left: 52, right: 12, top: 12, bottom: 28 };

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A "nice" upper bound for the y axis (1, 2, 5 x 10^n), at least 1. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (value <= m * exp) return m * exp;
  return 10 * exp;
}

const fmtNumber = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString("en-US") : v.toFixed(1));
const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });

/** Draw series [{label, points: [[t_ms, value], ...]}] into container (replacing what
 *  was there): an <svg role="img"> with a text summary as its accessible name, plus a
 *  legend list. unit labels values ("messages", "msg/s"). domain [t0_ms, t1_ms] is the
 *  time axis (default: the points' own span); nothing is drawn (emptyText instead) until
 *  the axis spans some time and holds a point. Each series' latest point gets a marker,
 *  so a series of one point (throughput after two samples) is still visible. */
export function drawLineChart(container, { title, series, unit, emptyText, domain }) {
  const points = series.flatMap((s) => s.points);
  container.replaceChildren();
  const t0 = domain ? domain[0] : Math.min(...points.map((p) => p[0]));
  const t1 = domain ? domain[1] : Math.max(...points.map((p) => p[0]));
  if (!points.length || !(t1 > t0)) {
    const p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = emptyText || "Collecting samples…";
    container.append(p);
    return;
  }
  const yMax = niceMax(Math.max(...points.map((p) => p[1])));
  const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);

  const latest = series.map((s) => `${s.label} ${fmtNumber(s.points.at(-1)?.[1] ?? 0)} ${unit}`);
  const summary = `${title}, ${clock(t0)} to ${clock(t1)}, scale 0 to ${fmtNumber(yMax)} ${unit}. Latest: ${latest.join("; ") || "no data"}.`;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart" });
  svg.append(el("title", {}, summary));
  for (const fraction of [0, 0.5, 1]) {
    const yy = y(yMax * fraction);
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: "grid" }));
    svg.append(el("text", { x: PAD.left - 6, y: yy + 4, class: "tick", "text-anchor": "end" }, fmtNumber(yMax * fraction)));
  }
  svg.append(el("text", { x: PAD.left, y: H - 8, class: "tick", "text-anchor": "start" }, clock(t0)));
  svg.append(el("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, clock(t1)));
  series.forEach((s, i) => {
    const style = STYLES[i % STYLES.length];
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    svg.append(el("path", { d, class: `line ${style.cls}`, "stroke-dasharray": style.dash, "vector-effect": "non-scaling-stroke" }));
    const [tl, vl] = s.points.at(-1);
    svg.append(el("circle", { cx: x(tl).toFixed(1), cy: y(vl).toFixed(1), r: 3.5, class: `point ${style.cls}` }));
  });
  const legend = document.createElement("ul");
  legend.className = "legend";
  series.forEach((s, i) => {
    const style = STYLES[i % STYLES.length];
    const li = document.createElement("li");
    const swatch = el("svg", { width: 28, height: 10, "aria-hidden": "true", class: "swatch" });
    swatch.append(el("line", { x1: 0, x2: 28, y1: 5, y2: 5, class: `line ${style.cls}`, "stroke-dasharray": style.dash }));
    li.append(swatch, ` ${latest[i]}`);
    legend.append(li);
  });
  container.append(svg, legend);
}

/** Per-queue visible depth over time, for the (at most six) deepest queues. */
export function depthSeries(samples, limit = 6) {
  const peak = new Map();
  for (const sample of samples) {
    for (const [name, qs] of Object.entries(sample.queues || {})) {
      peak.set(name, Math.max(peak.get(name) ?? 0, (qs.visible ?? 0) + (qs.in_flight ?? 0)));
    }
  }
  const names = [...peak.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit).map((e) => e[0]);
  return names.map((name) => ({
    label: name,
    points: samples.filter((s) => s.queues && s.queues[name]).map((s) => [s.t_ms, s.queues[name].visible ?? 0]),
  }));
}

/** Messages sent and received per second across all queues, from the differences of the
 *  *_total counters between consecutive samples (a counter that went down, e.g. after a
 *  restart, counts as 0 rather than a negative rate). */
export function throughputSeries(samples) {
  const sent = [];
  const received = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = (b.t_ms - a.t_ms) / 1000;
    if (!(dt > 0)) continue;
    let s = 0;
    let r = 0;
    for (const [name, qb] of Object.entries(b.queues || {})) {
      const qa = a.queues?.[name];
      if (!qa) continue;
      s += Math.max(0, (qb.sent_total ?? 0) - (qa.sent_total ?? 0));
      r += Math.max(0, (qb.received_total ?? 0) - (qa.received_total ?? 0));
    }
    sent.push([b.t_ms, s / dt]);
    received.push([b.t_ms, r / dt]);
  }
  return [
    { label: "Sent", points: sent },
    { label: "Received", points: received },
  ];
}
