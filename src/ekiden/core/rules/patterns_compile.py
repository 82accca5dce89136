"""Compiling and validating a pattern: an SNS filter policy, a Lambda filter or an
EventBridge event pattern, turned once into the immutable form the matcher runs.

The grammar, the order of the checks and the reasons in error messages are those of
aws/event-ruler's ``JsonRuleCompiler`` (the engine behind all three services); the SNS
limits and the ``Invalid parameter: FilterPolicy: ...`` wording are those AWS returns
(recorded against AWS in LocalStack's snapshot tests and asserted in moto's tests).

Compilation expands ``$or`` into alternatives (*branches*) exactly as event-ruler does:
each branch maps a dot-joined field path to the values one field may take; a field named
again later in the document replaces the earlier one in the same branch.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.rules.patterns_values import (
    AnythingButIgnoreCase,
    AnythingButNumbers,
    AnythingButPrefix,
    AnythingButStrings,
    AnythingButSuffix,
    Cidr,
    EqualsIgnoreCase,
    FieldTest,
    NumericRange,
    Prefix,
    Suffix,
    ValueMatcher,
    comparable_key,
    exact_decimal,
    ip_key,
    is_number,
    literal_name,
    looks_like_ip,
)

OPERATORS = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}
)
# Field names that keep "$or" from being read as an OR (event-ruler's Constants): with one
# of them inside, "$or" is an ordinary field name, as the SNS guide documents.
RESERVED_NAMES = frozenset(
    {
        *OPERATORS,
        "exactly",
        "wildcard",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
_NUMERIC_OPERATORS = frozenset({"=", "<", "<=", ">", ">="})
_TOO_MANY_ELEMENTS = "Too many elements in numeric expression"
_ONLY_ONE_KEY = "Only one key allowed in match expression"
_JAVA_INT = re.compile(r"[+-]?[0-9]+")  # what Integer.parseInt takes (ASCII digits)
_END = object()  # stands for the end of a JSON array, which has no Python value


# One decoder for every parse (json.loads would build one per call); NaN and Infinity are
# refused as they are not JSON.
def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


JSON_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# Without a combination limit, $or could still multiply branches without end; past this
# many the pattern is refused as too complex (a guard of ours, not an AWS figure).
_MAX_BRANCHES = 1_000


@dataclass(frozen=True, slots=True)
class PatternLimits:
    """What one service accepts in a pattern, and how it words a refusal.

    Error messages are ``error_prefix + error_subject + reason``, or ``fixed_error`` for
    services that give one message for every invalid pattern (Lambda). ``name`` is how a
    reason refers to the whole pattern ("Filter policy is too complex").

    ``max_size_bytes`` counts the UTF-8 bytes of the pattern's JSON text (of its compact
    serialization when a parsed dict is given). ``max_keys`` counts the top-level keys.
    ``max_combinations`` bounds the complexity described in ``compile_rule``. Numbers in
    patterns and events are comparable within ``[-number_bound, number_bound]``; with
    ``reject_out_of_range_exact_numbers`` a plain number outside it is refused too (SNS)
    instead of being compared exactly (event-ruler). ``operators`` and
    ``anything_but_operators`` are the match types allowed at the top of a value and
    inside ``{"anything-but": {...}}``. ``allow_empty`` accepts ``{}`` (matches all).
    """

    error_prefix: str
    error_subject: str = ""
    fixed_error: str | None = None
    name: str = "Filter policy"
    max_size_bytes: int | None = None
    max_keys: int | None = None
    max_combinations: int | None = None
    number_bound: float = 5e9
    reject_out_of_range_exact_numbers: bool = False
    operators: frozenset[str] = OPERATORS
    anything_but_operators: frozenset[str] = frozenset({"prefix", "suffix", "equals-ignore-case"})
    allow_empty: bool = False

    def error(self, reason: str) -> InvalidParameterValue:
        """The error this service raises for an invalid pattern, for ``reason``."""
        if self.fixed_error is not None:
            return InvalidParameterValue(self.fixed_error)
        return InvalidParameterValue(f"{self.error_prefix}{self.error_subject}{reason}")


SNS_LIMITS = PatternLimits(
    error_prefix="Invalid parameter: ",  # Subscribe says "Invalid parameter: Attributes Reason: "
    error_subject="FilterPolicy: ",
    max_size_bytes=256 * 1024,
    max_keys=5,
    max_combinations=150,
    number_bound=1e9,
    reject_out_of_range_exact_numbers=True,
    anything_but_operators=frozenset({"prefix"}),
    allow_empty=True,
)
LAMBDA_LIMITS = PatternLimits(
    error_prefix="",
    fixed_error="Invalid filter pattern definition.",
    name="Filter pattern",
    max_size_bytes=4096,
)
EVENTBRIDGE_LIMITS = PatternLimits(
    error_prefix="Event pattern is not valid. Reason: ",
    name="Event pattern",
    max_size_bytes=4096,
)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A validated pattern: its ``$or`` branches (a match needs every field of one
    branch), the field paths it reads and their proper dot-prefixes (so a document walk
    can skip what no field needs), and its complexity."""

    branches: tuple[tuple[FieldTest, ...], ...]
    combinations: int
    paths: frozenset[str]
    prefixes: frozenset[str]
    match_all: bool = False


def load_pattern(source: str | Mapping[str, object], limits: PatternLimits) -> Mapping[str, object]:
    """Check the size of a pattern and parse it when given as text; raise unless it is a
    JSON object. NaN and Infinity are refused, as they are not JSON."""
    if limits.max_size_bytes is not None:
        if isinstance(source, str):
            text = source
        else:
            text = json.dumps(source, separators=(",", ":"), ensure_ascii=False, default=str)
        if len(text.encode("utf-8", "surrogatepass")) > limits.max_size_bytes:
            raise limits.error(f"{limits.name} is too long")
    document: object = source
    if isinstance(source, str):
        try:
            document = JSON_DECODER.decode(source)
        except (ValueError, RecursionError):
            raise limits.error("failed to parse JSON.") from None
    if not isinstance(document, Mapping) or not all(isinstance(key, str) for key in document):
        raise limits.error("Filter is not an object")
    return document


def compile_rule(
    document: Mapping[str, object], limits: PatternLimits, *, flat_only_error: str | None = None
) -> CompiledRule:
    """Validate ``document`` against ``limits`` and compile it.

    ``flat_only_error``, when given, is raised for any nested object (SNS's
    MessageAttributes scope accepts only flat policies). The top-level key count is
    checked first, then the pattern's shape and values in document order, then the
    complexity.

    Complexity, as the SNS guide defines it: the policy is expanded into its ``$or``
    alternatives; in each, every field contributes the number of values in its array
    times its depth (how many object levels down it sits, 1 at the top), the
    contributions of one alternative are multiplied, and the alternatives are added.
    ``{"a": {"b": {"c": [4 values]}}, "d": {"e": [3 values]}}`` is (4x3) x (3x2) = 72;
    ``{"s": [3], "$or": [{"m": [6]}, {"t": [4], "$or": [{"i": [4]}, {"j": [7]}]}]}`` is
    3x6 + 3x4x4 + 3x4x7 = 150, the most SNS accepts.
    """
    if limits.max_keys is not None and len(document) > limits.max_keys:
        raise limits.error(f"{limits.name} can not have more than {limits.max_keys} keys")
    if not document:
        if limits.allow_empty:
            return CompiledRule((), 0, frozenset(), frozenset(), match_all=True)
        raise limits.error("Empty objects are not allowed")
    if flat_only_error is not None:
        _check_flat(document, limits, flat_only_error, nested=False)
    branches = _Compiler(limits).parse_object(document, (), [{}])
    combinations = sum(
        math.prod(leaf.values * leaf.depth for leaf in branch.values()) for branch in branches
    )
    if limits.max_combinations is not None and combinations > limits.max_combinations:
        raise limits.error(f"{limits.name} is too complex")
    paths = frozenset(path for branch in branches for path in branch)
    prefixes = frozenset(
        path[:index] for path in paths for index, char in enumerate(path) if char == "."
    )
    return CompiledRule(
        tuple(tuple(leaf.test for leaf in branch.values()) for branch in branches),
        combinations,
        paths,
        prefixes,
    )


@dataclass(slots=True)
class _Leaf:
    test: FieldTest
    values: int  # how many values its array lists
    depth: int  # how many object levels down it sits


_Branch = dict[str, _Leaf]


@dataclass(slots=True)
class _FieldBuilder:
    strings: set[str] = field(default_factory=set)
    addresses: set[tuple[int, int]] = field(default_factory=set)
    number_keys: set[int] = field(default_factory=set)
    big_numbers: set[Decimal] = field(default_factory=set)
    literals: set[str] = field(default_factory=set)
    matchers: list[ValueMatcher] = field(default_factory=list)
    exists: bool = False
    absent: bool = False


class _Compiler:
    """One compilation; every ``fail`` raises the service's error for a reason."""

    def __init__(self, limits: PatternLimits) -> None:
        self.limits = limits
        self.bound = limits.number_bound
        self.max_branches = limits.max_combinations or _MAX_BRANCHES

    def fail(self, reason: str) -> NoReturn:
        raise self.limits.error(reason)

    def parse_object(
        self, node: Mapping[str, object], path: tuple[str, ...], branches: list[_Branch]
    ) -> list[_Branch]:
        if not node:
            self.fail("Empty objects are not allowed")
        for key, value in node.items():
            if key == "$or" and _is_or(value):
                assert isinstance(value, Sequence)
                branches = self.alternatives(value, path, branches)
            elif isinstance(value, Mapping):
                branches = self.parse_object(value, (*path, key), branches)
            elif isinstance(value, list | tuple):
                leaf = self.values(value, (*path, key))
                for branch in branches:
                    branch[leaf.test.path] = leaf
            else:
                self.fail(f'"{key}" must be an object or an array')
        return branches

    def alternatives(
        self, items: Sequence[object], path: tuple[str, ...], branches: list[_Branch]
    ) -> list[_Branch]:
        result: list[_Branch] = []
        for item in items:
            assert isinstance(item, Mapping)
            result.extend(self.parse_object(item, path, [dict(branch) for branch in branches]))
            if len(result) > self.max_branches:
                # Every branch counts at least 1, so the policy is already too complex.
                self.fail(f"{self.limits.name} is too complex")
        return result

    def values(self, items: Sequence[object], path: tuple[str, ...]) -> _Leaf:
        built = _FieldBuilder()
        for item in items:
            if isinstance(item, Mapping):
                self.expression(item, built)
            elif isinstance(item, str):
                built.strings.add(item)
                address = ip_key(item)
                if address is not None:
                    built.addresses.add(address)
            elif item is None or isinstance(item, bool):
                built.literals.add(literal_name(item))
            elif is_number(item):
                key = comparable_key(item, self.bound)
                if key is not None:
                    built.number_keys.add(key)
                elif self.limits.reject_out_of_range_exact_numbers:
                    self.fail(self.range_message())
                else:
                    exact = exact_decimal(item)
                    if exact is not None:  # an infinity can equal nothing
                        built.big_numbers.add(exact)
            else:
                self.fail("Match value must be String, number, true, false, or null")
        if not items:
            self.fail("Empty arrays are not allowed")
        test = FieldTest(
            path=".".join(path),
            bound=self.bound,
            strings=frozenset(built.strings),
            addresses=frozenset(built.addresses),
            number_keys=frozenset(built.number_keys),
            big_numbers=frozenset(built.big_numbers),
            literals=frozenset(built.literals),
            matchers=tuple(built.matchers),
            exists=built.exists,
            absent=built.absent,
        )
        return _Leaf(test, len(items), len(path))

    def expression(self, expression: Mapping[str, object], built: _FieldBuilder) -> None:
        first = next(iter(expression.items()), None)
        if first is None:
            self.fail("Match expression name not found")
        name, argument = first
        if name not in self.limits.operators:
            self.fail(f"Unrecognized match type {name}")
        extra = len(expression) > 1
        if name in ("prefix", "suffix", "equals-ignore-case"):
            if not isinstance(argument, str):
                self.fail(f"{name} match pattern must be a string")
            self.only_one_key(extra)
            if name == "prefix":
                built.matchers.append(Prefix(argument))
            elif name == "suffix":
                built.matchers.append(Suffix(argument))
            else:
                built.matchers.append(EqualsIgnoreCase(argument.lower()))
        elif name == "exists":
            if not isinstance(argument, bool):
                self.fail("exists match pattern must be either true or false.")
            self.only_one_key(extra)
            if argument:
                built.exists = True
            else:
                built.absent = True
        elif name == "cidr":
            if not isinstance(argument, str):
                self.fail("prefix match pattern must be a string")  # sic, event-ruler's
            built.matchers.append(self.cidr(argument))
            self.only_one_key(extra)
        elif name == "numeric":
            if not isinstance(argument, list | tuple):
                self.fail("Value of numeric must be an array.")
            built.matchers.append(self.numeric(argument))
            if extra:
                self.fail(_TOO_MANY_ELEMENTS)
        else:  # anything-but
            built.matchers.append(self.anything_but(argument, extra))

    def only_one_key(self, extra: bool) -> None:
        if extra:
            self.fail(_ONLY_ONE_KEY)

    def range_message(self) -> str:
        low, high = _java_double(-self.bound), _java_double(self.bound)
        return f"Value must be between {low} and {high}, inclusive"

    def key(self, number: object) -> int:
        assert is_number(number)
        key = comparable_key(number, self.bound)
        if key is None:
            self.fail(self.range_message())
        return key

    def numeric(self, terms: Sequence[object]) -> NumericRange:
        if not terms:
            self.fail("Invalid member in numeric match: ]")
        operator = terms[0]
        if not isinstance(operator, str):
            self.fail(f"Invalid member in numeric match: {_token_text(operator)}")
        if operator not in _NUMERIC_OPERATORS:
            self.fail(f"Unrecognized numeric range operator: {operator}")
        value = terms[1] if len(terms) > 1 else _END
        if not is_number(value):
            self.fail(f"Value of {'equals' if operator == '=' else operator} must be numeric")
        if operator in ("=", "<", "<="):
            if len(terms) > 2:
                self.fail(_TOO_MANY_ELEMENTS)
            key = self.key(value)
            if operator == "=":
                return NumericRange(key, False, key, False, self.bound)
            return NumericRange(None, False, key, operator == "<", self.bound)
        if len(terms) == 2:
            return NumericRange(self.key(value), operator == ">", None, False, self.bound)
        upper = terms[2]
        if not isinstance(upper, str):
            self.fail(f"Bad value in numeric range: {_token_text(upper)}")
        if upper not in ("<", "<="):
            self.fail(f"Bad numeric range operator: {upper}")
        top = terms[3] if len(terms) > 3 else _END
        if not is_number(top):
            self.fail(f"Value of {upper} must be numeric")
        if len(terms) > 4:
            self.fail("Too many terms in numeric range expression")
        low, high = self.key(value), self.key(top)
        if low >= high:
            self.fail("Bottom must be less than top")
        return NumericRange(low, operator == ">", high, upper == "<", self.bound)

    def anything_but(self, argument: object, extra: bool) -> ValueMatcher:
        if isinstance(argument, Mapping):
            return self.anything_but_operator(argument, extra)
        matcher: ValueMatcher
        if isinstance(argument, list | tuple):
            strings: set[str] = set()
            keys: set[int] = set()
            for value in argument:
                if isinstance(value, str):
                    strings.add(value)
                elif is_number(value):
                    keys.add(self.key(value))
                else:
                    self.fail("Inside anything but list, start|null|boolean is not supported.")
            if bool(strings) == bool(keys):
                self.fail(
                    "Inside anything but list, either all values are number or string, "
                    "mixed type is not supported"
                )
            matcher = (
                AnythingButNumbers(frozenset(keys), self.bound)
                if keys
                else AnythingButStrings(frozenset(strings))
            )
        elif isinstance(argument, str):
            matcher = AnythingButStrings(frozenset({argument}))
        elif is_number(argument):
            matcher = AnythingButNumbers(frozenset({self.key(argument)}), self.bound)
        else:
            self.fail("Value of anything-but must be an array or single string/number value.")
        if extra:
            self.fail(_TOO_MANY_ELEMENTS)
        return matcher

    def anything_but_operator(self, argument: Mapping[str, object], extra: bool) -> ValueMatcher:
        first = next(iter(argument.items()), None)
        if first is None:
            self.fail("Anything-But expression name not found")
        operator, value = first
        allowed = self.limits.anything_but_operators
        inner_extra = len(argument) > 1
        if operator == "equals-ignore-case" and operator in allowed:
            if isinstance(value, list | tuple):
                if not all(isinstance(item, str) for item in value):
                    self.fail(
                        "Inside anything-but/equals-ignore-case list, "
                        "numberic|start|null|boolean is not supported."  # sic
                    )
                lowered = frozenset(str(item).lower() for item in value)
            elif isinstance(value, str):
                lowered = frozenset({value.lower()})
            elif is_number(value):
                self.fail(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported."
                )
            else:
                self.fail("Value of anything-but must be an array or single string/number value.")
            if inner_extra or extra:
                self.fail(_TOO_MANY_ELEMENTS)
            return AnythingButIgnoreCase(lowered)
        if operator in ("prefix", "suffix") and operator in allowed:
            # Services on an event-ruler that knows only "prefix" word it that way.
            label = "prefix/suffix" if {"prefix", "suffix"} <= allowed else "prefix"
            if not isinstance(value, str):
                self.fail(f"{label} match pattern must be a string")
            if not value:
                self.fail(f"Null {label} not allowed")
            self.only_one_key(inner_extra or extra)
            return AnythingButPrefix(value) if operator == "prefix" else AnythingButSuffix(value)
        self.fail(f"Unsupported anything-but pattern: {operator}")

    def cidr(self, text: str) -> Cidr:
        parts = text.split("/")
        while parts and parts[-1] == "":
            parts.pop()  # Java's String.split drops trailing empty strings
        if len(parts) != 2:
            self.fail("Malformed CIDR, one '/' required")
        address_text, mask_text = parts
        if not _JAVA_INT.fullmatch(mask_text) or not -(2**31) <= int(mask_text) < 2**31:
            self.fail("Malformed CIDR, mask bits must be an integer")
        mask = int(mask_text)
        if mask < 0:
            self.fail("Malformed CIDR, mask bits must not be negative")
        if not looks_like_ip(address_text):
            self.fail(f"Nonstandard IP address: {address_text}")
        try:
            address = ipaddress.ip_address(address_text)
        except ValueError:
            self.fail(f"Invalid IP address: {address_text}")
        if address.version == 4 and mask > 31:
            self.fail("IPv4 mask bits must be < 32")
        if address.version == 6 and mask > 127:
            self.fail("IPv6 mask bits must be < 128")
        low = int(address)
        return Cidr(address.version, low, low | ((1 << (address.max_prefixlen - mask)) - 1))


def _check_flat(
    node: Mapping[str, object], limits: PatternLimits, flat_only_error: str, *, nested: bool
) -> None:
    """Refuse nesting the way AWS does for SNS's MessageAttributes scope: a value that is
    neither object nor array is reported first (``{"key": {"suffix": "x"}}`` gets
    ``"suffix" must be an object or an array``), the nesting as each nested object ends."""
    for key, value in node.items():
        if key == "$or" and _is_or(value):
            assert isinstance(value, Sequence)
            for item in value:
                assert isinstance(item, Mapping)
                _check_flat(item, limits, flat_only_error, nested=nested)
        elif isinstance(value, Mapping):
            _check_flat(value, limits, flat_only_error, nested=True)
        elif not isinstance(value, list | tuple):
            raise limits.error(f'"{key}" must be an object or an array')
    if nested:
        raise InvalidParameterValue(flat_only_error)


def _is_or(value: object) -> bool:
    """Whether a ``"$or"`` value is read as OR: an array of at least two objects that use
    no reserved field name. Otherwise "$or" is a field like any other (SNS guide)."""
    return (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(item, Mapping) and not _uses_reserved_name(item) for item in value)
    )


def _uses_reserved_name(node: Mapping[object, object]) -> bool:
    for key, value in node.items():
        if key in RESERVED_NAMES:
            return True
        if isinstance(value, Mapping) and _uses_reserved_name(value):
            return True
    return False


def _token_text(value: object) -> str:
    """How event-ruler's JSON parser prints the token that starts ``value``."""
    if value is _END:
        return "]"
    if isinstance(value, Mapping):
        return "{"
    if isinstance(value, list | tuple):
        return "["
    if value is None or isinstance(value, bool):
        return literal_name(value)
    return repr(value) if isinstance(value, float) else str(value)


def _java_double(value: float) -> str:
    """Java's ``Double.toString`` for the magnitudes used as bounds (1e7 and above),
    which it prints in scientific form: ``1.0E9``, ``-5.0E9``."""
    mantissa, exponent = f"{value:.15e}".split("e")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"
