"""Running a compiled pattern over a JSON-like document.

The document is first reduced to the *leaves* the pattern can use: for each field path
the pattern names, the scalar values found there. Keys are joined with dots and arrays
are transparent, so ``{"a": {"b": 1}}``, ``{"a.b": 1}`` and ``{"a": [{"b": 1}]}`` all
hold the leaf ``1`` at ``a.b`` (event-ruler flattens the same way, dotted keys included).

Each leaf remembers its *array membership*: which element of which array it sits in. A
branch of the pattern matches when each of its fields has an accepted leaf and the chosen
leaves are consistent: two leaves inside the same array must come from the same element
(event-ruler's ``rulesForJSONEvent``: ``{"employees": {"first": ["Anna"], "last":
["Jones"]}}`` does not match Anna Smith and Peter Jones). ``{"exists": false}`` is
satisfied when the path holds no leaf anywhere in the document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import count

from ekiden.core.rules.patterns_compile import CompiledRule
from ekiden.core.rules.patterns_values import FieldTest

Membership = tuple[tuple[int, int], ...]  # (array id, element index), outermost first
Leaves = dict[str, list[tuple[object, Membership]]]


def document_leaves(document: Mapping[str, object], rule: CompiledRule) -> Leaves:
    """The leaves of ``document`` at the paths ``rule`` names; the rest is not walked."""
    leaves: Leaves = {}
    _walk_object(document, None, (), rule, leaves, count())
    return leaves


def rule_matches(rule: CompiledRule, leaves: Leaves) -> bool:
    """True when one branch of ``rule`` is satisfied by ``leaves``."""
    return rule.match_all or any(_branch_matches(branch, leaves) for branch in rule.branches)


def _walk_object(
    node: Mapping[str, object],
    path: str | None,  # None at the root, so that an empty key still joins as ""
    membership: Membership,
    rule: CompiledRule,
    leaves: Leaves,
    ids: Iterator[int],
) -> None:
    for key, value in node.items():
        if not isinstance(key, str):
            continue
        joined = key if path is None else f"{path}.{key}"
        if joined in rule.paths or joined in rule.prefixes:
            _walk_value(value, joined, membership, rule, leaves, ids)


def _walk_value(
    value: object,
    path: str,
    membership: Membership,
    rule: CompiledRule,
    leaves: Leaves,
    ids: Iterator[int],
) -> None:
    if isinstance(value, Mapping):
        # "exists" only sees leaves: an object at a named path is not a value there.
        if path in rule.prefixes:
            _walk_object(value, path, membership, rule, leaves, ids)
    elif isinstance(value, list | tuple):
        array = next(ids)
        for index, element in enumerate(value):
            _walk_value(element, path, (*membership, (array, index)), rule, leaves, ids)
    elif path in rule.paths:
        leaves.setdefault(path, []).append((value, membership))


def _branch_matches(branch: tuple[FieldTest, ...], leaves: Leaves) -> bool:
    constrained: list[list[Membership]] = []
    for test in branch:
        found = leaves.get(test.path)
        if not found:
            if test.absent:
                continue
            return False
        candidates: set[Membership] | None = None
        for value, membership in found:
            if test.accepts(value):
                if not membership:
                    break  # outside every array: consistent with any choice
                if candidates is None:
                    candidates = set()
                candidates.add(membership)
        else:
            if candidates is None:
                return False
            constrained.append(list(candidates))
    if len(constrained) < 2:
        return True
    constrained.sort(key=len)
    return _consistent(constrained, 0, {})


def _consistent(fields: list[list[Membership]], index: int, chosen: dict[int, int]) -> bool:
    """Backtracking: can one membership per field be chosen so that any array they share
    is entered at the same element? Fields are few (SNS allows five), so this is small."""
    if index == len(fields):
        return True
    for membership in fields[index]:
        if any(chosen.get(array, element) != element for array, element in membership):
            continue
        added = [array for array, element in membership if array not in chosen]
        chosen.update(membership)
        if _consistent(fields, index + 1, chosen):
            return True
        for array in added:
            del chosen[array]
    return False
