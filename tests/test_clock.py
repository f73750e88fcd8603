"""The run's clock: every date rule judges at one ``now`` that the run is given, and reports record it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from feedcheck import ChannelOptions, check_feed
from feedcheck.cli import main
from feedcheck.clock import NOW_VARIABLE, Window, parse_now
from tests.conftest import TEST_NOW

HEADER = "sku_id,title,description,availability,condition,price,link,image_link,brand,sale_price," \
         "sale_price_effective_date\n"


def feed(tmp_path: Path, *windows: str) -> Path:
    """A TikTok feed of valid items, one per sale window."""
    path = tmp_path / "feed.csv"
    path.write_text(HEADER + "".join(
        f"SKU-{n},Linen shirt {n},A shirt of washed linen,in stock,new,40.00 USD,https://shop.example/p/{n},"
        f"https://shop.example/p/{n}.jpg,Northwind,30.00 USD,{window}\n" for n, window in enumerate(windows, 1)))
    return path


def sale_findings(path: Path, now: str) -> list[tuple[str, str, str]]:
    report = check_feed(path, "tiktok", options=ChannelOptions(now=now))
    return [(f.item_id, f.code, f.message) for f in report.log if f.field == "sale_price_effective_date"]


def test_a_sale_is_over_only_once_the_run_is_past_its_end(tmp_path: Path) -> None:
    path = feed(tmp_path, "2026-11-01T00:00Z/2026-12-01T00:00Z")
    assert sale_findings(path, "2026-11-30T23:59:59Z") == []
    assert sale_findings(path, "2026-12-01T00:00:00Z") == []
    assert sale_findings(path, "2026-12-01T00:00:01Z") == [
        ("SKU-1", "item.sale_expired", "The sale period in sale_price_effective_date '2026-11-01T00:00Z/2026-12-01T00:00Z' "
                                       "ended on 2026-12-01; "
                                       "the sale price no longer applies. Update or remove it.")]


def test_a_window_that_is_not_one_says_what_is_wrong_and_is_never_also_over(tmp_path: Path) -> None:
    path = feed(tmp_path, "2026-12-31/2026-12-01", "2026-02-01/2026-02-29", "2026-02-01", "2026-03-01/2026-03-01")
    form = "start/end, e.g. 2026-02-24T13:00-0800/2026-02-28T15:30-0800"
    assert sale_findings(path, "2031-01-01T00:00:00Z") == [
        ("SKU-1", "item.date_invalid", "'2026-12-31/2026-12-01' is not a valid sale_price_effective_date: the end "
                                       f"is before the start. Write it as {form}."),
        ("SKU-2", "item.date_invalid", "'2026-02-01/2026-02-29' is not a valid sale_price_effective_date: its end "
                                       f"'2026-02-29': that date or time does not exist. Write it as {form}."),
        ("SKU-3", "item.date_invalid", "'2026-02-01' is not a valid sale_price_effective_date: it is not a start "
                                       f"and an end separated by '/'. Write it as {form}."),
        ("SKU-4", "item.date_invalid", "'2026-03-01/2026-03-01' is not a valid sale_price_effective_date: the end "
                                       f"is the same as the start. Write it as {form}."),
    ]


def test_the_example_in_the_date_message_is_a_valid_window(tmp_path: Path) -> None:
    assert sale_findings(feed(tmp_path, "2026-02-24T13:00-0800/2026-02-28T15:30-0800"), "2026-02-25T00:00Z") == []


def test_the_report_records_the_moment_it_judged_at(tmp_path: Path) -> None:
    report = check_feed(feed(tmp_path, ""), "tiktok", options=ChannelOptions(now="2026-05-01T14:00+02:00"))
    assert report.to_dict()["now"] == "2026-05-01T12:00:00+00:00"


def test_without_a_moment_given_a_run_judges_at_the_current_time(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NOW_VARIABLE)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    judged = datetime.fromisoformat(check_feed(feed(tmp_path, ""), "tiktok").to_dict()["now"])
    assert before <= judged <= datetime.now(timezone.utc)


def test_the_variable_sets_the_moment_of_every_run(tmp_path: Path) -> None:
    assert check_feed(feed(tmp_path, ""), "tiktok").to_dict()["now"] == TEST_NOW


def test_the_command_line_takes_the_moment_and_refuses_what_is_not_one(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = str(feed(tmp_path, "2026-11-01T00:00Z/2026-12-01T00:00Z"))
    assert main(["check", path, "--out", str(tmp_path / "out"), "--now", "2027-01-01"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["now"], report["findings"]["by_code"]["item.sale_expired"]["count"]) == (
        "2027-01-01T00:00:00+00:00", 1)
    assert main(["check", path, "--out", str(tmp_path / "out"), "--now", "next tuesday"]) == 2
    assert "--now 'next tuesday' is not a date or time" in capsys.readouterr().err


@pytest.mark.parametrize(("moment", "holds"), [
    ("2026-11-20T12:00:00+00:00", True),  # the check's own moment
    ("2026-11-10T00:00:01+00:00", True),
    ("2026-11-10T00:00:00+00:00", False),  # a verdict turns here
    ("2026-11-30T23:59:59+00:00", True),
    ("2026-12-01T00:00:00+00:00", False),
    ("2027-01-01T00:00:00+00:00", False),
])
def test_a_window_holds_strictly_between_the_turns_around_its_moment(moment: str, holds: bool) -> None:
    turns = [datetime.fromisoformat(t) for t in ("2026-11-10T00:00:00+00:00", "2026-12-01T00:00:00+00:00",
                                                 "2026-11-01T00:00:00+00:00", "2027-06-01T00:00:00+00:00")]
    assert Window(TEST_NOW).around(turns).holds_at(moment) is holds


def test_a_turn_at_the_moment_itself_holds_only_then() -> None:
    window = Window(TEST_NOW).around([datetime.fromisoformat(TEST_NOW)])
    assert (window.holds_at(TEST_NOW), window.holds_at("2026-11-20T12:00:01+00:00")) == (True, False)


def test_moments_are_read_as_utc() -> None:
    assert [parse_now(t) for t in ("2026-11-20", "2026-11-20T13:00+01:00", "2026-11-20T12:00:00Z")] == [
        "2026-11-20T00:00:00+00:00", "2026-11-20T12:00:00+00:00", "2026-11-20T12:00:00+00:00"]
