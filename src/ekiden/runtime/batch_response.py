"""Lambda's rules for a partial batch response (``ReportBatchItemFailures``).

A mapping with ``FunctionResponseTypes=["ReportBatchItemFailures"]`` lets the handler
return ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}, ...]}``: the listed
messages stay in the queue, the rest are deleted. "Handling errors for an SQS event source
in Lambda" (success and failure conditions) says:

* complete success: an empty ``batchItemFailures`` list, a null ``batchItemFailures``, an
  empty response (``{}``; likewise any object without the key, e.g. ``{"statusCode":
  200}``), a null response;
* complete failure: an invalid JSON response, an empty-string ``itemIdentifier``, a null
  ``itemIdentifier``, an ``itemIdentifier`` with a bad key name, an ``itemIdentifier``
  naming a message that is not in the batch.

Key names are case-sensitive, as on Lambda: ``BatchItemFailures`` is not the key, so a
response using it is an object without ``batchItemFailures`` (success).

Cases the documentation does not name, decided here:

* a JSON value that is not an object (list, string, number, boolean): complete failure.
  Lambda reads the response as its batch-response object; a value that cannot be one is
  not a valid response, the nearest documented case is "invalid JSON", and failing keeps
  the messages (they reappear and reach the DLQ after ``maxReceiveCount``) where a
  success would delete messages the handler may not have processed;
* ``batchItemFailures`` that is not a list, an entry that is not an object, an
  ``itemIdentifier`` that is not a string: complete failure, for the same reason (they are
  malformed forms of the documented failures);
* an empty payload: not JSON, so complete failure (a handler returning ``None`` yields
  ``null``, a success);
* the same id listed twice: counted once.

Only for a successful invocation: when the handler raised, timed out or crashed the caller
fails the whole batch without asking this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a partial batch response means for the batch.

    Attributes:
        failed_ids: ids of the messages that must stay in the queue (reappear after the
            visibility timeout). Every id of the batch when ``all_failed``.
        all_failed: the response was malformed, so the whole batch counts as failed,
            like a function error. ``False`` when the handler validly listed every
            message: that is a handled outcome, not an error.
        reason: why the whole batch failed, for the log; ``None`` unless ``all_failed``.
    """

    failed_ids: frozenset[str]
    all_failed: bool
    reason: str | None = None


_SUCCESS = BatchOutcome(failed_ids=frozenset(), all_failed=False)


def parse_batch_response(payload: bytes, message_ids: Sequence[str]) -> BatchOutcome:
    """Apply Lambda's partial-batch-response rules (module docstring) to a handler's
    JSON response ``payload`` for the batch of ``message_ids``. Never raises for what the
    payload contains."""
    try:
        response: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _all_failed(message_ids, "the function's response is not valid JSON")
    if response is None:
        return _SUCCESS
    if not isinstance(response, dict):
        return _all_failed(
            message_ids,
            f"the function's response is a JSON {_json_type(response)}, not an object "
            "with batchItemFailures",
        )
    failures = response.get("batchItemFailures")
    if failures is None:
        return _SUCCESS
    if not isinstance(failures, list):
        return _all_failed(
            message_ids, f"batchItemFailures is a JSON {_json_type(failures)}, not a list"
        )
    in_batch = frozenset(message_ids)
    failed: set[str] = set()
    for index, item in enumerate(failures):
        problem = _item_problem(item, in_batch)
        if problem is not None:
            return _all_failed(message_ids, f"batchItemFailures[{index}]: {problem}")
        failed.add(item["itemIdentifier"])
    return BatchOutcome(failed_ids=frozenset(failed), all_failed=False)


def fifo_keep(
    records_in_order: Sequence[tuple[str, str | None]], failed_ids: Iterable[str]
) -> frozenset[str]:
    """The messages of a FIFO batch to keep (not delete) so every group's order holds.

    Args:
        records_in_order: ``(messageId, messageGroupId)`` of each record, in batch order;
            a ``None`` group stands alone (its record is kept only if it failed).
        failed_ids: the ids the handler reported as failed.

    Returns:
        ``failed_ids`` plus every message that follows a failed message of its group in
        the batch: deleting those would let later messages of the group overtake the one
        that failed when it reappears.
    """
    failed = frozenset(failed_ids)
    broken_groups: set[str] = set()
    keep: set[str] = set(failed)
    for message_id, group in records_in_order:
        if group is None:
            continue
        if group in broken_groups:
            keep.add(message_id)
        elif message_id in failed:
            broken_groups.add(group)
    return frozenset(keep)


def _item_problem(item: Any, in_batch: frozenset[str]) -> str | None:
    """Why one batchItemFailures entry makes the response malformed, or None."""
    if not isinstance(item, dict):
        return f"a JSON {_json_type(item)}, not an object with itemIdentifier"
    if "itemIdentifier" not in item:
        names = ", ".join(sorted(str(key) for key in item)) or "none"
        return f"no itemIdentifier key (keys: {names})"
    identifier = item["itemIdentifier"]
    if identifier is None:
        return "itemIdentifier is null"
    if not isinstance(identifier, str):
        return f"itemIdentifier is a JSON {_json_type(identifier)}, not a string"
    if identifier == "":
        return "itemIdentifier is an empty string"
    if identifier not in in_batch:
        return f"itemIdentifier {_shorten(identifier)!r} is not a message of this batch"
    return None


def _shorten(text: str, limit: int = 80) -> str:
    # A reason is logged: a handler returning megabytes in an identifier must not flood it.
    return text if len(text) <= limit else text[:limit] + "..."


def _all_failed(message_ids: Sequence[str], reason: str) -> BatchOutcome:
    return BatchOutcome(failed_ids=frozenset(message_ids), all_failed=True, reason=reason)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
