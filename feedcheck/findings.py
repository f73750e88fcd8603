"""One record type for everything feedcheck finds, feed or event log.

A finding is data, not an exception: the user's feed is allowed to be broken,
and the report is how they learn what to fix.  Every finding has a stable
``code`` (documented in ``docs/codes.md`` and in :data:`CODES`), a severity, the
item and field it concerns, the offending value (truncated) and a message that
says what to do.

Feeds can have millions of findings, so :class:`FindingLog` keeps exact counts
for every code but stores at most ``max_per_code`` examples of each.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
VALUE_MAX_CHARS = 200
FINDING_COLUMNS = ("code", "severity", "item_id", "row", "field", "value", "message", "source")


class Severity(str, enum.Enum):
    """How much a finding matters to the channel."""

    ERROR = "error"  # the channel rejects the item (or the whole feed, if fatal)
    WARNING = "warning"  # the item is kept but should be fixed
    INFO = "info"  # worth knowing; nothing to fix


class Sliceable(Protocol[T_co]):
    """Rows, an index or an array: anything with a length that slices (lists, pandas indexes, numpy arrays)."""

    def __len__(self) -> int: ...

    def __getitem__(self, part: slice, /) -> Iterable[T_co]: ...


@dataclass(frozen=True, slots=True)
class Code:
    """A registered finding code: its default severity and its message template.

    Templates are ``str.format`` strings over ``field``, ``value``, ``item_id``
    and the parameters of the rule that raised the finding (``limit``, …), plus
    ``hint``, which a rule may compute from the value (a "did you mean").
    """

    title: str
    severity: Severity
    template: str
    fatal: bool = False


def _c(title: str, severity: str, template: str, fatal: bool = False) -> Code:
    return Code(title, Severity(severity), template, fatal)


CODES: dict[str, Code] = {
    "config.invalid": _c("Invalid options", "error", "{detail}", True),
    # Fetching the source.  All fatal: there is nothing to check.
    "fetch.not_found": _c("Source not found", "error", "{detail}", True),
    "fetch.failed": _c("Source could not be fetched", "error", "{detail}", True),
    "fetch.status": _c("Server answered with an error", "error", "{detail}", True),
    "fetch.timeout": _c("Fetch took too long", "error", "{detail}", True),
    "fetch.too_large": _c("Source larger than the size cap", "error", "{detail}", True),
    "fetch.too_many_redirects": _c("Too many redirects", "error", "{detail}", True),
    "fetch.blocked": _c("Address or scheme not allowed", "error", "{detail}", True),
    "fetch.unchanged": _c("Source unchanged since last check", "info", "{detail}"),
    # Decoding bytes into text.
    "decode.too_large": _c("Decompressed size over the cap", "error", "{detail}", True),
    "decode.bad_gzip": _c("Corrupt or truncated gzip", "error", "{detail}", True),
    "decode.bom": _c(
        "Byte-order mark at the start",
        "warning",
        "The file starts with a {detail} byte-order mark. feedcheck ignores it, but some "
        "ingesters read it as part of the first column name; save the file without a BOM.",
    ),
    "decode.fallback_cp1252": _c(
        "Not UTF-8; read as Windows-1252",
        "warning",
        "The file is not valid UTF-8 and declares no encoding, so it was read as "
        "Windows-1252. Check accented characters in the findings, then re-save the feed as UTF-8.",
    ),
    "decode.latin1_as_cp1252": _c(
        "Latin-1 label read as Windows-1252",
        "info",
        "The feed says it is {detail}; like browsers, feedcheck reads that as Windows-1252 "
        "so that €, smart quotes and dashes come out right. UTF-8 is safer for every channel.",
    ),
    "decode.invalid_bytes": _c(
        "Bytes that are not valid text",
        "error",
        "{detail} Such characters reach the channel as garbage; re-save the feed as UTF-8.",
    ),
    # Recognising the format.
    "feed.empty_file": _c("Empty file", "error", "{detail}", True),
    "feed.html": _c("HTML page instead of a feed", "error", "{detail}", True),
    "feed.sitemap": _c("Sitemap instead of a feed", "error", "{detail}", True),
    "feed.unknown_format": _c("Not a feed format feedcheck knows", "error", "{detail}", True),
    "feed.no_items": _c(
        "No items",
        "error",
        "The feed has no items. A channel that replaces the catalog with this file deletes "
        "every product; check the export before it is fetched.",
    ),
    "feed.missing_column": _c(
        "Required field absent from the feed",
        "error",
        "No column or element '{field}' in the feed; the channel requires it for every item. "
        "Add it to the export.",
    ),
    "feed.unknown_field": _c(
        "Field the channel does not use",
        "info",
        "'{field}' is not a {channel} catalog field; the channel ignores it.",
    ),
    "feed.currency_assumed": _c(
        "Catalog currency assumed",
        "info",
        "No catalog currency was given, so {value} (the most common price currency in the "
        "first items) is assumed. Pass --currency to state it.",
    ),
    "feed.unprefixed_element": _c(
        "Google attribute without the g: namespace",
        "error",
        "{detail}",
    ),
    "xml.dtd_forbidden": _c("DOCTYPE or entity declarations", "error", "{detail}", True),
    "xml.syntax": _c("XML is not well-formed", "error", "{detail}", True),
    "csv.no_header": _c("No header row", "error", "{detail}", True),
    "csv.too_many_columns": _c("Too many columns", "error", "{detail}", True),
    "csv.line_too_long": _c("Line too long for a feed's row", "error", "{detail}", True),
    "csv.malformed": _c("Delimited text that cannot be parsed", "error", "{detail}", True),
    "csv.duplicate_header": _c(
        "Column named twice",
        "warning",
        "'{field}' is a column name more than once ({detail}); feedcheck reads the first. "
        "Remove or rename the others: channels differ in which one they keep.",
    ),
    "csv.ragged_row": _c(
        "Row with too many cells",
        "error",
        "{detail} The row was skipped. Usually an unquoted delimiter inside a value: quote "
        "the value or remove the delimiter.",
    ),
    "csv.template_row": _c(
        "Template guidance row",
        "warning",
        "Row {row} is a guidance row from TikTok's CSV template ('{value}'); it was skipped. "
        "Delete it from the file.",
    ),
    # Items.
    "item.missing_required": _c(
        "Required value missing",
        "error",
        "'{field}' is empty; {channel} rejects items without it. Fill it in the export.",
    ),
    "item.missing_recommended": _c(
        "Recommended value missing",
        "info",
        "'{field}' is empty; {channel} recommends it ({detail}).",
    ),
    "item.missing_conditional": _c(
        "Value required by another field missing",
        "error",
        "'{field}' is empty but required when {detail}.",
    ),
    "item.missing_identifier": _c(
        "No product identifiers",
        "warning",
        "The item has {detail}. Add the manufacturer's GTIN, or brand and MPN, or set "
        "identifier_exists to 'no' for custom or handmade products.",
    ),
    "item.identifier_exists_conflict": _c(
        "identifier_exists says no, but identifiers are present",
        "warning",
        "identifier_exists is '{value}' but the item has a GTIN or brand and MPN. Remove "
        "identifier_exists, or the identifiers.",
    ),
    "item.too_long": _c(
        "Value too long",
        "error",
        "'{field}' has {length} characters; {channel} allows at most {limit}. Shorten it.",
    ),
    "item.longer_than_recommended": _c(
        "Value longer than recommended",
        "warning",
        "'{field}' has {length} characters; {channel} recommends at most {limit} "
        "(longer text may be cut off in ads).",
    ),
    "item.invalid_value": _c(
        "Value not allowed",
        "error",
        "'{value}' is not a valid {field}. Allowed: {allowed}.{hint}",
    ),
    "item.noncanonical_value": _c(
        "Alternative spelling",
        "warning",
        "'{value}' is accepted for {field}, but {channel}'s spelling is '{hint}'; the cleaned "
        "catalog uses it. Change the export to avoid surprises on other channels.",
    ),
    "item.id_invalid": _c("Unusable id", "error", "{hint}"),
    "item.id_suspicious": _c(
        "Id looks mangled by a spreadsheet",
        "warning",
        "Id '{value}' looks like a number a spreadsheet rewrote in scientific notation; the "
        "original SKU is lost. Export ids as text.",
    ),
    "item.duplicate_id": _c(
        "Duplicate id",
        "error",
        "Id '{value}' is also used on row {hint}; {channel} keeps only one of them. "
        "Give every item its own id.",
    ),
    "item.price_invalid": _c("Price not in '12.50 USD' form", "error", "{hint}"),
    "item.price_rewritten": _c(
        "Price rewritten",
        "warning",
        "'{field}' is '{value}', which can be read only as '{hint}'; the cleaned catalog writes '{hint}'. "
        "Fix the export: the channel itself would reject the original.",
    ),
    "item.currency_unknown": _c(
        "Unknown currency code",
        "error",
        "'{hint}' in {field} '{value}' is not an ISO 4217 currency code. Use a code such as "
        "USD, EUR or GBP.",
    ),
    "item.currency_mismatch": _c(
        "Price in another currency than the catalog",
        "error",
        "{field} '{value}' is not in {currency}, the catalog's currency; {channel} requires "
        "every price in the catalog currency. Convert it, or move the item to a catalog in "
        "that currency.",
    ),
    "item.price_decimals": _c(
        "Decimals the currency does not have",
        "warning",
        "{field} '{value}' has {hint}. Round the price to the currency's minor unit.",
    ),
    "item.sale_price_above_price": _c(
        "Sale price not below the price",
        "error",
        "sale_price '{value}' is not lower than price '{hint}'. A sale price must be below "
        "the regular price, in the same currency.",
    ),
    "item.date_invalid": _c(
        "Date not in ISO 8601 form",
        "error",
        "'{value}' is not a valid {field}: {problem}. Write it as {hint}.",
    ),
    "item.sale_expired": _c(
        "Sale period over",
        "warning",
        "The sale period '{value}' ended {hint}; the sale price no longer applies. Update "
        "or remove it.",
    ),
    "item.url_invalid": _c("Not an http(s) URL", "error", "{hint}"),
    "item.url_not_ascii": _c(
        "URL with spaces or non-ASCII characters",
        "warning",
        "{field} '{value}' contains characters that must be percent-encoded ({hint}).",
    ),
    "item.image_format": _c(
        "Image link not .jpg, .jpeg or .png",
        "warning",
        "{channel} flags image links that do not end in .jpg, .jpeg or .png: '{value}'.",
    ),
    "item.too_many_values": _c(
        "Too many values",
        "warning",
        "'{field}' lists {count} values; {channel} uses the first {limit} and ignores the rest.",
    ),
    "item.gtin_format": _c("GTIN not 8, 12, 13 or 14 digits", "error", "{hint}"),
    "item.gtin_check_digit": _c(
        "GTIN check digit wrong",
        "error",
        "GTIN '{value}' fails the GS1 check digit (expected {hint}). It is mistyped or "
        "invented; copy it from the packaging or leave it empty.",
    ),
    "item.gtin_restricted": _c(
        "GTIN with a restricted or coupon prefix",
        "error",
        "GTIN '{value}' {hint}; channels do not accept it as a product identifier.",
    ),
    "item.control_chars": _c(
        "Control characters",
        "error",
        "'{field}' contains invisible control characters ({hint}); remove them.",
    ),
    "item.emoji": _c(
        "Emoji in the text",
        "error",
        "'{field}' contains emoji ({hint}); {channel} rejects them. Remove them.",
    ),
    "item.placeholder_text": _c(
        "Placeholder or template junk",
        "error",
        "'{field}' contains '{hint}', which is export-template junk rather than product "
        "text. Fix the export mapping for this field.",
    ),
    "item.promotional_text": _c(
        "Promotional text",
        "warning",
        "'{field}' contains '{hint}'; {channel} rejects promotional wording in titles.",
    ),
    "item.html": _c(
        "HTML markup in plain text",
        "warning",
        "'{field}' contains HTML markup ({hint}); {channel} wants plain text.",
    ),
    "item.whitespace_trimmed": _c(
        "Surrounding whitespace",
        "info",
        "'{field}' had leading or trailing whitespace, which was trimmed.",
    ),
    "item.id_whitespace": _c(
        "Id with surrounding whitespace",
        "warning",
        "Id '{value}' has leading or trailing whitespace; it was trimmed, but events that "
        "send the trimmed id will not match a catalog that keeps the spaces.",
    ),
    # The quality gate and publishing.
    "gate.fatal": _c(
        "Nothing to publish",
        "error",
        "The feed could not be read, so nothing was published; {kept}.",
    ),
    "gate.no_items": _c(
        "No valid items",
        "error",
        "None of the feed's {value} items passed the channel's rules; publishing would empty the catalog, "
        "so nothing was published; {kept}.",
    ),
    "gate.item_drop": _c(
        "Valid items dropped",
        "error",
        "Valid items fell from {previous} to {items} ({hint}, more than the {limit} allowed); a truncated "
        "export or fetch is the usual cause. The last good catalog stays in place; if the drop is real, "
        "run again with --accept-drop.",
    ),
    "gate.error_share": _c(
        "Too many items with errors",
        "error",
        "{hint} of the items have errors (more than the {limit} allowed), so nothing was published; {kept}. "
        "Fix the export, or run again with --accept-drop to publish the valid items anyway.",
    ),
    "gate.no_baseline": _c(
        "No readable manifest to compare with",
        "error",
        "Catalogs were published here before, but no manifest can be read, so the drop in valid items cannot be "
        "checked; nothing was published and the published files stay. Run again with --accept-drop to publish.",
    ),
    "gate.override": _c("Published despite the gate", "warning", "--accept-drop: published anyway. {detail}"),
    "publish.published": _c("Catalog published", "info", "Published {items} items to {value} (version {hint})."),
    "publish.unchanged": _c("Nothing new to publish", "info", "{detail}"),
    "publish.manifest_unreadable": _c(
        "Published manifest unreadable",
        "warning",
        "{detail} The gate has no previous item count to compare with; the next publish writes a new manifest.",
    ),
    "publish.layout": _c("Output folder not as feedcheck left it", "warning", "{detail}"),
    "publish.column_skipped": _c("Column left out of the XML catalog", "warning", "{detail}"),
    "publish.formula_value": _c(
        "Value a spreadsheet would run as a formula",
        "warning",
        "'{field}' starts with a character a spreadsheet treats as a formula; the catalog keeps it as it is "
        "(the channel reads it as text), but do not open the file in a spreadsheet and save it again.",
    ),
    "history.unreadable": _c("Run history unreadable", "warning", "{detail}"),
    # Purchase-event logs (item_id is the event id, or file:line when there is none).
    "events.file_unreadable": _c("Event log could not be read", "error", "{detail}"),
    "events.empty_file": _c("Empty event log", "warning", "{detail}"),
    "events.not_json": _c(
        "Line is not JSON",
        "error",
        "Not JSON ({detail}); the line was skipped. Look at how the log is written: "
        "one JSON object per line, or a JSON array of objects.",
    ),
    "events.not_json_file": _c("Event log is not JSON", "error", "{detail}"),
    "events.too_large": _c("Event record over the size cap", "error", "{detail}"),
    "events.unknown_shape": _c(
        "Record is not an event feedcheck recognises",
        "error",
        "{detail} Map your log's fields with --field, e.g. --field event_id=properties.eventId.",
    ),
    "events.no_events": _c("No events", "error", "{detail}"),
    "events.missing_event_name": _c(
        "Event without a name", "error", "The event has no 'event' name; the platform drops it."
    ),
    "events.legacy_name": _c(
        "Legacy event name",
        "warning",
        "'{value}' is a legacy TikTok event name, used by {count} event(s); send '{hint}' instead. "
        "TikTok still converts it, but reports and rules use the new name.",
    ),
    "events.name_case": _c(
        "Standard event name in the wrong case",
        "warning",
        "'{value}' ({count} event(s)) is not TikTok's standard '{hint}': event names are case-sensitive, so it "
        "may count as a custom event and not for catalog ads. Send '{hint}'.",
    ),
    "events.missing_event_id": _c(
        "Event without event_id",
        "warning",
        "{event} has no event_id, so the platform cannot deduplicate it against the same event "
        "from the pixel or the server; send the order id (purchases) or a per-action id.",
    ),
    "events.event_id_placeholder": _c(
        "event_id is a placeholder",
        "error",
        "event_id '{value}' is a placeholder, not an id: every event with it looks like the same "
        "event and all but the first are dropped. Fix the tag that fills it.",
    ),
    "events.duplicate": _c(
        "Duplicate event",
        "warning",
        "{event} with event_id '{item_id}' was already seen {hint}; the platform keeps only the first "
        "within {window}{doubled}.",
    ),
    "events.duplicate_outside_window": _c(
        "Same event_id outside the deduplication window",
        "warning",
        "{event} with event_id '{item_id}' repeats {hint}, outside the {window} deduplication window, "
        "so the platform counts it twice{doubled}. Use ids that are unique per action.",
    ),
    "events.order_counted_twice": _c(
        "Order reported by two events",
        "error",
        "Order '{value}' is reported by {event} events with different event_ids ('{hint}' and "
        "'{item_id}'), so the platform counts it twice{doubled}. Send the order id as event_id from "
        "both the pixel and the server.",
    ),
    "events.missing_contents": _c(
        "Catalog event without contents",
        "error",
        "{event} has no contents or content_id, so catalog ads cannot tie it to a product. "
        "Send contents: [{{content_id, content_type, quantity, price}}].",
    ),
    "events.missing_content_id": _c(
        "Content without content_id",
        "error",
        "{field} is empty: the platform reports \"content ID received with no value\" and "
        "cannot match the product.",
    ),
    "events.content_id_not_string": _c(
        "content_id is not a string",
        "error",
        "{field} is the {hint} {value}; TikTok rejects it (\"Not a valid string\"). Send \"{value}\" "
        "as a string.",
    ),
    "events.content_type_invalid": _c(
        "content_type not product or product_group",
        "error",
        "{field} is '{value}'; it must be 'product' (content_id is an item id) or 'product_group' "
        "(content_id is an item_group_id).",
    ),
    "events.quantity_invalid": _c(
        "Quantity not a whole number ≥ 1", "warning", "{field} is {value}; send a whole number of at least 1."
    ),
    "events.price_invalid": _c(
        "Content price not a number",
        "error",
        "{field} is {value}; send the unit price as a number (TikTok answers \"Invalid Price Field\").",
    ),
    "events.missing_value": _c(
        "Event without value",
        "error",
        "{event} has no value{hint}; the platform cannot report revenue or optimise for it. "
        "Send the order total as a number.",
    ),
    "events.value_invalid": _c("Invalid value", "error", "{event} value {value}: {hint}"),
    "events.missing_currency": _c(
        "Event without currency",
        "error",
        "{event} has no currency{hint}. Send an ISO 4217 code such as USD.",
    ),
    "events.currency_invalid": _c(
        "Currency not an ISO 4217 code", "error", "Currency '{value}' is not an ISO 4217 code{hint}."
    ),
    "events.currency_not_accepted": _c(
        "Currency TikTok does not accept",
        "error",
        "Currency '{value}' is ISO 4217 but not in TikTok's list of event currencies; convert the "
        "value to a currency TikTok accepts.",
    ),
    "events.value_mismatch": _c(
        "value differs from Σ price × quantity",
        "warning",
        "{event} value {value} but its contents add up to {hint}; value should be the order total.",
    ),
    "events.currency_mismatch": _c(
        "Event currency differs from the catalog's",
        "warning",
        "{event} is in {value} but the catalog prices '{field}' in {hint}; a hard-coded currency "
        "in the tag is the usual cause.",
    ),
    "events.time_invalid": _c(
        "Unreadable event time",
        "warning",
        "Event time {value} is neither unix seconds nor ISO 8601; deduplication treats the event "
        "as recent.",
    ),
    # Reconciling event content_ids with the catalog (item_id is the content_id).
    "match.not_in_catalog": _c(
        "content_id not in the catalog",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) is not in the catalog at all: the product is "
        "missing from the feed, or the site sends another kind of id.",
    ),
    "match.case_or_whitespace": _c(
        "content_id differs only in case or spaces",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) matches catalog id '{hint}' only after "
        "trimming or ignoring case; ids must match exactly.",
    ),
    "match.id_format": _c(
        "content_id in another id format",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) matches catalog id '{hint}' after removing "
        "{detail}; send the catalog's id, or change the feed's ids to the site's.",
    ),
    "match.group_id": _c(
        "content_id is an item_group_id",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) is an item_group_id, but content_type is "
        "not 'product_group'; send the variant's id, or content_type 'product_group'.",
    ),
    "match.item_id_as_group": _c(
        "product_group content_id is an item id",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) is an item id, but content_type is "
        "'product_group', which must name an item_group_id; send content_type 'product'.",
    ),
    "match.excluded": _c(
        "content_id excluded from the catalog",
        "error",
        "content_id '{value}' ({events} event(s){revenue}) is in the feed, but the item has error "
        "findings, so the channel rejects it; fix the item (see its findings).",
    ),
    "match.out_of_stock": _c(
        "Events for an out-of-stock item",
        "info",
        "content_id '{value}' matches an item marked '{hint}' that still gets {events} event(s).",
    ),
    "match.rate_low": _c(
        "Low catalog match rate",
        "warning",
        "{event}: {hint} of {events} event(s) match the catalog. {detail}",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing feedcheck found: a fatal source problem, a feed-level or an item-level one."""

    code: str
    severity: Severity
    message: str
    item_id: str = ""
    row: int | None = None
    field: str = ""
    value: str = ""
    source: str = ""

    @property
    def fatal(self) -> bool:
        """True when the finding means the source could not be used at all."""
        return CODES[self.code].fatal if self.code in CODES else False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FINDING_COLUMNS} | {
            "severity": self.severity.value
        }


def truncate(value: str, limit: int = VALUE_MAX_CHARS) -> str:
    """Shorten a value for display, marking the cut.

    >>> truncate("abcdef", 4)
    'abc…'
    """
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render(code: str, params: Mapping[str, Any]) -> str:
    """Render a code's message; unknown keys in a template render as ``?``."""
    return CODES[code].template.format_map(_Defaulting(params))


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def make_finding(
    code: str,
    *,
    severity: Severity | None = None,
    item_id: str = "",
    row: int | None = None,
    field: str = "",
    value: str = "",
    source: str = "",
    **params: Any,
) -> Finding:
    """Build a finding for ``code`` with its message rendered from ``params``.

    ``source`` locates it in an input that is not the feed itself, such as an
    event log's ``file:line``.
    """
    message = render(code, {"field": field, "value": value, "item_id": item_id, "row": row} | params)
    return Finding(
        code=code,
        severity=severity or CODES[code].severity,
        message=message,
        item_id=item_id,
        row=row,
        field=field,
        value=truncate(value),
        source=source,
    )


@dataclass
class FindingLog:
    """Collects findings: exact counts for every code, at most ``max_per_code`` stored."""

    max_per_code: int = 1000
    counts: Counter[str] = field(default_factory=Counter)
    severity_of: dict[str, Severity] = field(default_factory=dict)
    _stored: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.counts[finding.code] += 1
        self.severity_of.setdefault(finding.code, finding.severity)
        if self.counts[finding.code] <= self.max_per_code:
            self._stored.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def copy(self) -> FindingLog:
        """A log with the same findings, to which more can be added without touching this one."""
        return FindingLog(self.max_per_code, Counter(self.counts), dict(self.severity_of), list(self._stored))

    def room(self, code: str) -> int:
        """How many more findings of ``code`` will be stored."""
        return max(0, self.max_per_code - self.counts[code])

    def add_each(self, code: str, severity: Severity, keys: Sliceable[T], build: Callable[[T], Finding]) -> None:
        """One finding of ``code`` per key: the first that fit are built and stored, the rest only counted.

        Building a finding renders its message; a feed or log with millions of
        them must not pay for messages nobody will see.
        """
        room = self.room(code)
        for key in keys[:room]:
            self.add(build(key))
        if len(keys) > room:
            self.count_only(code, severity, len(keys) - room)

    def count_only(self, code: str, severity: Severity, n: int) -> None:
        """Count ``n`` findings of ``code`` that are not stored (beyond the cap)."""
        self.counts[code] += n
        self.severity_of.setdefault(code, severity)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)

    @property
    def fatal(self) -> Finding | None:
        """The first fatal finding, if the source could not be used."""
        return next((f for f in self._stored if f.fatal), None)

    def by_severity(self) -> dict[str, int]:
        totals = {s.value: 0 for s in Severity}
        for code, n in self.counts.items():
            totals[self.severity_of[code].value] += n
        return totals

    def summary(self) -> dict[str, Any]:
        """The ``findings`` section of ``report.json``: totals by severity and by code."""
        return {
            "by_severity": self.by_severity(),
            "by_code": {
                code: {"count": n, "severity": self.severity_of[code].value}
                for code, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            "stored": len(self),
            "max_per_code": self.max_per_code,
        }


class HeldFindings(FindingLog):
    """A log that holds what it is given and passes it on to ``target`` later, in the same order.

    A reader that runs ahead of validation (chunks validated side by side)
    makes its findings early; held, and released where one process would
    have made them, they leave the target exactly as one process would.
    Everything a :class:`FindingLog` records goes through :meth:`add` and
    :meth:`count_only`, so holding those two holds it all.
    """

    def __init__(self, target: FindingLog) -> None:
        super().__init__(max_per_code=target.max_per_code)
        self.target = target
        self._held: deque[Finding | tuple[str, Severity, int]] = deque()
        self._released = 0

    def add(self, finding: Finding) -> None:
        self._held.append(finding)

    def count_only(self, code: str, severity: Severity, n: int) -> None:
        self._held.append((code, severity, n))

    def mark(self) -> int:
        """A point in what has been held so far, for :meth:`release`."""
        return self._released + len(self._held)

    def release(self, upto: int | None = None) -> None:
        """Pass on what was held before ``upto`` (a :meth:`mark`), or everything held."""
        end = self.mark() if upto is None else upto
        while self._released < end:
            held = self._held.popleft()
            self._released += 1
            if isinstance(held, Finding):
                self.target.add(held)
            else:
                self.target.count_only(*held)
