"""The benchmark's and the soak's generated feeds: the same items whatever the format, gzipped or not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedcheck import check_feed
from tests.conftest import ROOT


def generated(tmp_path: Path, kind: str, name: str) -> Path:
    path = tmp_path / name
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), kind, str(path), "--items", "400"],
                   check=True, timeout=60)
    return path


@pytest.mark.parametrize("first, second, channel", [
    (("rss", "feed.xml"), ("atom", "feed.atom.gz"), "google"),
    (("csv", "feed.csv"), ("tsv", "feed.tsv.gz"), "tiktok"),
])
def test_a_generated_feed_gives_the_same_findings_in_each_format(tmp_path: Path, first: tuple[str, str],
                                                                 second: tuple[str, str], channel: str) -> None:
    reports = [check_feed(generated(tmp_path, kind, name), channel) for kind, name in (first, second)]
    assert reports[0].items_total == reports[1].items_total == 400
    assert reports[0].to_dict()["findings"]["by_code"] == reports[1].to_dict()["findings"]["by_code"]
    assert reports[0].to_dict()["items"] == reports[1].to_dict()["items"]
