"""Readers: formats, encodings and dialects as they occur in real feeds."""

from __future__ import annotations

import codecs
import gc
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from feedcheck.check import check_feed
from feedcheck.errors import ConfigError, FeedFormatError
from feedcheck.findings import FindingLog
from feedcheck.readers import open_feed
from feedcheck.settings import ReadLimits
from tests.conftest import FEEDS, tuples


def read(path: Path, **kwargs) -> tuple[pd.DataFrame, FindingLog, object]:
    log = FindingLog()
    with open_feed(path, log, **kwargs) as (info, chunks):
        frames = list(chunks)
    frame = pd.concat(frames) if frames else pd.DataFrame()
    return frame, log, info


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


CLEAN = FEEDS / "tiktok_clean.csv"


def test_csv_values_stay_exact_strings() -> None:
    frame, log, info = read(CLEAN)
    assert info.format == "csv" and info.encoding == "utf-8"
    assert frame.loc[2, "gtin"] == "0698615070527"  # leading zero kept
    assert frame.loc[5, "description"].startswith("Water-resistant waxed canvas")
    assert "\n" in frame.loc[5, "description"]  # multi-line quoted cell
    assert frame.index.tolist() == [2, 3, 4, 5, 6, 7, 8, 9]  # spreadsheet rows: a multi-line cell is one row
    assert list(frame.columns[:2]) == ["id", "title"]  # sku_id is canonical id
    assert len(log) == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_encodings_read_like_utf8(tmp_path: Path, encoding: str) -> None:
    text = CLEAN.read_text(encoding="utf-8")
    frame, log, info = read(write(tmp_path, "f.csv", text.encode(encoding)))
    reference, _, _ = read(CLEAN)
    pd.testing.assert_frame_equal(frame, reference)
    assert frame.columns[0] == "id"
    codes = [f.code for f in log]
    assert codes == (["decode.bom"] if encoding == "utf-8-sig" else [])


def test_committed_encoding_fixtures() -> None:
    reference, _, _ = read(CLEAN)
    bom, log, _ = read(FEEDS / "encodings" / "tiktok_bom.csv")
    pd.testing.assert_frame_equal(bom, reference)
    assert [f.code for f in log] == ["decode.bom"]
    utf16, log, info = read(FEEDS / "encodings" / "tiktok_utf16.tsv")
    assert info.format == "tsv" and info.encoding == "utf-16" and len(log) == 0
    pd.testing.assert_frame_equal(utf16, reference)
    cp, log, info = read(FEEDS / "encodings" / "tiktok_cp1252.csv")
    assert cp.loc[2, "title"] == "Caf\u00e9 Mug \u201cMorning\u201d" and cp.loc[2, "brand"] == "Kr\u00fcger & S\u00f6hne"
    assert [f.code for f in log] == ["decode.fallback_cp1252"]


def test_cp1252_without_label_is_decoded_with_a_warning(tmp_path: Path) -> None:
    data = "id,title,price\nA1,Caf\u00e9 \u201cNoir\u201d \u20ac,9.00 EUR\n".encode("cp1252")
    frame, log, info = read(write(tmp_path, "f.csv", data))
    assert frame.loc[2, "title"] == "Caf\u00e9 \u201cNoir\u201d \u20ac"
    assert [f.code for f in log] == ["decode.fallback_cp1252"]
    assert info.encoding == "cp1252"


def test_latin1_label_is_read_as_windows_1252(tmp_path: Path) -> None:
    data = "id,title\nA1,\u201cQuoted\u201d \u2013 dash\n".encode("cp1252")
    frame, log, _ = read(write(tmp_path, "f.csv", data), charset="ISO-8859-1")
    assert frame.loc[2, "title"] == "\u201cQuoted\u201d \u2013 dash"  # not C1 control characters
    assert [f.code for f in log] == ["decode.latin1_as_cp1252"]


def test_invalid_utf8_byte_reported_with_offset_and_line(tmp_path: Path) -> None:
    good = ("id,title\n" + "".join(f"A{i},Shirt {i}\n" for i in range(3000))).encode()
    data = good + b"B1,Bad \xff byte\n"
    frame, log, _ = read(write(tmp_path, "f.csv", data))
    (finding,) = [f for f in log if f.code == "decode.invalid_bytes"]
    assert f"byte offset {len(good) + 7:,}" in finding.message and "line 3,002" in finding.message
    assert frame["title"].iloc[-1] == "Bad \ufffd byte"  # reported, not silently replaced
    assert len(frame) == 3001


def test_mixed_newlines_and_multiline_cells(tmp_path: Path) -> None:
    data = b'id,title,description\r\nA1,One,"first\nline"\nA2,Two,plain\rA3,Three,"x\r\ny"\r\n'
    frame, _, _ = read(write(tmp_path, "f.csv", data))
    assert frame["id"].tolist() == ["A1", "A2", "A3"]
    assert frame.loc[frame["id"] == "A1", "description"].item() == "first\nline"


def test_an_old_mac_export_breaks_its_lines_with_carriage_returns_only(tmp_path: Path) -> None:
    """Excel's "CSV (Macintosh)" ends lines with \\r alone: every row is read, no line counts as too long, and a
    bad byte's line number counts those breaks."""
    rows = "".join(f"A{i},Shirt {i}\r" for i in range(3000))
    data = ("id,title\r" + rows).encode() + b"B1,Bad \xff byte\r"
    frame, log, info = read(write(tmp_path, "mac.csv", data), limits=ReadLimits(max_line_chars=1000))
    assert info.columns == ["id", "title"] and len(frame) == 3001
    (finding,) = [f for f in log if f.code == "decode.invalid_bytes"]
    assert "line 3,002" in finding.message
    crlf = read(write(tmp_path, "split.csv", b"id,title\r\nAAA,B\r\n" + b"A,B\r\n" * 40_000
                                              + b"C,\xff\r\n"))[1]
    assert "line 40,003" in next(f.message for f in crlf if f.code == "decode.invalid_bytes")  # \r and \n apart


def test_na_like_text_is_preserved(tmp_path: Path) -> None:
    data = b"id,title,gtin\nA1,NA,00012345678905\nA2,null,\nA3,None,N/A\n"
    frame, _, _ = read(write(tmp_path, "f.csv", data))
    assert frame["title"].tolist() == ["NA", "null", "None"]
    assert frame["gtin"].tolist() == ["00012345678905", "", "N/A"]


@pytest.mark.parametrize(("delimiter", "fmt"), [("\t", "tsv"), (";", "csv"), ("|", "csv"), ("~", "csv")])
def test_other_delimiters(tmp_path: Path, delimiter: str, fmt: str) -> None:
    data = delimiter.join(["id", "title", "price"]) + "\n" + delimiter.join(["A1", "Tee, cotton", "9.00 USD"]) + "\n"
    frame, _, info = read(write(tmp_path, "f.txt", data.encode()))
    assert info.format == fmt and info.delimiter == delimiter
    assert frame.loc[2, "title"] == "Tee, cotton"


def test_headers_are_canonical_and_case_insensitive(tmp_path: Path) -> None:
    data = b"G:ID,Title,PRICE,iphone_url,Image_Link\nA1,T,1.00 USD,https://x.example/a,https://x.example/i.jpg\n"
    frame, _, _ = read(write(tmp_path, "f.csv", data))
    assert list(frame.columns) == ["id", "title", "price", "iPhone_url", "image_link"]


def test_ragged_rows_and_duplicate_headers_are_findings(tmp_path: Path) -> None:
    data = b"id,title,price,title\nA1,T,1.00 USD,x\nA2,T,2.00 USD,x,extra\nA3,T,3.00 USD,x\n"
    frame, log, _ = read(write(tmp_path, "f.csv", data))
    assert frame["id"].tolist() == ["A1", "A3"]
    assert frame.index.tolist() == [2, 4]
    assert tuples(log) == [(None, "title", "csv.duplicate_header"), (3, "", "csv.ragged_row")]


def test_gzip_csv_reads_like_plain() -> None:
    frame, _, info = read(FEEDS / "tiktok_clean.csv.gz")
    reference, _, _ = read(CLEAN)
    pd.testing.assert_frame_equal(frame, reference)
    assert info.compressed


def test_chunks_are_bounded(tmp_path: Path) -> None:
    data = ("id,title\n" + "".join(f"A{i},T\n" for i in range(250))).encode()
    log = FindingLog()
    with open_feed(write(tmp_path, "f.csv", data), log, limits=ReadLimits(chunk_rows=100)) as (_, chunks):
        sizes = [len(c) for c in chunks]
    assert sizes == [100, 100, 50]


def test_rss_items_with_namespaces_nesting_and_repeats() -> None:
    frame, log, info = read(FEEDS / "google_clean.xml")
    assert info.format == "rss"
    first = frame.loc[1]
    assert first["title"] == "Organic Cotton Tee – Sand (S)"  # plain RSS <title>
    assert first["description"].startswith("Heavyweight organic cotton tee with a <strong>")  # CDATA
    assert first["additional_image_link"].count(",") == 1  # repeated element
    assert first["shipping"] == "US::Standard:4.95 USD"  # nested g:shipping
    assert frame.loc[2, "tax"] == "US:CA:7.25:yes"
    assert frame.loc[2, "link"] == "https://shop.northwind.example/p/nw-jkt-014"  # g:link
    assert first["google_product_category"] == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert len(log) == 0


def test_atom_native_and_google_elements() -> None:
    frame, _, info = read(FEEDS / "google_atom.xml")
    assert info.format == "atom"
    assert frame.loc[1, ["id", "title", "description", "link"]].tolist() == [
        "NW-MUG-002",
        "Enamel Camp Mug",
        "Speckled enamel steel mug. 350 ml.",
        "https://shop.northwind.example/p/nw-mug-002",
    ]
    assert frame.loc[2, "id"] == "NW-SOCK-3PK"


def test_xml_chunks_free_memory_and_number_items(tmp_path: Path) -> None:
    items = "".join(f"<item><g:id>A{i}</g:id><g:title>T{i}</g:title></item>" for i in range(230))
    data = f'<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel>{items}</channel></rss>'
    log = FindingLog()
    with open_feed(write(tmp_path, "f.xml", data.encode()), log, limits=ReadLimits(chunk_rows=100)) as (_, chunks):
        frames = list(chunks)
    assert [len(f) for f in frames] == [100, 100, 30]
    assert frames[2].index[0] == 201 and frames[2]["id"].iloc[-1] == "A229"


def test_xml_latin1_declaration_reads_windows_1252(tmp_path: Path) -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><rss xmlns:g="http://base.google.com/ns/1.0"><channel>' \
           "<item><g:id>A1</g:id><g:title>\u20ac5 \u201cdeal\u201d</g:title></item></channel></rss>"
    frame, log, _ = read(write(tmp_path, "f.xml", body.encode("cp1252")))
    assert frame.loc[1, "title"] == "\u20ac5 \u201cdeal\u201d"
    assert [f.code for f in log] == ["decode.latin1_as_cp1252"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "feed.empty_file"),
        (b"   \n\n", "feed.empty_file"),
        (b"<!DOCTYPE html><html><body>Please log in</body></html>", "feed.html"),
        (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>', "feed.sitemap"),
        (b'<?xml version="1.0"?><catalog><product/></catalog>', "feed.unknown_format"),
        (b"\n\nid,title\n", "csv.no_header"),
        (b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>A</g:id>', "xml.syntax"),
        (gzip.compress(b"id,title\n" * 1000, mtime=0)[:40], "decode.bad_gzip"),  # no time: the same test id
    ],
)
def test_unreadable_sources_are_fatal_findings(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(FeedFormatError) as caught:
        read(write(tmp_path, "feed", data))
    assert caught.value.finding.code == code
    assert caught.value.finding.fatal


def test_truncated_xml_reports_line_and_items_read(tmp_path: Path) -> None:
    whole = (FEEDS / "google_clean.xml").read_bytes()
    with pytest.raises(FeedFormatError) as caught:
        read(write(tmp_path, "f.xml", whole[: whole.index(b"<g:id>NW-CANDLE-HM")]))
    assert "2 items were read" in caught.value.finding.message
    assert "line" in caught.value.finding.message


def test_a_quote_never_closed_is_fatal_with_its_row(tmp_path: Path) -> None:
    """A download cut inside a quoted description: the rest of the file would be one cell, so the feed is not
    used, and the row where the quote opens is named (rows past the first chunk and a multi-line cell counted)."""
    rows = "".join(f'A{i},"Shirt {i}\nsecond line"\n' for i in range(3000))
    data = f"id,description\n{rows}B1,\"Cut off in the mid".encode()
    log = FindingLog()
    read_rows = 0
    with pytest.raises(FeedFormatError) as caught, open_feed(write(tmp_path, "f.csv", data), log,
                                                             limits=ReadLimits(chunk_rows=1000)) as (_, chunks):
        for chunk in chunks:
            read_rows += len(chunk)
    assert caught.value.finding.code == "csv.malformed" and read_rows == 3000
    assert "quoted cell that starts in row 3,002 is never closed" in caught.value.finding.message
    with pytest.raises(FeedFormatError, match="starts in row 2 is never closed"):  # pandas raises on opening
        read(write(tmp_path, "first.csv", b'id,title\n"'))


def test_too_many_columns_is_fatal(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(10_000))
    with pytest.raises(FeedFormatError) as caught:
        read(write(tmp_path, "f.csv", (header + "\n" + "x," * 9_999 + "x\n").encode()))
    assert caught.value.finding.code == "csv.too_many_columns"


def test_tiktok_template_rows_skipped_with_warnings() -> None:
    frame, log, _ = read(FEEDS / "tiktok_defects.csv")
    assert "context" not in frame["id"].tolist()
    assert [(f.row, f.code) for f in log] == [(1, "csv.template_row"), (3, "csv.template_row")]


def test_utf16_bom_detected_in_sniffing(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>A</g:id>' \
        "</item></channel></rss>".encode("utf-16-le")
    frame, _, info = read(write(tmp_path, "f.xml", data))
    assert info.format == "rss" and frame.loc[1, "id"] == "A"


def test_feeds_read_side_by_side_keep_their_own_ragged_rows(tmp_path: Path) -> None:
    """The flows read feeds in threads; pandas reports ragged rows as warnings, which are process-wide."""
    clean = tmp_path / "clean.csv"
    clean.write_text("id,title\n" + "".join(f"C{i},Tee {i}\n" for i in range(20_000)))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,title\n" + "".join(f"R{i},Tee,{i}\n" if i % 5 == 1 else f"R{i},Tee\n"
                                             for i in range(20_000)))

    def ragged_rows(path: Path) -> int:
        log = FindingLog()
        with open_feed(path, log, limits=ReadLimits(chunk_rows=500)) as (_, chunks):
            for _ in chunks:
                pass
        return log.counts["csv.ragged_row"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(ragged_rows, [clean, ragged] * 4))
    assert counts == [0, 4_000] * 4


def test_checking_a_feed_leaves_the_garbage_collector_as_it_found_it() -> None:
    before = gc.get_threshold()
    assert check_feed(FEEDS / "google_defects.xml", "google").items_total > 0
    assert gc.get_threshold() == before


def test_a_negative_number_of_processes_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"processes \(--processes\) is 0 \(one per processor\), 1"):
        ReadLimits(processes=-1)
