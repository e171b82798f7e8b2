"""Declared types and ranges of settings: a method declares one rule per setting it takes
(`register_method(rules=...)`), and a value is checked against it before anything trains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """What a value must be, in words for the error, and the test."""

    words: str
    test: Callable[[Any], bool]

    def check(self, owner: str, name: str, value: Any) -> None:
        """Raise ValueError naming the setting, the bad value and what it must be."""
        if not self.test(value):
            raise ValueError(f"{owner}: setting {name}={value!r} must be {self.words}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def at_least(low: int) -> Rule:
    """An integer >= low."""
    return Rule(
        f"an integer >= {low}",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low,
    )


def number(test: Callable[[float], bool], words: str) -> Rule:
    return Rule(words, lambda v: _is_number(v) and test(v))


def one_of(*choices: Any) -> Rule:
    return Rule(f"one of {', '.join(map(str, choices))}", lambda v: v in choices)


def optional(rule: Rule) -> Rule:
    """None, or what `rule` allows."""
    return Rule(f"none or {rule.words}", lambda v: v is None or rule.test(v))


POSITIVE_INT = at_least(1)
POSITIVE = number(lambda v: v > 0, "a number > 0")
DROPOUT = number(lambda v: 0 <= v < 1, "a number with 0 <= dropout < 1")
FRACTION = number(lambda v: 0 < v <= 1, "a number with 0 < fraction <= 1")
BOOL = Rule("true or false", lambda v: isinstance(v, bool))
# Module roles (`q`, `v`, `attention`, ...): checked against the architectures' role tables.
ROLES = Rule("module roles", lambda v: True)
