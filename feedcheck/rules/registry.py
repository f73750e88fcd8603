"""The registry of rules: every check a channel schema may name, bound to its finding code.

Each check is vectorised (it takes a whole column, or the whole chunk for rules that compare fields) and is
registered once as a pandera check with :func:`rule`, beside the declaration of the code it reports (in the
module of its family: presence, text, enums, identifiers, prices, urls, dates, categories, quantities, shipping,
groups).  Empty values pass every check except ``required`` and the conditional ones: "missing" is its own
finding, reported once.

A schema names a check as ``Check.max_length(limit=150)``; when it fails, :mod:`feedcheck.rules.validate`
looks the check up in :data:`RULES` to get the code and to compute the per-value part of the message (a "did
you mean", the expected check digit…), only for the examples that are kept.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandera import extensions

# A hint turns a failing value (and the rule's parameters; for rules across
# fields also ``_row``, the item's values) into extra message parameters.
Hint = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """What a registered check reports: its finding code and how to explain a value."""

    code: str
    hint: Hint | None = None
    frame: bool = False
    reads: tuple[str, ...] = ()  # a rule across fields: the columns it reads besides those it names
    turns: Turns | None = None  # a rule that compares with ``now``: when its verdict on each value changes
    run: Callable[..., pd.Series] | None = None  # the check as pandera calls it, with its statistics
    # Reported once per feed and field, with a count and the values seen, not per item: for what the channel
    # accepts and the cleaned catalog changes, where a finding on every item would bury the ones to fix.
    summarised: bool = False


# The moments (UTC timestamps, NaT for none) at which a clock rule's verdict on each value changes: what a
# cached check's verdicts depend on, so the cache can tell when they no longer hold.
Turns = Callable[[pd.Series], pd.Series]

RULES: dict[str, Rule] = {}


def rule(code: str, statistics: tuple[str, ...] = (), *, hint: Hint | None = None, frame: bool = False,  # type: ignore[no-untyped-def]
         reads: tuple[str, ...] = (), turns: Turns | None = None, summarised: bool = False):
    """Register the decorated function as the pandera check of its name, reporting ``code`` when it fails.

    Every check also takes ``severity=``: a schema may say that on its channel a finding of this check matters
    more or less than the code's severity there (an attribute Google ignores when it is wrong is a warning,
    though a wrong value of most attributes is an error).
    """
    def register(fn: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
        check = _with_severity(fn if frame else _per_distinct(fn))
        extensions.register_check_method(
            statistics=[*statistics, "severity"], supported_types=pd.DataFrame if frame else pd.Series
        )(check)
        RULES[fn.__name__] = Rule(code, hint, frame, reads, turns, check, summarised)
        return fn

    return register


_SAMPLE = 1024  # the values that tell whether a column's values repeat


def _per_distinct(fn: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
    """``fn`` (a check of one column, value by value) run once per distinct value when the values repeat, as
    enumerations, prices and brands do item after item; its verdicts are taken back to the rows.  A column of
    mostly distinct values (ids, titles, links) is checked as it stands: its first values tell, so it is not
    factorized for nothing by every check of that column."""
    @functools.wraps(fn)
    def check(series: pd.Series, *args: Any, **kwargs: Any) -> pd.Series:
        head = series.iloc[:_SAMPLE]
        if 2 * head.nunique() > len(head):
            return fn(series, *args, **kwargs)
        codes, distinct = pd.factorize(series)
        verdicts = fn(pd.Series(distinct, dtype=series.dtype), *args, **kwargs)
        return pd.Series(np.asarray(verdicts, dtype=bool)[codes], index=series.index)

    return check


def _with_severity(fn: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
    """``fn``, also taking the ``severity=`` every check takes (read by the validator, not by the check)."""
    signature = inspect.signature(fn)
    if "severity" in signature.parameters:
        return fn

    def check(*args: Any, severity: str | None = None, **kwargs: Any) -> pd.Series:
        return fn(*args, **kwargs)

    extra = inspect.Parameter("severity", inspect.Parameter.KEYWORD_ONLY, default=None)
    check.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])  # type: ignore[attr-defined]
    check.__name__ = check.__qualname__ = fn.__name__
    check.__doc__ = fn.__doc__
    return check
