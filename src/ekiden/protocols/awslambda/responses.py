"""Lambda REST-JSON response documents: mappings, function configurations, list pages.

Timestamps follow the model: a mapping's ``LastModified`` is a ``timestamp`` member, which
REST-JSON writes as epoch seconds (a JSON number); a function's ``LastModified`` is a
plain string that Lambda formats as ``2026-11-25T10:00:00.000+0000``.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import EventSourceMapping, FunctionSpec

LATEST: Final = "$LATEST"
RUNTIME: Final = f"python{sys.version_info.major}.{sys.version_info.minor}"
"""The ``Runtime`` shown: handlers run on the server's own interpreter."""
ARCHITECTURE: Final = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"
MAX_LOG_RESULT_BYTES: Final = 4096
"""``X-Amz-Log-Result`` carries the last 4 KB of an invocation's log."""

T = TypeVar("T")


def mapping_arn(function_arn: str, uuid: str) -> str:
    """The EventSourceMappingArn: region and account of the function's ARN."""
    prefix = function_arn.split(":function:", 1)[0]
    return f"{prefix}:event-source-mapping:{uuid}"


def encode_mapping(
    mapping: EventSourceMapping, function_arn: str, state: str | None = None
) -> dict[str, Any]:
    """An EventSourceMappingConfiguration. ``state`` overrides ``State`` (Create answers
    ``Creating``, Update ``Updating``, Delete ``Deleting``, as Lambda does)."""
    document: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.maximum_batching_window_s,
        "EventSourceArn": mapping.event_source_arn,
    }
    if mapping.filter_patterns:
        document["FilterCriteria"] = {
            "Filters": [{"Pattern": pattern} for pattern in mapping.filter_patterns]
        }
    document.update(
        FunctionArn=function_arn,
        LastModified=mapping.last_modified_ms / 1000,
        State=state or mapping.state,
        StateTransitionReason="USER_INITIATED",
        FunctionResponseTypes=list(mapping.function_response_types),
    )
    if mapping.maximum_concurrency is not None:
        document["ScalingConfig"] = {"MaximumConcurrency": mapping.maximum_concurrency}
    document["EventSourceMappingArn"] = mapping_arn(function_arn, mapping.uuid)
    return document


def lambda_timestamp(epoch_ms: int) -> str:
    """Lambda's string timestamp: ``2026-11-25T10:00:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}+0000"


def code_identity(spec: FunctionSpec) -> tuple[str, int]:
    """``CodeSha256`` and ``CodeSize`` of a function: ekiden runs code from a directory,
    not a package, so these describe the declaration (code dir and handler), which
    changes exactly when the function is redeclared elsewhere."""
    descriptor = f"{spec.code}\0{spec.handler}".encode()
    return base64.b64encode(hashlib.sha256(descriptor).digest()).decode(), len(descriptor)


def encode_configuration(
    spec: FunctionSpec, function_arn: str, last_modified_ms: int
) -> dict[str, Any]:
    """A FunctionConfiguration (GetFunctionConfiguration, ListFunctions items)."""
    sha256, size = code_identity(spec)
    document: dict[str, Any] = {
        "FunctionName": spec.name,
        "FunctionArn": function_arn,
        "Runtime": RUNTIME,
        "Handler": spec.handler,
        "CodeSize": size,
        "Description": spec.description,
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "LastModified": lambda_timestamp(last_modified_ms),
        "CodeSha256": sha256,
        "Version": LATEST,
    }
    if spec.environment:
        document["Environment"] = {"Variables": dict(spec.environment)}
    if spec.on_failure_queue is not None and spec.on_failure_queue.startswith("arn:"):
        document["DeadLetterConfig"] = {"TargetArn": spec.on_failure_queue}
    document.update(
        State="Active",
        LastUpdateStatus="Successful",
        PackageType="Zip",
        Architectures=[ARCHITECTURE],
    )
    return document


def encode_get_function(
    spec: FunctionSpec, function_arn: str, last_modified_ms: int
) -> dict[str, Any]:
    """A GetFunctionResponse: the configuration, where the code is, reserved concurrency."""
    document: dict[str, Any] = {
        "Configuration": encode_configuration(spec, function_arn, last_modified_ms),
        "Code": {"RepositoryType": "ekiden", "Location": spec.code},
    }
    if spec.reserved_concurrency is not None:
        document["Concurrency"] = {"ReservedConcurrentExecutions": spec.reserved_concurrency}
    return document


def page(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, limit: int
) -> tuple[list[T], str | None]:
    """One page of ``items`` (ordered by ``key``) after ``marker`` and the NextMarker.

    A marker is the key of the last item of the previous page, so paging survives items
    added or deleted between calls. An empty marker means the first page (aws-cli's
    paginator may send one).
    """
    ordered = sorted(items, key=key)
    if marker:
        if not _is_key_like(marker):
            raise InvalidParameterValue(f"Invalid marker: {marker}")
        ordered = [item for item in ordered if key(item) > marker]
    chosen = ordered[:limit]
    next_marker = key(chosen[-1]) if len(ordered) > limit else None
    return chosen, next_marker


def _is_key_like(marker: str) -> bool:
    # keys are function names and UUIDs: [A-Za-z0-9_-]
    return len(marker) <= 256 and all(c.isascii() and (c.isalnum() or c in "-_") for c in marker)


def log_result(log_tail: str) -> str:
    """``X-Amz-Log-Result``: base64 of the last 4 KB of the log."""
    raw = log_tail.encode()[-MAX_LOG_RESULT_BYTES:]
    return base64.b64encode(raw).decode("ascii")
