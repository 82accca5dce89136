"""Hypothesis strategies that build request parameters from an AWS service model.

``params_for(model, operation)`` draws a JSON-protocol parameter dict for ``operation``
that is *valid-ish*: usually the right members with values of the right type, but any
member may be missing, of a wrong type, huge, full of odd unicode, or replaced by nested
junk, and unknown members may be added. ``to_form`` spells such a dict as Query-protocol
form fields following botocore's ``QuerySerializer`` rules (``locationName``,
``flattened`` lists and maps), so the same draw exercises both SQS codecs.

Nothing here knows one action from another: the model is the only source of shapes, so a
new operation in the model is fuzzed without a change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ekiden.protocols.wire.model import MemberRef, ServiceModel

__all__ = ["junk", "odd_text", "params_for", "to_form"]

# Text that parsers find hard: control characters, surrogates (invalid in UTF-8), the XML
# specials, non-BMP characters, escapes that look like Query or JSON syntax.
_NASTY = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "\ufffe",
    "\U0001f600",
    "<>&'\"",
    "%",
    "%zz",
    "%00",
    "&=&=",
    "a.1.b",
    "\\u0000",
    "null",
    "true",
    "-0",
    "1e999",
    "NaN",
    "x" * 300,
]

odd_text: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)

_huge_int = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 1, 10, 11, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1]),
)

junk: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        _huge_int,
        st.floats(allow_nan=False, allow_infinity=False),
        odd_text,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)
    ),
    max_leaves=12,
)

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "integer": _huge_int,
    "long": _huge_int,
    "boolean": st.booleans(),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "blob": st.one_of(st.sampled_from(["", "aGVsbG8=", "!!!", "aGVsbG8"]), odd_text),
    "timestamp": st.one_of(st.integers(0, 2**40), odd_text),
}


def _value(
    model: ServiceModel, ref: MemberRef, depth: int, strings: Sequence[str]
) -> st.SearchStrategy[Any]:
    """A value of ``ref``'s shape: mostly well-typed, sometimes junk."""
    shape = model.shape(ref.shape)
    if depth > 5:
        return junk
    right: st.SearchStrategy[Any]
    if shape.type == "structure":
        right = _structure(model, shape.name, depth + 1, strings)
    elif shape.type == "list" and shape.member is not None:
        right = st.lists(_value(model, shape.member, depth + 1, strings), max_size=12)
    elif shape.type == "map" and shape.key is not None and shape.value is not None:
        key_enum = model.shape(shape.key.shape).enum
        keys = st.one_of(st.sampled_from(key_enum), odd_text) if key_enum else odd_text
        right = st.dictionaries(
            keys,  # JSON object keys are strings, whatever the model says
            _value(model, shape.value, depth + 1, strings),
            max_size=4,
        )
    elif shape.type == "string":
        choices = [*shape.enum, *strings]
        right = st.one_of(st.sampled_from(choices), odd_text) if choices else odd_text
    else:
        right = _SCALARS.get(shape.type, junk)
    # Four in five values have the right type, so requests get past the first check often.
    return st.one_of(right, right, right, right, junk)


def _structure(
    model: ServiceModel, shape_name: str, depth: int, strings: Sequence[str]
) -> st.SearchStrategy[dict[str, Any]]:
    shape = model.shape(shape_name)
    members = {name: _value(model, ref, depth, strings) for name, ref in shape.members.items()}
    known = st.fixed_dictionaries({}, optional=members)
    extra = st.dictionaries(odd_text, junk, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, st.one_of(st.just({}), extra))


def params_for(
    model: ServiceModel, operation: str, strings: Sequence[str] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON-protocol parameters of ``operation`` (see the module docstring); string
    members are sometimes drawn from ``strings`` (real queue URLs, receipt handles)."""
    shape_name = model.operation(operation).input_shape
    if shape_name is None:
        return st.dictionaries(odd_text, junk, max_size=3)
    return _structure(model, shape_name, 0, strings)


def _scalar_text(value: Any) -> str:
    """A form value; lone surrogates become U+FFFD, as no UTF-8 form can carry them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).encode("utf-8", "replace").decode("utf-8")


def to_form(model: ServiceModel, operation: str, params: dict[str, Any]) -> dict[str, str]:
    """``params`` as Query form fields (with ``Action``). Values of a wrong type are
    spelled with ``str`` where a scalar goes, and left out where a list or map goes."""
    form = {"Action": operation}
    shape_name = model.operation(operation).input_shape
    if shape_name is not None:
        _flatten_struct(model, shape_name, params, "", form)
    return form


def _flatten_struct(
    model: ServiceModel, shape_name: str, value: Any, prefix: str, form: dict[str, str]
) -> None:
    shape = model.shape(shape_name)
    if not isinstance(value, dict):
        form[prefix.rstrip(".") or "Junk"] = _scalar_text(value)
        return
    for name, item in value.items():
        ref = shape.members.get(name)
        if ref is None:  # an unknown member: sent under its own name, as a scalar
            form[_scalar_text(prefix + str(name))] = _scalar_text(item)
            continue
        _flatten(model, ref, item, prefix + (ref.location_name or name), form)


def _flatten(
    model: ServiceModel, ref: MemberRef, value: Any, key: str, form: dict[str, str]
) -> None:
    shape = model.shape(ref.shape)
    if shape.type == "structure":
        _flatten_struct(model, shape.name, value, key + ".", form)
    elif shape.type == "list" and shape.member is not None:
        if not isinstance(value, list):
            return
        if not value:
            form[key] = ""
        element = shape.member.location_name
        base = element if ref.flattened and element else key
        if not ref.flattened:
            base = f"{key}.{element or 'member'}"
        for i, item in enumerate(value, 1):
            _flatten(model, shape.member, item, f"{base}.{i}", form)
    elif shape.type == "map" and shape.key is not None and shape.value is not None:
        if not isinstance(value, dict):
            return
        base = key if ref.flattened else f"{key}.entry"
        key_name = shape.key.location_name or "key"
        value_name = shape.value.location_name or "value"
        for i, (k, v) in enumerate(value.items(), 1):
            _flatten(model, shape.key, k, f"{base}.{i}.{key_name}", form)
            _flatten(model, shape.value, v, f"{base}.{i}.{value_name}", form)
    else:
        form[key] = _scalar_text(value)
