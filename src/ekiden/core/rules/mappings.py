"""Validation of event source mapping parameters for SQS sources (pure).

``apply_changes`` turns the parameters of a CreateEventSourceMapping or
UpdateEventSourceMapping request (a :class:`MappingChanges`) into the resulting
:class:`~ekiden.core.functions.EventSourceMapping`, raising
``InvalidParameterValue`` with Lambda's wording when the result would be one Lambda
refuses. ``check_visibility`` is Lambda's rule that a queue must hide a received message
at least as long as the function may run.

Where the words come from: the range messages are the model-validation messages Lambda
returns for the constraints of its service model (``1 validation error detected: ...``;
Lambda answers them as ``ValidationException``, which ekiden's error tree folds into
``InvalidParameterValue``); the batching-window, FIFO, StartingPosition, filter and
visibility messages are the ones Lambda is reported to return for SQS mappings. The
message for more than five filters could not be confirmed and is ekiden's own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeVar

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import REPORT_BATCH_ITEM_FAILURES, EventSourceMapping
from ekiden.core.rules.patterns import LAMBDA_LIMITS, compile_filter_criteria

DEFAULT_BATCH_SIZE: Final = 10
MIN_BATCH_SIZE: Final = 1
MAX_BATCH_SIZE: Final = 10_000
MAX_BATCH_SIZE_WITHOUT_WINDOW: Final = 10
"""A batch of more than this needs a batching window of at least 1 s (and FIFO queues,
which take no window, are held to it)."""
MAX_BATCHING_WINDOW_S: Final = 300
MIN_MAXIMUM_CONCURRENCY: Final = 2
MAX_MAXIMUM_CONCURRENCY: Final = 1_000
MAX_FILTERS: Final = 5
"""Lambda's default quota of filters per mapping (raisable to 10 on request in AWS)."""

STARTING_POSITION_PARAMETERS: Final = frozenset({"StartingPosition", "StartingPositionTimestamp"})
SQS_UNSUPPORTED_PARAMETERS: Final = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "SelfManagedKafkaEventSourceConfig",
    "AmazonManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
)
"""Request members of Create/UpdateEventSourceMapping that an SQS mapping in ekiden does
not take. The front end lists those present in ``MappingChanges.unsupported``. (Lambda
accepts KMSKeyArn, MetricsConfig and ProvisionedPollerConfig for SQS; ekiden has no use
for them and refuses them rather than ignore them silently.)"""


class Clear(enum.Enum):
    """Marks a setting an update removes (``ScalingConfig: {}`` clears
    MaximumConcurrency)."""

    CLEAR = "clear"


CLEAR: Final = Clear.CLEAR

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MappingChanges:
    """The parameters of a Create/UpdateEventSourceMapping request; ``None`` means absent
    (create: the default; update: unchanged).

    Attributes:
        function_name: a function *name* (the service resolves ARNs before applying).
        event_source_arn: the queue ARN (create only; an update cannot change it).
        enabled: whether the runtime polls the queue.
        batch_size: BatchSize.
        maximum_batching_window_s: MaximumBatchingWindowInSeconds.
        function_response_types: FunctionResponseTypes; ``()`` clears.
        filter_patterns: the ``Pattern`` strings of FilterCriteria.Filters (a filter
            without a Pattern is given as ``""``); ``()`` clears.
        maximum_concurrency: ScalingConfig.MaximumConcurrency; ``CLEAR`` removes it.
        unsupported: names of request members present that SQS mappings do not take
            (see ``SQS_UNSUPPORTED_PARAMETERS``), in request order.
    """

    function_name: str | None = None
    event_source_arn: str | None = None
    enabled: bool | None = None
    batch_size: int | None = None
    maximum_batching_window_s: int | None = None
    function_response_types: tuple[str, ...] | None = None
    filter_patterns: tuple[str, ...] | None = None
    maximum_concurrency: int | Clear | None = None
    unsupported: tuple[str, ...] = ()


def apply_changes(
    base: EventSourceMapping | None,
    changes: MappingChanges,
    *,
    queue_is_fifo: bool,
    uuid: str = "",
    now_ms: int = 0,
    declared: bool | None = None,
) -> EventSourceMapping:
    """The mapping ``changes`` make of ``base`` (``None``: a new mapping with ``uuid``).

    Raises ``InvalidParameterValue`` (Lambda's wording) for a parameter SQS mappings do
    not take, a value out of range, an invalid filter pattern, a BatchSize over 10
    without a batching window, or a batching window on a FIFO queue; a new mapping
    without function name or event source ARN is refused too. The checks that combine
    fields run on the merged result, as an update of one field may break a rule with
    the fields it leaves. ``last_modified_ms`` becomes ``now_ms``; ``declared`` keeps
    ``base``'s unless given.
    """
    check_supported(changes.unsupported)
    _check_ranges(changes)
    if changes.filter_patterns is not None:
        check_filter_patterns(changes.filter_patterns)
    if base is None:
        if not changes.function_name:
            raise InvalidParameterValue("Function does not exist")
        if not changes.event_source_arn:
            raise InvalidParameterValue("Unrecognized event source.")
        base = EventSourceMapping(
            uuid=uuid,
            function_name=changes.function_name,
            event_source_arn=changes.event_source_arn,
            batch_size=DEFAULT_BATCH_SIZE,
        )
    elif changes.event_source_arn is not None and changes.event_source_arn != base.event_source_arn:
        # UpdateEventSourceMapping has no EventSourceArn member: a mapping keeps its queue.
        raise InvalidParameterValue("The event source of a mapping cannot be changed.")
    concurrency = base.maximum_concurrency
    if changes.maximum_concurrency is CLEAR:
        concurrency = None
    elif isinstance(changes.maximum_concurrency, int):
        concurrency = changes.maximum_concurrency
    merged = EventSourceMapping(
        uuid=base.uuid,
        function_name=changes.function_name or base.function_name,
        event_source_arn=base.event_source_arn,
        batch_size=_pick(changes.batch_size, base.batch_size),
        maximum_batching_window_s=_pick(
            changes.maximum_batching_window_s, base.maximum_batching_window_s
        ),
        function_response_types=_pick(
            changes.function_response_types, base.function_response_types
        ),
        filter_patterns=_pick(changes.filter_patterns, base.filter_patterns),
        maximum_concurrency=concurrency,
        enabled=_pick(changes.enabled, base.enabled),
        last_modified_ms=now_ms,
        declared=base.declared if declared is None else declared,
    )
    check_batching(merged, queue_is_fifo=queue_is_fifo)
    return merged


def check_supported(unsupported: tuple[str, ...]) -> None:
    """Refuse the first parameter SQS mappings do not take, as Lambda words it."""
    for name in unsupported:
        if name in STARTING_POSITION_PARAMETERS:
            raise InvalidParameterValue("StartingPosition is not valid for SQS event sources.")
        raise InvalidParameterValue(
            f"Unsupported {name} parameter for given event source mapping type."
        )


def check_filter_patterns(patterns: tuple[str, ...]) -> None:
    """At most ``MAX_FILTERS`` patterns, each valid under Lambda's pattern rules."""
    if len(patterns) > MAX_FILTERS:
        raise InvalidParameterValue(
            f"The number of filters ({len(patterns)}) exceeds the limit of {MAX_FILTERS} "
            "filters per event source mapping."
        )
    compile_filter_criteria(patterns, limits=LAMBDA_LIMITS)


def check_batching(mapping: EventSourceMapping, *, queue_is_fifo: bool) -> None:
    """The rules that tie BatchSize, the batching window and the queue type together."""
    if (
        mapping.batch_size > MAX_BATCH_SIZE_WITHOUT_WINDOW
        and mapping.maximum_batching_window_s == 0
    ):
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )
    if queue_is_fifo and mapping.maximum_batching_window_s > 0:
        raise InvalidParameterValue("Batching window is not supported for FIFO queues")
    # With no window allowed on FIFO queues, the rule above already holds their batches
    # to at most 10.


def check_visibility(queue_visibility_timeout_s: int, function_timeout_s: int) -> None:
    """Lambda refuses a queue that would show a message again while the function that
    received it may still run."""
    if queue_visibility_timeout_s < function_timeout_s:
        raise InvalidParameterValue(
            f"Queue visibility timeout: {queue_visibility_timeout_s} seconds is less than "
            f"Function timeout: {function_timeout_s} seconds"
        )


def _check_ranges(changes: MappingChanges) -> None:
    if changes.batch_size is not None:
        _check_range("batchSize", changes.batch_size, MIN_BATCH_SIZE, MAX_BATCH_SIZE)
    if changes.maximum_batching_window_s is not None:
        _check_range(
            "maximumBatchingWindowInSeconds",
            changes.maximum_batching_window_s,
            0,
            MAX_BATCHING_WINDOW_S,
        )
    if isinstance(changes.maximum_concurrency, int):
        _check_range(
            "scalingConfig.maximumConcurrency",
            changes.maximum_concurrency,
            MIN_MAXIMUM_CONCURRENCY,
            MAX_MAXIMUM_CONCURRENCY,
        )
    types = changes.function_response_types
    if types is not None:
        if len(types) > 1:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '[{', '.join(types)}]' at "
                "'functionResponseTypes' failed to satisfy constraint: Member must have "
                "length less than or equal to 1"
            )
        if types and types[0] != REPORT_BATCH_ITEM_FAILURES:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '[{types[0]}]' at "
                "'functionResponseTypes' failed to satisfy constraint: Member must satisfy "
                "constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"
            )


def _check_range(member: str, value: int, low: int, high: int) -> None:
    if value < low:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value less than or equal to {high}"
        )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value
