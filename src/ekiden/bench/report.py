"""The report of a benchmark: a text table for people and a JSON document for later.

Figures per phase and run are: messages and messages/s, requests/s, errors, and the
phase's headline latency (p50/p90/p99/max, in ms). With several rounds the summary is
the median of the rounds per endpoint; with ``--compare`` the ratio A/B of the medians
follows (above 1 means A is faster for rates, slower for latencies).
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from ekiden.bench.options import BenchOptions
from ekiden.bench.runner import EndpointRun

__all__ = ["FORMAT_VERSION", "Report", "machine_info"]

FORMAT_VERSION: Final = 1
#: The figures summarised over rounds, with their key in ``PhaseResult.figures()``.
SUMMARY_KEYS: Final = ("msgs_per_s", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
_LATENCY_COLUMNS: Final = ("p50 ms", "p90 ms", "p99 ms", "max ms")
_HEADLINE_TEXT: Final = {
    "SendMessage": "SendMessage round trip",
    "SendMessageBatch": "SendMessageBatch round trip",
    "receive+delete": "ReceiveMessage + DeleteMessageBatch round trips",
    "end-to-end": "send to receive, end to end",
    "wake-up": "send acknowledged to waiting receive returned",
}


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, RAM, Python and OS of the machine running the client."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    ram_kib = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(ram_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
    }


def _flat(figures: dict[str, Any]) -> dict[str, float]:
    latency = figures["latency"]
    return {
        "msgs_per_s": figures["msgs_per_s"],
        "requests_per_s": figures["requests_per_s"],
        **{key: latency[key] for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
    }


@dataclass
class Report:
    """Everything one ``ekiden bench`` invocation measured."""

    options: BenchOptions
    runs: list[EndpointRun]
    machine: dict[str, Any]
    started_at: str
    finished_at: str

    def client(self) -> dict[str, Any]:
        """The load generator's set-up."""
        options = self.options
        connections = options.connections_per_process()
        return {
            "processes": options.processes,
            "connections_per_process": connections,
            "pipeline": options.pipeline,
            "in_flight": options.processes * connections * options.pipeline,
            "body_size": options.body_size,
            "queue": f"fifo, {options.groups} groups" if options.fifo else "standard",
        }

    def labels(self) -> dict[str, str]:
        labels = {"A": self.options.endpoint}
        if self.options.compare:
            labels["B"] = self.options.compare
        return labels

    def phase_names(self) -> list[str]:
        names: list[str] = []
        for run in self.runs:
            names.extend(p.name for p in run.phases if p.name not in names)
        return names

    def summary(self) -> dict[str, Any]:
        """Medians over rounds per endpoint and phase, and the ratios A/B."""
        medians: dict[str, dict[str, dict[str, float]]] = {}
        for label in self.labels():
            per_phase: dict[str, dict[str, float]] = {}
            for name in self.phase_names():
                rows = [
                    _flat(p.figures())
                    for run in self.runs
                    if run.label == label
                    for p in run.phases
                    if p.name == name
                ]
                if rows:
                    per_phase[name] = {
                        key: round(statistics.median(r[key] for r in rows), 3)
                        for key in SUMMARY_KEYS
                    }
            medians[label] = per_phase
        summary: dict[str, Any] = {"median": medians}
        if "B" in medians:
            summary["ratio_a_to_b"] = {
                name: {key: _ratio(figures[key], medians["B"][name][key]) for key in SUMMARY_KEYS}
                for name, figures in medians["A"].items()
                if name in medians["B"]
            }
        if self.options.scenario == "backlog":
            summary["backlog_vs_empty"] = {
                label: {
                    kind: _ratio(
                        phases.get(f"{kind}-backlog", {}).get("msgs_per_s", 0.0),
                        phases.get(f"{kind}-empty", {}).get("msgs_per_s", 0.0),
                    )
                    for kind in ("send", "drain")
                }
                for label, phases in medians.items()
            }
        return summary

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": "ekiden bench",
            "format": FORMAT_VERSION,
            "scenario": self.options.scenario,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "options": self.options.to_dict(),
            "client": self.client(),
            "machine": self.machine,
            "endpoints": self.labels(),
            "runs": [
                {
                    "label": run.label,
                    "endpoint": run.endpoint,
                    "round": run.round,
                    "queues": run.queues,
                    "queue_attributes": run.attributes,
                    "phases": [p.to_dict() for p in run.phases],
                }
                for run in self.runs
            ],
            "summary": self.summary(),
        }

    def json_bytes(self) -> bytes:
        """:meth:`to_json` as indented JSON, each histogram's buckets kept on one line."""
        data = self.to_json()
        for run in data["runs"]:
            for phase in run["phases"]:
                for histogram in phase["histograms_us"].values():
                    histogram["buckets"] = orjson.Fragment(orjson.dumps(histogram["buckets"]))
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"

    def text(self) -> str:
        options, client, machine = self.options, self.client(), self.machine
        lines = [f"ekiden bench {options.scenario}"]
        lines += [f"  {label}  {url}" for label, url in self.labels().items()]
        amount = (
            f"{options.duration_s:g} s per phase"
            if options.duration_s is not None
            else f"{options.messages:,} messages"
        )
        lines.append(
            f"client   {client['processes']} process(es) x {client['connections_per_process']}"
            f" connection(s) x pipeline {client['pipeline']} = {client['in_flight']} in flight;"
            f" body {client['body_size']:,} B; {client['queue']} queue; {amount};"
            f" {options.rounds} round(s)"
        )
        lines.append(
            f"machine  {machine['cores']} cores, {machine['cpu_model']}, "
            f"{machine['ram_gib']} GiB RAM, Python {machine['python']}, {machine['os']}"
        )
        summary = self.summary()
        for name in self.phase_names():
            lines += ["", *self._phase_table(name, summary)]
        for label, ratios in summary.get("backlog_vs_empty", {}).items():
            lines.append("")
            lines.append(
                f"{label}: with {options.backlog:,} messages queued, send runs at "
                f"{_pct(ratios['send'])} and drain at {_pct(ratios['drain'])} of the "
                "empty-queue rate"
            )
        return "\n".join(lines) + "\n"

    def _run_label(self, run: EndpointRun) -> str:
        return f"{run.label}{run.round}" if len(self.runs) > 1 else run.label

    def _phase_table(self, name: str, summary: dict[str, Any]) -> list[str]:
        phases = [(run, p) for run in self.runs for p in run.phases if p.name == name]
        headline = phases[0][1].headline
        lines = [f"{name}  (latency: {_HEADLINE_TEXT.get(headline, headline)})"]
        header = ("run", "msgs", "msgs/s", "req/s", "errors", *_LATENCY_COLUMNS)
        rows: list[tuple[str, ...]] = [header]
        for run, phase in phases:
            f = phase.figures()
            lat = f["latency"]
            rows.append(
                (
                    self._run_label(run),
                    f"{f['messages']:,}",
                    f"{f['msgs_per_s']:,.0f}",
                    f"{f['requests_per_s']:,.0f}",
                    f"{f['errors']:,}",
                    *(f"{lat[k]:.2f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
                )
            )
        if self.options.rounds > 1:
            for label, per_phase in summary["median"].items():
                m = per_phase.get(name)
                if m is not None:
                    rows.append(_summary_row(f"{label} median", m, "{:,.0f}", "{:.2f}"))
        ratio = summary.get("ratio_a_to_b", {}).get(name)
        if ratio is not None:
            rows.append(_ratio_row(ratio))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  " + "  ".join(cells))
        for run, phase in phases:
            label = self._run_label(run)
            if phase.error_kinds:
                kinds = ", ".join(f"{k} x{n:,}" for k, n in phase.error_kinds.most_common(5))
                lines.append(f"  errors {label}: {kinds}")
            if phase.extra:
                extra = ", ".join(f"{k} {n:,}" for k, n in sorted(phase.extra.items()))
                lines.append(f"  {label}: {extra}")
            others = [
                f"{n} {h.percentile(50) / 1000:.2f}/{h.percentile(99) / 1000:.2f}"
                for n, h in sorted(phase.histograms.items())
                if n != phase.headline and h.count
            ]
            if others:
                lines.append(f"  {label} other latencies, p50/p99 ms: {'; '.join(others)}")
        return lines


def _summary_row(label: str, figures: dict[str, float], rate: str, latency: str) -> tuple[str, ...]:
    return (
        label,
        "",
        rate.format(figures["msgs_per_s"]),
        rate.format(figures["requests_per_s"]),
        "",
        *(latency.format(figures[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
    )


def _ratio_row(ratios: dict[str, float]) -> tuple[str, ...]:
    def show(ratio: float) -> str:
        return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"

    return (
        "A/B",
        "",
        show(ratios["msgs_per_s"]),
        show(ratios["requests_per_s"]),
        "",
        *(show(ratios[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
    )


def _ratio(a: float, b: float) -> float:
    """``a / b`` to four significant digits (0.0 when ``b`` is 0)."""
    return float(f"{a / b:.4g}") if b else 0.0


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"
