"""The botocore model type a request-shape member's Python annotation stands for, so the
shape tests of each front end can compare their dataclasses with the service model."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin

_MODEL_TYPE = {str: "string", int: "integer", bool: "boolean", bytes: "blob"}


def model_type_of(kind: Any) -> str:
    """``string``, ``integer``, ``boolean``, ``blob``, ``list``, ``map`` or ``structure``."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(kind) if a is not type(None)]
        return model_type_of(inner)
    if origin is list:
        return "list"
    if origin is dict:
        return "map"
    if dataclasses.is_dataclass(kind):
        return "structure"
    return _MODEL_TYPE[kind]
