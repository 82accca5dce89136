"""Print the JSON reports of ``ekiden bench`` as Markdown tables (medians over rounds).

    python benchmarks/summarize.py benchmarks/results/<commit>

Reports with two endpoints (``--compare``) go into one table with both medians and the
ratio A/B; reports of one endpoint into another. Rows are named ``<file> / <phase>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _errors(report: dict[str, Any], label: str, phase: str) -> int:
    return sum(
        p["errors"]
        for run in report["runs"]
        if run["label"] == label
        for p in run["phases"]
        if p["name"] == phase
    )


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def main(folder: str) -> None:
    reports = [
        (path.stem, json.loads(path.read_text())) for path in sorted(Path(folder).glob("*.json"))
    ]
    compared = [(n, r) for n, r in reports if "B" in r["endpoints"]]
    alone = [(n, r) for n, r in reports if "B" not in r["endpoints"]]
    if compared:
        print(
            "| figure / phase | A msgs/s | B msgs/s | A/B "
            "| A p50 / p99 ms | B p50 / p99 ms | errors A / B |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, report in compared:
            median, ratio = report["summary"]["median"], report["summary"]["ratio_a_to_b"]
            for phase, a in median["A"].items():
                b = median["B"][phase]
                print(
                    f"| {name} / {phase} | {_rate(a['msgs_per_s'])} | {_rate(b['msgs_per_s'])} "
                    f"| {_ratio(ratio[phase]['msgs_per_s'])} "
                    f"| {a['p50_ms']:.2f} / {a['p99_ms']:.2f} "
                    f"| {b['p50_ms']:.2f} / {b['p99_ms']:.2f} "
                    f"| {_errors(report, 'A', phase)} / {_errors(report, 'B', phase)} |"
                )
        print()
    if alone:
        print("| figure / phase | msgs/s | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, report in alone:
            for phase, a in report["summary"]["median"]["A"].items():
                print(
                    f"| {name} / {phase} | {_rate(a['msgs_per_s'])} | {_rate(a['requests_per_s'])} "
                    f"| {a['p50_ms']:.2f} | {a['p90_ms']:.2f} | {a['p99_ms']:.2f} "
                    f"| {a['max_ms']:.2f} | {_errors(report, 'A', phase)} |"
                )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
