"""A 304 Not Modified through the flows: the feed is neither read nor published again, and the findings and the
exit code of the last run stand, in reports written again as the skipped run's.  (The CLI's and the library's 304 are in ``tests/test_cli.py`` and
``tests/test_fetch.py``; a 304 to a request that had nothing to compare with is a hostile case in ``cases.py``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.adversarial.harness import published
from tests.conftest import FEEDS, FeedServer

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
]


def test_the_flows_keep_the_last_run_when_the_server_says_not_modified(tmp_path: Path, server: FeedServer) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from feedcheck.flows import check_one_feed

    url = server.serve_with_etag("/feed.xml", (FEEDS / "google_clean.xml").read_bytes(), '"v3"',
                                 Content_Type="application/rss+xml")
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "shop"\nsource = "{url}"\nchannel = "google"\n'
                      f'out = "{tmp_path / "shop"}"\n')
    out = tmp_path / "shop"
    first = check_one_feed("shop", str(config), return_state=True)
    report = (out / "report.json").read_bytes()
    before = published(out)
    assert first.result()["status"] == "ok" and before

    second = check_one_feed("shop", str(config), return_state=True)

    assert server.requests[-1].get("If-None-Match") == '"v3"'
    outcome = second.result()
    assert (outcome["status"], outcome["exit_code"]) == ("unchanged", first.result()["exit_code"])
    skipped = json.loads((out / "report.json").read_text())
    assert (skipped["status"], skipped["checked_at"]) == ("unchanged", json.loads(report)["started_at"])
    assert skipped["findings"] == json.loads(report)["findings"] and published(out) == before
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[
            second.state_details.flow_run_id])))
    assert sorted(t.name.rsplit("-", 1)[0] for t in tasks) == ["fetch"]
    assert json.loads(report)["status"] == "ok"
