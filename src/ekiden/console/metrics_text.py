"""The Prometheus text exposition format, version 0.0.4: metric families with HELP and
TYPE lines, samples with escaped label values, histograms as cumulative ``_bucket``
series with ``le`` (ending at ``+Inf``), ``_sum`` and ``_count``.

Small enough to write by hand; tests check the output with prometheus_client's parser.
Names are checked when a family is made, so a typo fails at once rather than producing
an exposition Prometheus refuses whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from ekiden.core.services.request_metrics import HistogramSnapshot

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

Kind = Literal["counter", "gauge", "histogram"]
Labels = Sequence[tuple[str, str]]

_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def escape_label_value(value: str) -> str:
    """A label value as it goes between double quotes: ``\\``, ``"`` and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text: only ``\\`` and newline are escaped (quotes stay as they are)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers without a fraction, ``+Inf``/``-Inf``/``NaN`` spelled as
    Prometheus spells them, other floats in Python's shortest round-trip form."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Family:
    """One metric family: its HELP and TYPE lines and its samples, rendered together (the
    format requires a family's samples to be contiguous)."""

    def __init__(self, name: str, kind: Kind, help_text: str) -> None:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        if kind != "counter" and name.endswith("_total"):
            raise ValueError(f"only counters end in _total: {name!r}")
        self.name = name
        self.kind: Kind = kind
        self.help_text = help_text
        self._lines: list[str] = []

    def add(self, labels: Labels, value: float) -> None:
        """One sample of a counter or gauge."""
        if self.kind == "histogram":
            raise TypeError(f"{self.name} is a histogram: use add_histogram")
        self._lines.append(f"{self.name}{_labels(labels)} {format_value(value)}")

    def add_histogram(self, labels: Labels, snapshot: HistogramSnapshot) -> None:
        """The series of one histogram: a cumulative bucket per bound, ``+Inf``, sum and
        count (``+Inf`` and count are the same number, as the format requires)."""
        if self.kind != "histogram":
            raise TypeError(f"{self.name} is a {self.kind}")
        if any(label == "le" for label, _ in labels):
            raise ValueError("a histogram's own labels cannot include le")
        name = self.name
        for bound, cumulative in snapshot.cumulative():
            le = (("le", format_value(bound)),)
            self._lines.append(f"{name}_bucket{_labels((*labels, *le))} {cumulative}")
        self._lines.append(f"{name}_sum{_labels(labels)} {format_value(snapshot.total)}")
        self._lines.append(f"{name}_count{_labels(labels)} {snapshot.count}")

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {escape_help(self.help_text)}",
            f"# TYPE {self.name} {self.kind}",
            *self._lines,
        ]


def render(families: Iterable[Family]) -> bytes:
    """The exposition of ``families``, in order (each name must appear once)."""
    lines: list[str] = []
    seen: set[str] = set()
    for family in families:
        if family.name in seen:
            raise ValueError(f"metric family {family.name} rendered twice")
        seen.add(family.name)
        lines.extend(family.render())
    return ("\n".join(lines) + "\n").encode("utf-8")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    parts = []
    for name, value in labels:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"invalid label name {name!r}")
        parts.append(f'{name}="{escape_label_value(value)}"')
    return "{" + ",".join(parts) + "}"
