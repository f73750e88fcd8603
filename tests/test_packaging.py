"""The installed package carries the channel schemas and works outside the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_schemas_and_checks_a_feed_outside_the_repo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("feedcheck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("tiktok", "google", "meta", "_common"):
        assert f"feedcheck/schemas/{module}.py" in names
    for module in ("check", "serve"):
        assert f"feedcheck/flows/{module}.py" in names
    assert "feedcheck/schemas/google_attributes.tsv" in names
    assert "feedcheck/rules/data/google-product-taxonomy-with-ids.en-US.txt" in names
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    feed = tmp_path / "feed.csv"
    feed.write_bytes((ROOT / "fixtures" / "feeds" / "tiktok_clean.csv").read_bytes())
    apparel = tmp_path / "apparel.tsv"
    apparel.write_bytes((ROOT / "fixtures" / "feeds" / "google_apparel.tsv").read_bytes())
    code = (
        "import feedcheck, sys; "
        f"assert feedcheck.__file__.startswith({str(target)!r}), feedcheck.__file__; "
        "r = feedcheck.check_feed('feed.csv', 'tiktok'); "
        "g = feedcheck.check_feed('apparel.tsv', 'google'); "
        "print(r.status, r.items_total, g.log.counts['item.category_attribute_missing'])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "8", "5"]  # the taxonomy and the register came with the wheel


def _release(version: str) -> tuple[int, ...]:
    parts = tuple(int(part) for part in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_the_floors_file_pins_the_lowest_version_of_each_dependency() -> None:
    """``tests/floors.txt`` is how the suite runs against the oldest versions feedcheck claims to work with; a
    floor raised in ``pyproject.toml`` alone would leave the new claim untested, and one missing would leave a
    dependency's oldest version unchecked."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [spec for extra in project["optional-dependencies"].values() for spec in extra]
    lowest = {}
    for spec in specs:
        match = re.fullmatch(r"([\w.-]+)(?:\[[^]]*\])?>=([\d.]+),<[\d.]+(?:,!=[\d.]+)*", spec)
        assert match, f"{spec}: every dependency has a floor and a ceiling (and may leave out a broken release)"
        lowest[match.group(1).lower()] = _release(match.group(2))
    lines = [line for line in (ROOT / "tests" / "floors.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    pinned = {name.lower(): _release(version) for name, version in (line.split("==") for line in lines)}
    assert pinned == lowest
