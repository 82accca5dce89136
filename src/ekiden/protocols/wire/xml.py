"""Encoding of JSON-shaped results and errors as AWS Query-protocol XML.

A handler returns the dict the JSON protocol would send; :func:`encode_query_response`
writes the same data as the XML document a Query client (botocore's ``QueryParser``, the
AWS SDKs of old) expects, following the output shape's traits the way real SQS does:

* a structure member becomes ``<Name>`` where ``Name`` is its ``locationName``, else the
  member name; members are written in model order and ``None``/absent ones are omitted;
* a flattened list repeats the element directly, named by the list member's
  ``locationName`` when it has one (``QueueUrls`` -> ``<QueueUrl>..</QueueUrl>`` x N);
  a non-flattened list wraps ``<member>`` (or the member's ``locationName``) elements;
* a flattened map repeats ``<Name><K>key</K><V>value</V></Name>`` with the key/value
  ``locationName`` (``<Attribute><Name/><Value/></Attribute>``), a non-flattened one
  wraps ``<entry>`` elements; an empty list or map writes nothing.

Everything is compiled once per (model, shape) into closures that append ``str`` pieces
to one list, joined once per response.

Text is escaped for XML element content: ``&``, ``<``, ``>`` become entities and ``\\r``
becomes ``&#xD;`` (a raw CR would be normalised to LF by every XML parser). Characters
outside XML 1.0 (controls other than tab/LF/CR, U+FFFE, U+FFFF, lone surrogates) cannot be
represented in XML at all; SQS never stores them (a send containing them is rejected with
``InvalidMessageContents``), so the hot path does not look for them. A lone surrogate that
slips through anyway is reported as ``InternalFailure``. Error messages, which may echo
arbitrary client input, are sanitised instead (see :func:`encode_query_error`).
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ekiden.core.errors import InternalFailure
from ekiden.protocols.wire.model import MemberRef, ServiceModel, Shape

__all__ = ["encode_query_error", "encode_query_response", "escape_text"]

XML_DECLARATION = '<?xml version="1.0"?>'
SQS_XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_Writer = Callable[[Any, list[str]], None]


def escape_text(text: str) -> str:
    """Escape ``text`` for XML element content: ``& < >`` as entities, CR as ``&#xD;``.

    The result parses back to exactly ``text`` provided ``text`` holds only XML 1.0
    characters (see the module docstring); other characters are passed through.
    """
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text


def _escape_untrusted(text: str) -> str:
    """Like :func:`escape_text`, but non-XML characters become U+FFFD first."""
    return escape_text(_NOT_XML_CHAR.sub("\ufffd", text))


def encode_query_response(
    model: ServiceModel,
    operation: str,
    result: Mapping[str, Any] | None,
    request_id: str,
) -> bytes:
    """Encode ``operation``'s JSON-shaped ``result`` as a Query XML response document.

    The document is ``<?xml version="1.0"?><{Op}Response xmlns="{namespace}">
    <{Op}Result>...</{Op}Result><ResponseMetadata><RequestId>{request_id}</RequestId>
    </ResponseMetadata></{Op}Response>`` (without the line breaks). Operations without an
    output shape get no ``<{Op}Result>`` element; an empty or ``None`` result of one with
    an output shape gets ``<{Op}Result/>``. Keys of ``result`` that the output shape does
    not define are ignored. Blobs may be given as base64 text (written as-is, as in JSON)
    or as ``bytes`` (base64-encoded here).

    Raises ``UnknownOperation`` for an operation the model lacks and ``InternalFailure``
    for text that cannot be encoded as UTF-8 (lone surrogates).
    """
    head, wrapper, content, tail = _response_plan(model, operation)
    out = [head]
    if content is not None:
        start = len(out)
        out.append(f"<{wrapper}>")
        if result:
            content(result, out)
        if len(out) == start + 1:
            out[start] = f"<{wrapper}/>"
        else:
            out.append(f"</{wrapper}>")
    out.append("<ResponseMetadata><RequestId>")
    out.append(escape_text(request_id))
    out.append(tail)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InternalFailure(f"{operation} result holds text that is not XML: {exc}") from None


def encode_query_error(
    code: str,
    message: str,
    sender_fault: bool,
    request_id: str,
    namespace: str = SQS_XML_NAMESPACE,
    *,
    detail: bool = True,
) -> bytes:
    """Encode a Query-protocol error document, as real SQS writes it.

    ``<?xml version="1.0"?><ErrorResponse xmlns="{namespace}"><Error><Type>Sender|Receiver
    </Type><Code>{code}</Code><Message>{message}</Message><Detail/></Error><RequestId>
    {request_id}</RequestId></ErrorResponse>`` (without the line breaks). ``Type`` is
    ``Sender`` when ``sender_fault`` else ``Receiver``. Characters that XML cannot carry
    are replaced by U+FFFD, so the document is always well-formed. SNS writes no
    ``<Detail/>`` (``detail=False``).
    """
    parts = (
        XML_DECLARATION,
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>',
        "Sender" if sender_fault else "Receiver",
        "</Type><Code>",
        _escape_untrusted(code),
        "</Code><Message>",
        _escape_untrusted(message),
        "</Message><Detail/></Error><RequestId>" if detail else "</Message></Error><RequestId>",
        _escape_untrusted(request_id),
        "</RequestId></ErrorResponse>",
    )
    return "".join(parts).encode("utf-8")


@functools.cache
def _response_plan(model: ServiceModel, operation: str) -> tuple[str, str, _Writer | None, str]:
    op = model.operation(operation)
    namespace = model.xml_namespace or SQS_XML_NAMESPACE
    head = f'{XML_DECLARATION}<{op.name}Response xmlns="{namespace}">'
    tail = f"</RequestId></ResponseMetadata></{op.name}Response>"
    wrapper = op.result_wrapper or f"{op.name}Result"
    content = None if op.output_shape is None else _struct_content(model, op.output_shape)
    return head, wrapper, content, tail


# Shape types whose values are written as plain text by ``_text``; writing them is
# inlined in the structure and map writers (no call per value on the common path).
_TEXT_KINDS = frozenset({"string", "character", "integer", "long"})


def _text(value: Any) -> str:
    """Escaped text of a string or integer value (other types via ``str``)."""
    text: str
    if type(value) is str:
        text = value
    elif isinstance(value, bool):
        return "true" if value else "false"
    else:
        text = str(value)
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return escape_text(text)
    return text


@functools.cache
def _struct_content(model: ServiceModel, shape_name: str) -> _Writer:
    """The writer of a structure's members (its element content, without its own tags).

    Plan entries with writer ``None`` are text scalars, written inline.
    """
    shape = model.shape(shape_name)
    plan: list[tuple[str, str, str, _Writer | None]] = []
    for member_name, ref in shape.members.items():
        tag = _xml_name(model, member_name, ref)
        if model.shape(ref.shape).type in _TEXT_KINDS:
            plan.append((member_name, f"<{tag}>", f"</{tag}>", None))
        else:
            plan.append((member_name, "", "", _element_writer(model, ref, tag)))
    frozen_plan = tuple(plan)

    def write_members(value: Any, out: list[str]) -> None:
        get = value.get
        append = out.append
        for member_name, open_tag, close_tag, write in frozen_plan:
            member = get(member_name)
            if member is None:
                continue
            if write is not None:
                write(member, out)
                continue
            if type(member) is not str:
                member = _text(member)
            elif "&" in member or "<" in member or ">" in member or "\r" in member:
                member = escape_text(member)
            append(open_tag)
            append(member)
            append(close_tag)

    return write_members


def _xml_name(model: ServiceModel, member_name: str, ref: MemberRef) -> str:
    """The element name of a structure member (botocore's ``_member_key_name``)."""
    target = model.shape(ref.shape)
    if target.type == "list" and ref.flattened and target.member is not None:
        element = target.member.location_name
        if element is not None:
            return element
    return ref.location_name or member_name


def _element_writer(model: ServiceModel, ref: MemberRef, tag: str) -> _Writer:
    """The writer of one value of ``ref``'s shape as ``<tag>..</tag>`` element(s)."""
    target = model.shape(ref.shape)
    kind = target.type
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    if kind == "structure":
        content = _struct_content(model, target.name)

        def write_structure(value: Any, out: list[str]) -> None:
            out.append(open_tag)
            content(value, out)
            out.append(close_tag)

        return write_structure
    if kind == "list":
        assert target.member is not None
        if ref.flattened:
            item = _element_writer(model, target.member, tag)

            def write_flat_list(value: Any, out: list[str]) -> None:
                for element in value:
                    item(element, out)

            return write_flat_list
        wrapped = _element_writer(model, target.member, target.member.location_name or "member")

        def write_list(value: Any, out: list[str]) -> None:
            out.append(open_tag)
            for element in value:
                wrapped(element, out)
            out.append(close_tag)

        return write_list
    if kind == "map":
        return _map_writer(model, target, ref.flattened, open_tag, close_tag)
    to_text = _SCALAR_TEXT.get(kind, _text)

    def write_scalar(value: Any, out: list[str]) -> None:
        out.append(open_tag)
        out.append(to_text(value))
        out.append(close_tag)

    return write_scalar


def _map_writer(
    model: ServiceModel, shape: Shape, flattened: bool, open_tag: str, close_tag: str
) -> _Writer:
    """The writer of a map: ``<entry><K>k</K><V>v</V></entry>`` per item, see module doc.

    Keys that are text scalars and values that are text scalars or structures (every SQS
    map) are written inline; anything else goes through the generic element writers.
    """
    assert shape.key is not None and shape.value is not None
    key_tag = shape.key.location_name or "key"
    value_tag = shape.value.location_name or "value"
    entry_open, entry_close = (open_tag, close_tag) if flattened else ("<entry>", "</entry>")
    key_type = model.shape(shape.key.shape).type
    value_shape = model.shape(shape.value.shape)
    head, middle, tail = (
        f"{entry_open}<{key_tag}>",
        f"</{key_tag}><{value_tag}>",
        f"</{value_tag}>{entry_close}",
    )
    if key_type in _TEXT_KINDS and value_shape.type in _TEXT_KINDS:

        def write_text_entries(value: Any, out: list[str]) -> None:
            append = out.append
            for key, item in value.items():
                append(head)
                append(_text(key))
                append(middle)
                if type(item) is not str:
                    item = _text(item)
                elif "&" in item or "<" in item or ">" in item or "\r" in item:
                    item = escape_text(item)
                append(item)
                append(tail)

        write_entries = write_text_entries
    elif key_type in _TEXT_KINDS and value_shape.type == "structure":
        content = _struct_content(model, value_shape.name)

        def write_struct_entries(value: Any, out: list[str]) -> None:
            append = out.append
            for key, item in value.items():
                append(head)
                append(_text(key))
                append(middle)
                content(item, out)
                append(tail)

        write_entries = write_struct_entries
    else:
        key_write = _element_writer(model, shape.key, key_tag)
        value_write = _element_writer(model, shape.value, value_tag)

        def write_any_entries(value: Any, out: list[str]) -> None:
            for key, item in value.items():
                out.append(entry_open)
                key_write(key, out)
                value_write(item, out)
                out.append(entry_close)

        write_entries = write_any_entries
    if flattened:
        return write_entries

    def write_map(value: Any, out: list[str]) -> None:
        out.append(open_tag)
        write_entries(value, out)
        out.append(close_tag)

    return write_map


def _float_text(value: Any) -> str:
    return repr(float(value))


def _boolean_text(value: Any) -> str:
    return "true" if value else "false"


def _blob_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    return _text(value)


def _timestamp_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return _text(value)


_SCALAR_TEXT: dict[str, Callable[[Any], str]] = {
    "float": _float_text,
    "double": _float_text,
    "boolean": _boolean_text,
    "blob": _blob_text,
    "timestamp": _timestamp_text,
}
