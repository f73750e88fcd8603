"""The command line as a user runs it: outputs, exit codes, no tracebacks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import feedcheck
from feedcheck.cli import main
from tests.conftest import FEEDS, FeedServer, run


def test_clean_feed_exit_0_and_reports(tmp_path: Path) -> None:
    done = run("check", str(FEEDS / "tiktok_clean.csv"), "--channel", "tiktok", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "8 items" in done.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["items"] == {"total": 8, "with_errors": 0, "with_warnings": 0, "valid": 8}
    assert report["feed"]["format"] == "csv" and report["feed"]["encoding"] == "utf-8"
    assert report["findings"]["by_severity"]["error"] == 0


def test_defects_exit_1_with_findings_csv(tmp_path: Path) -> None:
    assert main(["check", str(FEEDS / "tiktok_defects.csv"), "--out", str(tmp_path), "--no-publish"]) == 1
    with (tmp_path / "findings.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["code", "severity", "item_id", "row", "field", "value", "message", "source", "title"]
    assert next(r for r in rows if r["code"] == "item.emoji")["title"] == "Sun Hat 🌞"  # the item, found by eye
    price = next(r for r in rows if r["item_id"] == "DF-001" and r["code"] == "item.price_rewritten")
    assert price["row"] == "4" and "169.00 USD" in price["message"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["findings"]["by_code"]["item.price_invalid"] == {"count": 1, "severity": "error"}
    assert report["findings"]["by_code"]["item.price_rewritten"] == {"count": 2, "severity": "warning"}
    assert report["items"]["with_errors"] == 15


def test_findings_per_code_capped_but_counts_exact(tmp_path: Path) -> None:
    assert main(["check", str(FEEDS / "tiktok_defects.csv"), "--out", str(tmp_path), "--max-findings", "1",
                 "--no-publish"]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    with (tmp_path / "findings.csv").open(encoding="utf-8-sig") as f:
        stored = [r["code"] for r in csv.DictReader(f)]
    assert stored.count("item.currency_mismatch") == 1
    assert report["findings"]["by_code"]["item.currency_mismatch"]["count"] == 3


def test_unreadable_feed_exit_3_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "login.xml"
    bad.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    done = run("check", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 3
    assert "Traceback" not in done.stdout + done.stderr
    assert "HTML page" in done.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "fatal" and report["fatal"]["code"] == "feed.html"


def test_missing_file_exit_3(tmp_path: Path) -> None:
    done = run("check", str(tmp_path / "missing.csv"), "--out", str(tmp_path))
    assert done.returncode == 3 and "does not exist" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [["check"], ["check", "x.csv", "--channel", "pinterest"], ["check", "x.csv", "--limit", "title=long"],
     ["check", "x.csv", "--limit", "gtin=5"]],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    done = run(*args, "--out", str(tmp_path)) if len(args) > 1 else run(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_unchanged_feed_over_http_is_not_reread(tmp_path: Path, server: FeedServer) -> None:
    good = server.serve_with_etag("/good.csv", (FEEDS / "tiktok_clean.csv").read_bytes(), '"v7"')
    assert main(["check", good, "--out", str(tmp_path)]) == 0
    first = json.loads((tmp_path / "report.json").read_text())
    findings = (tmp_path / "findings.csv").read_bytes()
    done = run("check", good, "--out", str(tmp_path))
    assert done.returncode == 0 and "unchanged" in done.stdout
    skipped = json.loads((tmp_path / "report.json").read_text())
    assert skipped["status"] == "unchanged" and skipped["checked_at"] == first["started_at"]
    assert {k: v for k, v in skipped.items() if k not in ("status", "started_at", "checked_at", "seconds", "fetch")} \
        == {k: v for k, v in first.items() if k not in ("status", "started_at", "seconds", "fetch")}
    assert (tmp_path / "findings.csv").read_bytes() == findings
    assert main(["check", good, "--out", str(tmp_path), "--force"]) == 0
    assert server.requests[-1].get("If-None-Match") is None
    assert main(["check", good, "--out", str(tmp_path), "--format", "xml"]) == 0  # another catalog: read again
    assert server.requests[-1].get("If-None-Match") is None and (tmp_path / "catalog.xml").exists()


def test_a_skipped_run_stands_only_on_the_last_run_of_its_own_source(tmp_path: Path, server: FeedServer) -> None:
    body = (FEEDS / "tiktok_clean.csv").read_bytes()
    a = server.serve_with_etag("/a.csv", body, '"a1"')
    broken = server.url("/broken.csv")  # it answers 404
    other = tmp_path / "other.csv"
    other.write_bytes(body.replace(b"24.00 USD", b"26.00 USD"))
    out = tmp_path / "out"

    def check(source: str) -> tuple[int, str, str | None]:
        done = run("check", source, "--out", str(out))
        report = json.loads((out / "report.json").read_text())
        return done.returncode, report["status"], server.requests[-1].get("If-None-Match")

    assert check(a) == (0, "ok", None)
    assert check(str(other)) == (0, "ok", None)
    assert check(broken) == (3, "fatal", None)
    assert check(a) == (0, "ok", None)  # the folder's last run was another source's: read in full
    assert json.loads((out / "manifest.json").read_text())["source"] == a
    assert check(a) == (0, "unchanged", '"a1"')
    report = json.loads((out / "report.json").read_text())
    assert (report["source"], report["publish"]["current"]["source"]) == (a, a)
    assert check(broken) == (3, "fatal", None)
    assert check(a) == (0, "ok", None)


def test_an_unchanged_source_is_checked_again_when_the_check_settings_change(tmp_path: Path,
                                                                            server: FeedServer) -> None:
    url = server.serve_with_etag("/good.csv", (FEEDS / "tiktok_clean.csv").read_bytes(), '"v1"')
    runs = []
    for limit in (["--limit", "title=28"], ["--limit", "title=28"], [], [], ["--limit", "gtin=5"]):
        code = main(["check", url, "--out", str(tmp_path), "--now", "2026-12-01", *limit])
        report = json.loads((tmp_path / "report.json").read_text())
        runs.append((code, report["status"], report["findings"]["by_code"].get("item.too_long", {}).get("count")))
    assert runs == [
        (1, "errors", 3),
        (1, "unchanged", 3),
        (0, "ok", None),  # the default limit: the same bytes are read again, under it
        (0, "unchanged", None),
        (2, "unchanged", None),  # refused before anything is fetched: the last report stands
    ]


def test_a_source_that_has_not_changed_is_checked_again_once_a_sale_has_ended(tmp_path: Path,
                                                                               server: FeedServer) -> None:
    body = ("sku_id,title,description,availability,condition,price,link,image_link,brand,sale_price,"
            "sale_price_effective_date\nSKU-1,Linen shirt,A shirt of washed linen,in stock,new,40.00 USD,"
            "https://shop.example/p/1,https://shop.example/p/1.jpg,Northwind,30.00 USD,"
            "2026-11-01T00:00Z/2026-12-01T00:00Z\n")

    url = server.serve_with_etag("/sale.csv", body.encode(), '"s1"')
    runs = []
    for now in ("2026-11-29", "2026-11-30", "2026-12-02"):
        assert main(["check", url, "--out", str(tmp_path), "--now", now]) == 0
        report = json.loads((tmp_path / "report.json").read_text())
        runs.append((report["status"], report["now"], report["findings"]["by_code"].get("item.sale_expired")))
    assert runs == [
        ("ok", "2026-11-29T00:00:00+00:00", None),
        ("unchanged", "2026-11-30T00:00:00+00:00", None),
        ("ok", "2026-12-02T00:00:00+00:00", {"count": 1, "severity": "warning"}),
    ]


def test_the_summary_lists_errors_before_warnings_and_says_one_in_the_singular(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = "sku_id,title,description,availability,condition,price,link,image_link,brand\n"
    item = "SKU-{n},Linen shirt {n},{description},in stock,new,40.00 USD,https://shop.example/p/{n},https://shop.example/p/{n}.jpg,{brand}\n"
    feed = tmp_path / "feed.csv"
    feed.write_text(header + item.format(n=1, description="Linen shirt 1", brand="") + "".join(
        item.format(n=n, description=f"Linen shirt {n}", brand="Northwind") for n in (2, 3)))
    assert main(["check", str(feed), "--out", str(tmp_path / "three"), "--no-publish"]) == 1
    assert capsys.readouterr().out.splitlines()[1:7] == [
        "  3 items: 1 with errors (rejected by the channel), 2 with warnings only",
        "  top findings:",
        "           1  error    item.missing_required",  # before the more frequent warning
        "              e.g. row 2, SKU-1 'Linen shirt 1': 'brand' is empty; TikTok rejects items without it. Fill it "
        "in the export.",
        "           3  warning  item.description_is_title",
        "              e.g. row 2, SKU-1 'Linen shirt 1': 'description' is the title again ('Linen shirt 1'); TikTok "
        "shows the description to shoppers and matches it to searches, so say what the product is made of, it…",
    ]
    feed.write_text(header + item.format(n=1, description="A linen shirt", brand=""))
    assert main(["check", str(feed), "--out", str(tmp_path / "one"), "--no-publish"]) == 1
    assert capsys.readouterr().out.splitlines()[1] == "  1 item: 1 with errors (rejected by the channel), 0 with " \
                                                      "warnings only"
    facts = [line for line in (tmp_path / "one" / "report.md").read_text().splitlines() if line.startswith("| It")]
    assert facts == ["| Items | 1 item read, 0 valid, 1 with errors, 0 with warnings only |"]
    assert "| Findings | 1 error, 0 warnings, " in (tmp_path / "one" / "report.md").read_text()


def test_a_refused_feed_is_read_again_next_time(tmp_path: Path, server: FeedServer) -> None:
    url = server.serve_with_etag("/feed.csv", (FEEDS / "tiktok_defects.csv").read_bytes(), '"v1"')
    assert main(["check", str(FEEDS / "tiktok_clean.csv"), "--out", str(tmp_path)]) == 0
    assert main(["check", url, "--out", str(tmp_path)]) == 3
    assert main(["check", url, "--out", str(tmp_path), "--accept-drop"]) == 1
    assert all(r.get("If-None-Match") is None for r in server.requests)
    assert main(["check", url, "--out", str(tmp_path), "--accept-drop"]) == 1


def test_public_api_is_sorted_and_complete() -> None:
    assert feedcheck.__all__ == sorted(feedcheck.__all__)
    for name in feedcheck.__all__:
        assert hasattr(feedcheck, name)


def test_every_code_and_attribute_is_documented_as_the_registries_say() -> None:
    from feedcheck.findings import CODES
    from feedcheck.reports.codes import codes_markdown, coverage_markdown

    docs = Path(__file__).resolve().parent.parent / "docs"
    table = (docs / "codes.md").read_text()
    assert [code for code in CODES if f"| `{code}` |" not in table] == []
    stale = "is stale: python -m feedcheck.reports.codes docs/"
    assert table == codes_markdown(), f"docs/codes.md {stale}"
    assert (docs / "coverage.md").read_text() == coverage_markdown(), f"docs/coverage.md {stale}"


def test_a_reader_that_leaves_early_is_not_an_internal_error(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-m", "feedcheck", "check", str(FEEDS / "tiktok_clean.csv"), "--out",
                           str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # like `feedcheck check … | head -0`
        errors = child.stderr.read()
        assert child.wait(timeout=120) == 141
    assert errors == "" and (tmp_path / "report.json").exists()
