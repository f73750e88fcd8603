"""Reading event logs: every shape, every container, and bad input that must not lose good events."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feedcheck.errors import ConfigError
from feedcheck.events.read import expand_paths, read_events
from feedcheck.events.shapes import Event
from feedcheck.findings import FindingLog
from feedcheck.settings import EventOptions
from tests.conftest import FIXTURES

EVENTS = FIXTURES / "events"
SEGMENT_FIELDS = {
    "event_id": "properties.eventId",
    "contents": "properties.products",
    "content_id": "product_id",
    "value": "properties.revenue",
    "currency": "properties.currency",
    "order_id": "properties.order_id",
}


def read(*paths: Path, options: EventOptions = EventOptions()) -> tuple[list[Event], FindingLog]:
    log = FindingLog()
    return list(read_events(list(paths), log, options)), log


def codes(log: FindingLog) -> list[tuple[str, int | None]]:
    return [(f.code, f.row) for f in log]


def test_events_api_2_payloads_give_one_event_per_data_entry() -> None:
    events, log = read(EVENTS / "server_eapi2.jsonl")
    assert len(events) == 14 and {e.shape for e in events} == {"eapi2"} and list(log) == []
    two = [e for e in events if e.line == 9]
    assert [e.event_id for e in two] == ["vc-1002", "vc-1003"]
    first = events[2]
    assert (first.name, first.event_id, first.order_id, first.value, first.currency) == (
        "Purchase", "order_5001", "5001", 60.0, "USD")
    assert [(c.content_id, c.quantity, c.price) for c in first.contents or []] == [
        ("NW-TEE-001-M", 2, 24.0), ("NW-MUG-002", 1, 12.0)]
    assert first.origin == "server" and first.time == 1795510800 + 300


def test_browser_pixel_events_are_recognised_with_iso_timestamps() -> None:
    events, _ = read(EVENTS / "pixel_browser.jsonl")
    assert {e.shape for e in events} == {"pixel"} and {e.origin for e in events} == {"browser"}
    assert events[0].time == 1795510800.0 and events[0].event_id == "vc-1001"


def test_legacy_track_and_batch_bodies() -> None:
    events, log = read(EVENTS / "legacy_eapi1.jsonl")
    assert [(e.shape, e.name, e.line) for e in events] == [
        ("eapi1", "CompletePayment", 1), ("eapi1", "ViewContent", 2), ("eapi1", "AddToCart", 2),
        ("eapi1", "SubmitForm", 2)]
    assert events[0].contents is not None and events[0].contents[0].content_id == "NW-JKT-014"
    assert events[3].contents is None and list(log) == []


def test_json_array_is_streamed_with_the_line_of_each_record() -> None:
    events, log = read(EVENTS / "flat_defects.json")
    assert len(events) == 28 and list(log) == []
    assert (events[0].event_id, events[0].line) == ("order_6001", 2)
    assert (events[-1].event_id, events[-1].line) == ("order_6017", 29)


def test_analytics_track_events_need_a_field_mapping() -> None:
    unmapped, _ = read(EVENTS / "segment_track.jsonl")
    assert [e.event_id for e in unmapped] == [None, None]
    mapped, log = read(EVENTS / "segment_track.jsonl", options=EventOptions(fields=SEGMENT_FIELDS))
    assert list(log) == []
    first = mapped[0]
    assert (first.shape, first.name, first.event_id, first.value, first.order_id) == (
        "mapped", "Order Completed", "order_7001", 44.0, "7001")
    assert [(c.content_id, c.price, c.quantity) for c in first.contents or []] == [
        ("NW-MUG-002", 12.0, 1), ("NW-SOCK-3PK", 32.0, 1)]


def test_unknown_mapping_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown event field 'eventid'"):
        read(EVENTS / "segment_track.jsonl", options=EventOptions(fields={"eventid": "properties.eventId"}))


@pytest.mark.parametrize("options", [{"reader": "lines"}, {"block_bytes": 255}, {"processes": -1},
                                     {"processes": True}])
def test_event_options_that_cannot_be_used_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="events (reader|block_bytes|processes)"):
        EventOptions(**options)  # type: ignore[arg-type]


def test_garbage_lines_are_findings_and_good_events_survive() -> None:
    events, log = read(EVENTS / "garbage.jsonl")
    assert [e.event_id for e in events] == ["order_9001", "atc-9001"]
    assert codes(log) == [
        ("events.not_json", 2), ("events.unknown_shape", 4), ("events.unknown_shape", 5), ("events.not_json", 6)]
    assert all(f.source == f"{EVENTS / 'garbage.jsonl'}:{f.row}" for f in log)


def test_truncated_gzip_keeps_every_complete_event_before_the_cut(tmp_path: Path) -> None:
    whole = (EVENTS / "server_eapi2.jsonl").read_bytes()
    packed = gzip.compress(whole)
    cut = tmp_path / "server.jsonl.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    events, log = read(cut)
    full, _ = read(EVENTS / "server_eapi2.jsonl")
    assert 0 < len(events) < len(full)
    assert [(e.event_id, e.value) for e in events] == [(e.event_id, e.value) for e in full[: len(events)]]
    assert [f.code for f in log] == ["events.file_unreadable"]
    assert "ends in the middle of its gzip data" in next(iter(log)).message


def test_gzip_log_reads_like_the_plain_one(tmp_path: Path) -> None:
    packed = tmp_path / "server.jsonl.gz"
    packed.write_bytes(gzip.compress((EVENTS / "server_eapi2.jsonl").read_bytes()))
    assert [e.event_id for e in read(packed)[0]] == [e.event_id for e in read(EVENTS / "server_eapi2.jsonl")[0]]


def test_empty_file_is_a_warning(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    events, log = read(empty)
    assert events == [] and [f.code for f in log] == ["events.empty_file"]


def test_invalid_utf8_is_reported_and_the_event_kept(tmp_path: Path) -> None:
    log_file = tmp_path / "latin.jsonl"
    log_file.write_bytes(b'{"event": "ViewContent", "event_id": "v1", "properties": {"description": "Caf\xe9"}}\n')
    events, log = read(log_file)
    assert [e.event_id for e in events] == ["v1"]
    assert [f.code for f in log] == ["decode.invalid_bytes"] and str(log_file) in next(iter(log)).message


def test_oversized_record_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    big = json.dumps({"event": "ViewContent", "event_id": "huge", "properties": {"description": "x" * 5000}})
    small = json.dumps({"event": "ViewContent", "event_id": "small"})
    log_file = tmp_path / "big.jsonl"
    log_file.write_text(big + "\n" + small + "\n")
    events, log = read(log_file, options=EventOptions(max_record_bytes=1000))
    assert [e.event_id for e in events] == ["small"]
    assert codes(log) == [("events.too_large", 1)]


def test_a_csv_passed_as_a_log_is_abandoned_early(tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("order_id,sku,value\n" + "".join(f"{n},NW-MUG-002,12.00\n" for n in range(500)))
    events, log = read(export)
    assert events == []
    assert [f.code for f in log] == ["events.not_json"] * 20 + ["events.not_json_file"]


def test_paths_globs_and_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "day1.jsonl").write_text("")
    (tmp_path / "a" / "day2.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "a" / "notes.md").write_text("")
    assert [p.name for p in expand_paths([tmp_path])] == ["day1.jsonl", "day2.jsonl.gz"]
    assert [p.name for p in expand_paths([str(tmp_path / "a" / "*.gz")])] == ["day2.jsonl.gz"]
    with pytest.raises(ConfigError, match="No event log matches"):
        expand_paths([tmp_path / "missing.jsonl"])


_GOOD = st.builds(
    lambda n, value: {"event": "Purchase", "event_id": f"order_{n}", "properties": {"value": value, "currency": "USD"}},
    st.integers(0, 10**6),
    st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False), st.text(max_size=8)),
)


@given(st.lists(st.one_of(_GOOD, st.tuples(_GOOD, st.integers(1, 200)), st.text(max_size=40)), max_size=25),
       st.booleans())
@example(records=[({"event": "Purchase", "event_id": "order_0", "properties": {"value": 0, "currency": "USD"}}, 200),
                  "}"], as_array=False)  # the line after the cut record closes it
def test_no_good_event_is_lost_among_broken_lines(tmp_path_factory: pytest.TempPathFactory, records: list[object],
                                                  as_array: bool) -> None:
    """Good events survive junk lines and records cut short (a writer that crashed mid-line).

    A cut record may come back whole when the junk after it happens to complete it as JSON (a record may
    span lines, as in a pretty-printed log): ``{... "USD"}`` cut before its last brace, then a line ``}``.
    """
    lines, expected, cut = [], [], set()
    for record in records:
        if isinstance(record, dict):
            lines.append(json.dumps(record))
            expected.append(record["event_id"])
        elif isinstance(record, tuple):
            cut_id = f"cut_{len(lines)}"
            cut.add(cut_id)
            text = json.dumps(record[0] | {"event_id": cut_id})
            lines.append(text[: min(record[1], len(text) - 1)])
        else:
            lines.append(record.replace("\n", " ").replace("\r", " ").replace("\u2028", " ").lstrip("{[ ,]"))
    body = "[\n" + ",\n".join(lines) + "\n]\n" if as_array else "\n".join(lines) + "\n"
    path = tmp_path_factory.mktemp("prop") / "log.jsonl"
    path.write_text(body, encoding="utf-8")
    events, _ = read(path)
    read_ids = [e.event_id for e in events]
    assert [i for i in read_ids if i not in cut] == expected
    assert set(read_ids) - set(expected) <= cut


def write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def ev(event_id: str, **extra: object) -> str:
    return json.dumps({"event": "ViewContent", "event_id": event_id} | extra)


def test_a_bad_element_of_a_minified_array_loses_only_itself(tmp_path: Path) -> None:
    body = "[" + ",".join([ev("a"), '{"event": "ViewContent", "event_id": }', ev("b"), ev("c")]) + "]"
    events, log = read(write(tmp_path, "min.json", body))
    assert [e.event_id for e in events] == ["a", "b", "c"]
    assert [f.code for f in log] == ["events.not_json"]


def test_scalars_in_an_array_are_unknown_shapes_not_lost_lines(tmp_path: Path) -> None:
    events, log = read(write(tmp_path, "mixed.json", "[1, " + ev("a") + ', "x", ' + ev("b") + "]"))
    assert [e.event_id for e in events] == ["a", "b"]
    assert [f.code for f in log] == ["events.unknown_shape"] * 2


def test_utf16_log_as_powershell_writes_it(tmp_path: Path) -> None:
    body = (ev("a") + "\r\n" + ev("b", properties={"description": "Café"}) + "\r\n").encode("utf-16")
    events, log = read(write(tmp_path, "ps.jsonl", body))
    assert [e.event_id for e in events] == ["a", "b"] and list(log) == []


def test_files_concatenated_with_their_byte_order_marks(tmp_path: Path) -> None:
    body = b"\xef\xbb\xbf" + ev("a").encode() + b"\n\xef\xbb\xbf" + ev("b").encode() + b"\n"
    events, log = read(write(tmp_path, "cat.jsonl", body))
    assert [e.event_id for e in events] == ["a", "b"] and list(log) == []


def test_a_long_banner_before_the_events_is_summarised_not_fatal(tmp_path: Path) -> None:
    banner = "".join(f"2026-11-24 09:00:{n:02d} INFO worker started\n" for n in range(25))
    events, log = read(write(tmp_path, "app.log", banner + "".join(ev(f"v{n}") + "\n" for n in range(10))))
    assert len(events) == 10
    assert [f.code for f in log] == ["events.not_json"] * 20 + ["events.not_json_file"]
    assert "5 more like them" in list(log)[-1].message


def test_binary_garbage_is_bounded(tmp_path: Path) -> None:
    noise = bytes(random.Random(3).randrange(128, 256) for _ in range(300_000))
    events, log = read(write(tmp_path, "noise.log", noise))
    assert events == [] and len(log) <= 1100
    assert log.counts["decode.invalid_bytes"] > 1000


def test_payload_entries_that_are_not_events_are_reported(tmp_path: Path) -> None:
    body = json.dumps({"event_source": "web", "event_source_id": "PX", "data": [json.loads(ev("a")), 7]}) + "\n"
    body += json.dumps({"event_source": "web", "event_source_id": "PX", "data": []}) + "\n"
    events, log = read(write(tmp_path, "eapi.jsonl", body))
    assert [e.event_id for e in events] == ["a"]
    assert [(f.code, f.row) for f in log] == [("events.unknown_shape", 1), ("events.unknown_shape", 2)]
    assert "1 of the 2 entries of data[]" in list(log)[0].message


def test_mapping_applies_only_to_records_that_are_not_tiktok_shapes() -> None:
    events, log = read(EVENTS / "server_eapi2.jsonl", EVENTS / "segment_track.jsonl",
                       options=EventOptions(fields=SEGMENT_FIELDS))
    shapes = [e.shape for e in events]
    assert shapes.count("eapi2") == 14 and shapes.count("mapped") == 2 and list(log) == []


def test_impossible_times_are_unreadable(tmp_path: Path) -> None:
    events, _ = read(write(tmp_path, "t.jsonl", "\n".join([
        ev("a", event_time="0001-01-01T00:00:00+01:00"), ev("b", event_time=10**400), ev("c", event_time=-5)])))
    assert [e.time for e in events] == [None, None, None]
