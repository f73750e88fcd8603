"""Every copy of an event is checked: the pixel's and the server's copies of one purchase often differ, and the
copy the platform keeps may be either.  Deduplication still decides what is counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedcheck.events.checker import check_events
from feedcheck.settings import EventOptions

TIME = "2026-11-24T10:0{n}:00.000Z"
EPOCH = 1795514400  # 2026-11-24T10:00:00Z


def pixel(n: int, order: str, content_id: object, value: object, currency: str | None) -> dict:
    properties = {"contents": [{"content_id": content_id, "content_type": "product", "quantity": 1, "price": 24.0}],
                  "value": value} | ({"currency": currency} if currency else {})
    return {"event": "Purchase", "event_id": order, "timestamp": TIME.format(n=n),
            "context": {"pixel": {"code": "CNW1EXAMPLE2026"}}, "properties": properties}


def server(n: int, order: str, content_id: object, value: object, currency: str | None) -> dict:
    properties = {"contents": [{"content_id": content_id, "content_type": "product", "quantity": 1, "price": 24.0}],
                  "value": value} | ({"currency": currency} if currency else {})
    return {"event_source": "web", "event_source_id": "CNW1EXAMPLE2026",
            "data": [{"event": "Purchase", "event_time": EPOCH + 60 * n, "event_id": order, "properties": properties}]}


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path]:
    browser, backend = tmp_path / "pixel.jsonl", tmp_path / "server.jsonl"
    browser.write_text("".join(json.dumps(e) + "\n" for e in [
        pixel(1, "order_7001", "NW-TEE-001-M", 24.0, "USD"),
        pixel(2, "order_7002", "NW-TEE-001-L", 24.0, None),  # both copies without a currency
        pixel(3, "order_7003", "NW-TEE-001-S", "24,00", "USD"),  # only the pixel's value is unreadable
    ]))
    backend.write_text("".join(json.dumps(e) + "\n" for e in [
        server(1, "order_7001", 1001, 24.0, "USD"),  # only the server sends a number as content_id
        server(2, "order_7002", "NW-TEE-001-L", 24.0, None),
        server(3, "order_7003", "NW-TEE-001-S", 24.0, "USD"),
    ]))
    return browser, backend


@pytest.mark.parametrize("reader", ["records", "blocks"])
def test_each_copys_defects_are_found_and_say_which_copy_has_them(logs: tuple[Path, Path], reader: str) -> None:
    browser, backend = logs
    report = check_events([browser, backend], options=EventOptions(reader=reader))
    defects = [(f.code, f.item_id, f.source, f.message) for f in report.log
               if f.code in ("events.content_id_not_string", "events.missing_currency", "events.value_invalid")]
    assert defects == [
        ("events.missing_currency", "order_7002", f"{browser}:2, {backend}:2",
         "Purchase has no currency, so the platform ignores its value. Send an ISO 4217 code such as USD. Both "
         f"copies carry it: {browser}:2 and {backend}:2."),
        ("events.value_invalid", "order_7003", f"{browser}:3",
         "Purchase value '24,00' is not a number. Send the amount as a JSON number with a dot for decimals, such as "
         "24.5; the platform does not count a value it cannot read as revenue. Only the pixel copy at "
         f"{browser}:3 has it, not the server copy at {backend}:3."),
        ("events.content_id_not_string", "order_7001", f"{backend}:1",
         'contents[0].content_id is the number 1001; TikTok rejects it ("Not a valid string"). Send "1001" as a '
         f"string. Only the server copy at {backend}:1 has it, not the pixel copy at {browser}:1."),
    ]
    assert report.log.counts["events.missing_currency"] == 2  # each copy's defect, counted
    summary = report.summary
    assert (summary["total"], summary["unique"], summary["duplicates"]) == (6, 3, 3)  # what the platform counts
    assert summary["missing_currency"] == 2 and summary["content_lines"] == 3
