"""The Condition operators of IAM policies, for :mod:`tests.security.policy_eval`.

:func:`condition_holds` decides one operator on one key: the policy's values are OR'd; a key
the request lacks makes a positive operator false and a negated one (``StringNotEquals``,
``ArnNotLike``...) true, as AWS documents; ``...IfExists`` is then true, ``ForAllValues:``
true, ``ForAnyValue:`` false. Operators it does not know raise :class:`UnsupportedPolicyError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache


class UnsupportedPolicyError(ValueError):
    """The document uses an element or operator this evaluator does not implement."""


Matcher = Callable[[str, str], bool]


def _string_equals(actual: str, expected: str) -> bool:
    return actual == expected


def _string_equals_ignore_case(actual: str, expected: str) -> bool:
    return actual.casefold() == expected.casefold()


def _string_like(actual: str, expected: str) -> bool:
    return glob(expected).fullmatch(actual) is not None


def _arn_like(actual: str, expected: str) -> bool:
    """ArnEquals and ArnLike alike: each of the six colon-separated parts matched apart."""
    got, want = actual.split(":", 5), expected.split(":", 5)
    if len(got) != 6 or len(want) != 6:
        return False
    return all(glob(w).fullmatch(g) is not None for g, w in zip(got, want, strict=True))


def _bool(actual: str, expected: str) -> bool:
    return actual.lower() == expected.lower()


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(actual: str, expected: str) -> bool:
        try:
            return compare(float(actual), float(expected))
        except ValueError:
            return False

    return match


_POSITIVE: dict[str, Matcher] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": _bool,
    "NumericEquals": _numeric(lambda a, e: a == e),
    "NumericLessThan": _numeric(lambda a, e: a < e),
    "NumericLessThanEquals": _numeric(lambda a, e: a <= e),
    "NumericGreaterThan": _numeric(lambda a, e: a > e),
    "NumericGreaterThanEquals": _numeric(lambda a, e: a >= e),
}
_NEGATED: dict[str, Matcher] = {
    "StringNotEquals": _string_equals,
    "StringNotEqualsIgnoreCase": _string_equals_ignore_case,
    "StringNotLike": _string_like,
    "ArnNotEquals": _arn_like,
    "ArnNotLike": _arn_like,
    "NumericNotEquals": _numeric(lambda a, e: a == e),
}
SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


def condition_holds(
    operator: str, key: str, expected: tuple[str, ...], actual: tuple[str, ...] | None
) -> bool:
    """Whether ``operator`` holds for context key ``key``: the policy's ``expected`` values
    against the request's ``actual`` ones (None: the request lacks the key).

    Raises:
        UnsupportedPolicyError: an unknown operator, or several values without a set prefix.
    """
    quantifier, _, name = operator.rpartition(":")
    if quantifier and f"{quantifier}:" not in SET_PREFIXES:
        raise UnsupportedPolicyError(f"condition operator {operator} is not implemented")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null" and not quantifier and not if_exists:
        return (actual is None) == (expected[0].lower() == "true") if expected else False
    negated = name in _NEGATED
    matcher = _NEGATED.get(name) or _POSITIVE.get(name)
    if matcher is None:
        raise UnsupportedPolicyError(f"condition operator {operator} is not implemented")
    if actual is None:
        return if_exists or quantifier == "ForAllValues" or (negated and not quantifier)

    def one(value: str) -> bool:
        hit = any(matcher(value, e) for e in expected)
        return not hit if negated else hit

    if quantifier == "ForAnyValue":
        return any(one(v) for v in actual)
    if quantifier == "ForAllValues":
        return all(one(v) for v in actual)
    if len(actual) != 1:
        raise UnsupportedPolicyError(f"{key} has several values: use ForAnyValue/ForAllValues")
    return one(actual[0])


def values(raw: object) -> tuple[str, ...]:
    """A policy element's or condition's value(s) as strings (one value or a list)."""
    found = tuple(text(v) for v in _seq(raw))
    if any("${" in v for v in found):
        raise UnsupportedPolicyError(f"policy variables are not implemented: {found}")
    return found


def text(value: object) -> str:
    """A policy or context value as IAM compares it: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UnsupportedPolicyError(f"not a policy value: {value!r}")


def _seq(raw: object) -> Sequence[object]:
    if isinstance(raw, list | tuple):
        return raw
    return [raw]


@cache
def glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters (across : and /), ? any one; nothing else."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(_GLOB.get(c, re.escape(c)) for c in pattern), flags)


_GLOB = {"*": ".*", "?": "."}
