"""Every output feedcheck writes for the bundled fixtures, at a fixed clock: to show that a change of structure
changed no behaviour.

    python -m tests.outputs write BEFORE     # on the old code
    python -m tests.outputs compare BEFORE   # on the new code: exit 1 and the differing files when any differ

Each fixture feed is checked for every channel (and published in every format), each event log is checked
alone and against the events catalog, and the demo's three feeds run through ``feedcheck check``.  The
reports are kept minus what differs from run to run: timestamps, durations and the folders of the run.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
NOW = "2026-11-20T12:00:00+00:00"
FEEDS = sorted(p for p in (FIXTURES / "feeds").rglob("*") if p.is_file())
LOGS = sorted(p for p in (FIXTURES / "events").iterdir() if p.suffix in (".jsonl", ".json"))
CATALOG = FIXTURES / "events" / "northwind_catalog.csv"
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]+)?(\+00:00|Z)?")
_SECONDS = re.compile(r'"seconds": [0-9.e-]+')
_CHECK = re.compile(r'"check-[0-9a-f]{32}"')  # the check's fingerprint, which names the output folder
_VERSION = re.compile(r'"feedcheck_version": "[^"]*"')


def runs() -> list[tuple[str, list[str]]]:
    """Each run's folder name and its ``feedcheck`` arguments (``{out}`` is the folder)."""
    made = []
    for feed in FEEDS:
        for channel in ("tiktok", "google", "meta"):
            made.append((f"{feed.name}-{channel}", ["check", str(feed), "--channel", channel]))
    for fmt in ("csv", "tsv", "xml", "parquet"):
        made.append((f"clean-{fmt}", ["check", str(FIXTURES / "feeds" / "tiktok_clean.csv"), "--format", fmt]))
    for log in LOGS:
        made.append((f"{log.name}-alone", ["events", str(log)]))
        made.append((f"{log.name}-catalog", ["events", str(log), "--catalog", str(CATALOG)]))
        made.append((f"{log.name}-check", ["check", str(CATALOG), "--events", str(log)]))
    return made


def write(target: Path) -> None:
    """Run every fixture into ``target``, one folder per run, each report normalised."""
    from feedcheck.cli import main

    os.environ["FEEDCHECK_NOW"] = NOW
    target.mkdir(parents=True)
    with open(os.devnull, "w") as quiet:
        for name, argv in runs():
            out = target / name
            stdout = sys.stdout
            sys.stdout = quiet
            try:
                code = main([*argv, "--out", str(out)])
            finally:
                sys.stdout = stdout
            (out / "exit_code").write_text(f"{code}\n")
            _normalise(out, target)


def _normalise(out: Path, target: Path) -> None:
    """Timestamps and folders out of every text output; the run's own state and history go."""
    for leftover in (".feedcheck-state.json", "history.sqlite", ".run.lock"):
        (out / leftover).unlink(missing_ok=True)
    for path in sorted(out.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix == ".parquet":
            continue
        text = path.read_text(encoding="utf-8-sig")
        text = text.replace(str(target), "<out>").replace(str(ROOT), "<repo>").replace(target.as_uri(), "<out>")
        text = _CHECK.sub('"<check>"', _SECONDS.sub('"seconds": 0', _TIME.sub("<time>", text)))
        text = _VERSION.sub('"feedcheck_version": "<version>"', text)
        path.write_text(text, encoding="utf-8")


def compare(before: Path) -> list[str]:
    """The files that differ between ``before`` and the outputs of the code here now."""
    with tempfile.TemporaryDirectory() as work:
        after = Path(work) / "after"
        write(after)
        return _differences(filecmp.dircmp(before, after), Path())


def _differences(compared: filecmp.dircmp[str], where: Path) -> list[str]:
    found = [str(where / n) for n in compared.left_only + compared.right_only + compared.funny_files]
    _, mismatch, errors = filecmp.cmpfiles(compared.left, compared.right, compared.common_files, shallow=False)
    found += [str(where / n) for n in mismatch + errors]
    for name, sub in compared.subdirs.items():
        found += _differences(sub, where / name)
    return found


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2]).resolve()
    if command == "write":
        shutil.rmtree(folder, ignore_errors=True)
        write(folder)
    else:
        differing = compare(folder)
        print("\n".join(differing) or "no differences")
        sys.exit(1 if differing else 0)
