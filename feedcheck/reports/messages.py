"""How a finding's message template turns the numbers a rule found into words.

Rules and reconciliation hand over numbers (a rate, an hour count, amounts per currency); the template
declared with the code says how people read them, with ``str.format`` specs and one addition for money:

    {rate:.1%}                          56.2%
    {total:,.2f}                        1,234.50
    {revenue:money}                     98.50 USD, 12.00 EUR   (a mapping of amount per currency)
    {revenue:money|, % in purchases}    a frame around them, where % stands; nothing when there are none
    {count:items}                       1 item, 1,234 items
    {currencies:counts}                 USD (120 items), EUR (1 item)   (a list of name and count)
    {spellings:changes}                 'In Stock' → 'in stock' (3 items), 'new' → 'New' (1 item)
                                        (a list of value, what it becomes and how often)

(``%``, not ``{}``, marks the place: ``str.format`` would read braces inside a spec as a field of their own.)

A key the template names but the rule did not give renders as ``?``, so a message is never lost to a typo.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

_MONEY = "money"
_CHANGES = "changes"
_ITEMS = "items"
_COUNTS = "counts"
_MISSING = "?"


def format_message(template: str, params: Mapping[str, Any]) -> str:
    """``template`` with ``params`` in it (see the module docstring for the specs)."""
    return _FORMATTER.vformat(template, (), params)


def money(amounts: Mapping[str, float]) -> str:
    """Amounts per currency as ``98.50 USD, 12.00 EUR``, ``24.00 (no currency)`` where the event sent none;
    empty when there are none."""
    return ", ".join(f"{amount:,.2f} {currency}" if currency else f"{amount:,.2f} (no currency)"
                     for currency, amount in amounts.items())


def items(count: int) -> str:
    """A count of items, as ``1 item`` or ``1,234 items``."""
    return f"{count:,} item" if count == 1 else f"{count:,} items"


def changes(seen: Any) -> str:
    """Values, what each becomes and how often, as ``'In Stock' → 'in stock' (3 items)``."""
    return ", ".join(f"'{value}' → '{becomes}' ({items(count)})" for value, becomes, count in seen)


class _MessageFormatter(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(key, _MISSING) if isinstance(key, str) else _MISSING

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is _MISSING:
            return _MISSING
        kind, _, frame = format_spec.partition("|")
        if kind == _CHANGES:
            return changes(value)
        if kind == _ITEMS:
            return items(value)
        if kind == _COUNTS:
            return ", ".join(f"{name} ({items(count)})" for name, count in value)
        if kind != _MONEY:
            return super().format_field(value, format_spec)
        if not value:
            return ""
        shown = money(value)
        return frame.replace("%", shown) if frame else shown


_FORMATTER = _MessageFormatter()
