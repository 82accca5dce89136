// Dashboard (#/): queues with live depth, depth and throughput charts, topics with their
// subscriptions, functions with their mappings. Refreshed every 5 s, in place.

import { api } from "./client.js";
import { depthSeries, drawLineChart, throughputSeries } from "./chart.js";
import { badge, cell, fill, fmtAge, fmtInt, h, syncRows, table } from "./dom.js";

const REFRESH_MS = 5000;
const shortArn = (arn) => (arn ? arn.split(":").at(-1) : "");

function queueCells(q) {
  const isDlq = q.dead_letter_sources.length > 0;
  return [
    {
      header: true,
      field: "name",
      content: cell([q.name, isDlq, q.fifo], () => [
        h("a", { href: `#/queues/${encodeURIComponent(q.name)}` }, q.name),
        q.fifo ? [" ", badge("FIFO", "info")] : null,
        isDlq ? [" ", badge("DLQ", "warn", `Dead-letter queue of ${q.dead_letter_sources.join(", ")}`)] : null,
      ]),
    },
    { field: "visible", numeric: true, content: fmtInt(q.visible) },
    { field: "in_flight", numeric: true, content: fmtInt(q.in_flight) },
    { field: "delayed", numeric: true, content: fmtInt(q.delayed) },
    { field: "oldest_age", numeric: true, content: fmtAge(q.oldest_age_s) },
    { field: "sent_total", numeric: true, content: fmtInt(q.sent_total) },
    { field: "received_total", numeric: true, content: fmtInt(q.received_total) },
    {
      field: "dead_letter",
      content: isDlq
        ? `DLQ of ${q.dead_letter_sources.join(", ")}`
        : q.dead_letter_target_arn
          ? `→ ${shortArn(q.dead_letter_target_arn)} (${fmtInt(q.dead_lettered_total)} moved)`
          : "—",
    },
  ];
}

function topicCells(t) {
  return [
    { header: true, field: "name", content: cell([t.name, t.fifo], () => [t.name, t.fifo ? [" ", badge("FIFO", "info")] : null]) },
    {
      field: "subscriptions",
      content: cell(t.subscriptions, () =>
        t.subscriptions.length
          ? h(
              "ul.plain",
              {},
              t.subscriptions.map((s) =>
                h(
                  "li",
                  {},
                  h("code", {}, s.protocol),
                  " ",
                  s.endpoint,
                  s.pending_confirmation ? [" ", badge("pending confirmation", "warn")] : null,
                  s.raw_message_delivery ? [" ", badge("raw", "neutral")] : null,
                  s.filter_policy ? [" ", badge("filtered", "neutral", s.filter_policy)] : null,
                ),
              ),
            )
          : "No subscriptions",
      ),
    },
  ];
}

function functionCells(f) {
  return [
    { header: true, field: "name", content: f.name },
    { field: "handler", content: cell([f.handler], () => h("code", {}, f.handler)) },
    { field: "invocations", numeric: true, content: fmtInt(f.invocations) },
    { field: "errors", numeric: true, content: `${fmtInt(f.errors)}${f.timeouts ? ` (${fmtInt(f.timeouts)} timeouts)` : ""}` },
    { field: "throttles", numeric: true, content: fmtInt(f.throttles) },
    { field: "concurrency", numeric: true, content: `${fmtInt(f.concurrency)} / peak ${fmtInt(f.peak_concurrency)}` },
    { field: "duration", numeric: true, content: f.average_duration_ms === null ? "—" : `${f.average_duration_ms.toFixed(1)} ms` },
    {
      field: "mappings",
      content: cell(f.mappings, () =>
        f.mappings.length
          ? h(
              "ul.plain",
              {},
              f.mappings.map((m) =>
                h(
                  "li",
                  {},
                  `${shortArn(m.queue_arn)}: `,
                  badge(m.state, m.state === "Enabled" ? "ok" : m.state === "Failed" ? "error" : "neutral"),
                  ` batch ${m.batch_size}, concurrency ${m.concurrency}/${m.target_concurrency}` +
                    `${m.maximum_concurrency ? ` (max ${m.maximum_concurrency})` : ""}, ` +
                    `${fmtInt(m.invocations)} invocations, ${fmtInt(m.function_errors)} errors, ` +
                    `${fmtInt(m.messages_deleted)} deleted, ${fmtInt(m.messages_failed)} failed`,
                  m.last_error ? h("div.small", {}, "Last error: ", m.last_error) : null,
                ),
              ),
            )
          : "No mappings",
      ),
    },
  ];
}

/** Render the dashboard into main; returns a cleanup that stops its timers. */
export function renderDashboard(main) {
  const queues = table("Queues", [
    { label: "Queue" },
    { label: "Visible", numeric: true },
    { label: "In flight", numeric: true },
    { label: "Delayed", numeric: true },
    { label: "Oldest", numeric: true },
    { label: "Sent", numeric: true },
    { label: "Received", numeric: true },
    { label: "Dead-letter" },
  ], { captionHidden: true });
  queues.table.id = "queues-table";
  const topics = table("Topics", [{ label: "Topic" }, { label: "Subscriptions" }], { captionHidden: true });
  const functions = table("Functions", [
    { label: "Function" },
    { label: "Handler" },
    { label: "Invocations", numeric: true },
    { label: "Errors", numeric: true },
    { label: "Throttles", numeric: true },
    { label: "Concurrency", numeric: true },
    { label: "Avg duration", numeric: true },
    { label: "Mappings" },
  ], { captionHidden: true });
  const depthChart = h("div.chart-box", { id: "depth-chart" });
  const rateChart = h("div.chart-box", { id: "throughput-chart" });
  const updated = h("p.small", { id: "updated" }, "Loading…");
  const problem = h("p.message.message-error", { role: "alert", hidden: true });

  fill(
    main,
    h("h1", { tabindex: "-1" }, "Dashboard"),
    updated,
    problem,
    h("section", { "aria-labelledby": "h-queues" }, h("h2", { id: "h-queues" }, "Queues"), queues.wrap),
    h(
      "section.charts",
      { "aria-labelledby": "h-charts" },
      h("h2", { id: "h-charts" }, "Last 10 minutes"),
      h("div.chart-grid", {}, h("figure", {}, h("figcaption", {}, "Visible messages per queue"), depthChart), h("figure", {}, h("figcaption", {}, "Throughput, all queues (messages per second)"), rateChart)),
    ),
    h("section", { "aria-labelledby": "h-topics" }, h("h2", { id: "h-topics" }, "Topics"), topics.wrap),
    h("section", { "aria-labelledby": "h-functions" }, h("h2", { id: "h-functions" }, "Functions"), functions.wrap),
  );

  let stopped = false;
  async function refreshOverview() {
    try {
      const data = await api("GET", "/overview");
      if (stopped) return;
      problem.hidden = true;
      syncRows(queues.tbody, data.queues, (q) => q.name, queueCells, "No queues yet.");
      syncRows(topics.tbody, data.topics, (t) => t.arn, topicCells, "No topics yet.");
      syncRows(functions.tbody, data.functions, (f) => f.name, functionCells, "No functions yet.");
      updated.textContent = `Updated ${new Date(data.now_ms).toLocaleTimeString("en-GB", { hour12: false })}, refreshed every 5 s.`;
      main.dataset.loaded = "overview";
    } catch (err) {
      if (stopped) return;
      problem.hidden = false;
      problem.textContent = `Could not load the overview: ${err.message}`;
    }
  }
  async function refreshHistory() {
    try {
      const data = await api("GET", "/history");
      if (stopped) return;
      const samples = data.samples || [];
      // Both charts share the sampled window, so a rate (known from the 2nd sample on)
      // lines up in time with the depths.
      const domain = samples.length ? [samples[0].t_ms, samples.at(-1).t_ms] : undefined;
      const emptyText = "Collecting samples (one every 5 s)…";
      drawLineChart(depthChart, { title: "Visible messages per queue", series: depthSeries(samples), unit: "messages", emptyText, domain });
      drawLineChart(rateChart, { title: "Throughput", series: throughputSeries(samples), unit: "msg/s", emptyText, domain });
    } catch (err) {
      if (stopped) return;
      for (const chart of [depthChart, rateChart]) fill(chart, h("p.chart-empty", {}, `History unavailable: ${err.message}`));
    }
  }
  const tick = () => {
    refreshOverview();
    refreshHistory();
  };
  tick();
  const timer = setInterval(tick, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
