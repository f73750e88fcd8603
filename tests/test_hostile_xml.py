"""Hostile XML is refused as fatal, quickly, with nothing expanded, read or fetched.

Memory is measured in a child process: libxml2 allocates outside Python's
allocator, where tracemalloc cannot see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lxml import etree

from feedcheck import check_feed
from feedcheck.readers.xml import PARSER_OPTIONS
from tests.conftest import FIXTURES, FeedServer, send

SECRET = "SENTINEL-4f1c-local-file-contents"
RSS_OPEN = '<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel>'


def _child_check(path: Path) -> dict:
    """Run check_feed on ``path`` in a child under a 1 GB address-space limit."""
    code = textwrap.dedent(
        f"""
        import json, resource, time
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from feedcheck import check_feed
        started = time.perf_counter()
        report = check_feed({str(path)!r}, "google")
        print(json.dumps({{"report": report.to_dict(), "messages": [f.message for f in report.log],
                          "seconds": time.perf_counter() - started,
                          "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_billion_laughs_refused_fast_in_bounded_memory() -> None:
    baseline = _child_check(FIXTURES / "feeds" / "google_atom.xml")  # imports and a tiny feed
    result = _child_check(FIXTURES / "hostile" / "billion_laughs.xml")
    assert result["report"]["status"] == "fatal"
    assert result["report"]["fatal"]["code"] == "xml.dtd_forbidden"
    assert result["seconds"] < 2
    assert result["peak_kb"] < baseline["peak_kb"] + 64_000  # expanded, it would need gigabytes
    assert "lol" not in " ".join(result["messages"]).replace("lol9", "")


def test_quadratic_blowup_refused(tmp_path: Path) -> None:
    entity = "A" * 50_000
    body = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]>{RSS_OPEN}<item><g:title>' \
           + "&a;" * 2_000 + "</g:title></item></channel></rss>"
    path = tmp_path / "quadratic.xml"
    path.write_text(body)
    result = _child_check(path)
    assert result["report"]["fatal"]["code"] == "xml.dtd_forbidden"
    assert result["seconds"] < 2


@pytest.mark.parametrize(
    "dtd",
    [
        '<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
    ],
    ids=["general-entity", "parameter-entity"],
)
def test_external_entity_to_a_local_file_never_read(tmp_path: Path, dtd: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    body = '<?xml version="1.0"?>' + dtd.format(secret=secret) + RSS_OPEN + \
        "<item><g:id>A1</g:id><g:title>&x;</g:title></item></channel></rss>"
    path = tmp_path / "xxe.xml"
    path.write_text(body)
    report = check_feed(path, "google")
    assert report.log.fatal is not None and report.log.fatal.code == "xml.dtd_forbidden"
    everything = json.dumps(report.to_dict()) + " ".join(f.message + f.value for f in report.log)
    assert SECRET not in everything


def test_xxe_is_also_refused_when_the_doctype_is_past_the_sniffed_head(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    padding = "<!--" + "x" * 70_000 + "-->"
    body = f'<?xml version="1.0"?>{padding}<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>' \
           f"{RSS_OPEN}<item><g:id>A1</g:id><g:title>&x;</g:title></item></channel></rss>"
    path = tmp_path / "late.xml"
    path.write_text(body)
    report = check_feed(path, "google")
    assert report.log.fatal is not None and report.log.fatal.code == "xml.dtd_forbidden"
    assert SECRET not in json.dumps(report.to_dict()) + " ".join(f.message + f.value for f in report.log)


def test_external_dtd_is_never_fetched(tmp_path: Path, server: FeedServer) -> None:
    server.routes["/evil.dtd"] = lambda h: send(h, 200, b'<!ENTITY x "expanded">')
    body = f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{server.url("/evil.dtd")}">{RSS_OPEN}' \
           "<item><g:id>A1</g:id><g:title>&x;</g:title></item></channel></rss>"
    path = tmp_path / "dtd.xml"
    path.write_text(body)
    report = check_feed(path, "google")
    assert report.log.fatal.code == "xml.dtd_forbidden"
    assert server.hits.get("/evil.dtd", 0) == 0


def test_parser_options_stay_hardened() -> None:
    assert PARSER_OPTIONS["resolve_entities"] is False
    assert PARSER_OPTIONS["no_network"] is True
    assert PARSER_OPTIONS["load_dtd"] is False
    assert PARSER_OPTIONS["huge_tree"] is False
    assert etree.LXML_VERSION >= (6, 1)
