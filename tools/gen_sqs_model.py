"""Generate ``src/ekiden/protocols/sqs/model.json``: the SQS service model ekiden serves.

Why a merged model
------------------
The SQS model in current botocore (``botocore/data/sqs/2012-11-05/service-2.json.gz``,
protocol ``json``) has every operation and the newest members (for example
``ReceiveMessage.MessageSystemAttributeNames``), but it lost the traits of the legacy
Query/XML protocol: ``locationName`` (``Attribute.N.Name``, ``<Message>``),
``flattened``, ``resultWrapper``, ``xmlNamespace`` and the error ``code`` /
``httpStatusCode`` / ``senderFault``. botocore 1.29.165 is the last release whose SQS model
says ``"protocol": "query"`` and carries all of them. ekiden serves both protocols from one
model, so this script merges the two:

* operations and shapes come from the NEW model, with every ``documentation`` key dropped;
* Query traits are copied from the OLD model wherever the same shape / member exists there:
  shape-level ``locationName``/``flattened``/``xmlNamespace``/``error``, member-level
  ``locationName``/``flattened``/``xmlNamespace``, list ``member`` and map ``key``/``value``
  ``locationName``, and each operation output's ``resultWrapper``;
* where the NEW model has something the OLD one lacks, the Query traits are derived the way
  real SQS defines them. The authority is the ``xmlName``/``xmlFlattened``/``awsQueryError``
  traits of the current SQS Smithy model (aws/api-models-aws, ``sqs``), which the AWS SDKs
  generate from; the tables below restate the few values this model needs. Any new-only
  member that no rule covers makes the script fail instead of guessing.
* ``metadata`` is the NEW model's, plus ``xmlNamespace`` and an ``ekidenGenerated`` note of
  the two botocore versions used.

Every exception shape gets an explicit ``error`` trait (code, HTTP status, sender fault),
so the error catalogs can read the model uniformly. Where the OLD model and the Smithy
table both define a code they must agree, or the script fails.

The output is JSON with ``indent=1`` and sorted keys, except that the members of a
structure keep the model's declaration order: it is the element order of Query XML
responses (``<StringValue>`` before ``<DataType>``, as real SQS writes it).

How to regenerate
-----------------
::

    pip download --no-deps botocore==1.29.165 -d /tmp/dl
    .venv/bin/python tools/gen_sqs_model.py --old /tmp/dl/botocore-1.29.165-py3-none-any.whl

``--old`` accepts the wheel or an extracted ``service-2.json``; the copy vendored for the
tests, ``tests/support/query_model/sqs/2012-11-05/service-2.json``, is that same file.
The NEW model is read from the botocore installed in the running interpreter (it is a dev
dependency only: the server reads the generated file and never imports botocore).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OLD_MODEL_MEMBER = "botocore/data/sqs/2012-11-05/service-2.json"
XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/ekiden/protocols/sqs/model.json"

# Query code, HTTP status and sender fault of every SQS error, from the ``awsQueryError``
# and ``httpError`` traits of the Smithy model. Errors without ``awsQueryError`` there
# (InvalidAttributeName, InvalidAttributeValue, InvalidIdFormat, InvalidMessageContents)
# use their shape name as code and HTTP 400. All SQS errors are client (Sender) faults.
SMITHY_QUERY_ERRORS: dict[str, tuple[str, int]] = {
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "InvalidAttributeName": ("InvalidAttributeName", 400),
    "InvalidAttributeValue": ("InvalidAttributeValue", 400),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "InvalidIdFormat": ("InvalidIdFormat", 400),
    "InvalidMessageContents": ("InvalidMessageContents", 400),
    "InvalidSecurity": ("InvalidSecurity", 403),
    "KmsAccessDenied": ("KMS.AccessDeniedException", 400),
    "KmsDisabled": ("KMS.DisabledException", 400),
    "KmsInvalidKeyUsage": ("KMS.InvalidKeyUsageException", 400),
    "KmsInvalidState": ("KMS.InvalidStateException", 400),
    "KmsNotFound": ("KMS.NotFoundException", 400),
    "KmsOptInRequired": ("KMS.OptInRequired", 403),
    "KmsThrottled": ("KMS.ThrottlingException", 400),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "OverLimit": ("OverLimit", 403),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
    "RequestThrottled": ("RequestThrottled", 403),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
}

# Query element names of flattened-list members that only the NEW model has, keyed by
# (structure, member). Smithy gives ReceiveMessageRequest.MessageSystemAttributeNames
# ``@xmlName("AttributeName") @xmlFlattened``: the SAME Query name as the deprecated
# AttributeNames, so a Query client sends both as ``AttributeName.N``.
NEW_LIST_ELEMENT_NAMES: dict[tuple[str, str], str] = {
    ("ReceiveMessageRequest", "MessageSystemAttributeNames"): "AttributeName",
}

SHAPE_TRAITS = ("locationName", "flattened", "xmlNamespace")
MEMBER_TRAITS = ("locationName", "flattened", "xmlNamespace")


def strip_documentation(node: Any) -> Any:
    """Return ``node`` with every ``documentation`` key removed, recursively."""
    if isinstance(node, dict):
        return {k: strip_documentation(v) for k, v in node.items() if k != "documentation"}
    if isinstance(node, list):
        return [strip_documentation(v) for v in node]
    return node


def load_new_model() -> tuple[dict[str, Any], str]:
    """The SQS model of the installed botocore, and botocore's version."""
    import botocore

    path = Path(botocore.__file__).parent / "data/sqs/2012-11-05/service-2.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        model: dict[str, Any] = json.load(fh)
    return model, str(botocore.__version__)


def load_old_model(path: Path) -> tuple[dict[str, Any], str]:
    """The SQS model of the old, Query-protocol botocore: a wheel or a service-2.json."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            model: dict[str, Any] = json.loads(zf.read(OLD_MODEL_MEMBER))
        version = path.name.split("-")[1]
    else:
        model = json.loads(path.read_text(encoding="utf-8"))
        version = "unknown"
    if model["metadata"].get("protocol") != "query":
        raise SystemExit(f"{path}: the old model must use the query protocol")
    return model, version


def _copy_traits(dst: dict[str, Any], src: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in src:
            dst[name] = src[name]


def _derive_new_member(
    struct_name: str, member_name: str, ref: dict[str, Any], shapes: dict[str, Any]
) -> str | None:
    """Give a member that only the NEW model has its Query traits; return a report line."""
    target = shapes[ref["shape"]]
    kind = target["type"]
    if kind == "list":
        flattened = bool(ref.get("flattened") or target.get("flattened"))
        if not flattened:
            raise SystemExit(f"{struct_name}.{member_name}: no rule for a non-flattened list")
        if "locationName" in target["member"] or "locationName" in ref:
            return None
        element = NEW_LIST_ELEMENT_NAMES.get((struct_name, member_name))
        if element is None:
            raise SystemExit(f"{struct_name}.{member_name}: add its Query element name")
        target["member"]["locationName"] = element
        return f"{struct_name}.{member_name}: flattened list of {element}.N"
    if kind == "map":
        raise SystemExit(f"{struct_name}.{member_name}: no rule for a new map member")
    return None  # scalars and structures use the member name itself


def _error_trait(name: str, old_shape: dict[str, Any] | None) -> dict[str, Any]:
    smithy = SMITHY_QUERY_ERRORS.get(name)
    old_error = (old_shape or {}).get("error")
    if old_error is not None:
        if smithy is not None and (smithy[0], smithy[1]) != (
            old_error["code"],
            old_error["httpStatusCode"],
        ):
            raise SystemExit(f"{name}: old model {old_error} disagrees with Smithy {smithy}")
        return dict(old_error)
    if smithy is None:
        raise SystemExit(f"{name}: no Query error code known; add it to SMITHY_QUERY_ERRORS")
    return {"code": smithy[0], "httpStatusCode": smithy[1], "senderFault": True}


def merge(new: dict[str, Any], old: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Merge the two models as the module docstring describes; return it and a report."""
    new = strip_documentation(new)
    old = strip_documentation(old)
    old_shapes: dict[str, Any] = old["shapes"]
    shapes: dict[str, Any] = new["shapes"]
    report: list[str] = []

    for name, shape in shapes.items():
        old_shape = old_shapes.get(name)
        if old_shape is not None:
            _copy_traits(shape, old_shape, SHAPE_TRAITS)
            for part in ("member", "key", "value"):
                if part in shape and part in old_shape:
                    _copy_traits(shape[part], old_shape[part], ("locationName",))
        if shape.get("exception"):
            shape["error"] = _error_trait(name, old_shape)
    for name, shape in shapes.items():
        if shape["type"] != "structure" or shape.get("exception"):
            continue
        old_members: dict[str, Any] = (old_shapes.get(name) or {}).get("members", {})
        for member_name, ref in shape["members"].items():
            if member_name in old_members:
                _copy_traits(ref, old_members[member_name], MEMBER_TRAITS)
            else:
                line = _derive_new_member(name, member_name, ref, shapes)
                report.append(line or f"{name}.{member_name}: new, Query name = {member_name}")

    for op_name, op in new["operations"].items():
        output = op.get("output")
        if output is None:
            continue
        old_output = old["operations"].get(op_name, {}).get("output", {})
        output["resultWrapper"] = old_output.get("resultWrapper", f"{op_name}Result")
        if op_name not in old["operations"]:
            report.append(f"{op_name}: new operation, result wrapper {output['resultWrapper']}")

    new["metadata"]["xmlNamespace"] = old["metadata"].get("xmlNamespace", XML_NAMESPACE)
    return new, report


def _sorted_except_members(node: Any, in_members: bool = False) -> Any:
    """Sort dict keys recursively, keeping each ``members`` dict in declaration order."""
    if isinstance(node, dict):
        items: Iterator[tuple[str, Any]] = iter(node.items())
        if not in_members:
            items = iter(sorted(node.items()))
        return {k: _sorted_except_members(v, k == "members") for k, v in items}
    if isinstance(node, list):
        return [_sorted_except_members(v) for v in node]
    return node


def render(model: dict[str, Any]) -> str:
    """The model as checked-in JSON text (indent=1, sorted keys, members in model order)."""
    return json.dumps(_sorted_except_members(model), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="botocore 1.29.165 wheel/json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    new, new_version = load_new_model()
    old, old_version = load_old_model(args.old)
    merged, report = merge(new, old)
    merged["metadata"]["ekidenGenerated"] = {
        "by": "tools/gen_sqs_model.py",
        "operationsAndShapesFrom": f"botocore {new_version}",
        "queryTraitsFrom": f"botocore {old_version}",
    }
    args.out.write_text(render(merged), encoding="utf-8")
    for line in report:
        print(line)
    print(f"wrote {args.out} ({len(merged['operations'])} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
