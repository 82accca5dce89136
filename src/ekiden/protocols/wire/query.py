"""Decoding of AWS Query-protocol requests into JSON-protocol-shaped dicts.

A Query request is a flat form (``Action=SendMessage&QueueUrl=...&MessageAttribute.1.Name=
...``). :func:`decode_query` turns it into exactly the dict the AWS JSON 1.0 protocol body
of the same call would hold, guided by the operation's input shape, so one handler serves
both protocols. The naming rules are botocore's ``QuerySerializer`` rules, read backwards:

* a structure member is keyed by its ``locationName`` (else its member name), nested
  members are joined with ``.``;
* a flattened list repeats ``<name>.N``, where ``name`` is the list member's
  ``locationName`` if it has one (``AttributeNames`` -> ``AttributeName.1``), else the
  member's own key; a non-flattened list uses ``<key>.member.N``;
* a flattened map repeats ``<key>.N.<K>`` / ``<key>.N.<V>`` with the key/value
  ``locationName`` (``Attribute.1.Name`` / ``Attribute.1.Value``), else ``key``/``value``;
  a non-flattened map inserts ``.entry`` before ``.N``;
* an empty list is sent as the bare member key with an empty value (``AttributeNames=``).

When two members claim the same Query name (SQS's ``AttributeNames`` and
``MessageSystemAttributeNames`` are both ``AttributeName.N``), the first member declared in
the shape receives the values.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from ekiden.core.errors import InvalidParameterValue, MalformedRequest, MissingParameter
from ekiden.protocols.wire.model import MemberRef, ServiceModel

__all__ = ["decode_query", "parse_form"]

_PLUS, _PERCENT, _BACKSLASH = ord("+"), ord("%"), ord("\\")
_MAX_INDEX_DIGITS = 9  # list and map entries are numbered 1..N; nothing needs more
_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")  # longer is no 64-bit number anyway
_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def parse_form(body: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body or a URL query string.

    Pairs are separated by ``&``; ``+`` means a space; percent escapes are decoded and the
    result read as UTF-8 (raw non-ASCII UTF-8 bytes are accepted too). A pair without
    ``=`` and a pair with an empty value both yield ``""`` (blank values are kept); empty
    pairs (``&&``) are skipped. When a key repeats, the last value wins. Raises
    ``MalformedRequest`` for a malformed percent escape (``%`` not followed by two hex
    digits) or bytes that are not valid UTF-8 (raw or percent-encoded).
    """
    out: dict[str, str] = {}
    try:
        for pair in body.split(b"&"):
            if not pair:
                continue
            key, _, value = pair.partition(b"=")
            out[_unquote(key)] = _unquote(value)
    except UnicodeDecodeError:
        raise MalformedRequest("The request body is not valid UTF-8.") from None
    except ValueError:
        raise MalformedRequest("The request body contains an invalid percent-encoding.") from None
    return out


def _unquote(raw: bytes) -> str:
    """Form-decode one key or value; ``ValueError`` for bad escapes or bad UTF-8.

    Percent escapes are decoded in C by rewriting ``%XX`` as ``\\xXX`` (after doubling
    every backslash, so nothing else is an escape) for ``codecs.escape_decode``; that is
    ~20x faster than ``urllib.parse.unquote`` on large, mostly-escaped message bodies.
    A ``%`` not followed by two hex digits makes ``escape_decode`` raise ``ValueError``.
    """
    # Membership tests use byte values: ``0x2B in raw`` is ~8x faster than ``b"+" in raw``.
    if _PLUS in raw:
        raw = raw.replace(b"+", b" ")
    if _PERCENT in raw:
        if _BACKSLASH in raw:
            raw = raw.replace(b"\\", b"\\\\")
        raw = codecs.escape_decode(raw.replace(b"%", b"\\x"))[0]
    return raw.decode("utf-8")


def decode_query(model: ServiceModel, operation: str, params: Mapping[str, str]) -> dict[str, Any]:
    """Decode Query parameters into the JSON-protocol dict of ``operation``'s input.

    Parameters the input shape does not name (``Action``, ``Version``, signature fields,
    misspellings) are ignored, as AWS ignores them. Scalars are converted by shape type:
    ``integer``/``long`` to ``int``, ``boolean`` (``true``/``false``, any case) to
    ``bool``, ``float``/``double`` to ``float``; strings, blobs (still base64, as in JSON)
    and timestamps stay ``str``. List entries are ordered by their index number, which
    need not be contiguous. Required members are not checked here.

    Raises ``UnknownOperation`` for an operation the model lacks, ``InvalidParameterValue``
    for a scalar that does not convert, ``MissingParameter`` for a map entry without its
    key or value.
    """
    shape_name = model.operation(operation).input_shape
    if shape_name is None:
        return {}
    decode, top_names = _struct_decoder(model, shape_name)
    root: _Node = {}
    for key, value in params.items():
        parts = key.split(".")
        if parts[0] not in top_names:
            continue
        node = root
        for part in parts:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node[None] = value
    result: dict[str, Any] = decode(root, "")
    return result


# The parameters as a tree of dotted-key segments: a node maps each next segment to its
# node, and None to the value sent for exactly the key that ends here (if one was).
_Node = dict[str | None, Any]
# A decoder returns the decoded value of a node, or _ABSENT when nothing usable was sent.
_ABSENT: Any = object()
_Decoder = Callable[[_Node, str], Any]


@functools.cache
def _struct_decoder(
    model: ServiceModel, shape_name: str
) -> tuple[Callable[[_Node, str], dict[str, Any]], frozenset[str]]:
    """Compile the decoder of a structure; also return the Query names it reads first."""
    shape = model.shape(shape_name)
    plan: list[tuple[str, str, _Decoder]] = []
    claimed: set[str] = set()
    for member_name, ref in shape.members.items():
        key = ref.location_name or member_name
        target = model.shape(ref.shape)
        if target.type == "list" and target.member is not None:
            # botocore sends an empty list as the member's own key with an empty value.
            element = target.member.location_name
            name = element if ref.flattened and element else key
            if key != name and key not in claimed:
                claimed.add(key)
                plan.append((key, member_name, _empty_list))
        else:
            name = key
        if name in claimed:
            continue  # an earlier member already owns this Query name
        claimed.add(name)
        plan.append((name, member_name, _member_decoder(model, ref)))
    frozen_plan = tuple(plan)

    def decode(node: _Node, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        get = node.get
        for name, member_name, member_decode in frozen_plan:
            child = get(name)
            if child is not None:
                value = member_decode(child, path + name)
                if value is not _ABSENT:
                    out[member_name] = value
        return out

    return decode, frozenset(claimed)


def _empty_list(node: _Node, path: str) -> Any:
    if len(node) == 1 and node.get(None) == "":
        return []
    return _ABSENT


def _member_decoder(model: ServiceModel, ref: MemberRef) -> _Decoder:
    """The decoder of a value of ``ref``'s shape, found at the node of its Query name."""
    target = model.shape(ref.shape)
    kind = target.type
    if kind == "structure":
        decode_struct = _struct_decoder(model, target.name)[0]

        def decode_structure(node: _Node, path: str) -> Any:
            return decode_struct(node, path + ".")

        return decode_structure
    if kind == "list":
        assert target.member is not None
        element = _member_decoder(model, target.member)
        if ref.flattened:
            return _list_decoder(element, None)
        return _list_decoder(element, target.member.location_name or "member")
    if kind == "map":
        assert target.key is not None and target.value is not None
        return _map_decoder(
            _member_decoder(model, target.key),
            target.key.location_name or "key",
            _member_decoder(model, target.value),
            target.value.location_name or "value",
            None if ref.flattened else "entry",
        )
    return _scalar_decoder(kind)


def _indexed(node: _Node, wrapper: str | None) -> list[tuple[str, _Node]]:
    """The ``.N`` children of ``node`` (below ``wrapper`` if given), ordered by N."""
    if wrapper is not None:
        inner = node.get(wrapper)
        if inner is None:
            return []
        node = inner
    numbered = [
        (k, c)
        for k, c in node.items()
        if k is not None and k.isdigit() and k.isascii() and len(k) <= _MAX_INDEX_DIGITS
    ]
    if len(numbered) > 1:
        numbered.sort(key=_index_order)
    return numbered


def _index_order(item: tuple[str, _Node]) -> tuple[int, str]:
    return int(item[0]), item[0]


def _list_decoder(element: _Decoder, wrapper: str | None) -> _Decoder:
    def decode_list(node: _Node, path: str) -> Any:
        if len(node) == 1 and None in node:
            return [] if node[None] == "" else _ABSENT
        prefix = path + "." if wrapper is None else f"{path}.{wrapper}."
        out = []
        for index, child in _indexed(node, wrapper):
            value = element(child, prefix + index)
            if value is not _ABSENT:
                out.append(value)
        return out

    return decode_list


def _map_decoder(
    key_decode: _Decoder,
    key_name: str,
    value_decode: _Decoder,
    value_name: str,
    wrapper: str | None,
) -> _Decoder:
    def decode_map(node: _Node, path: str) -> Any:
        entries = _indexed(node, wrapper)
        if not entries:
            return _ABSENT
        prefix = path + "." if wrapper is None else f"{path}.{wrapper}."
        out: dict[Any, Any] = {}
        for index, entry in entries:
            entry_path = prefix + index + "."
            key_node = entry.get(key_name)
            key = _ABSENT if key_node is None else key_decode(key_node, entry_path + key_name)
            if key is _ABSENT:
                raise MissingParameter(
                    f"The request must contain the parameter {entry_path}{key_name}."
                )
            value_node = entry.get(value_name)
            value = (
                _ABSENT if value_node is None else value_decode(value_node, entry_path + value_name)
            )
            if value is _ABSENT:
                raise MissingParameter(
                    f"The request must contain the parameter {entry_path}{value_name}."
                )
            out[key] = value
        return out

    return decode_map


def _invalid(path: str, text: str, reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Value {text} for parameter {path} is invalid. Reason: {reason}")


def _scalar_decoder(kind: str) -> _Decoder:
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]

        def decode_int(node: _Node, path: str) -> Any:
            text = node.get(None)
            if text is None:
                return _ABSENT
            if _INTEGER.fullmatch(text) is None:
                raise _invalid(path, text, "Must be an integer.")
            number = int(text)
            if not low <= number <= high:
                raise _invalid(path, text, f"Must be between {low} and {high}.")
            return number

        return decode_int
    if kind == "boolean":

        def decode_bool(node: _Node, path: str) -> Any:
            text = node.get(None)
            if text is None:
                return _ABSENT
            lowered = text.lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
            raise _invalid(path, text, "Must be true or false.")

        return decode_bool
    if kind in ("float", "double"):

        def decode_float(node: _Node, path: str) -> Any:
            text = node.get(None)
            if text is None:
                return _ABSENT
            try:
                return float(text)
            except ValueError:
                raise _invalid(path, text, "Must be a number.") from None

        return decode_float
    return _decode_text  # string, blob (base64 text), timestamp, character


def _decode_text(node: _Node, path: str) -> Any:
    value = node.get(None)
    return _ABSENT if value is None else value
