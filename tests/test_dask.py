"""Feed chunks validated and event blocks parsed on a real local Dask cluster give the same reports and
catalog as one process."""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest

from bench import generate  # the benchmark's generator: real-shaped feeds and logs with known defects
from feedcheck.check import check_feed
from feedcheck.cluster import dask_executor
from feedcheck.errors import ConfigError
from feedcheck.events.catalog import Catalog
from feedcheck.events.checker import check_events
from feedcheck.feeds import load_feeds
from feedcheck.findings import FindingLog
from feedcheck.publish.clean import CatalogSpool
from feedcheck.readers.delimited import Layout, arrow_chunks, delimited_chunks
from feedcheck.readers.fields import ATOM_NS as ATOM
from feedcheck.readers.fields import GOOGLE_NS as GOOGLE
from feedcheck.settings import EventOptions, ReadLimits
from tests.conftest import FEEDS, FIXTURES

BIN = Path(sys.executable).parent
WHOLE = ("The cluster's workers did not read this feed in parts: {why}. It was checked all the same, in the process "
         "that runs the check; only the speed-up was lost.")
REFUSED = WHOLE.replace("{why}", "the part from row {row:,} did not read on its own, so the rest was read in one "
                                 "process")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Executor]:
    with dask_executor("local:2") as executor:
        yield executor


def _outcome(source: Path, channel: str, tmp: Path, executor: Executor | None, parts: list[Any] | None = None,
             **options: Any) -> dict[str, Any]:
    """Everything a check leaves: the report, every stored finding, the cleaned items and the catalog's ids.
    How a cluster read the feed (``report.json``'s ``feed.parts``) goes to ``parts``, when given."""
    spool = CatalogSpool(tmp)
    catalog = Catalog()
    try:
        report = check_feed(source, channel, spool=spool, catalog=catalog, executor=executor, **options)
        items = [chunk.to_dict("split") for chunk in spool.chunks()]
    finally:
        spool.cleanup()
    summary = report.to_dict()
    summary.pop("seconds"), summary.pop("started_at")  # when, and how long: not what
    findings = [f.as_dict() for f in report.log]
    read = {"count": summary["feed"].pop("parts", None), "read_whole": [f["message"] for f in findings
                                                                       if f["code"] == "feed.read_whole"]}
    if read["read_whole"]:  # said on a cluster only: the rest is as in one process
        findings = [f for f in findings if f["code"] != "feed.read_whole"]
        count = summary["findings"]["by_code"].pop("feed.read_whole")["count"]
        summary["findings"]["by_severity"]["info"] -= count
        summary["findings"]["stored"] -= count
    if parts is not None:
        parts.append(read)
    kept = ("items_total", "currency", "_anchor", "_items", "_groups", "_availability", "_currency_of")
    return {"summary": summary, "findings": findings, "items": items,
            "catalog": {name: getattr(catalog, name) for name in kept}}


@pytest.mark.parametrize(("name", "channel"), [
    ("tiktok_defects.csv", "tiktok"), ("tiktok_clean.csv.gz", "tiktok"), ("google_defects.xml", "google"),
    ("google_atom.xml", "google"), ("meta_catalog.tsv", "meta"),
])
def test_the_fixtures_check_the_same_on_dask(cluster: Executor, tmp_path: Path, name: str, channel: str) -> None:
    alone = _outcome(FEEDS / name, channel, tmp_path, None)
    on_dask = _outcome(FEEDS / name, channel, tmp_path, cluster)
    assert on_dask == alone
    assert alone["items"] and alone["summary"]["items"]["total"] > 0


@pytest.mark.parametrize("kind", ["csv", "rss", "truncated rss"])
def test_many_chunks_in_flight_fold_back_in_the_feeds_order(cluster: Executor, tmp_path: Path, kind: str) -> None:
    # Small chunks, many at once: repeated ids across chunks, findings past the per-code cap, the currency
    # taken from the first chunk; and a feed cut off midway, whose chunks read before the cut still count.
    feed = tmp_path / f"feed.{kind.split()[-1]}"
    if kind == "csv":
        generate.write_delimited(feed, 1_500, seed=3, delimiter=",")
    else:
        generate.write_rss(feed, 1_500, seed=3)
    if kind.startswith("truncated"):
        feed.write_bytes(feed.read_bytes()[: feed.stat().st_size // 2])
    options = {"read_limits": ReadLimits(chunk_rows=100, max_findings_per_code=20, processes=1)}
    channel = "tiktok" if kind == "csv" else "google"
    alone = _outcome(feed, channel, tmp_path, None, **options)
    for ahead in (1, 6):
        assert _outcome(feed, channel, tmp_path, cluster, ahead=ahead, **options) == alone
    codes = {f["code"] for f in alone["findings"]}
    assert "item.duplicate_id" in codes and alone["summary"]["items"]["total"] > 500
    assert (alone["summary"]["fatal"] is not None) == kind.startswith("truncated")


def _rss(path: Path, items: int, *, encoding: str = "UTF-8", atom: str = "", spoil: dict[int, str] | None = None,
         packed: bool = False) -> Path:
    """The benchmark's RSS feed of ``items`` items, written in ``encoding``; as Atom entries (``atom``: the
    prefix they carry, or "-" for none); with the description of some items (by number, from 1) replaced."""
    generate.write_rss(path, items, seed=5)
    text = path.read_text()
    for number, description in (spoil or {}).items():
        at = [m.start() for m in re.finditer("<description>", text)][number]  # the channel's own comes first
        end = text.index("</description>", at)
        text = f"{text[:at]}<description>{description}{text[end:]}"
    if atom:
        prefix = "" if atom == "-" else f"{atom}:"
        text = (text.replace("<item>", f"<{prefix}entry>").replace("</item>", f"</{prefix}entry>")
                .replace('<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">',
                         f'<{prefix}feed xmlns{":" + atom if prefix else ""}="{ATOM}" xmlns:g="{GOOGLE}">')
                .replace("<channel>", "").replace("</channel>", "").replace("</rss>", f"</{prefix}feed>"))
    declared = {"cp1252": "ISO-8859-1"}.get(encoding, encoding)  # as shops label Windows-1252 text
    data = text.replace('encoding="UTF-8"', f'encoding="{declared}"').encode(encoding)
    path.write_bytes(gzip.compress(data) if packed else data)
    return path


@pytest.mark.parametrize(("case", "feed", "read"), [
    ("rss", {}, {"count": 15, "read_whole": []}),
    ("gzip", {"packed": True}, {"count": 15, "read_whole": []}),
    ("latin-1", {"encoding": "cp1252"}, {"count": 15, "read_whole": []}),
    ("atom", {"atom": "-"}, {"count": 15, "read_whole": []}),
    ("prefixed atom", {"atom": "a"}, {"count": 15, "read_whole": []}),
    # An end tag in a CDATA section puts a cut in the wrong place: the part before it holds 99 items, or ends
    # inside the section; either way it is refused and the feed is read on in one process from there.
    ("cdata miscounts", {"spoil": {150: "<![CDATA[</item>]]>"}}, {"count": 1, "read_whole": [REFUSED.format(row=101)]}),
    ("cdata at a cut", {"spoil": {200: "<![CDATA[</item>\n  <item>]]>"}}, {"count": 1,
                                                                         "read_whole": [REFUSED.format(row=101)]}),
    ("broken markup", {"spoil": {700: "<g:broken"}}, {"count": 6, "read_whole": [REFUSED.format(row=601)]}),
    ("utf-16", {"encoding": "UTF-16"}, {"count": 0, "read_whole": [WHOLE.format(why="UTF-16 text is not cut "
                                                                                 "into parts; export the feed in "
                                                                                 "UTF-8")]}),
])
def test_a_feed_cut_into_parts_checks_as_in_one_process(cluster: Executor, tmp_path: Path, case: str,
                                                         feed: dict[str, Any], read: dict[str, Any]) -> None:
    source = _rss(tmp_path / "feed.xml", 1_500, **feed)
    limits = ReadLimits(chunk_rows=100, max_findings_per_code=20, processes=1)
    alone = _outcome(source, "google", tmp_path, None, read_limits=limits)
    parts: list[Any] = []
    assert _outcome(source, "google", tmp_path, cluster, parts, read_limits=limits) == alone
    assert parts == [read]
    # Without a cluster, an XML feed of many chunks is read in parts by this machine's processes; a refusal is
    # not worth a finding there.
    local: list[Any] = []
    assert _outcome(source, "google", tmp_path, None, local, read_limits=replace(limits, processes=2)) == alone
    assert local == [{"count": read["count"] or None, "read_whole": []}]
    assert (alone["summary"]["fatal"] is not None) == (case == "broken markup")
    # The broken chunk's items are lost, as in one process.
    assert alone["summary"]["items"]["total"] == (600 if case == "broken markup" else 1_500)


def test_a_worker_process_killed_midway_leaves_the_rest_to_this_process(tmp_path: Path) -> None:
    # The machine's own processes read the parts; after the first part is folded, they are killed (as the
    # kernel's out-of-memory killer would), and the feed is read on here, to the same report.
    source = _rss(tmp_path / "feed.xml", 1_500)
    limits = ReadLimits(chunk_rows=100, max_findings_per_code=20, processes=2)
    alone = _outcome(source, "google", tmp_path, None, read_limits=replace(limits, processes=1))
    before = {child.pid for child in psutil.Process().children(recursive=True)}

    def kill_the_pool(kind: str, count: int) -> None:
        for child in psutil.Process().children(recursive=True):
            if child.pid not in before:
                with contextlib.suppress(psutil.NoSuchProcess):  # one that ended since the list was made
                    child.kill()

    parts: list[Any] = []
    assert _outcome(source, "google", tmp_path, None, parts, read_limits=limits, progress=kill_the_pool) == alone
    assert 1 <= parts[0]["count"] < 15 and parts[0]["read_whole"] == []


def _csv(path: Path, items: int, *, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\n",
         lines: dict[int, str] | None = None, packed: bool = False) -> Path:
    """The benchmark's CSV (or TSV) of ``items`` items, with some lines (by number, the header is 0) replaced,
    written in ``encoding`` with ``newline`` ending each line.  In a line given, ``{line}`` is the line as it
    was, ``{rest}`` the line after its first cell and ``{untitled}`` after its second (the title)."""
    generate.write_delimited(path, items, seed=5, delimiter=delimiter)
    text = path.read_text().split("\n")
    for number, line in (lines or {}).items():
        cells = text[number].split(delimiter)
        text[number] = (line.replace("{line}", text[number]).replace("{rest}", delimiter.join(cells[1:]))
                        .replace("{untitled}", delimiter.join(cells[2:])))
    data = newline.join(text).encode(encoding, "surrogateescape")
    path.write_bytes(gzip.compress(data) if packed else data)
    return path


@pytest.mark.parametrize(("case", "feed", "read"), [
    ("csv", {"lines": {1_234: f"{generate.item_id(3)},{{rest}}"}}, {"count": 15, "read_whole": []}),  # a repeated id
    ("tsv", {"delimiter": "\t"}, {"count": 15, "read_whole": []}),
    ("gzip", {"packed": True}, {"count": 15, "read_whole": []}),
    ("crlf", {"newline": "\r\n"}, {"count": 15, "read_whole": []}),
    ("windows-1252", {"encoding": "cp1252"}, {"count": 15, "read_whole": []}),
    # Quoted cells holding line breaks, one of them where a cut is due: the scan counts records, not lines.
    ("quoted line breaks", {"lines": {150: 'BX-Q1,"Tee\nin two lines",{untitled}', 200: 'BX-Q2,"\n",{untitled}'}},
     {"count": 15, "read_whole": []}),
    # Guidance rows under the header: dropped, and the first part still holds its hundred records.
    ("template rows", {"lines": {0: "{line}\n#Required fields,,\nexample,T-shirt,"}}, {"count": 16, "read_whole": []}),
    # A quote inside an unquoted cell flips the scan's count: no cut is found after it, so the rest is one part.
    ("stray quote", {"lines": {150: '{line} 5" screen'}}, {"count": 2, "read_whole": []}),
    # Two of them: the scan counts again after the second, from the wrong place, and the part is refused.
    ("stray quotes", {"lines": {150: '{line} 5" screen', 420: '{line} 7" screen'}},
     {"count": 1, "read_whole": [REFUSED.format(row=102)]}),
    ("blank line", {"lines": {300: "{line}\n"}}, {"count": 3, "read_whole": [REFUSED.format(row=302)]}),
    ("ragged row", {"lines": {650: "{line},extra"}}, {"count": 6, "read_whole": [REFUSED.format(row=602)]}),
    ("lone carriage returns", {"newline": "\r"}, {"count": 0, "read_whole": [WHOLE.format(
        why="no place was found where a part could safely end")]}),
])
def test_a_delimited_feed_cut_into_parts_checks_as_in_one_process(cluster: Executor, tmp_path: Path, case: str,
                                                                   feed: dict[str, Any], read: dict[str, Any]) -> None:
    source = _csv(tmp_path / "feed.csv", 1_500, **feed)
    options = {"read_limits": ReadLimits(chunk_rows=100, max_findings_per_code=20, processes=1)}
    alone = _outcome(source, "tiktok", tmp_path, None, **options)
    parts: list[Any] = []
    assert _outcome(source, "tiktok", tmp_path, cluster, parts, **options) == alone
    assert parts == [read]
    assert alone["summary"]["items"]["total"] == 1_500 - (case == "ragged row")
    # Without a cluster, the parts are parsed by Arrow on a thread of this process, or by pandas where Arrow is
    # not trusted; a refusal is not worth a finding there.
    local: list[Any] = []
    assert _outcome(source, "tiktok", tmp_path, None, local, read_limits=replace(options["read_limits"],
                                                                                 processes=0)) == alone
    assert local == [{"count": read["count"] or None, "read_whole": []}]


LAYOUT = Layout("utf-8", ",", ["id", "title", "price"], 1)


@pytest.mark.parametrize(("data", "rows"), [
    (b"A1,Tee,9.00 USD\nA2,Mug,4.00 USD\n", [["A1", "Tee", "9.00 USD"], ["A2", "Mug", "4.00 USD"]]),
    (b'A1,"Tee\r\nin two lines",9.00 USD\r\nA2,"Mug, ""enamel""",\r\n',
     [["A1", "Tee\r\nin two lines", "9.00 USD"], ["A2", 'Mug, "enamel"', ""]]),
    (b'A1,5" screen,x"y\nA2,"ab"cd,\xc3\xa9\n', [["A1", '5" screen', 'x"y'], ["A2", "abcd", "\u00e9"]]),
    (b"#guidance,,\nA1,Tee,9.00 USD", [["A1", "Tee", "9.00 USD"]]),  # a template row, dropped
])
def test_arrow_reads_a_part_as_pandas_does(data: bytes, rows: list[list[str]]) -> None:
    limits = ReadLimits(chunk_rows=1)  # a chunk a row: Arrow's one table is cut as pandas' reader cuts
    by_arrow, by_pandas = FindingLog(), FindingLog()
    read = arrow_chunks(data, LAYOUT, 10, limits, by_arrow)
    expected = list(delimited_chunks(io.BytesIO(data), LAYOUT, 10, limits, by_pandas))
    assert read is not None
    chunks = list(read)
    assert len(chunks) == len(expected)
    for chunk, same in zip(chunks, expected):
        pd.testing.assert_frame_equal(chunk, same, check_exact=True)
    assert [row for chunk in chunks for row in chunk.to_numpy().tolist()] == rows
    assert [f.as_dict() for f in by_arrow] == [f.as_dict() for f in by_pandas]


@pytest.mark.parametrize(("data", "layout", "limits"), [
    (b"A1,Tee,9.00 USD\n\nA2,Mug,4.00 USD\n", LAYOUT, ReadLimits()),  # a blank line
    (b"A1,Tee,9.00 USD\n \t\nA2,Mug,4.00 USD\n", LAYOUT, ReadLimits()),  # a line of spaces
    (b"\nA1,Tee,9.00 USD\n", LAYOUT, ReadLimits()),
    (b"A1,Tee,9.00 USD\n  ", LAYOUT, ReadLimits()),
    (b"A1,Tee,9.00 USD\rA2,Mug,4.00 USD\r", LAYOUT, ReadLimits()),  # lone carriage returns
    (b"A1,Tee,9.00 USD,extra\n", LAYOUT, ReadLimits()),  # a ragged row
    (b"A1,Tee\n", LAYOUT, ReadLimits()),
    (b"A1,T\xe9e,9.00 USD\n", LAYOUT, ReadLimits()),  # not UTF-8
    (b"A1,T\xe9e,9.00 USD\n", replace(LAYOUT, encoding="cp1252"), ReadLimits()),
    (b"A1,Tee,9.00 USD\n", LAYOUT, ReadLimits(max_line_chars=10)),  # a line past the limit
    (b'A1,"Tee,9.00 USD\n', LAYOUT, ReadLimits()),  # a quote never closed
])
def test_what_arrow_may_read_otherwise_is_left_to_pandas(data: bytes, layout: Layout, limits: ReadLimits) -> None:
    assert arrow_chunks(data, layout, 0, limits, FindingLog()) is None


def test_bytes_that_are_not_text_keep_their_offsets(cluster: Executor, tmp_path: Path) -> None:
    # Past the head that decides the encoding (1 MB), a byte that is not UTF-8: the part that holds it is
    # refused, since a part would tell its offset and line from its own start, and the rest is read here.
    source = _csv(tmp_path / "feed.csv", 4_000, lines={3_900: "{line}\udcff"})
    options = {"read_limits": ReadLimits(chunk_rows=500, max_findings_per_code=20, processes=1)}
    alone = _outcome(source, "tiktok", tmp_path, None, **options)
    parts: list[Any] = []
    assert _outcome(source, "tiktok", tmp_path, cluster, parts, **options) == alone
    assert parts == [{"count": 7, "read_whole": [REFUSED.format(row=3_502)]}]
    assert [f["code"] for f in alone["findings"]].count("decode.invalid_bytes") == 1


@pytest.mark.parametrize(("name", "read"), [
    ("google_defects.xml", []),  # fewer items than a chunk: nothing to say
    ("meta_catalog.tsv", []),
])
def test_a_feed_that_is_not_cut_says_why(cluster: Executor, tmp_path: Path, name: str, read: list[str]) -> None:
    parts: list[Any] = []
    assert _outcome(FEEDS / name, "google", tmp_path, cluster, parts) == _outcome(FEEDS / name, "google", tmp_path,
                                                                                 None)
    assert parts == [{"count": 0, "read_whole": read}]


def _events_outcome(logs: list[Path], catalog_feed: Path | None, executor: Executor | None,
                    options: EventOptions = EventOptions()) -> dict[str, Any]:
    catalog = None
    if catalog_feed is not None:
        catalog = Catalog()
        check_feed(catalog_feed, "tiktok", catalog=catalog)
    report = check_events(logs, catalog, executor=executor, options=options)
    return {"findings": [f.as_dict() for f in report.log], "counts": report.log.counts, "summary": report.summary,
            "mismatches": report.mismatches}


def test_the_event_fixtures_read_the_same_on_dask(cluster: Executor) -> None:
    logs = sorted((FIXTURES / "events").glob("*.json*"))
    catalog = FIXTURES / "events" / "northwind_catalog.csv"
    assert len(logs) == 6
    assert _events_outcome(logs, catalog, cluster) == _events_outcome(logs, catalog, None)


@pytest.mark.parametrize("spoil", ["none", "noise halfway", "type clash", "truncated gzip"])
def test_event_blocks_parsed_ahead_on_dask_read_the_same(cluster: Executor, tmp_path: Path, spoil: str) -> None:
    # Small blocks, so that several are parsed ahead when the one in hand is refused and everything read after
    # it must go back to the record reader.
    feed, log = tmp_path / "feed.csv", tmp_path / "events.jsonl"
    generate.write_delimited(feed, 1_000, seed=9, delimiter=",")
    generate.write_events(log, 3_000, catalog_items=1_000, seed=9)
    lines = log.read_bytes().split(b"\n")
    if spoil == "noise halfway":
        lines[1_400] = b"<html>oops</html>"
    elif spoil == "type clash":
        lines[1_400] = b'{"event": "Purchase", "event_id": "t-1", "timestamp": {"s": 1}}'
    log.write_bytes(b"\n".join(lines))
    if spoil == "truncated gzip":
        packed = gzip.compress(log.read_bytes())
        log = tmp_path / "cut.jsonl.gz"
        log.write_bytes(packed[: len(packed) * 2 // 3])
    options = EventOptions(block_bytes=4 << 10)  # read 4 kB at a time: the gzip error comes while blocks are ahead
    alone = _events_outcome([log], feed, None, options)
    assert _events_outcome([log], feed, cluster, options) == alone
    assert alone["summary"]["total"] > 1_000


def test_the_cli_publishes_the_same_bytes_with_dask(tmp_path: Path) -> None:
    source = FIXTURES / "events" / "northwind_catalog.csv"
    events = FIXTURES / "events" / "server_eapi2.jsonl"
    outputs = {}
    for label, extra in (("alone", []), ("dask", ["--dask", "local:2"])):
        out = tmp_path / label
        done = subprocess.run([str(BIN / "feedcheck"), "check", str(source), "--out", str(out), "--events",
                               str(events), *extra], capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stdout + done.stderr
        outputs[label] = {name: (out / name).read_bytes() for name in ("catalog.csv", "findings.csv",
                                                                      "mismatches.csv")}
    assert outputs["dask"] == outputs["alone"]


def test_local_clusters_side_by_side_do_not_clash(cluster: Executor, tmp_path: Path) -> None:
    # Two feeds on local clusters at once, or another Dask on this machine: none of them may need Dask's fixed
    # HTTP port (8787), which a second cluster would find taken (a warning, or a failed start).
    source = FEEDS / "meta_catalog.tsv"
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        try:
            taken.bind(("127.0.0.1", 8787))
        except OSError:
            pass  # something on this machine holds it already, which is the case to meet
        with dask_executor("local:1") as second:
            alone = _outcome(source, "meta", tmp_path, None)
            assert _outcome(source, "meta", tmp_path, second) == alone
            assert _outcome(source, "meta", tmp_path, cluster) == alone


def test_a_bad_address_is_refused_before_anything_is_fetched(tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / "feedcheck"), "check", str(FEEDS / "tiktok_clean.csv"), "--out",
                           str(tmp_path), "--dask", "my-cluster"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "'my-cluster' is not understood" in done.stdout + done.stderr
    assert not (tmp_path / "report.json").exists()


def test_no_scheduler_at_the_address_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ConfigError, match="No Dask scheduler answered at tcp://127.0.0.1"):
        with dask_executor(address, connect_timeout=1):
            pass


def test_the_feeds_file_names_the_cluster(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text('[defaults]\ndask = "local:3"\n\n[[feed]]\nname = "a"\nsource = "a.csv"\n\n'
                      '[[feed]]\nname = "b"\nsource = "b.csv"\ndask = "tcp://10.0.0.5:8786"\n')
    assert [f.dask for f in load_feeds(config)] == ["local:3", "tcp://10.0.0.5:8786"]
    config.write_text('[[feed]]\nname = "a"\nsource = "a.csv"\ndask = 2\n')
    with pytest.raises(ConfigError, match="feed 'a': 'dask': the address 2 is not understood"):
        load_feeds(config)
