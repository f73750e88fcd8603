"""Publishing: writers that round-trip, deterministic bytes, the quality gate, and crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedcheck.check import check_feed
from feedcheck.feeds import FeedConfig
from feedcheck.findings import FindingLog
from feedcheck.pipeline import run_feed
from feedcheck.publish.atomic import Candidate
from feedcheck.publish.atomic import publish_catalog as publish
from feedcheck.publish.clean import CatalogSpool
from feedcheck.readers import open_feed
from feedcheck.settings import PublishOptions
from feedcheck.steps import feed_lock
from tests.conftest import FEEDS, FeedServer, run

COLUMNS = ["id", "title", "description", "price", "availability"]


def candidate(total: int = 10, errors: int = 0, fatal: bool = False, source_sha: str | None = None) -> Candidate:
    return Candidate(channel="tiktok", source="feed.csv", fatal=fatal, items_total=total, items_with_errors=errors,
                     source_sha256=source_sha, etag=None, last_modified=None)


def spool_of(items: list[dict[str, str]], tmp: Path) -> CatalogSpool:
    spool = CatalogSpool(tmp)
    frame = pd.DataFrame(items, columns=COLUMNS, dtype="str").fillna("")
    for start in range(0, len(frame), 3):  # several chunks, as a real run spools them
        spool.add(frame.iloc[start:start + 3])
    return spool


def items(n: int, prefix: str = "SKU") -> list[dict[str, str]]:
    return [{"id": f"{prefix}-{i}", "title": f"Item {i}", "description": "A thing", "price": "9.50 USD",
             "availability": "in stock"} for i in range(n)]


def read_back(path: Path) -> list[dict[str, str]]:
    log = FindingLog()
    with open_feed(path, log) as (_, chunks):
        frames = list(chunks)
    frame = pd.concat(frames).reindex(columns=COLUMNS, fill_value="").fillna("")
    return frame.to_dict("records")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\u2028\u2029",
                              whitelist_characters="\n\t\r"), max_size=30).map(str.strip)


@given(st.lists(st.fixed_dictionaries({c: _TEXT for c in COLUMNS[1:]}), min_size=1, max_size=8),
       st.sampled_from(["csv", "tsv", "xml"]))
def test_published_catalog_reads_back_the_same(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]],
                                               fmt: str) -> None:
    tmp = tmp_path_factory.mktemp("rt")
    items_in = [{"id": f"ID-{n}"} | row for n, row in enumerate(rows)]
    log = FindingLog()
    result = publish(candidate(len(items_in)), spool_of(items_in, tmp), tmp / "out", PublishOptions(format=fmt), log)
    assert result.outcome == "published"
    back = read_back(tmp / "out" / f"catalog.{fmt}")
    assert back == items_in


def test_parquet_round_trip_and_channel_names(tmp_path: Path) -> None:
    rows = items(7)
    publish(candidate(7), spool_of(rows, tmp_path), tmp_path / "out", PublishOptions(format="parquet"), FindingLog())
    table = pq.read_table(tmp_path / "out" / "catalog.parquet").to_pandas()
    assert list(table.columns) == ["sku_id"] + COLUMNS[1:]
    assert table.rename(columns={"sku_id": "id"}).to_dict("records") == rows


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xml", "parquet"])
def test_same_input_gives_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    digests = []
    for run_dir in ("a", "b"):
        publish(candidate(9), spool_of(items(9), tmp_path), tmp_path / run_dir, PublishOptions(format=fmt),
                FindingLog())
        digests.append(sha(tmp_path / run_dir / f"catalog.{fmt}"))
    assert digests[0] == digests[1]


def test_a_second_identical_run_publishes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = publish(candidate(5, source_sha="abc"), spool_of(items(5), tmp_path), out, PublishOptions(), FindingLog())
    log = FindingLog()
    again = publish(candidate(5, source_sha="abc"), spool_of(items(5), tmp_path), out, PublishOptions(), log)
    assert (first.outcome, again.outcome) == ("published", "unchanged")
    assert [f.code for f in log] == ["publish.unchanged"] and len(list((out / "published").iterdir())) == 1
    rewritten = publish(candidate(5, source_sha="def"), spool_of(items(5), tmp_path), out, PublishOptions(),
                        FindingLog())
    assert rewritten.outcome == "unchanged" and rewritten.reason == "same catalog"


@pytest.mark.parametrize("offer, code", [
    (dict(fatal=True), "gate.fatal"),
    (dict(n=0), "gate.no_items"),
    (dict(n=7), "gate.item_drop"),
    (dict(n=10, total=30, errors=20), "gate.error_share"),
])
def test_each_refusal_keeps_the_last_good_catalog(tmp_path: Path, offer: dict, code: str) -> None:
    out = tmp_path / "out"
    publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    before = {p.name: p.read_bytes() for p in (out / "current").iterdir()}
    n = offer.get("n", 10)
    log = FindingLog()
    result = publish(candidate(offer.get("total", max(n, 1)), offer.get("errors", 0), offer.get("fatal", False)),
                     spool_of(items(n, "NEW"), tmp_path), out, PublishOptions(), log)
    assert result.outcome == "refused" and code in [f.code for f in log]
    assert {p.name: p.read_bytes() for p in (out / "current").iterdir()} == before


def test_accept_drop_publishes_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    log = FindingLog()
    result = publish(candidate(7), spool_of(items(7, "NEW"), tmp_path), out, PublishOptions(accept_drop=True), log)
    assert result.outcome == "published" and [f.code for f in log][:1] == ["gate.override"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["items"] == 7 and manifest["accepted_drop"] is True
    assert manifest["sha256"] == sha(out / "catalog.csv")
    fatal = publish(candidate(fatal=True), spool_of([], tmp_path), out, PublishOptions(accept_drop=True), FindingLog())
    assert fatal.outcome == "refused"


def test_old_versions_are_pruned_to_keep(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for n in range(4):
        publish(candidate(10), spool_of(items(10, f"V{n}"), tmp_path), out, PublishOptions(keep=2), FindingLog())
        time.sleep(1.05)  # published_at has one-second resolution
    assert len(list((out / "published").iterdir())) == 2
    assert read_back(out / "catalog.csv")[0]["id"] == "V3-0"


def test_a_damaged_manifest_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    (out / "current" / "manifest.json").write_text("{not json")
    log = FindingLog()
    result = publish(candidate(3), spool_of(items(3, "X"), tmp_path), out, PublishOptions(), log)
    assert result.outcome == "refused" and [f.code for f in log] == ["publish.manifest_unreadable", "gate.no_baseline"]
    accepted = publish(candidate(3), spool_of(items(3, "X"), tmp_path), out, PublishOptions(accept_drop=True),
                               FindingLog())
    assert accepted.outcome == "published" and read_back(out / "catalog.csv")[0]["id"] == "X-0"


def test_a_damaged_current_manifest_falls_back_to_the_newest_readable_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    time.sleep(1.05)
    publish(candidate(10), spool_of(items(10, "B"), tmp_path), out, PublishOptions(), FindingLog())
    (out / "current" / "manifest.json").write_text("{not json")
    log = FindingLog()
    result = publish(candidate(2), spool_of(items(2, "C"), tmp_path), out, PublishOptions(), log)
    assert result.outcome == "refused" and "gate.item_drop" in [f.code for f in log]


def test_links_are_repaired_and_foreign_files_kept_aside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    (out / "catalog.csv").unlink()  # a run killed between the swap and the links
    again = publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    assert again.outcome == "unchanged" and (out / "catalog.csv").is_symlink() and (out / "catalog.csv").exists()
    handmade = tmp_path / "handmade"
    handmade.mkdir()
    (handmade / "catalog.csv").write_text("sku_id,title\nOLD-1,Old\n")
    log = FindingLog()
    publish(candidate(10), spool_of(items(10), tmp_path), handmade, PublishOptions(), log)
    assert (handmade / "catalog.csv.before-feedcheck").read_text() == "sku_id,title\nOLD-1,Old\n"
    assert "publish.layout" in [f.code for f in log] and (handmade / "catalog.csv").is_symlink()


def test_a_lost_current_link_is_restored_by_publishing_the_same_catalog_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    (out / "current").unlink()  # removed by hand, or by a backup tool that skips symlinks
    again = publish(candidate(10), spool_of(items(10), tmp_path), out, PublishOptions(), FindingLog())
    assert again.outcome == "published" and (out / "current").is_symlink()
    assert first.manifest is not None and again.manifest is not None
    assert again.manifest["sha256"] == first.manifest["sha256"] and len(list((out / "published").iterdir())) == 1
    assert json.loads((out / "manifest.json").read_text()) == again.manifest


def test_republishing_an_earlier_catalog_records_this_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for prefix, sha_of_source in (("A", "s1"), ("B", "s2"), ("A", "s3")):
        result = publish(candidate(10, source_sha=sha_of_source), spool_of(items(10, prefix), tmp_path), out,
                                 PublishOptions(), FindingLog())
    assert result.outcome == "published"
    assert json.loads((out / "manifest.json").read_text()) == result.manifest
    assert result.manifest is not None and result.manifest["source_sha256"] == "s3"


def test_xml_leaves_out_what_xml_cannot_hold(tmp_path: Path) -> None:
    rows = items(2)
    rows[0]["description"] = "bad \ufffe char"
    spool = spool_of(rows, tmp_path)
    spool.columns.append("my col")
    log = FindingLog()
    result = publish(candidate(2), spool, tmp_path / "out", PublishOptions(format="xml"), log)
    assert result.outcome == "published" and [f.field for f in log if f.code == "publish.column_skipped"] == ["my col"]
    assert read_back(tmp_path / "out" / "catalog.xml")[0]["description"] == "bad  char"


def test_formula_like_values_are_kept_with_a_warning(tmp_path: Path) -> None:
    rows = items(2)
    rows[1]["title"] = "=HYPERLINK(\"http://x\")"
    log = FindingLog()
    publish(candidate(2), spool_of(rows, tmp_path), tmp_path / "out", PublishOptions(), log)
    assert [f.item_id for f in log if f.code == "publish.formula_value"] == ["SKU-1"]
    assert read_back(tmp_path / "out" / "catalog.csv")[1]["title"] == "=HYPERLINK(\"http://x\")"


def test_cleaned_catalog_drops_rejected_items_and_fixes_spellings_and_prices(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    clean = (FEEDS / "tiktok_clean.csv").read_text().splitlines()
    feed.write_text("\n".join([clean[0], clean[1].replace(",in stock,", ",In_Stock,"),
                               clean[2].replace(",24.00 USD,", ",twenty,"),
                               clean[3].replace(",24.00 USD,", ",USD 24,")] + clean[4:]) + "\n")
    spool = CatalogSpool(tmp_path)
    report = check_feed(feed, "tiktok", spool=spool)
    assert report.items_with_errors == 1 and spool.items == report.items_total - 1
    publish(report.candidate(), spool, tmp_path / "out", PublishOptions(), report.log)
    published = read_back(tmp_path / "out" / "catalog.csv")
    assert "NW-TEE-001-M" not in [r["id"] for r in published]
    assert published[0]["availability"] == "in stock"
    assert published[1]["id"] == "NW-TEE-001-L" and published[1]["price"] == "24.00 USD"
    assert [f.value for f in report.log if f.code == "item.price_rewritten"] == ["USD 24"]


_KILL_CHILD = r"""
import sys
from pathlib import Path
import pandas as pd
from feedcheck.publish.clean import CatalogSpool
from feedcheck.settings import PublishOptions
from feedcheck.findings import FindingLog
from feedcheck.publish.atomic import Candidate
from feedcheck.publish.atomic import publish_catalog as publish

out, n, prefix = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
spool = CatalogSpool(out.parent / "spool")  # killed children leave it in the test's folder
frame = pd.DataFrame({"id": [f"{prefix}-{i}" for i in range(n)], "title": ["x" * 200] * n}, dtype="str")
for start in range(0, n, 50_000):
    spool.add(frame.iloc[start:start + 50_000])
print("publishing", flush=True)
candidate = Candidate("tiktok", "feed", False, n, 0, prefix, None, None)
publish(candidate, spool, out, PublishOptions(accept_drop=True), FindingLog())
spool.cleanup()
print("done", flush=True)
"""


def test_a_publish_killed_at_any_moment_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = tmp_path / "child.py"
    script.write_text(_KILL_CHILD)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, str(script), str(out), "1000", "OLD"], check=True, env=env, timeout=120)
    old = (out / "catalog.csv").read_bytes()
    rng = random.Random(11)
    killed_mid_write = 0
    for attempt in range(6):
        with subprocess.Popen([sys.executable, str(script), str(out), "300000", f"NEW{attempt}"],
                              stdout=subprocess.PIPE, text=True, env=env) as child:
            assert child.stdout is not None and child.stdout.readline().strip() == "publishing"
            # Every other kill comes at any moment of the publish, the others once it is writing: on a loaded
            # machine the gate alone can outlast a random pause.
            while attempt % 2 and not any(out.glob(".staging-*")) and child.poll() is None:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.6 if attempt % 2 == 0 else 0.2))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        killed_mid_write += any(out.glob(".staging-*"))
        manifest = json.loads((out / "manifest.json").read_text())
        catalog = (out / "catalog.csv").read_bytes()
        assert hashlib.sha256(catalog).hexdigest() == manifest["sha256"]
        assert catalog == old or manifest["items"] == 300000
    assert killed_mid_write >= 1
    done = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--accept-drop")
    assert done.returncode == 0 and not list(out.glob(".staging-*"))


def test_cli_publishes_refuses_with_exit_3_and_accepts_the_drop(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--format", "xml").returncode == 0
    assert len(read_back(out / "catalog.xml")) == 8
    good = (out / "catalog.xml").read_bytes()
    refused = run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out), "--format", "xml")
    assert refused.returncode == 3 and "NOT PUBLISHED" in refused.stdout
    assert (out / "catalog.xml").read_bytes() == good
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "refused" and report["publish"]["outcome"] == "refused"
    assert report["publish"]["current"]["items"] == 8
    accepted = run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out), "--format", "xml", "--accept-drop")
    assert accepted.returncode == 1 and "published 7 items to catalog.xml" in accepted.stdout
    assert json.loads((out / "manifest.json").read_text())["accepted_drop"] is True
    again = run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out), "--format", "xml", "--accept-drop")
    assert "nothing new to publish" in again.stdout


def test_the_same_check_again_skips_the_writes_but_never_the_gate_or_a_change_in_between(
        tmp_path: Path, server: FeedServer) -> None:
    out = tmp_path / "out"
    clean, defects = (server.serve(f"/{name}", (FEEDS / name).read_bytes())  # read each time: no validators
                      for name in ("tiktok_clean.csv", "tiktok_defects.csv"))
    reports, codes = [], []
    loose = ["--max-error-share", "1", "--max-drop", "1"]
    for source, extra in ((clean, []), (clean, []), (defects, []), (clean, []), (defects, loose), (defects, [])):
        codes.append(run("check", source, "--out", str(out), *extra).returncode)
        reports.append(json.loads((out / "report.json").read_text()))
    outcomes = [(r["publish"]["outcome"], r["publish"]["reason"]) for r in reports]
    assert outcomes[:2] == [("published", ""), ("unchanged", "same check as the last run")]
    assert outcomes[2][0] == "refused" and outcomes[3] == ("unchanged", "same check as the last run")
    assert outcomes[4] == ("published", "") and outcomes[5][0] == "refused"  # the gate still judges the same check
    assert codes == [0, 0, 3, 0, 1, 3]
    assert reports[1]["since_last_run"]["items"] == {
        "old_items": 8, "new_items": 8, "added": 0, "removed": 0, "price_changed": 0, "availability_changed": 0,
        "other_changed": 0, "examples": {}}
    after_defects = reports[3]["since_last_run"]["items"]  # compared with the defects run's items, not skipped
    assert after_defects["added"] + after_defects["removed"] + after_defects["other_changed"] > 0
    assert reports[1]["publish"]["current"] == reports[0]["publish"]["current"]
    assert run("check", clean, "--out", str(out), *loose).returncode == 0
    assert run("check", clean, "--out", str(out), "--force").returncode == 0
    assert json.loads((out / "report.json").read_text())["publish"]["reason"] == "same catalog"
    (out / "catalog.csv").unlink()
    assert run("check", clean, "--out", str(out)).returncode == 0
    assert (out / "catalog.csv").is_symlink() and (out / "catalog.csv").exists()  # links repaired on the shortcut too


def test_a_stricter_gate_judges_an_unchanged_file_again(tmp_path: Path) -> None:
    out, feed = tmp_path / "out", tmp_path / "feed.csv"
    feed.write_bytes((FEEDS / "tiktok_defects.csv").read_bytes())
    runs = []
    for extra in (["--max-error-share", "1", "--max-drop", "1"], [], []):
        code = run("check", str(feed), "--out", str(out), *extra).returncode
        report = json.loads((out / "report.json").read_text())
        runs.append((code, report["status"], report["publish"]["outcome"]))
    assert runs == [(1, "errors", "published"), (3, "refused", "refused"), (3, "refused", "refused")]


def test_a_second_run_of_a_feed_waits_for_the_first(tmp_path: Path) -> None:
    feed = FeedConfig(name="shop", source=str(FEEDS / "tiktok_clean.csv"), channel="tiktok", out=tmp_path / "out",
                      format="csv")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with feed_lock(feed):  # a run in progress (a schedule, another process, a colleague's on-demand run)
            second = pool.submit(run_feed, feed)
            time.sleep(1.5)
            assert not second.done() and not (feed.out / "report.json").exists()
        assert second.result(timeout=60).exit_code == 0
    assert json.loads((feed.out / "report.json").read_text())["publish"]["outcome"] == "published"


def test_formula_warnings_past_the_cap_are_still_counted(tmp_path: Path) -> None:
    rows = items(3)
    for row in rows:
        row["title"] = "+1 free sticker"
    log = FindingLog(max_per_code=1)
    publish(candidate(3), spool_of(rows, tmp_path), tmp_path / "out", PublishOptions(), log)
    assert log.counts["publish.formula_value"] == 3
    assert [f.item_id for f in log if f.code == "publish.formula_value"] == ["SKU-0"]
