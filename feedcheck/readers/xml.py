"""RSS 2.0 and Atom 1.0 product feeds with Google's ``g:`` namespace, streamed.

The parser is hardened: no DTD loading, no network, no entity resolution, no
``huge_tree`` (which would lift libxml2's size and depth guards).  Product feeds
never need a DOCTYPE, so one is a fatal finding before anything is expanded.
Items are turned into rows as they end and then freed, so memory stays flat
whatever the feed's size.  Rows are numbered by item (first item = 1).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
from lxml import etree

from feedcheck.errors import FeedFormatError
from feedcheck.findings import FindingLog, make_finding
from feedcheck.readers.base import FeedInfo
from feedcheck.readers.fields import ATOM_NS, GOOGLE_CUSTOM_NS, GOOGLE_NS, ID, KNOWN_FIELDS, canonical
from feedcheck.readers.text import TEXT
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import Opened, declared_xml_encoding, xml_encoding_override

PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,  # lxml < 6.1 resolved them in iterparse (CVE-2026-41066)
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "recover": False,
    "remove_comments": True,
    "remove_pis": True,
}
ITEM_TAGS = ("item", f"{{{ATOM_NS}}}entry")
_DTD_RE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_RSS_CORE = {"title": "title", "link": "link", "description": "description"}
_ATOM_CORE = {"title": "title", "summary": "description", "content": "description", "link": "link", "id": ID}
XHTML_NS = "http://www.w3.org/1999/xhtml"
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
                         "table", "dl", "dt", "dd", "blockquote", "pre", "hr", "section", "article"})
_HTML_TAGS = _BLOCK_TAGS | {"b", "i", "u", "em", "strong", "span", "a", "sub", "sup", "small", "img", "font"}
# Nested groups flatten to the text-feed form, one slot per tuple (first name present wins).
_NESTED_SLOTS = {
    "shipping": (("country",), ("region", "postal_code", "location_id", "location_group_name"), ("service",), ("price",)),
    "tax": (("country",), ("region", "postal_code", "location_id"), ("rate",), ("tax_ship",)),
    "installment": (("months",), ("amount",), ("downpayment",), ("credit_type",)),
    "subscription_cost": (("period",), ("period_length",), ("amount",)),
    "free_shipping_threshold": (("country",), ("price_threshold",)),
    "product_detail": (("section_name",), ("attribute_name",), ("attribute_value",)),
    "certification": (("certification_authority",), ("certification_name",), ("certification_code",)),
    "consumer_notice": (("consumer_notice_type",), ("consumer_notice_message",)),
    "variant_option": (("name",), ("value",)),
    "shipping_handling_business_days": (("country",), ("business_days",)),
    "shipping_transit_business_days": (("country",), ("business_days",)),
    "structured_title": (("digital_source_type",), ("content",)),
    "structured_description": (("digital_source_type",), ("content",)),
}


def read_xml(
    opened: Opened, log: FindingLog, limits: ReadLimits, shown: str, charset: str | None = None
) -> tuple[FeedInfo, Iterator[pd.DataFrame]]:
    """Open an RSS or Atom feed: its info now, its items as a lazy iterator of chunks.  XML names its own
    encoding, so the ``charset`` a server declared is not used.

    Raises:
        FeedFormatError: a DOCTYPE or entity declaration (``xml.dtd_forbidden``),
            or XML that is not well-formed (``xml.syntax``), when reached.
    """
    if _DTD_RE.search(opened.head):
        raise _dtd_forbidden(shown)
    encoding, findings = xml_encoding_override(opened.head)
    log.extend(findings)
    root = b"feed" if re.search(rb"<(\w+:)?feed[\s>]", opened.head) and b"<rss" not in opened.head else b"rss"
    info = FeedInfo(
        source=shown,
        format="atom" if root == b"feed" else "rss",
        encoding=encoding or (declared_xml_encoding(opened.head) or "utf-8").lower(),
        compressed=opened.compressed,
    )
    return info, _chunks(opened, encoding, limits, shown, log, info)


def _dtd_forbidden(shown: str) -> FeedFormatError:
    return FeedFormatError.of(
        "xml.dtd_forbidden",
        f"{shown} declares a DOCTYPE or entities. Product feeds never need them and they are how XML "
        "attacks work (entity expansion, reading local files), so the feed was not read. Remove the "
        "<!DOCTYPE …> block from the export.",
    )


def _chunks(
    opened: Opened, encoding: str | None, limits: ReadLimits, shown: str, log: FindingLog, info: FeedInfo
) -> Iterator[pd.DataFrame]:
    notes = ItemNotes()
    for frame in xml_chunks(opened.stream, encoding, limits, shown, notes):
        info.columns.extend(c for c in frame.columns if c not in info.columns)
        yield frame
    notes.report(log)


def xml_chunks(stream: Any, encoding: str | None, limits: ReadLimits, shown: str, notes: ItemNotes,
               first: int = 0) -> Iterator[pd.DataFrame]:
    """The items of an XML document as chunks of ``limits.chunk_rows`` rows, numbered from ``first + 1``; what
    is worth telling about them as a whole is counted in ``notes``."""
    context = etree.iterparse(stream, events=("end",), tag=ITEM_TAGS, encoding=encoding, **PARSER_OPTIONS)
    converter = _ItemConverter(notes)
    rows: list[dict[str, str]] = []
    number = first
    try:
        for _event, element in context:
            if number == first and _has_dtd(element):
                raise _dtd_forbidden(shown)
            number += 1
            rows.append(converter.convert(element))
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
            if len(rows) >= limits.chunk_rows:
                yield _frame(rows, first)
                first, rows = number, []
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise FeedFormatError.of(
            "xml.syntax",
            f"{shown} is not well-formed XML at line {line}, column {column}: {exc.msg}. "
            f"{number:,} items were read before it. A cut-off download or an unescaped '&' or '<' "
            "in a value are the usual causes.",
        ) from None
    if rows:
        yield _frame(rows, first)


def _has_dtd(element: Any) -> bool:
    docinfo = element.getroottree().docinfo
    return bool(docinfo.doctype) or docinfo.internalDTD is not None


def _frame(rows: list[dict[str, str]], first: int) -> pd.DataFrame:
    """The rows as a frame of strings, a column per field in the order fields first appear, empty where absent.
    Built column by column: ``DataFrame.from_records`` of dicts took a fifth of the reader's time."""
    names = dict.fromkeys(itertools.chain.from_iterable(rows))
    columns = {name: _strings([row.get(name, "") for row in rows]) for name in names}
    return pd.DataFrame(columns, index=pd.RangeIndex(first + 1, first + 1 + len(rows)))


def _strings(values: list[str]) -> pd.api.extensions.ExtensionArray:
    """pandas' ``str`` array of ``values``, made by Arrow straight from the list (``pd.array`` first checks
    every value in Python, at four times the cost)."""
    return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()), dtype=TEXT)


class ItemNotes:
    """What is told once about a feed's items as a whole, counted as they are read: fields whose HTML was not
    escaped, and known fields written without the ``g:`` prefix.  Counts of parts read apart add up."""

    def __init__(self) -> None:
        self.unprefixed: Counter[str] = Counter()
        self.unescaped_html: Counter[str] = Counter()

    def add(self, other: ItemNotes) -> None:
        self.unprefixed.update(other.unprefixed)
        self.unescaped_html.update(other.unescaped_html)

    def report(self, log: FindingLog) -> None:
        for name, count in sorted(self.unescaped_html.items()):
            log.add(make_finding("xml.unescaped_html", field=name, value=str(count), count=count))
        for name, count in sorted(self.unprefixed.items()):
            log.add(
                make_finding(
                    "feed.unprefixed_element",
                    field=name,
                    detail=f"{count:,} item(s) have <{name}> without the g: namespace prefix; Google and "
                    f"TikTok ignore it. Write <g:{name}> and declare "
                    f'xmlns:g="{GOOGLE_NS}" on the root element.',
                )
            )


class _ItemConverter:
    """Turns one ``<item>``/``<entry>`` element into a row of canonical fields."""

    def __init__(self, notes: ItemNotes) -> None:
        self._names: dict[str, tuple[str, str] | None] = {}
        self.unprefixed = notes.unprefixed
        self.unescaped_html = notes.unescaped_html

    def convert(self, item: Any) -> dict[str, str]:
        google: dict[str, str] = {}
        plain: dict[str, str] = {}
        names = self._names
        for child in item:
            tag = child.tag
            kind = names[tag] if tag in names else self._classify(tag)
            if kind is None:
                continue
            space, name = kind
            if space == "atom-link":
                value = (child.get("href") or "").strip()
            elif len(child):  # nested: a Google group, or HTML that was not escaped
                value = _value(child, name)
                if _holds_html(child):
                    self.unescaped_html[name] += 1
            else:
                value = child.text or ""
            if space == "google":
                google[name] = f"{google[name]},{value}" if name in google else value
            elif space == "unprefixed":
                self.unprefixed[name] += 1
            elif name not in plain:
                plain[name] = value
        return plain | google

    def _classify(self, tag: Any) -> tuple[str, str] | None:
        """What an element's tag stands for, remembered for the next item; ``None`` for what is not read."""
        kind = _kind(tag) if isinstance(tag, str) else None  # an entity's tag is not a name
        self._names[tag] = kind
        return kind


def _kind(tag: str) -> tuple[str, str] | None:
    """The name space an element's tag is read in (``google``, ``custom``, ``atom``, ``atom-link``, ``rss`` or
    ``unprefixed``) and the field it gives, or ``None`` when it is not read."""
    namespace, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    if namespace == GOOGLE_NS:
        return ("google", canonical(local))
    if namespace == GOOGLE_CUSTOM_NS:
        return ("custom", local)
    if namespace == ATOM_NS and local in _ATOM_CORE:
        return ("atom-link" if local == "link" else "atom", _ATOM_CORE[local])
    if not namespace and local in _RSS_CORE:
        return ("rss", _RSS_CORE[local])
    if not namespace and canonical(local) in KNOWN_FIELDS:
        return ("unprefixed", canonical(local))
    return None


def _value(element: Any, name: str) -> str:
    """Text of an element; nested Google groups (g:shipping) in text-feed ``a:b:c`` form, and HTML that was
    not escaped as the text a browser shows (see :func:`html_text`)."""
    if len(element) == 0:
        return element.text or ""
    if _holds_html(element):
        return html_text(element)
    parts = {etree.QName(sub).localname: (sub.text or "").strip() for sub in element if isinstance(sub.tag, str)}
    slots = _NESTED_SLOTS.get(name)
    if slots is None:
        return ":".join(parts.values())
    return ":".join(next((parts[key] for key in slot if key in parts), "") for slot in slots)


def _holds_html(element: Any) -> bool:
    """Whether an element's children are HTML elements written into the XML unescaped (``<p>`` in a
    description), rather than a Google group's sub-attributes."""
    return any(_html_name(sub) in _HTML_TAGS for sub in element.iterdescendants())


def _html_name(element: Any) -> str:
    """An element's HTML tag name, lower-case, when it is in no namespace or XHTML's; ``""`` otherwise."""
    if not isinstance(element.tag, str):
        return ""
    namespace, _, local = element.tag[1:].rpartition("}") if element.tag.startswith("{") else ("", "", element.tag)
    return local.lower() if namespace in ("", XHTML_NS) else ""


def html_text(element: Any) -> str:
    """An element's text with word boundaries kept: block elements and ``<br>`` start a new line, inline ones
    (``<b>``, ``<a>``) run on, so ``<p>Hi</p><p>there</p>`` reads "Hi" and "there", not "Hithere".  Walked
    without recursion: a hostile feed may nest a thousand levels deep."""
    pieces: list[str] = []
    for event, node in etree.iterwalk(element, events=("start", "end")):
        block = "\n" if node is not element and _html_name(node) in _BLOCK_TAGS else ""
        if event == "start":
            pieces += [block, node.text or ""] if isinstance(node.tag, str) else []
        elif node is not element:
            pieces += [block, node.tail or ""]
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(pieces).split("\n"))
    return "\n".join(line for line in lines if line)
