"""The one pattern matcher of ekiden: SNS subscription filter policies, Lambda event
source mapping FilterCriteria and EventBridge-style event patterns.

All three AWS services run the same engine (aws/event-ruler), so ekiden compiles all
three with one compiler and matches them with one matcher; what differs is a
:class:`PatternLimits` (sizes, key and complexity limits, number range, allowed operators,
error wording). A pattern is compiled and validated once; the compiled object is immutable
and its matching is pure (no I/O, no clock) and never raises.

Public API
----------
``compile_filter_policy(policy, *, scope="MessageAttributes", limits=SNS_LIMITS)``
    -> :class:`FilterPolicy`, with ``.matches_attributes(attributes)``,
    ``.matches_body(body)`` and ``.matches(body=..., attributes=...)`` (by its scope).
``compile_event_pattern(pattern, *, limits=EVENTBRIDGE_LIMITS)`` -> :class:`EventPattern`,
    with ``.matches(event)``.
``compile_filter_criteria(patterns, *, limits=LAMBDA_LIMITS)`` -> :class:`FilterCriteria`,
    with ``.matches(event)`` and ``.matches_sqs_record(record)``; its filters are ORed.
``PatternLimits``, ``SNS_LIMITS``, ``LAMBDA_LIMITS``, ``EVENTBRIDGE_LIMITS``.

A pattern may be given as JSON text or as an already-parsed dict. An invalid one raises
``ekiden.core.errors.InvalidParameterValue`` with the service's wording, for SNS
``Invalid parameter: FilterPolicy: <reason>`` (AWS appends a Jackson source location,
``\\n at [Source: ...; line: 1, column: N]``, which ekiden omits). For SNS Subscribe,
where AWS says ``Invalid parameter: Attributes Reason: FilterPolicy: <reason>``, pass
``dataclasses.replace(SNS_LIMITS, error_prefix="Invalid parameter: Attributes Reason: ")``.

Operators: exact strings, numbers (compared numerically: 5 matches 5.0), ``true``,
``false`` and ``null``; ``prefix``; ``suffix``; ``equals-ignore-case``; ``anything-but``
(a string, a number, a list of either, or ``{"prefix": ...}`` — plus ``suffix`` and
``equals-ignore-case`` where the service allows them); ``numeric`` (``=``, ``<``, ``<=``,
``>``, ``>=``, and ranges ``[">", 0, "<=", 5]``); ``exists`` true/false; ``cidr`` (IPv4
and IPv6); ``$or`` at any level; nested keys. Matching is typed: string operators see only
strings, numeric ones only numbers.

Building what is matched
------------------------
* SNS, MessageAttributes scope: a mapping of attribute name to an object with
  ``data_type`` and ``string_value`` (``ekiden.core.messages.AttributeValue`` fits).
  ``String`` values are strings, ``Number`` values numbers, ``String.Array`` (and
  ``Number.Array``) values are JSON arrays whose elements are matched one by one (any
  element may match); ``Binary`` attributes are ignored, as if absent.
* SNS, MessageBody scope: the published ``Message`` text. It must be a JSON object;
  anything else matches no policy (an empty policy ``{}`` matches every message).
* Lambda: the record as Lambda would hand it to the function, e.g. for SQS
  ``{"messageId": ..., "body": "<text>", "attributes": {...}, "messageAttributes": {...},
  ...}``. ``matches_sqs_record`` parses ``body`` first, as Lambda does: a body that is a
  JSON object or array is matched by nested patterns (``{"body": {"temperature":
  [{"numeric": [">", 10]}]}}``), any other body as a plain string (``{"body": [{"prefix":
  "ERROR"}]}``); a pattern of the other shape never matches (Lambda drops the record).
* EventBridge: the event envelope as a dict (``source``, ``detail-type``, ``detail``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.rules.patterns_compile import (
    EVENTBRIDGE_LIMITS,
    JSON_DECODER,
    LAMBDA_LIMITS,
    SNS_LIMITS,
    CompiledRule,
    PatternLimits,
    compile_rule,
    load_pattern,
)
from ekiden.core.rules.patterns_match import Leaves, document_leaves, rule_matches

__all__ = [
    "EVENTBRIDGE_LIMITS",
    "LAMBDA_LIMITS",
    "SNS_LIMITS",
    "EventPattern",
    "FilterCriteria",
    "FilterPolicy",
    "FilterPolicyScope",
    "MessageAttributeLike",
    "PatternLimits",
    "compile_event_pattern",
    "compile_filter_criteria",
    "compile_filter_policy",
]

FilterPolicyScope = Literal["MessageAttributes", "MessageBody"]
_SCOPES = ("MessageAttributes", "MessageBody")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ARRAY_TYPES = frozenset({"String.Array", "Number.Array"})
_NOT_PARSED = object()


class MessageAttributeLike(Protocol):
    """What matching needs of a message attribute (``AttributeValue`` provides it)."""

    @property
    def data_type(self) -> str: ...

    @property
    def string_value(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FilterPolicy:
    """A compiled SNS subscription filter policy for one scope.

    ``combinations`` is the policy's complexity as SNS counts it (see
    ``patterns_compile.compile_rule``); an empty policy ``{}`` matches everything.
    """

    scope: FilterPolicyScope
    combinations: int
    _rule: CompiledRule

    def matches_attributes(self, attributes: Mapping[str, MessageAttributeLike]) -> bool:
        """Whether message attributes satisfy the policy (MessageAttributes scope)."""
        if self._rule.match_all:
            return True
        # Attributes are flat and a String.Array is one attribute: no leaf is "inside an
        # array" for consistency purposes, so every membership is empty.
        leaves: Leaves = {}
        for name in self._rule.paths:
            attribute = attributes.get(name)
            if attribute is not None:
                values = _attribute_values(attribute)
                if values:
                    leaves[name] = [(value, ()) for value in values]
        return rule_matches(self._rule, leaves)

    def matches_body(self, body: str | Mapping[str, object]) -> bool:
        """Whether a message body satisfies the policy (MessageBody scope). ``body`` is
        the message text, or the JSON object already parsed from it; text that is not a
        JSON object matches nothing, as SNS assumes a well-formed JSON object."""
        if self._rule.match_all:
            return True
        document = _parse_json(body) if isinstance(body, str) else body
        if not isinstance(document, Mapping):
            return False
        return rule_matches(self._rule, document_leaves(document, self._rule))

    def matches(self, *, body: str, attributes: Mapping[str, MessageAttributeLike]) -> bool:
        """Whether a published message passes the policy, judged on the part of the
        message its scope names."""
        if self.scope == "MessageBody":
            return self.matches_body(body)
        return self.matches_attributes(attributes)


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A compiled EventBridge-style pattern (also one Lambda filter)."""

    combinations: int
    _rule: CompiledRule

    def matches(self, event: Mapping[str, object]) -> bool:
        """Whether the JSON-like ``event`` (dicts, lists, str, int/float/Decimal, bool,
        None) satisfies the pattern."""
        return rule_matches(self._rule, document_leaves(event, self._rule))

    @property
    def _body_shape(self) -> Literal["json", "plain"] | None:
        """How the pattern reads an SQS ``body``: as a JSON document (nested keys), as a
        plain string (values of ``body`` itself), or not at all (``None`` also when it
        does both, which Lambda's documentation does not cover)."""
        plain = "body" in self._rule.paths
        nested = any(path.startswith("body.") for path in self._rule.paths)
        if plain == nested:
            return None
        return "plain" if plain else "json"


@dataclass(frozen=True, slots=True)
class FilterCriteria:
    """Compiled Lambda FilterCriteria: a record passes when any filter matches."""

    patterns: tuple[EventPattern, ...]

    def matches(self, event: Mapping[str, object]) -> bool:
        """Whether any filter matches ``event`` as given (no parsing of its fields)."""
        return any(pattern.matches(event) for pattern in self.patterns)

    def matches_sqs_record(self, record: Mapping[str, object]) -> bool:
        """Whether an SQS record passes, parsing its ``body`` as Lambda does: a JSON
        object or array body is matched as a document, any other body as a string, and a
        filter that reads ``body`` the other way does not match (Lambda drops the record
        when the body format and the filter's format for ``body`` differ)."""
        body = record.get("body")
        parsed = _parse_json(body) if isinstance(body, str) else _NOT_PARSED
        is_json = isinstance(parsed, dict | list)
        event: Mapping[str, object] = {**record, "body": parsed} if is_json else record
        for pattern in self.patterns:
            shape = pattern._body_shape
            if (shape == "json" and not is_json) or (shape == "plain" and is_json):
                continue
            if pattern.matches(event):
                return True
        return False


def compile_filter_policy(
    policy: str | Mapping[str, object],
    *,
    scope: str = "MessageAttributes",
    limits: PatternLimits = SNS_LIMITS,
) -> FilterPolicy:
    """Validate and compile an SNS filter policy for ``scope``.

    SNS rules on top of the pattern grammar: at most 5 top-level keys, at most 150
    combinations, 256 KiB of JSON, numbers within ±1e9 (exact to six decimal places),
    ``anything-but`` may wrap only ``prefix``, and the MessageAttributes scope refuses
    nested objects. Removing a policy (an empty ``FilterPolicy`` attribute) is the
    caller's business: ``""`` is not JSON and is refused here.
    """
    if scope not in _SCOPES:
        raise InvalidParameterValue(
            f"{limits.error_prefix}FilterPolicyScope: Invalid value [{scope}]. "
            "Please use either MessageBody or MessageAttributes"
        )
    document = load_pattern(policy, limits)
    flat_only_error = None
    if scope == "MessageAttributes":
        flat_only_error = (
            f"{limits.error_prefix}Filter policy scope MessageAttributes does not support "
            "nested filter policy"
        )
    rule = compile_rule(document, limits, flat_only_error=flat_only_error)
    valid_scope: FilterPolicyScope = (
        "MessageBody" if scope == "MessageBody" else "MessageAttributes"
    )
    return FilterPolicy(valid_scope, rule.combinations, rule)


def compile_event_pattern(
    pattern: str | Mapping[str, object], *, limits: PatternLimits = EVENTBRIDGE_LIMITS
) -> EventPattern:
    """Validate and compile one event pattern (an EventBridge rule, or one Lambda filter
    when given ``LAMBDA_LIMITS``)."""
    rule = compile_rule(load_pattern(pattern, limits), limits)
    return EventPattern(rule.combinations, rule)


def compile_filter_criteria(
    patterns: Iterable[str | Mapping[str, object]], *, limits: PatternLimits = LAMBDA_LIMITS
) -> FilterCriteria:
    """Validate and compile the ``Pattern`` strings of Lambda ``FilterCriteria.Filters``.
    How many filters a mapping may have (5 by default, 10 at most) is the caller's check."""
    return FilterCriteria(tuple(compile_event_pattern(p, limits=limits) for p in patterns))


def _attribute_values(attribute: MessageAttributeLike) -> list[object]:
    """The leaves one message attribute offers: none for Binary, the elements of an array
    type, a number for Number, else the string. A value that does not parse as its type
    says (which Publish refuses) is kept as a plain string."""
    text = attribute.string_value
    data_type = attribute.data_type
    if text is None:
        return []
    if data_type == "String":
        return [text]
    if data_type in _ARRAY_TYPES:
        parsed = _parse_json(text)
        return list(_array_elements(parsed)) if isinstance(parsed, list) else [text]
    base = data_type.split(".", 1)[0]
    if base == "Binary":
        return []
    if base == "Number" and _NUMBER_TEXT.fullmatch(text):
        # An int stays exact; anything else is a double, as in event-ruler.
        return [int(text) if text.lstrip("+-").isdigit() else float(text)]
    return [text]


def _array_elements(values: list[object]) -> Iterable[object]:
    for value in values:
        if isinstance(value, list):
            yield from _array_elements(value)
        elif not isinstance(value, dict):  # an object has no value at the attribute's path
            yield value


def _parse_json(text: str) -> object:
    """The JSON value of ``text``, or ``_NOT_PARSED`` (NaN and Infinity are not JSON)."""
    try:
        return JSON_DECODER.decode(text)
    except (ValueError, RecursionError):
        return _NOT_PARSED
