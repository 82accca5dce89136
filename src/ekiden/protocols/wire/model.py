"""A small typed view of an AWS service model (the botocore ``service-2.json`` format).

ekiden ships its own generated model file (``ekiden/protocols/sqs/model.json``, made by
``tools/gen_sqs_model.py``) and reads it with this module, so the server never imports
botocore. Only what the codecs need is modelled: operations with their input/output
shapes and result wrapper, and shapes with their type, members and Query/XML traits.

Member references are *resolved* the way botocore resolves them: the traits written on
the reference (``locationName``, ``flattened``) override the same traits on the target
shape, so ``TagQueueRequest.Tags`` inherits ``locationName: "Tag"`` from ``TagMap``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ekiden.core.errors import UnknownOperation

__all__ = [
    "ErrorTrait",
    "MemberRef",
    "Operation",
    "ServiceModel",
    "Shape",
    "load_service_model",
    "sqs_model",
]


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A reference to a shape from a structure member, list member or map key/value.

    ``location_name`` and ``flattened`` are the effective traits: the reference's own,
    else the target shape's (``None`` / ``False`` when neither sets them).
    """

    shape: str
    location_name: str | None
    flattened: bool


@dataclass(frozen=True, slots=True)
class ErrorTrait:
    """The Query-protocol identity of an exception shape."""

    code: str
    http_status: int
    sender_fault: bool


@dataclass(frozen=True, slots=True)
class Shape:
    """One named shape. Fields that do not apply to ``type`` are empty / ``None``."""

    name: str
    type: str
    members: Mapping[str, MemberRef]
    required: frozenset[str]
    member: MemberRef | None
    key: MemberRef | None
    value: MemberRef | None
    flattened: bool
    location_name: str | None
    enum: tuple[str, ...]
    exception: bool
    error: ErrorTrait | None


@dataclass(frozen=True, slots=True)
class Operation:
    """One API action. ``result_wrapper`` names the ``<XResult>`` element of Query XML."""

    name: str
    input_shape: str | None
    output_shape: str | None
    result_wrapper: str | None
    errors: tuple[str, ...]


class ServiceModel:
    """An immutable, typed view of one service model.

    Instances hash by identity, so codecs may cache compiled per-shape plans keyed by
    ``(model, shape name)``.
    """

    __slots__ = ("_operations", "_shapes", "api_version", "metadata", "xml_namespace")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Build the view from a parsed ``service-2.json`` document.

        Raises ``KeyError``/``ValueError`` when the document is not a service model or a
        reference names a shape that does not exist.
        """
        raw_shapes: Mapping[str, Any] = raw["shapes"]
        self.metadata: Mapping[str, Any] = MappingProxyType(dict(raw["metadata"]))
        self.api_version: str = str(self.metadata["apiVersion"])
        self.xml_namespace: str = str(self.metadata.get("xmlNamespace", ""))
        self._shapes: Mapping[str, Shape] = MappingProxyType(
            {name: _build_shape(name, spec, raw_shapes) for name, spec in raw_shapes.items()}
        )
        self._operations: Mapping[str, Operation] = MappingProxyType(
            {name: _build_operation(name, spec) for name, spec in raw["operations"].items()}
        )
        for op in self._operations.values():
            for shape_name in (op.input_shape, op.output_shape, *op.errors):
                if shape_name is not None and shape_name not in self._shapes:
                    raise ValueError(f"{op.name} references unknown shape {shape_name}")

    @property
    def operation_names(self) -> tuple[str, ...]:
        """Every operation name, sorted."""
        return tuple(sorted(self._operations))

    @property
    def shape_names(self) -> tuple[str, ...]:
        """Every shape name, sorted."""
        return tuple(sorted(self._shapes))

    def has_operation(self, name: str) -> bool:
        """Whether ``name`` is an operation of this service (case-sensitive)."""
        return name in self._operations

    def operation(self, name: str) -> Operation:
        """The operation called ``name``; raises ``UnknownOperation`` if there is none."""
        try:
            return self._operations[name]
        except KeyError:
            raise UnknownOperation(
                f"The action {name} is not valid for this web service."
            ) from None

    def shape(self, name: str) -> Shape:
        """The shape called ``name``; raises ``KeyError`` if there is none."""
        return self._shapes[name]

    def input_shape(self, operation: str) -> Shape | None:
        """The input structure of ``operation`` (``None`` if it takes no input)."""
        name = self.operation(operation).input_shape
        return None if name is None else self._shapes[name]

    def output_shape(self, operation: str) -> Shape | None:
        """The output structure of ``operation`` (``None`` if it returns nothing)."""
        name = self.operation(operation).output_shape
        return None if name is None else self._shapes[name]

    def error_shapes(self) -> tuple[Shape, ...]:
        """Every exception shape, sorted by name."""
        return tuple(s for _, s in sorted(self._shapes.items()) if s.exception)


def _ref(spec: Mapping[str, Any], raw_shapes: Mapping[str, Any]) -> MemberRef:
    target = raw_shapes[spec["shape"]]
    location_name = spec.get("locationName", target.get("locationName"))
    flattened = spec.get("flattened", target.get("flattened", False))
    return MemberRef(spec["shape"], location_name, bool(flattened))


def _build_shape(name: str, spec: Mapping[str, Any], raw_shapes: Mapping[str, Any]) -> Shape:
    members = MappingProxyType(
        {m: _ref(ref, raw_shapes) for m, ref in spec.get("members", {}).items()}
    )
    error_spec = spec.get("error")
    error = None
    if error_spec is not None:
        error = ErrorTrait(
            code=str(error_spec.get("code", name)),
            http_status=int(error_spec.get("httpStatusCode", 400)),
            sender_fault=bool(error_spec.get("senderFault", False)),
        )
    return Shape(
        name=name,
        type=str(spec["type"]),
        members=members,
        required=frozenset(spec.get("required", ())),
        member=_ref(spec["member"], raw_shapes) if "member" in spec else None,
        key=_ref(spec["key"], raw_shapes) if "key" in spec else None,
        value=_ref(spec["value"], raw_shapes) if "value" in spec else None,
        flattened=bool(spec.get("flattened", False)),
        location_name=spec.get("locationName"),
        enum=tuple(spec.get("enum", ())),
        exception=bool(spec.get("exception", False)),
        error=error,
    )


def _build_operation(name: str, spec: Mapping[str, Any]) -> Operation:
    input_spec = spec.get("input")
    output_spec = spec.get("output")
    return Operation(
        name=name,
        input_shape=None if input_spec is None else input_spec["shape"],
        output_shape=None if output_spec is None else output_spec["shape"],
        result_wrapper=None if output_spec is None else output_spec.get("resultWrapper"),
        errors=tuple(e["shape"] for e in spec.get("errors", ())),
    )


@functools.cache
def load_service_model(package: str, resource: str = "model.json") -> ServiceModel:
    """Load ``resource`` from ``package`` (via importlib.resources) once per process."""
    text = importlib.resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    return ServiceModel(json.loads(text))


def sqs_model() -> ServiceModel:
    """The SQS model ekiden serves (``ekiden/protocols/sqs/model.json``), loaded once."""
    return load_service_model("ekiden.protocols.sqs")
