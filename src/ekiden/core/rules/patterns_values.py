"""Value tests of the pattern matcher: what one pattern element says about one leaf.

A *leaf* is what a JSON document holds at a path once its objects and arrays have been
walked: a ``str``, a number (``int``, ``float`` or ``Decimal``, never ``bool``), ``True``,
``False`` or ``None``. Every test here is total and typed the way AWS's matcher
(aws/event-ruler, used by SNS, EventBridge and Lambda) is typed: a leaf of the wrong kind
simply does not match. A prefix never matches a number, a numeric range never matches the
string ``"5"``, and an ``anything-but`` list of strings lets every number through.

Numbers are compared the way event-ruler compares them: each is turned into a *comparable
key*, ``(bound + value) * 10**6`` truncated to an integer in double arithmetic, so two
numbers are equal when they agree to six digits after the decimal point (``5`` equals
``5.0`` and ``5.0000001``), and only numbers within ``[-bound, bound]`` have a key at all.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeGuard

Number = int | float | Decimal
IpKey = tuple[int, int]  # (IP version, the address as an integer)

_MICROS = 1e6
# event-ruler decides "is this an IP address?" with these two loose patterns first and
# only then parses; a string that fails them is never treated as an address.
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def is_number(value: object) -> TypeGuard[Number]:
    """True for JSON numbers; ``bool`` is an ``int`` to Python but not a number to JSON."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def comparable_key(value: Number, bound: float) -> int | None:
    """The integer numbers are compared by, or ``None`` outside ``[-bound, bound]`` (also
    for NaN and infinities). Same arithmetic as event-ruler's ComparableNumber, whose
    double ``(long) (1E6 * (bound + value))`` Python floats reproduce bit for bit."""
    try:
        number = float(value)
    except OverflowError:
        return None
    if not -bound <= number <= bound:
        return None
    return int(_MICROS * (bound + number))


def exact_decimal(value: Number) -> Decimal | None:
    """The exact value of a finite number, for numbers too large to have a key."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    return Decimal(value)


def looks_like_ip(text: str) -> bool:
    """event-ruler's pre-check: four dotted digit runs, or hex digits around a colon."""
    return bool(_IPV4_SHAPE.fullmatch(text) or _IPV6_SHAPE.fullmatch(text))


def ip_key(text: str) -> IpKey | None:
    """``(version, integer)`` of an IPv4/IPv6 literal, or ``None`` for anything else."""
    if not looks_like_ip(text):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def literal_name(value: bool | None) -> str:
    """``true`` / ``false`` / ``null``: the JSON spelling of a literal, used as its key so
    that ``True`` is never confused with ``1`` in a set."""
    if value is None:
        return "null"
    return "true" if value else "false"


class ValueMatcher(Protocol):
    """One operator of a pattern, compiled; ``matches`` is pure and never raises."""

    def matches(self, value: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Prefix:
    """``{"prefix": p}``: a string starting with ``p`` (an empty prefix matches all)."""

    prefix: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and value.startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class Suffix:
    """``{"suffix": s}``: a string ending with ``s``."""

    suffix: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and value.endswith(self.suffix)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    """``{"equals-ignore-case": s}``: a string equal to ``s`` once both are lower-cased."""

    lowered: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and value.lower() == self.lowered


@dataclass(frozen=True, slots=True)
class NumericRange:
    """``{"numeric": [...]}``: a number whose key lies between two keys (``None``: no
    bound on that side); ``=`` is the range from a key to itself, both ends closed."""

    low: int | None
    low_open: bool
    high: int | None
    high_open: bool
    bound: float

    def matches(self, value: object) -> bool:
        if not is_number(value):
            return False
        key = comparable_key(value, self.bound)
        if key is None:
            return False
        if self.low is not None and (key <= self.low if self.low_open else key < self.low):
            return False
        return self.high is None or (key < self.high if self.high_open else key <= self.high)


@dataclass(frozen=True, slots=True)
class Cidr:
    """``{"cidr": "net/bits"}``: a string holding an address of the same IP version
    between ``low`` and ``high`` inclusive. As in event-ruler, ``low`` is the address as
    written (host bits are not cleared) and ``high`` is that address with every host bit
    set."""

    version: int
    low: int
    high: int

    def matches(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        key = ip_key(value)
        return key is not None and key[0] == self.version and self.low <= key[1] <= self.high


@dataclass(frozen=True, slots=True)
class AnythingButStrings:
    """``{"anything-but": ["a", "b"]}``: every leaf except these strings (numbers,
    booleans and null all match: event-ruler only excludes a value of the list's type)."""

    values: frozenset[str]

    def matches(self, value: object) -> bool:
        return not (isinstance(value, str) and value in self.values)


@dataclass(frozen=True, slots=True)
class AnythingButNumbers:
    """``{"anything-but": [100, 200]}``: every leaf except numbers equal to these."""

    keys: frozenset[int]
    bound: float

    def matches(self, value: object) -> bool:
        if not is_number(value):
            return True
        return comparable_key(value, self.bound) not in self.keys


@dataclass(frozen=True, slots=True)
class AnythingButPrefix:
    """``{"anything-but": {"prefix": p}}``: every leaf but strings starting with ``p``."""

    prefix: str

    def matches(self, value: object) -> bool:
        return not (isinstance(value, str) and value.startswith(self.prefix))


@dataclass(frozen=True, slots=True)
class AnythingButSuffix:
    """``{"anything-but": {"suffix": s}}``: every leaf but strings ending with ``s``."""

    suffix: str

    def matches(self, value: object) -> bool:
        return not (isinstance(value, str) and value.endswith(self.suffix))


@dataclass(frozen=True, slots=True)
class AnythingButIgnoreCase:
    """``{"anything-but": {"equals-ignore-case": [...]}}``: every leaf but strings equal
    to one of ``lowered`` once lower-cased."""

    lowered: frozenset[str]

    def matches(self, value: object) -> bool:
        return not (isinstance(value, str) and value.lower() in self.lowered)


@dataclass(frozen=True, slots=True)
class FieldTest:
    """Everything one pattern says about one field (a dot-joined path): the values of its
    array, any one of which may match. Exact values are kept in sets so that a long list
    of alternatives costs one lookup.

    ``exists`` is ``{"exists": true}`` (any leaf at the path matches); ``absent`` is
    ``{"exists": false}`` (the field is satisfied when the path holds no leaf at all).
    """

    path: str
    bound: float
    strings: frozenset[str] = frozenset()
    addresses: frozenset[IpKey] = frozenset()
    number_keys: frozenset[int] = frozenset()
    big_numbers: frozenset[Decimal] = frozenset()
    literals: frozenset[str] = frozenset()
    matchers: tuple[ValueMatcher, ...] = ()
    exists: bool = False
    absent: bool = False

    def accepts(self, value: object) -> bool:
        """True when the leaf ``value`` satisfies one of the field's alternatives."""
        if self.exists:
            return True
        if isinstance(value, str):
            if value in self.strings:
                return True
            # A pattern string that is an IP literal matches the same address however it
            # is spelled ("::1" and "0:0::1"), as event-ruler compiles it to a range.
            if self.addresses:
                address = ip_key(value)
                if address is not None and address in self.addresses:
                    return True
        elif value is None or isinstance(value, bool):
            if literal_name(value) in self.literals:
                return True
        elif isinstance(value, int | float | Decimal):  # bool was handled above
            key = comparable_key(value, self.bound)
            if key is not None:
                if key in self.number_keys:
                    return True
            elif self.big_numbers:
                exact = exact_decimal(value)
                if exact is not None and exact in self.big_numbers:
                    return True
        return any(matcher.matches(value) for matcher in self.matchers)
