"""Reading logs a block at a time as columns gives what reading them record by record gives.

The reference is the record-by-record reader (``EventOptions(reader="records")``):
the scanner over the decoded text, each record recognised and each event
checked on its own.  The block reader must match it finding for finding (in
order), count for count, in the summary and in the mismatch rows, whatever
the log holds, however small its blocks.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import generate  # the benchmark's generator: real-shaped feeds and logs with known defects
from feedcheck.check import check_feed
from feedcheck.events.catalog import Catalog
from feedcheck.events.checker import check_events
from feedcheck.events.read import RecordBlock, read_records
from feedcheck.findings import FindingLog
from feedcheck.settings import EventOptions
from tests.conftest import FIXTURES

CATALOG = FIXTURES / "events" / "northwind_catalog.csv"


def _catalog(path: Path = CATALOG) -> Catalog:
    """A fresh copy of the catalog of ``path`` (each path is checked once)."""
    return copy.deepcopy(_checked_catalog(path))


@functools.cache
def _checked_catalog(path: Path) -> Catalog:
    catalog = Catalog(str(path))
    check_feed(path, catalog=catalog)
    return catalog


def assert_same(paths: list[Path], catalog_path: Path | None = CATALOG, options: EventOptions = EventOptions()) -> None:
    report = check_events(paths, _catalog(catalog_path) if catalog_path else None, options=options)
    reference = check_events(paths, _catalog(catalog_path) if catalog_path else None,
                             options=replace(options, reader="records"))
    assert [f.as_dict() for f in report.log] == [f.as_dict() for f in reference.log]
    assert report.log.counts == reference.log.counts
    assert report.summary == reference.summary
    assert report.mismatches == reference.mismatches


def test_json_lines_are_read_in_blocks_of_the_size_asked_and_not_at_all_by_the_record_reader(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    generate.write_events(log, 2_000, catalog_items=20, seed=2)  # about 400 kB
    for options, expected in ((EventOptions(block_bytes=16 << 10), True), (EventOptions(reader="records"), False)):
        items = list(read_records([log], FindingLog(), options))
        blocks = [item for item in items if isinstance(item, RecordBlock)]
        assert (len(blocks) > 3) is expected


@pytest.mark.parametrize("name", ["server_eapi2.jsonl", "pixel_browser.jsonl", "flat_defects.json",
                                  "legacy_eapi1.jsonl", "segment_track.jsonl", "garbage.jsonl"])
def test_fixture_logs_read_the_same_both_ways(name: str) -> None:
    assert_same([FIXTURES / "events" / name])


@pytest.mark.parametrize("processes", [1, 2])  # blocks parsed on a thread, or by two other processes
def test_a_generated_log_with_every_kind_of_defect_reads_the_same_in_small_blocks(tmp_path: Path,
                                                                                   processes: int) -> None:
    feed, events = tmp_path / "feed.csv", tmp_path / "events.jsonl"
    generate.write_delimited(feed, 2_000, seed=7, delimiter=",")
    generate.write_events(events, 6_000, catalog_items=2_000, seed=7)
    options = EventOptions(block_bytes=64 << 10, processes=processes)  # about 60 blocks: state crosses many
    report = check_events([events], _catalog(feed), options=options)
    assert report.summary["duplicates"] > 0 and report.summary["missing_value"] > 0
    assert report.summary["match_rate"] < 1
    assert_same([events], feed, options)


def test_a_log_past_the_dedup_bound_forgets_the_same_keys_both_ways(tmp_path: Path) -> None:
    # 6,000 events against a bound of 250 keys: the oldest half is dropped again and again, inside runs of new
    # events remembered together as well as between events judged one by one.
    feed, events = tmp_path / "feed.csv", tmp_path / "events.jsonl"
    generate.write_delimited(feed, 2_000, seed=11, delimiter=",")
    generate.write_events(events, 6_000, catalog_items=2_000, seed=11)
    options = EventOptions(block_bytes=64 << 10, max_dedup_keys=250)
    assert check_events([events], _catalog(feed), options=options).summary["duplicates"] > 0
    assert_same([events], feed, options)


def test_a_generated_1x_log_is_read_as_1x_with_its_legacy_purchase_name_and_the_same_both_ways(
        tmp_path: Path) -> None:
    feed, events = tmp_path / "feed.csv", tmp_path / "events.jsonl"
    generate.write_delimited(feed, 500, seed=5, delimiter=",")
    generate.write_events(events, 1_000, catalog_items=500, seed=5, shape="eapi1")
    summary = check_events([events], _catalog(feed)).summary
    assert summary["shapes"] == {"eapi1": 1_000}
    assert list(summary["legacy_names"]) == ["CompletePayment"]
    assert summary["by_name"]["Purchase"]["events"] > 0
    assert "events.time_invalid" not in check_events([events]).log.counts
    assert_same([events], feed, EventOptions(block_bytes=16 << 10))


def test_a_truncated_gzip_log_keeps_every_event_before_the_cut(tmp_path: Path) -> None:
    whole = tmp_path / "events.jsonl"
    generate.write_events(whole, 3_000, catalog_items=20, seed=3)
    packed = gzip.compress(whole.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    options = EventOptions(block_bytes=32 << 10)
    report = check_events([cut], None, options=options)
    assert report.log.counts["events.file_unreadable"] == 1
    assert 1_000 < report.summary["total"] < 3_000
    assert_same([cut], None, options)


def test_a_log_that_turns_to_noise_halfway_reads_the_same(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    generate.write_events(log, 2_000, catalog_items=20, seed=5)
    lines = log.read_bytes().split(b"\n")
    lines[1_200] = b"<html>oops</html>"
    lines[1_500] = b'{"event": "Purchase", "event_id": "x", '
    log.write_bytes(b"\n".join(lines))
    options = EventOptions(block_bytes=16 << 10)
    assert_same([log], None, options)


# One odd value among clean events: every check the column path makes, one at a time.

_CLEAN_LINE = {"content_id": "NW-TEE-001-M", "content_type": "product", "quantity": 2, "price": 24.0}


def _pixel(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event": "Purchase", "event_id": "order-9", "timestamp": 1795511100,
        "context": {"pixel": {"code": "C1"}},
        "properties": {"value": 48.0, "currency": "USD", "order_id": "o-9", "contents": [dict(_CLEAN_LINE)]},
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = record
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is _DROP:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return record


class _Drop:
    """The key is left out of the record.  Its name is stable, so test ids are the same in every process."""

    def __repr__(self) -> str:
        return "DROP"


_DROP = _Drop()
_ODD: list[tuple[str, Any]] = [
    *(("event", v) for v in ("CompletePayment", "purchase", "MyEvent", "", None, "Purchase ", 7)),
    *(("event_id", v) for v in (" e1", "null", "NULL", "{{id}}", "${x}", "<id>", "", None, "é1", "(not ſet)",
                                "e1\x1f", 42, _DROP)),
    *(("timestamp", v) for v in (-5, 0, 1e300, 253402300800, 1795511100123, "2026-11-24T09:04:58Z", "1795511100",
                                 None, True, _DROP)),
    *(("properties__value", v) for v in (None, -1, "48", 2 ** 60, 0, True, 30.0, _DROP)),
    *(("properties__currency", v) for v in ("usd", " USD", "$", "XXX", "", None, "BTN", 5, _DROP)),
    *(("properties__contents", v) for v in ([], None, [None], ["NW-TEE-001-M"], _DROP)),
    *(("properties__contents__0__content_id", v) for v in ("", " ", "\x1c", 5, None, "nw-tee-001-m", "NW-TEE-001")),
    *(("properties__contents__0__quantity", v) for v in (0, 1.5, -1, "2", None, 2 ** 60)),
    *(("properties__contents__0__price", v) for v in (-1, "24", None, float("nan"))),
    *(("properties__contents__0__content_type", v) for v in ("sku", "product_group", None)),
    *(("properties__order_id", v) for v in ("", 17, "o-1")),
    ("properties", None), ("context__pixel", None), ("pixel_code", None), ("properties__content_ids", ["x"]),
]
_UNPRICED = {"properties__contents__0__price": _DROP}  # no line total, so no value mismatch hides a check
_BROWSING = {"event": "PageView", "properties__value": _DROP, "properties__currency": _DROP}  # nothing required
_ODD_CHANGES: list[dict[str, Any]] = [{path: value} for path, value in _ODD] + [
    _UNPRICED | {"properties__contents__0__quantity": v} for v in (1.5, 0, -2)] + [
    _UNPRICED | {"properties__value": v} for v in (-1, float("nan"), 2 ** 60, 1e300)] + [
    _BROWSING | {"properties__contents__0__price": v} for v in (-1, float("nan"), 2 ** 60)] + [
    _BROWSING | {"properties__contents": v, "properties__content_ids": ["NW-TEE-001-M"]} for v in ([], None)] + [
    _BROWSING | {"properties__contents": _DROP, "properties__content_id": "NW-TEE-001-M"},
    _BROWSING | {"properties__contents": _DROP}, _BROWSING | {"properties__currency": "EUR"},
    {"properties__contents__0__content_type": _DROP, "properties__content_type": "product_group"},
    {"properties__contents__0__content_type": _DROP, "properties__content_type": "sku"},
    {"properties__contents__0__quantity": 1e300, "properties__contents__0__price": 2 ** 60},  # overflows a total
]


@pytest.mark.parametrize("changes", _ODD_CHANGES, ids=[repr(c) for c in _ODD_CHANGES])
def test_one_odd_value_among_clean_events_reads_the_same(tmp_path: Path, changes: dict[str, Any]) -> None:
    log = tmp_path / "events.jsonl"
    records = [_pixel(event_id="order-1", properties__order_id="o-1"), _pixel(**changes),
               _pixel(event_id="order-2", properties__order_id="o-2"), _pixel(event_id="order-1")]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert_same([log])


# Hypothesis: records of the two column-read shapes and their near misses, with values of every JSON type.

def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value the checks accept, sometimes one that needs a finding: so that most events are clean,
    and a check the column path forgets is caught by one odd value among them."""
    return st.integers(0, 29).flatmap(lambda n: valid if n < 28 else odd)


_ids = _mostly(st.sampled_from(["NW-TEE-001-S", "NW-TEE-001-M", "NW-JKT-014", "NW-TEE-001", "GONE-1"]),
               st.sampled_from(["nw-tee-001-m", " NW-TEE-001-M", "", "   ", "\x1c", "ſku", None]))
_numbers = _mostly(st.one_of(st.integers(0, 200), st.floats(0, 500)),
                   st.sampled_from([None, -2, -0.5, 2 ** 60, float("nan"), 1e300]))
_names = _mostly(st.sampled_from(["Purchase", "AddToCart", "ViewContent", "PageView"]),
                 st.sampled_from(["CompletePayment", "purchase", "MyEvent", "", None]))
_event_ids = _mostly(st.sampled_from(["e1", "e2", "e3", "e4"]),
                     st.sampled_from([" e1", "null", "{{id}}", "", None, "é1", "(not ſet)", "e1\x1f"]))
_currencies = _mostly(st.sampled_from(["USD", "EUR"]), st.sampled_from(["usd", " USD", "$", "XXX", "", None, "BTN"]))
_times = _mostly(st.sampled_from([1795511100, 1795511100 + 3600 * 50, 1795511100123]),
                 st.sampled_from([-5, 0, 1e300, 253402300800, None]))
_iso_times = _mostly(st.sampled_from(["2026-11-24T09:04:58Z", "2026-11-26T11:04:58Z", "2024-02-29T23:59:59Z"]),
                     st.sampled_from(["2026-02-30T00:00:00Z", " 2026-11-24T09:04:58Z", "2026-11-24T09:04:58+01:00",
                                      "2026-11-24 09:04:58", "2026-11-24T23:59:60Z", "3026-11-24T09:04:58Z",
                                      "0000-01-01T00:00:00Z", "1795511100", "", None]))
_orders = _mostly(st.sampled_from(["o1", "o2", None]), st.just(""))
# Values of another JSON type than the schema's: a block holding one is read record by record.
_CHAOS = [{"event": 7, "event_id": "e1"}, {"event": "Purchase", "event_id": 42, "context": {"pixel": {}}},
          {"event": "Purchase", "timestamp": "2026-11-24T09:04:58Z", "properties": {"value": "12.50"}},
          {"data": [{"event": "Purchase", "event_time": True}], "event_source": "web"},
          {"event": "Purchase", "properties": {"order_id": 17, "contents": [{"content_id": 5}]}}]


@st.composite
def _content(draw: st.DrawFn, typed: bool) -> Any:
    if not typed and draw(st.integers(0, 20)) == 0:
        return draw(st.one_of(st.none(), _ids))
    content: dict[str, Any] = {"content_id": draw(_ids)}
    for key, values in (("quantity", _mostly(st.integers(1, 3), _numbers)), ("price", _numbers),
                        ("content_type", _mostly(st.sampled_from(["product", "product_group"]), st.just("sku")))):
        if draw(st.booleans()):
            content[key] = draw(values)
    return content


def _amount(raw: Any, default: float = 0.0) -> float:
    return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) < 1e9 else default


@st.composite
def _event(draw: st.DrawFn, time_key: str, typed: bool, times: st.SearchStrategy[Any] = _times) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for key, values in (("event", _names), ("event_id", _event_ids), (time_key, times)):
        if draw(st.integers(0, 29)):
            event[key] = draw(values)
    properties: dict[str, Any] = {"contents": draw(_mostly(st.lists(_content(typed), min_size=1, max_size=3),
                                                           st.one_of(st.just([]), st.none())))}
    for key, values in (("value", _mostly(st.just("sum"), _numbers)), ("currency", _currencies), ("order_id", _orders)):
        if draw(st.integers(0, 19)):
            properties[key] = draw(values)
    if properties.get("value") == "sum":  # what the lines add up to, as a shop sends it
        lines = [c for c in properties["contents"] or [] if isinstance(c, dict)]
        properties["value"] = round(sum(_amount(c.get("price")) * _amount(c.get("quantity"), 1) for c in lines), 2)
    for key, values in (("content_ids", st.lists(_ids, max_size=2)), ("content_id", _ids),
                        ("content_type", st.sampled_from(["product", "product_group", "x", None]))):
        if draw(st.integers(0, 19)) == 0:
            properties[key] = draw(values)
    if draw(st.integers(0, 29)):
        event["properties"] = properties if draw(st.integers(0, 29)) else None
    return event


@st.composite
def _record(draw: st.DrawFn, typed: bool, times: st.SearchStrategy[Any]) -> Any:
    """A record of any shape: Events API 2.0, pixel, 1.x track or batch, flat, or (untyped) not an object.
    ``times`` are the 1.x and pixel times (numbers or ISO text: one JSON type per typed log)."""
    kind = draw(st.integers(0, 10 if typed else 11))
    if kind <= 3:
        record: dict[str, Any] = {"data": draw(st.lists(_event("event_time", typed), max_size=3))}
        record[draw(st.sampled_from(["event_source", "event_source_id"]))] = draw(_mostly(st.just("web"), st.none()))
        if draw(st.integers(0, 19)) == 0:
            record["data"].append(None)
        return record
    if kind <= 6:
        record = draw(_event("timestamp", typed, times))
        record["context"] = {"pixel": {"code": "C1"}} if draw(st.integers(0, 19)) else {"pixel": None}
        if draw(st.integers(0, 29)) == 0:
            record["pixel_code"] = None
        return record
    if kind <= 8:
        record = draw(_event("timestamp", typed, times))
        record["pixel_code"] = draw(_mostly(st.just("C1"), st.none()))
        if draw(st.integers(0, 9)) == 0:
            record["context"] = {"pixel": {"code": "C1"}}
        return record
    if kind == 9:
        record = {"batch": draw(st.lists(_event("timestamp", typed, times), max_size=3))}
        record[draw(st.sampled_from(["pixel_code", "event_source_id"]))] = draw(_mostly(st.just("C1"), st.none()))
        if draw(st.integers(0, 19)) == 0:
            record["batch"].append(None)
        return record
    if kind == 10:
        return draw(_event("event_time", typed))
    return draw(st.sampled_from([[1, 2], "text", 3, {"no": "event"}]))


def _line(record: Any, draw: st.DrawFn, typed: bool) -> bytes:
    if not typed and draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([b"", b"   ", b"not json", b'{"event": "Purchase",', b"\xff\xfe"]))
    text = json.dumps(record, allow_nan=True)
    return text.encode() if isinstance(record, dict) or draw(st.booleans()) else b"[" + text.encode() + b"]"


@st.composite
def _log(draw: st.DrawFn) -> bytes:
    """A log; a typed one has every value of the schema's JSON type (so it is read as columns)."""
    typed = draw(st.booleans())
    times = _iso_times if draw(st.booleans()) else _times
    records = draw(st.lists(_record(typed, times), min_size=1, max_size=60))
    lines = [_line(r, draw, typed) for r in records]
    repeats = draw(st.lists(st.integers(0, len(lines) - 1), max_size=6))
    lines += [lines[i] for i in repeats]
    if not typed and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), json.dumps(draw(st.sampled_from(_CHAOS))).encode())
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(data=_log(), small=st.booleans())
def test_any_log_reads_the_same_both_ways(tmp_path: Path, data: bytes, small: bool) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(data)
    assert_same([log], options=EventOptions(block_bytes=256 if small else 8 << 20))

