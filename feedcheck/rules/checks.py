"""Every rule family, imported once so that each check is registered with pandera and in :data:`RULES`.
A schema names them as ``Check.<name>(…)``; ``import feedcheck.rules.checks`` is all it needs."""

from feedcheck.rules import (  # noqa: F401
    categories,
    dates,
    enums,
    groups,
    identifiers,
    presence,
    prices,
    quantities,
    shipping,
    text,
    urls,
)
from feedcheck.rules.registry import RULES, Rule, Turns

__all__ = ["RULES", "Rule", "Turns"]
