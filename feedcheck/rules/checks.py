"""Every rule family, imported once so that each check is registered with pandera and in :data:`RULES`.
A schema names them as ``Check.<name>(…)``; ``import feedcheck.rules.checks`` is all it needs."""

from feedcheck.rules import categories, dates, enums, identifiers, presence, prices, text, urls  # noqa: F401
from feedcheck.rules.registry import RULES, Rule, Turns

__all__ = ["RULES", "Rule", "Turns"]
