"""What one ``ekiden bench`` run is asked to do, validated once.

The CLI turns its flags into :class:`BenchOptions` through :func:`make_options`, which
applies the per-scenario defaults and rejects combinations that would be silently
ignored otherwise (``--rate`` outside ``latency``, ``--groups`` without ``--fifo``, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_BODY_SIZE",
    "DEFAULT_DURATION_S",
    "MAX_BODY_SIZE",
    "SCENARIOS",
    "BenchOptions",
    "OptionsError",
    "make_options",
]

SCENARIOS: Final = ("send", "send-batch", "drain", "latency", "long-poll", "backlog")

DEFAULT_DURATION_S: Final = 10.0
DEFAULT_BODY_SIZE: Final = 1024
DEFAULT_RATE: Final = 1000.0
DEFAULT_BACKLOG: Final = 1_000_000
DEFAULT_GROUPS: Final = 10
#: SQS's limit on a message (body and attributes) and on a whole batch.
MAX_BODY_SIZE: Final = 1_048_576
BATCH_SIZE: Final = 10
#: The latency scenario writes the send time (20 digits) at the start of each body.
LATENCY_STAMP_BYTES: Final = 20

#: Requests in flight (all processes together) when --concurrency is not given. For
#: latency it is the number of long-polling consumers, for long-poll the waiting receivers.
DEFAULT_CONCURRENCY: Final[dict[str, int]] = {
    "send": 32,
    "send-batch": 16,
    "drain": 16,
    "latency": 8,
    "long-poll": 4,
    "backlog": 32,
}


class OptionsError(ValueError):
    """The flags cannot be used together, or a value is out of range."""


@dataclass(frozen=True)
class BenchOptions:
    """A validated benchmark request.

    Exactly one of ``duration_s`` and ``messages`` is set. ``prefill`` (drain) is None
    unless given: the fill then runs for ``duration_s`` like any phase. ``concurrency``
    is the number of requests in flight over all processes (``processes * connections *
    pipeline``, see :meth:`connections_per_process`).
    """

    scenario: str
    endpoint: str
    compare: str | None
    duration_s: float | None
    messages: int | None
    concurrency: int
    processes: int
    pipeline: int
    body_size: int
    fifo: bool
    groups: int
    rate: float
    backlog: int
    prefill: int | None
    rounds: int
    keep_queue: bool
    progress: bool
    json_path: str | None
    region: str | None

    def connections_per_process(self) -> int:
        """Connections each process opens: concurrency / (processes * pipeline), at least 1."""
        return max(1, self.concurrency // (self.processes * self.pipeline))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise OptionsError(f"{name} must be positive, not {value:g}")


def make_options(
    *,
    scenario: str,
    endpoint: str,
    compare: str | None = None,
    duration_s: float | None = None,
    messages: int | None = None,
    concurrency: int | None = None,
    processes: int = 1,
    pipeline: int = 1,
    body_size: int = DEFAULT_BODY_SIZE,
    fifo: bool = False,
    groups: int | None = None,
    rate: float | None = None,
    backlog: int | None = None,
    prefill: int | None = None,
    rounds: int | None = None,
    keep_queue: bool = False,
    progress: bool = False,
    json_path: str | None = None,
    region: str | None = None,
) -> BenchOptions:
    """Apply the defaults and check every rule; ``None`` means "not given".

    Raises:
        OptionsError: with a message naming the offending flag.
    """
    if scenario not in SCENARIOS:
        raise OptionsError(f"unknown scenario {scenario!r} (one of {', '.join(SCENARIOS)})")
    if duration_s is not None and messages is not None:
        raise OptionsError("--duration and --messages are mutually exclusive")
    for name, value in (
        ("--duration", duration_s),
        ("--messages", messages),
        ("--concurrency", concurrency),
        ("--processes", processes),
        ("--pipeline", pipeline),
        ("--body-size", body_size),
        ("--groups", groups),
        ("--rate", rate),
        ("--backlog", backlog),
        ("--prefill", prefill),
        ("--rounds", rounds),
    ):
        _positive(name, value)
    if body_size > MAX_BODY_SIZE:
        raise OptionsError(f"--body-size must be at most {MAX_BODY_SIZE:,} (the SQS limit)")
    batched = scenario in ("send-batch", "drain", "backlog")
    if batched and body_size * BATCH_SIZE > MAX_BODY_SIZE:
        raise OptionsError(
            f"--body-size must be at most {MAX_BODY_SIZE // BATCH_SIZE:,} for {scenario}: "
            f"a batch of {BATCH_SIZE} must stay within {MAX_BODY_SIZE:,} bytes"
        )
    if scenario == "latency" and body_size < LATENCY_STAMP_BYTES:
        raise OptionsError(f"--body-size must be at least {LATENCY_STAMP_BYTES} for latency")
    if groups is not None and not fifo:
        raise OptionsError("--groups needs --fifo")
    if rate is not None and scenario != "latency":
        raise OptionsError("--rate only applies to the latency scenario")
    if backlog is not None and scenario != "backlog":
        raise OptionsError("--backlog only applies to the backlog scenario")
    if prefill is not None and scenario != "drain":
        raise OptionsError("--prefill only applies to the drain scenario")
    if prefill is not None and messages is not None:
        raise OptionsError("--prefill and --messages are mutually exclusive (drain drains N)")
    if compare is not None and compare == endpoint:
        raise OptionsError("--compare must name a different endpoint than --endpoint")
    concurrency = concurrency or DEFAULT_CONCURRENCY[scenario]
    processes = processes or 1
    pipeline = pipeline or 1
    if concurrency < processes * pipeline:
        raise OptionsError(
            f"--concurrency {concurrency} is below --processes x --pipeline "
            f"({processes} x {pipeline}): every process needs a connection"
        )
    if duration_s is None and messages is None:
        duration_s = DEFAULT_DURATION_S
    return BenchOptions(
        scenario=scenario,
        endpoint=endpoint,
        compare=compare,
        duration_s=duration_s,
        messages=messages,
        concurrency=concurrency,
        processes=processes,
        pipeline=pipeline,
        body_size=body_size,
        fifo=fifo,
        groups=groups or DEFAULT_GROUPS,
        rate=rate or DEFAULT_RATE,
        backlog=backlog or DEFAULT_BACKLOG,
        prefill=prefill,
        rounds=rounds or (3 if compare else 1),
        keep_queue=keep_queue,
        progress=progress,
        json_path=json_path,
        region=region,
    )
