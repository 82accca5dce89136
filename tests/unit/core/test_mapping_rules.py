"""Validation of event source mapping parameters for SQS sources (pure rules)."""

from __future__ import annotations

import json

import pytest

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import EventSourceMapping
from ekiden.core.rules.mappings import (
    CLEAR,
    MappingChanges,
    apply_changes,
    check_visibility,
)

ARN = "arn:aws:sqs:us-east-1:000000000000:jobs"
UUID = "0b5c7f5e-1111-4222-8333-444455556666"
PATTERN = json.dumps({"body": {"kind": ["order"]}})


def create(changes: MappingChanges, *, fifo: bool = False) -> EventSourceMapping:
    full = MappingChanges(
        function_name=changes.function_name or "worker",
        event_source_arn=changes.event_source_arn or ARN,
        enabled=changes.enabled,
        batch_size=changes.batch_size,
        maximum_batching_window_s=changes.maximum_batching_window_s,
        function_response_types=changes.function_response_types,
        filter_patterns=changes.filter_patterns,
        maximum_concurrency=changes.maximum_concurrency,
        unsupported=changes.unsupported,
    )
    return apply_changes(None, full, queue_is_fifo=fifo, uuid=UUID, now_ms=1_000)


def refused(changes: MappingChanges, *, fifo: bool = False) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        create(changes, fifo=fifo)
    return caught.value.message


def test_a_new_mapping_gets_lambdas_sqs_defaults() -> None:
    mapping = create(MappingChanges())
    assert mapping == EventSourceMapping(
        uuid=UUID,
        function_name="worker",
        event_source_arn=ARN,
        batch_size=10,
        maximum_batching_window_s=0,
        function_response_types=(),
        filter_patterns=(),
        maximum_concurrency=None,
        enabled=True,
        last_modified_ms=1_000,
        declared=False,
    )


def test_every_sqs_setting_is_taken_when_valid() -> None:
    mapping = create(
        MappingChanges(
            enabled=False,
            batch_size=10_000,
            maximum_batching_window_s=300,
            function_response_types=("ReportBatchItemFailures",),
            filter_patterns=(PATTERN,),
            maximum_concurrency=1_000,
        )
    )
    assert (mapping.batch_size, mapping.maximum_batching_window_s) == (10_000, 300)
    assert mapping.reports_batch_item_failures and mapping.state == "Disabled"
    assert mapping.filter_patterns == (PATTERN,) and mapping.maximum_concurrency == 1_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            MappingChanges(batch_size=0),
            "1 validation error detected: Value '0' at 'batchSize' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1",
        ),
        (
            MappingChanges(batch_size=10_001, maximum_batching_window_s=1),
            "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
            "constraint: Member must have value less than or equal to 10000",
        ),
        (
            MappingChanges(maximum_batching_window_s=301),
            "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' "
            "failed to satisfy constraint: Member must have value less than or equal to 300",
        ),
        (
            MappingChanges(maximum_batching_window_s=-1),
            "1 validation error detected: Value '-1' at 'maximumBatchingWindowInSeconds' "
            "failed to satisfy constraint: Member must have value greater than or equal to 0",
        ),
        (
            MappingChanges(maximum_concurrency=1),
            "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' "
            "failed to satisfy constraint: Member must have value greater than or equal to 2",
        ),
        (
            MappingChanges(maximum_concurrency=1_001),
            "1 validation error detected: Value '1001' at 'scalingConfig.maximumConcurrency' "
            "failed to satisfy constraint: Member must have value less than or equal to 1000",
        ),
    ],
)
def test_values_out_of_the_models_ranges_are_refused_with_its_words(
    changes: MappingChanges, message: str
) -> None:
    assert refused(changes) == message


def test_a_batch_over_ten_needs_a_batching_window() -> None:
    assert refused(MappingChanges(batch_size=11)) == (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10"
    )
    assert create(MappingChanges(batch_size=11, maximum_batching_window_s=1)).batch_size == 11


def test_a_fifo_queue_takes_no_batching_window_and_so_no_batch_over_ten() -> None:
    assert (
        refused(MappingChanges(batch_size=100, maximum_batching_window_s=5), fifo=True)
        == "Batching window is not supported for FIFO queues"
    )
    assert refused(MappingChanges(batch_size=11), fifo=True).startswith(
        "Maximum batch window in seconds must be greater than 0"
    )
    assert create(MappingChanges(batch_size=10), fifo=True).batch_size == 10


def test_only_report_batch_item_failures_is_a_function_response_type() -> None:
    assert "Member must satisfy enum value set: [ReportBatchItemFailures]" in refused(
        MappingChanges(function_response_types=("ReportItemFailures",))
    )
    assert "Member must have length less than or equal to 1" in refused(
        MappingChanges(
            function_response_types=("ReportBatchItemFailures", "ReportBatchItemFailures")
        )
    )


def test_filter_patterns_are_compiled_and_at_most_five() -> None:
    assert refused(MappingChanges(filter_patterns=('{"body": "not-a-list"}',))) == (
        "Invalid filter pattern definition."
    )
    assert refused(MappingChanges(filter_patterns=("",))) == "Invalid filter pattern definition."
    assert "limit of 5" in refused(MappingChanges(filter_patterns=(PATTERN,) * 6))
    assert len(create(MappingChanges(filter_patterns=(PATTERN,) * 5)).filter_patterns) == 5


def test_starting_position_is_refused_as_lambda_words_it_for_sqs() -> None:
    message = refused(MappingChanges(unsupported=("StartingPosition",)))
    assert message == "StartingPosition is not valid for SQS event sources."


@pytest.mark.parametrize(
    "name",
    ["ParallelizationFactor", "BisectBatchOnFunctionError", "DestinationConfig", "Topics"],
)
def test_stream_and_kafka_parameters_are_refused_for_sqs(name: str) -> None:
    assert refused(MappingChanges(unsupported=(name,))) == (
        f"Unsupported {name} parameter for given event source mapping type."
    )


def test_an_update_keeps_what_it_does_not_name_and_checks_the_merged_result() -> None:
    base = create(
        MappingChanges(
            batch_size=100,
            maximum_batching_window_s=5,
            filter_patterns=(PATTERN,),
            maximum_concurrency=5,
        )
    )
    updated = apply_changes(base, MappingChanges(enabled=False), queue_is_fifo=False, now_ms=2_000)
    assert updated == EventSourceMapping(
        uuid=UUID,
        function_name="worker",
        event_source_arn=ARN,
        batch_size=100,
        maximum_batching_window_s=5,
        filter_patterns=(PATTERN,),
        maximum_concurrency=5,
        enabled=False,
        last_modified_ms=2_000,
    )
    with pytest.raises(InvalidParameterValue, match="Maximum batch window in seconds"):
        apply_changes(base, MappingChanges(maximum_batching_window_s=0), queue_is_fifo=False)


def test_an_update_clears_filters_response_types_and_maximum_concurrency() -> None:
    base = create(
        MappingChanges(
            function_response_types=("ReportBatchItemFailures",),
            filter_patterns=(PATTERN,),
            maximum_concurrency=5,
        )
    )
    cleared = apply_changes(
        base,
        MappingChanges(function_response_types=(), filter_patterns=(), maximum_concurrency=CLEAR),
        queue_is_fifo=False,
    )
    assert cleared.function_response_types == () and cleared.filter_patterns == ()
    assert cleared.maximum_concurrency is None


def test_an_update_cannot_move_a_mapping_to_another_queue() -> None:
    base = create(MappingChanges())
    with pytest.raises(InvalidParameterValue):
        apply_changes(base, MappingChanges(event_source_arn=ARN + "-other"), queue_is_fifo=False)


def test_a_queue_must_hide_a_message_as_long_as_the_function_may_run() -> None:
    check_visibility(60, 60)
    with pytest.raises(InvalidParameterValue) as caught:
        check_visibility(30, 60)
    assert caught.value.message == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    )
