"""What one event carries, checked one event at a time: its id, time, value, currency and contents.

A mixin of :class:`~feedcheck.events.checker.EventChecker`: each check adds
its finding (through :class:`~feedcheck.events.copies.Copies`, which knows
whether the event is a copy the platform drops) and its count.
:func:`feedcheck.events.clean.clean_events` says, column-wise, which
events none of these checks would report.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from feedcheck.events.copies import Copies
from feedcheck.events.names import CONTENT_TYPES, PLACEHOLDER_IDS, TEMPLATE_ID
from feedcheck.events.shapes import Event, read_amount
from feedcheck.findings import CODES, Severity, make_finding
from feedcheck.rules.currencies import ISO_4217, TIKTOK_EVENT_CURRENCIES
from feedcheck.settings import EventOptions

_CURRENCY_HINTS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "RMB": "CNY", "₹": "INR"}
Lines = tuple[list[str | None], list[bool], list[float]]  # an event's content ids, as groups?, and revenue


class EventRules:
    """The checks of one event's payload, for a checker with ``options``, ``counts`` and ``copies``."""

    options: EventOptions
    counts: Counter[str]
    copies: Copies

    def _payload(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                 value: float | None, value_problem: str, counted: bool) -> tuple[str, Lines]:
        """Check what one copy of an event carries: its time, currency, value and contents."""
        if event.time is None and event.time_raw is not None:
            self._add("events.time_invalid", event, item, field="event_time", value=str(event.time_raw))
        currency = self._currency(event, item, name, purchase, catalog_event, value)
        self._value(event, item, name, purchase, catalog_event, value, value_problem)
        return currency, self._contents(event, item, name, purchase, catalog_event, value, counted)

    def _add(self, code: str, record: Event, item: str, severity: Severity | None = None, /, **params: Any) -> None:
        """One event finding; past the log's cap it is only counted (10 M events must not render 10 M messages).
        What it says of an event's copies is :class:`~feedcheck.events.copies.Copies`' to add."""
        self.copies.add(code, severity or CODES[code].severity, params.get("field", ""), str(params.get("value", "")),
                        lambda: make_finding(code, severity=severity, item_id=item, row=record.line,
                                             source=record.where, **params))

    def _event_id(self, event: Event, name: str) -> str | None:
        raw = event.event_id
        text = "" if raw is None else str(raw).strip()
        if raw is None or text == "":
            self.counts["missing_event_id"] += 1
            self._add("events.missing_event_id", event, event.where, field="event_id", event=name)
            return None
        if text.casefold() in PLACEHOLDER_IDS or TEMPLATE_ID.match(text):
            self.counts["missing_event_id"] += 1
            self._add("events.event_id_placeholder", event, event.where, field="event_id", value=text)
            return None
        return text

    def _value(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
               value: float | None, problem: str) -> None:
        if problem == "missing":
            if purchase or catalog_event:
                self.counts["missing_value"] += 1
                blank = "" if event.value is None else " (it is blank)"
                self._add("events.missing_value", event, item, None if purchase else Severity.WARNING,
                          field="value", event=name, hint=blank)
            return
        if problem:
            self.counts["invalid_value"] += 1
            self._add("events.value_invalid", event, item, field="value", event=name,
                      value=repr(event.value) if isinstance(event.value, str) else str(event.value), hint=problem)

    def _currency(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                  value: float | None) -> str:
        """The event's currency code as sent (upper-cased when it is an ISO code), after checking it."""
        raw = event.currency
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if purchase or (catalog_event and value is not None):
                self.counts["missing_currency"] += 1
                self._add("events.missing_currency", event, item, None if purchase else Severity.WARNING,
                          field="currency", event=name,
                          hint=", so the platform ignores its value" if value is not None else "")
            return ""
        text = str(raw).strip()
        if text not in ISO_4217:
            self.counts["invalid_currency"] += 1
            guess = text.upper() if text.upper() in ISO_4217 else _CURRENCY_HINTS.get(text.upper())
            self._add("events.currency_invalid", event, item, field="currency", value=text,
                      hint=f"; send '{guess}'" if guess else "")
            return guess or text
        if text not in TIKTOK_EVENT_CURRENCIES:
            self.counts["invalid_currency"] += 1
            self._add("events.currency_not_accepted", event, item, field="currency", value=text)
        return text

    def _contents(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                  value: float | None, counted: bool) -> Lines:
        if event.contents is None:
            if catalog_event:
                self.counts["missing_contents"] += 1
                self._add("events.missing_contents", event, item, None if purchase else Severity.WARNING,
                          field="contents", event=name)
            return [], [], []
        if counted:  # lines the platform counts, of the copy it keeps
            self.counts["content_lines"] += len(event.contents)
        ids: list[str | None] = []
        groups: list[bool] = []
        totals: list[float | None] = []
        for i, content in enumerate(event.contents):
            ids.append(self._content_id(event, item, i, content.content_id))
            content_type = content.content_type if content.content_type is not None else event.content_type
            if content_type is not None and content_type not in CONTENT_TYPES:
                self._add("events.content_type_invalid", event, item, field=f"contents[{i}].content_type",
                          value=str(content_type))
            groups.append(content_type == "product_group")
            totals.append(self._line_total(event, item, i, content.quantity, content.price))
        if value is not None and totals and all(t is not None for t in totals):
            total = sum(t for t in totals if t is not None)
            if abs(value - total) > max(0.01, self.options.value_tolerance * max(abs(total), abs(value))):
                self._add("events.value_mismatch", event, item, field="value", event=name,
                          value=f"{value:.2f}", total=total)
        share = (value or 0.0) / max(1, len(event.contents))
        return ids, groups, [total if total is not None else share for total in totals]

    def _content_id(self, event: Event, item: str, i: int, raw: Any) -> str | None:
        where = f"contents[{i}].content_id"
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.counts["missing_content_id"] += 1
            self._add("events.missing_content_id", event, item, field=where)
            return None
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            text = str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
            self.counts["content_id_not_string"] += 1
            self._add("events.content_id_not_string", event, item, field=where, value=text, hint="number")
            return text
        self.counts["content_id_not_string"] += 1
        self._add("events.content_id_not_string", event, item, field=where, value=str(raw)[:60],
                  hint=f"JSON {type(raw).__name__}")
        return None

    def _line_total(self, event: Event, item: str, i: int, quantity: Any, price: Any) -> float | None:
        count: float | None = 1.0
        if quantity is not None:
            amount, problem = read_amount(quantity)
            if isinstance(quantity, str) or problem or amount is None or not amount.is_integer() or amount < 1:
                self._add("events.quantity_invalid", event, item, field=f"contents[{i}].quantity", value=repr(quantity))
                count = None
            else:
                count = amount
        if price is None:
            return None
        amount, problem = read_amount(price)
        if problem and problem != "missing":
            self._add("events.price_invalid", event, item, field=f"contents[{i}].price",
                      value=repr(price) if isinstance(price, str) else str(price))
        if amount is None or count is None:
            return None
        return amount * count
