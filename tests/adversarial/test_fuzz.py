"""Fuzzing: arbitrary bytes, damaged real-shaped files and arbitrary structured feeds and event logs, into the
readers, the library and the CLI.  Only feedcheck's own errors and findings may come out: no other exception,
no traceback, no report that is not valid JSON, no item lost from a well-formed feed.

CI runs Hypothesis' short profile (25 examples a test).  The long profile runs 5,000 a test, on demand::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/adversarial/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedcheck import CODES, FeedFormatError, FindingLog, check_feed, open_feed
from feedcheck.cli import main
from tests.conftest import FEEDS, FIXTURES, schema_problems

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

_REAL = [*sorted(FEEDS.glob("*.*")), *sorted((FEEDS / "encodings").glob("*"))]
_LOGS = sorted((FIXTURES / "events").glob("*.json*"))
_CATALOG = FIXTURES / "events" / "northwind_catalog.csv"
_HEADS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b\x08\x00", b'<?xml version="1.0"?>',
          b'<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel><item>',
          b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>', b"<!DOCTYPE html><html>", b"id,title,price\n",
          b"id\ttitle\tprice\n", b"sep=;\n", b'{"event": "Purchase"', b"[", b"\x00\x00\x00"]
# What hostile files hold, spliced into the damaged ones: a quote never closed once the file is cut, nesting past
# Python's recursion limit, an integer past its 4,300 digits, JSON's forbidden constants.
_HOSTILE = [b'"', b"[" * 3_000, b"9" * 5_000, b"NaN", b"-Infinity", b"<![CDATA[", b"&#0;", b"]]>"]
_fuzz = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)


@st.composite
def _damaged(draw: st.DrawFn, files: list[Path]) -> bytes:
    """A real-shaped file with bytes changed, deleted, repeated or inserted, or the file cut short there (at times
    inside a quoted cell it opens); at times gzipped after the damage."""
    data = bytearray(draw(st.sampled_from(files)).read_bytes())
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            data[at:at + 1] = draw(st.binary(min_size=1, max_size=4))
        elif kind == 1:
            del data[at:at + draw(st.integers(1, 200))]
        elif kind == 2:
            data[at:at] = data[at:at + draw(st.integers(1, 300))] * draw(st.integers(1, 4))
        elif kind == 3:
            data[at:at] = draw(st.sampled_from([b"\r", b"\n", b"\t", b",", b"<", b"&", b"\xff", b"\xc3", b"\x00",
                                                b"&lt;", *_HOSTILE]))
        elif kind == 4:
            del data[at:]
        else:
            data[at:] = b',"' + data[at:at + draw(st.integers(0, 60))]
    if draw(st.integers(0, 5)) == 0:
        data = bytearray(gzip.compress(bytes(data), mtime=0)[:draw(st.integers(10, max(10, len(data))))])
    return bytes(data)


_BYTES = st.one_of(
    st.builds(lambda head, tail: head + tail, st.sampled_from(_HEADS), st.binary(max_size=600)),
    _damaged(_REAL),
)


def _fresh(tmp_path: Path) -> Path:
    """A folder of this example's own: examples share the test's ``tmp_path``, not their published catalogs."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def _only_own_errors(path: Path) -> tuple[int, FindingLog]:
    """Read every chunk of ``path``; a FeedFormatError with a registered code is the one failure allowed."""
    log = FindingLog()
    rows = 0
    try:
        with open_feed(path, log) as (info, chunks):
            for chunk in chunks:
                assert all(isinstance(column, str) for column in chunk.columns), chunk.columns
                rows += len(chunk)
    except FeedFormatError as exc:
        assert exc.finding.code in CODES and exc.finding.message, exc.finding
        return -1, log
    return rows, log


@_fuzz
@given(data=_BYTES)
def test_any_bytes_are_read_as_a_feed_or_end_in_a_format_finding(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "feed"
    path.write_bytes(data)
    _, log = _only_own_errors(path)
    assert all(f.code in CODES for f in log)


def _strict_json(report: dict[str, Any]) -> None:
    """What the report says is valid JSON (no NaN or Infinity) and follows the documented schema."""
    json.dumps(report, allow_nan=False)
    assert schema_problems(json.loads(json.dumps(report))) == []


@_fuzz
@given(data=_BYTES, channel=st.sampled_from(["tiktok", "google", "meta"]))
def test_any_bytes_checked_by_the_library_give_a_report(tmp_path: Path, data: bytes, channel: str) -> None:
    path = tmp_path / "feed"
    path.write_bytes(data)
    report = check_feed(path, channel)
    summary = report.to_dict()
    _strict_json(summary)
    assert all(f.code in CODES for f in report.log)
    if report.fatal:
        assert report.exit_code == 3 and summary["fatal"]["code"] in CODES and summary["fatal"]["message"]
    else:
        assert report.items_with_errors <= report.items_total == summary["items"]["total"]


def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


@_fuzz
@given(data=_BYTES, channel=st.sampled_from(["tiktok", "google", "meta"]))
def test_any_bytes_through_the_cli_end_in_a_report_and_an_exit_code(tmp_path: Path, data: bytes,
                                                                    channel: str) -> None:
    folder = _fresh(tmp_path)
    path = folder / "feed"
    path.write_bytes(data)
    out = folder / "out"
    code, err = _cli("check", str(path), "--channel", channel, "--out", str(out))
    assert code in (0, 1, 3), err
    assert "internal error" not in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    assert schema_problems(report) == []
    assert report["status"] in {0: {"ok"}, 1: {"errors"}, 3: {"fatal", "refused"}}[code]


_CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_XML_CELL = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                    max_size=40)
_TSV_CELL = _XML_CELL.map(lambda s: s.replace('"', "'")).filter(lambda s: not s[:1].isspace())
_FIELDS = ["title", "description", "price", "link", "availability", "brand", "gtin",
           # what Google's rules read part by part, by number or by category
           "google_product_category", "gender", "shipping", "tax", "installment", "product_detail", "multipack",
           "unit_pricing_base_measure", "max_handling_time", "min_handling_time", "size_type", "image_link"]


def _rows(cell: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, str]]]:
    return st.lists(st.fixed_dictionaries({f: cell for f in _FIELDS}), min_size=1, max_size=12).map(
        lambda rows: [{"id": f"SKU-{n}", **row} for n, row in enumerate(rows)])


def _csv(rows: list[dict[str, str]], delimiter: str) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, ["id", *_FIELDS], delimiter=delimiter, lineterminator="\r\n",
                            quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE, escapechar=None)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


_RSS = ('<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel><title>Shop</title>', "item",
        "</channel></rss>")
_ATOM = ('<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0"><title>Shop</title>',
         "entry", "</feed>")


def _xml(rows: list[dict[str, str]], shape: tuple[str, str, str]) -> bytes:
    """An RSS or Atom feed (``_RSS``, ``_ATOM``) of ``rows``, every field a ``g:`` element."""
    start, tag, end = shape
    items = "".join(f"<{tag}>" + "".join(f"<g:{k}>{escape(v)}</g:{k}>" for k, v in row.items()) + f"</{tag}>\n"
                    for row in rows)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{start}\n{items}{end}\n'.encode()


_FEEDS = st.one_of(
    _rows(_CELL).map(lambda rows: ("csv", rows, _csv(rows, ","))),
    _rows(_TSV_CELL.map(lambda s: s.replace("\t", " ").replace("\n", " ").replace("\r", " "))).map(
        lambda rows: ("tsv", rows, _csv(rows, "\t"))),
    _rows(_XML_CELL.map(lambda s: s.replace("\r", "\n"))).map(lambda rows: ("rss", rows, _xml(rows, _RSS))),
    _rows(_XML_CELL.map(lambda s: s.replace("\r", "\n"))).map(lambda rows: ("atom", rows, _xml(rows, _ATOM))),
)


@_fuzz
@given(feed=_FEEDS, compressed=st.booleans())
def test_any_well_formed_feed_is_read_item_for_item(tmp_path: Path, feed: tuple[str, list[dict[str, str]], bytes],
                                                    compressed: bool) -> None:
    kind, rows, data = feed
    path = tmp_path / f"feed.{kind}"
    path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    log = FindingLog()
    with open_feed(path, log) as (info, chunks):
        read = [row for chunk in chunks for row in chunk.to_dict("records")]
    assert [row["id"] for row in read] == [row["id"] for row in rows]
    for written, got in zip(rows, read):
        assert (got.get("title") or "").strip() == written["title"].strip(), (kind, written, got)
    report = check_feed(path, "google")
    assert not report.fatal and report.items_total == len(rows)
    _strict_json(report.to_dict())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, _JSON)


_CONTENT = st.fixed_dictionaries({"content_id": _maybe(st.sampled_from(["NW-TEE-001-M", "nw-tee-001-m ",
                                                                          "NW-TEE-001", "GONE-1"]))},
                                 optional={"quantity": _maybe(st.integers(0, 5)),
                                           "price": _maybe(st.floats(0, 500, allow_nan=False))})
_EVENT = st.fixed_dictionaries(
    {"event": _maybe(st.sampled_from(["Purchase", "CompletePayment", "AddToCart", "ViewContent"])),
     "event_id": _maybe(st.text("abc123-", min_size=1, max_size=8))},
    optional={"event_time": _maybe(st.integers(1_700_000_000, 1_900_000_000)),
              "properties": _maybe(st.fixed_dictionaries(
                  {}, optional={"value": _maybe(st.floats(0, 1000, allow_nan=False)),
                                "currency": _maybe(st.sampled_from(["USD", "usd", "EUR", "XXX", ""])),
                                "contents": _maybe(st.lists(_CONTENT, max_size=3)),
                                "content_id": _JSON}))},
)
_LINE = st.one_of(
    _EVENT.map(lambda e: json.dumps(e, allow_nan=True)),
    st.sampled_from(_HOSTILE).map(lambda value: '{"event": "Purchase", "event_id": "h", "properties": {"value": '
                                  + value.decode() + (value.count(b"[") * "]") + ', "currency": "USD"}}'),
    st.fixed_dictionaries({"data": st.lists(_EVENT, max_size=3)}).map(lambda e: json.dumps(e, allow_nan=True)),
    st.text(max_size=30).map(lambda s: s.replace("\n", " ")),
)
_LOG = st.one_of(
    st.lists(_LINE, max_size=20).map(lambda lines: "\n".join(lines).encode()),
    _damaged(_LOGS),
    st.binary(max_size=400),
)


@_fuzz
@given(data=_LOG, compressed=st.booleans())
def test_any_event_log_checked_against_a_catalog_gives_a_report(tmp_path: Path, data: bytes,
                                                                compressed: bool) -> None:
    log = tmp_path / ("events.jsonl.gz" if compressed else "events.jsonl")
    log.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    report = check_feed(_CATALOG, "tiktok", events=[log])
    assert not report.fatal and report.events is not None
    summary = report.to_dict()
    _strict_json(summary)
    assert all(f.code in CODES for f in report.log)
    rate = summary["events"]["match_rate"]
    assert rate is None or (math.isfinite(rate) and 0 <= rate <= 1)
    out = _fresh(tmp_path) / "out"
    code, err = _cli("events", str(log), "--catalog", str(_CATALOG), "--out", str(out))
    assert code in (0, 1, 3) and "internal error" not in err, err
