"""Publishing through the flows: a run killed while it publishes, and two runs of one feed at once.

The library's and the CLI's publish is killed at random moments in ``tests/test_publish.py``.  Here the same
holds for the flows, where Prefect's tasks, result cache and retries sit between the check and the files: the
last good catalog survives a killed run byte for byte, the next run publishes, and a scheduled run racing an
on-demand one never leaves a catalog made of both.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.adversarial.harness import BIN, clean_env
from tests.conftest import FeedServer, send

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
]
COLUMNS = ["id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand"]


def _feed(prefix: str, items: int) -> bytes:
    """A TikTok feed whose items all pass, their ids starting with ``prefix``."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n in range(items):
        writer.writerow([f"{prefix}-{n}", f"Organic Cotton Tee {n}", "Heavyweight organic cotton tee, pre-shrunk.",
                         "in stock", "new", "24.00 USD", f"https://shop.example/p/{n}",
                         f"https://cdn.example/{n}.jpg", "Northwind"])
    return text.getvalue().encode()


def _config(tmp_path: Path, name: str, source: str) -> Path:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "{name}"\nsource = "{source}"\nchannel = "tiktok"\n'
                      f'out = "{tmp_path / "shop"}"\n')
    return config


def _cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``feedcheck run`` on the same Prefect server as this test's flows."""
    from prefect.settings import PREFECT_API_URL

    home = tmp_path / "prefect-home"
    home.mkdir(exist_ok=True)
    return clean_env() | {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(home)}


def _whole(out: Path) -> list[str]:
    """The published catalog's ids, after checking that it is the file its manifest describes."""
    manifest = json.loads((out / "manifest.json").read_text())
    catalog = (out / "catalog.csv").read_bytes()
    assert hashlib.sha256(catalog).hexdigest() == manifest["sha256"]
    ids = [row["sku_id"] for row in csv.DictReader(io.StringIO(catalog.decode("utf-8-sig")))]
    assert len(ids) == manifest["items"]
    return ids


def _kill_while_it_publishes(config: Path, out: Path, tmp_path: Path, delay: float) -> bool:
    """Run ``feedcheck run`` and kill it ``delay`` seconds after its staging folder appears.

    The run is stopped (SIGSTOP) before it is looked at, so whether it was publishing when it died is a fact, not
    a guess; returns that fact.  A killed run's staging folder stays behind until the next publish clears it, so
    only a new one counts.
    """
    left_behind = set(out.glob(".staging-*"))

    def staging() -> bool:
        return bool(set(out.glob(".staging-*")) - left_behind)

    with subprocess.Popen([str(BIN / "feedcheck"), "run", "killed", "--config", str(config)], cwd=tmp_path,
                          env=_cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True) as child:
        started = time.monotonic()
        while not staging() and child.poll() is None and time.monotonic() - started < 120:
            time.sleep(0.001)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it finished first
            os.killpg(child.pid, signal.SIGSTOP)
        publishing = child.poll() is None and staging()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    return publishing


def test_a_flow_run_killed_while_it_publishes_leaves_the_last_good_catalog(tmp_path: Path) -> None:
    from feedcheck.flows import check_one_feed

    source = tmp_path / "feed.csv"
    source.write_bytes(_feed("OLD", 1_000))
    config = _config(tmp_path, "killed", str(source))
    out = tmp_path / "shop"
    assert check_one_feed("killed", str(config), return_state=True).is_completed()
    good = (out / "catalog.csv").read_bytes()
    rng = random.Random(5)
    killed_while_publishing = attempt = 0
    # How long a publish takes depends on the machine, so runs go on until two were killed in the middle of one:
    # the first run is killed as soon as its staging folder appears, later ones a little after.
    while killed_while_publishing < 2 and attempt < 20:
        attempt += 1
        source.write_bytes(_feed(f"NEW{attempt}", 40_000))
        killed_while_publishing += _kill_while_it_publishes(config, out, tmp_path, rng.uniform(0, 0.02 * (attempt > 1)))
        ids = _whole(out)
        now = (out / "catalog.csv").read_bytes()
        assert now == good or (len(ids) == 40_000 and ids[0] == f"NEW{attempt}-0")
        good = now
    assert killed_while_publishing == 2

    state = check_one_feed("killed", str(config), return_state=True)

    assert state.is_completed(), state.message
    assert _whole(out)[-1] == f"NEW{attempt}-39999" and not any(out.glob(".staging-*"))
    assert json.loads((out / "report.json").read_text())["publish"]["outcome"] in ("published", "unchanged")


def test_a_scheduled_run_and_an_on_demand_run_of_one_feed_publish_one_after_the_other(
        tmp_path: Path, server: FeedServer) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from feedcheck.flows import check_one_feed

    versions = iter([_feed("FIRST", 30_000), _feed("SECOND", 30_000)])
    first_served = threading.Event()
    hold = threading.Event()

    def feed(handler: BaseHTTPRequestHandler) -> None:
        body = next(versions)
        if not first_served.is_set():
            first_served.set()
            hold.wait(60)  # the first run holds the feed's lock while the second one starts
        send(handler, 200, body, Content_Type="text/csv")

    server.routes["/feed.csv"] = feed
    config = _config(tmp_path, "racing", server.url("/feed.csv"))
    out = tmp_path / "shop"
    outcome: dict[str, object] = {}
    scheduled = threading.Thread(target=lambda: outcome.update(state=check_one_feed("racing", str(config),
                                                                                 return_state=True)))
    scheduled.start()
    assert first_served.wait(120)
    on_demand = subprocess.Popen([str(BIN / "feedcheck"), "run", "racing", "--config", str(config)], cwd=tmp_path,
                                 env=_cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 120
        while len(client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["racing"])))) < 2:
            assert time.monotonic() < deadline, "the on-demand run never started"
            time.sleep(0.2)
    time.sleep(1)  # the on-demand run is now waiting for the feed's lock
    hold.set()
    scheduled.join(180)
    stdout, stderr = on_demand.communicate(timeout=180)

    assert outcome["state"].is_completed() and on_demand.returncode == 0, stderr  # type: ignore[attr-defined]
    assert stdout.startswith("OK")
    ids = _whole(out)
    assert len(ids) == 30_000 and {i.split("-")[0] for i in ids} == {"SECOND"}
    versions_published = [json.loads(m.read_text()) for m in sorted((out / "published").glob("*/manifest.json"))]
    assert sorted(m["items"] for m in versions_published) == [30_000, 30_000]
    assert len({m["sha256"] for m in versions_published}) == 2
