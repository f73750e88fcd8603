"""The Prefect flows: tasks and their states, the content cache, fetch retries, artifacts, and one failing feed
among healthy ones.  Every flow runs against one temporary Prefect server (``prefect_api``)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
from prefect.flow_engine import run_flow
from prefect.states import State

from bench import generate
from feedcheck.flows import FlowFailed, check_all_feeds, check_one_feed, outcome_of
from feedcheck.settings import ReadLimits
from tests.conftest import FEEDS, FIXTURES, FeedServer, send

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
]
DEMO = FIXTURES / "demo" / "feeds.toml"


def demo_feeds(tmp_path: Path) -> Path:
    """The demo feeds file, writing under tmp_path instead of the repository's out/."""
    text = DEMO.read_text().replace('"../', f'"{FIXTURES}/').replace(f'"{FIXTURES}/../out/feeds"',
                                                                       f'"{tmp_path / "out"}"')
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    return path


def feeds_file(tmp_path: Path, *entries: str, defaults: str = "") -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(f'[defaults]\nout = "{tmp_path / "out"}"\n{defaults}\n' + "".join(
        f"\n[[feed]]\n{entry}\n" for entry in entries))
    return path


def task_states(state: State) -> dict[str, list[str]]:
    """Each task of the flow run that ended in ``state``: its name and the names of its final states."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[
            state.state_details.flow_run_id])))
    states: dict[str, list[str]] = {}
    for run in sorted(runs, key=lambda r: r.expected_start_time or r.created):
        states.setdefault(run.name.rsplit("-", 1)[0], []).append(run.state.name if run.state else "")
    return states


def artifact(key: str) -> Any:
    found = Artifact.get(key)
    assert found is not None, f"no artifact {key}"
    return found.data


def test_all_demo_feeds_run_publish_and_leave_artifacts(tmp_path: Path) -> None:
    state = check_all_feeds(str(demo_feeds(tmp_path)), return_state=True)
    assert state.is_completed(), state.message
    assert state.message == "0 of 3 feeds failed"
    outcomes = {o["feed"]: o for o in state.result()}
    assert {name: o["status"] for name, o in outcomes.items()} == {
        "northwind-tiktok": "errors", "northwind-google": "ok", "northwind-meta": "errors"}
    for name in outcomes:
        out = tmp_path / "out" / name
        assert outcomes[name]["report"] == str(out / "report.json")
        report = json.loads((out / "report.json").read_text())
        assert report["publish"]["outcome"] == "published"
        assert (out / "manifest.json").resolve().parent.parent == (out / "published").resolve()
        assert artifact(f"{name}-summary").startswith("# ")
        assert artifact(f"{name}-report") == f"[{name} report]({(out / 'report.html').resolve().as_uri()})"
    table = json.loads(artifact("northwind-tiktok-findings"))
    by_code = json.loads((tmp_path / "out" / "northwind-tiktok" / "report.json").read_text())["findings"]["by_code"]
    rank = {"error": 0, "warning": 1, "info": 2}
    assert [row["code"] for row in table] == sorted(by_code, key=lambda c: (rank[by_code[c]["severity"]],
                                                                            -by_code[c]["count"]))
    assert [(row["severity"], row["count"]) for row in table] == [
        (by_code[row["code"]]["severity"], by_code[row["code"]]["count"]) for row in table]
    assert table[0]["severity"] == "error" and table[0]["example"]
    overview = {row["feed"]: row["status"] for row in json.loads(artifact("feedcheck-all-feeds"))}
    assert overview == {name: o["status"] for name, o in outcomes.items()}


def test_a_feed_runs_as_tasks_and_an_unchanged_source_is_not_checked_again(tmp_path: Path) -> None:
    config = str(demo_feeds(tmp_path))
    first = check_one_feed("northwind-tiktok", config, return_state=True)
    assert task_states(first) == {name: ["Completed"] for name in
                                  ("fetch", "check", "events", "publish", "alert", "reports")}
    report = json.loads((tmp_path / "out" / "northwind-tiktok" / "report.json").read_text())
    assert report["events"]["match_rate"] == pytest.approx(9 / 16)
    second = check_one_feed("northwind-tiktok", config, return_state=True)
    assert task_states(second)["check"] == ["Cached"]
    again = json.loads((tmp_path / "out" / "northwind-tiktok" / "report.json").read_text())
    assert (again["publish"]["outcome"], again["publish"]["reason"]) == ("unchanged", "same check as the last run")
    assert again["items"] == report["items"] and again["events"]["match_rate"] == pytest.approx(9 / 16)
    assert {c: v for c, v in again["findings"]["by_code"].items() if not c.startswith("publish.")} == {
        c: v for c, v in report["findings"]["by_code"].items() if not c.startswith("publish.")}
    assert "publish.unchanged" in again["findings"]["by_code"]
    assert again["since_last_run"]["items"]["added"] == 0


def findings_of(out: Path) -> dict[str, list[list[str]]]:
    """Each feed's findings.csv rows (without the header) under ``out``."""
    return {path.parent.name: [row for row in csv.reader(path.read_text(encoding="utf-8-sig").splitlines())][1:]
            for path in sorted(out.glob("*/findings.csv"))}


def test_the_demo_run_three_times_finds_the_same_each_time(tmp_path: Path) -> None:
    config = str(demo_feeds(tmp_path))
    runs, statuses = [], []
    for _ in range(3):
        assert check_all_feeds(config, return_state=True).is_completed()
        runs.append(findings_of(tmp_path / "out"))
        statuses.append({feed: json.loads((tmp_path / "out" / feed / "report.json").read_text())["status"]
                         for feed in runs[-1]})
    checked = [{feed: [row for row in rows if not row[0].startswith("publish.")] for feed, rows in run.items()}
               for run in runs]
    assert checked[0] == checked[1] == checked[2] and runs[2] == runs[1]
    assert [len(rows) for rows in runs[0].values()] == [2, 4, 26]
    # The feed with events is checked again (from the cache: its events may have grown) and publishes the same
    # catalog; the feeds without are unchanged, and their reports stand.
    assert statuses[1] == statuses[2] == {"northwind-google": "unchanged", "northwind-meta": "unchanged",
                                          "northwind-tiktok": "errors"}
    assert [row[0] for row in runs[1]["northwind-tiktok"] if row[0].startswith("publish.")] == ["publish.unchanged"]


def test_a_cached_check_is_judged_again_once_the_run_is_past_a_sale_end(tmp_path: Path, server: FeedServer) -> None:
    feed = server.serve("/feed.csv", b"sku_id,title,description,availability,condition,price,link,image_link,brand,"
                        b"sale_price,sale_price_effective_date\nSKU-1,Linen shirt,A shirt of washed linen,in stock,"
                        b"new,40.00 USD,https://shop.example/p/1,https://shop.example/p/1.jpg,Northwind,30.00 USD,"
                        b"2026-11-01T00:00Z/2026-12-01T00:00Z\n")
    config = str(feeds_file(tmp_path, f'name = "shop"\nsource = "{feed}"'))
    report = tmp_path / "out" / "shop" / "report.json"
    runs = []
    for now in ("2026-11-30T00:00:00Z", "2026-11-30T23:00:00Z", "2026-12-01T00:00:01Z", "2026-12-24T00:00:00Z"):
        state = check_one_feed("shop", config, now=now, return_state=True)
        judged = json.loads(report.read_text())
        runs.append((task_states(state)["check"], judged["now"], "item.sale_expired" in judged["findings"]["by_code"]))
    assert runs == [
        (["Completed"], "2026-11-30T00:00:00+00:00", False),
        (["Cached"], "2026-11-30T23:00:00+00:00", False),
        (["Cached", "Completed"], "2026-12-01T00:00:01+00:00", True),
        (["Cached"], "2026-12-24T00:00:00+00:00", True),
    ]


def test_a_feed_on_dask_checks_its_chunks_and_event_blocks_as_tasks_on_the_cluster_and_publishes_the_same(tmp_path: Path) -> None:
    catalog = FIXTURES / "events" / "northwind_catalog.csv"
    events = FIXTURES / "events" / "server_eapi2.jsonl"
    feed = f'source = "{catalog}"\nevents = ["{events}"]'
    config = str(feeds_file(tmp_path, f'name = "alone"\n{feed}', f'name = "spread"\n{feed}\ndask = "local:2"'))
    state = check_all_feeds(config, return_state=True)
    assert state.is_completed(), state.message
    out = tmp_path / "out"
    for name in ("catalog.csv", "findings.csv", "mismatches.csv"):
        assert (out / "spread" / name).read_bytes() == (out / "alone" / name).read_bytes(), name
    with get_client(sync_client=True) as client:
        subflows = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[
            "spread-on-dask", "alone-on-dask"])))
        assert [run.name for run in subflows] == ["spread-on-dask"]
        inner = sorted(r.name.rsplit("-", 1)[0] for r in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[subflows[0].id]))))
    assert inner == ["assess", "check", "events", "parse"]  # the catalog is one chunk, the log one block


def test_a_big_feed_on_dask_is_read_in_parts_as_tasks_on_the_cluster(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    generate.write_rss(feed, ReadLimits.chunk_rows + 2_000, seed=4)  # two parts of the default chunk size
    config = str(feeds_file(tmp_path, f'name = "big-alone"\nsource = "{feed}"',
                            f'name = "big-spread"\nsource = "{feed}"\ndask = "local:2"'))
    state = check_all_feeds(config, return_state=True)
    assert state.is_completed(), state.message
    out = tmp_path / "out"
    for name in ("catalog.csv", "findings.csv"):
        assert (out / "big-spread" / name).read_bytes() == (out / "big-alone" / name).read_bytes(), name
    assert json.loads((out / "big-spread" / "report.json").read_text())["feed"]["parts"] == 2
    with get_client(sync_client=True) as client:
        subflow, = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[
            "big-spread-on-dask"])))
        inner = sorted(r.name.rsplit("-", 1)[0] for r in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[subflow.id]))))
    assert inner == ["check", "events", "read-part", "read-part"]


def test_a_changed_source_is_checked_again_and_old_cache_entries_go(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_bytes((FEEDS / "tiktok_clean.csv").read_bytes())
    config = str(feeds_file(tmp_path, f'name = "shop"\nsource = "{feed}"'))
    check_one_feed("shop", config)
    feed.write_bytes(feed.read_bytes().replace(b"24.00 USD", b"26.00 USD"))
    state = check_one_feed("shop", config, return_state=True)
    assert task_states(state)["check"] == ["Completed"]
    cache = tmp_path / "out" / "shop" / ".cache"
    assert len(list(cache.glob("check-*"))) == 1
    assert len(list(cache.glob(".feedcheck-spool-*"))) == 1
    report = json.loads((tmp_path / "out" / "shop" / "report.json").read_text())
    assert report["publish"]["outcome"] == "published"
    assert report["since_last_run"]["items"]["price_changed"] > 0


def test_parked_items_removed_by_hand_make_the_check_run_again(tmp_path: Path) -> None:
    config = str(feeds_file(tmp_path, f'name = "shop"\nsource = "{FEEDS / "tiktok_clean.csv"}"'))
    check_one_feed("shop", config)
    for part in (tmp_path / "out" / "shop" / ".cache").glob(".feedcheck-spool-*/*.parquet"):
        part.unlink()
    (tmp_path / "out" / "shop" / "current").unlink()  # so the catalog must be published from the parked items
    state = check_one_feed("shop", config, return_state=True)
    assert state.is_completed(), state.message
    assert task_states(state)["check"] == ["Cached", "Completed"]
    manifest = json.loads((tmp_path / "out" / "shop" / "manifest.json").read_text())
    assert manifest["items"] == 8


def test_feeds_with_the_same_bytes_keep_their_own_cache_and_a_lost_result_is_recomputed(
        tmp_path: Path, server: FeedServer) -> None:
    body = (FEEDS / "tiktok_clean.csv").read_bytes()
    urls = {name: server.serve(f"/{name}.csv", body) for name in ("a", "b")}
    config = str(feeds_file(tmp_path, f'name = "a"\nsource = "{urls["a"]}"', f'name = "b"\nsource = "{urls["b"]}"'))
    for name in ("a", "b", "a"):
        check_one_feed(name, config)
        assert json.loads((tmp_path / "out" / name / "report.json").read_text())["source"] == urls[name]
    (record,) = (tmp_path / "out" / "a" / ".cache").glob("check-*")
    Path(json.loads(record.read_text())["storage_key"]).unlink()  # e.g. a new container without the old storage
    state = check_one_feed("a", config, return_state=True)
    assert state.is_completed(), state.message
    assert task_states(state)["check"] == ["Completed"]


def test_a_check_cached_by_a_run_with_another_prefect_home_is_read_back(tmp_path: Path, server: FeedServer) -> None:
    """A shell's ``feedcheck run`` and a worker under another user share the feed's folder, not Prefect's home."""
    from prefect.settings import PREFECT_API_URL

    url = server.serve("/a.csv", (FEEDS / "tiktok_clean.csv").read_bytes())
    config = str(feeds_file(tmp_path, f'name = "a"\nsource = "{url}"'))
    home = tmp_path / "other-home"
    home.mkdir()
    shell = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(home)}
    cli = subprocess.run([str(Path(sys.executable).parent / "feedcheck"), "run", "a", "--config", config],
                         env=shell, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr

    state = check_one_feed("a", config, return_state=True)

    assert state.is_completed(), state.message
    assert task_states(state)["check"] == ["Cached"]


def test_a_transient_fetch_failure_is_retried_by_the_task(tmp_path: Path, server: FeedServer) -> None:
    body = (FEEDS / "tiktok_clean.csv").read_bytes()

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        if server.hits["/feed.csv"] <= 4:  # the first attempt's request and its three HTTP retries
            send(handler, 503, b"busy", Retry_After="0")
        else:
            send(handler, 200, body, Content_Type="text/csv")

    server.routes["/feed.csv"] = flaky
    config = str(feeds_file(tmp_path, f'name = "shop"\nsource = "{server.url("/feed.csv")}"'))
    state = check_one_feed("shop", config, fetch_retries=2, retry_delay_seconds=0.1, return_state=True)
    assert state.is_completed(), state.message
    assert server.hits["/feed.csv"] == 5
    assert task_states(state)["fetch"] == ["Completed"]
    assert state.result()["status"] == "ok"


def test_a_missing_source_is_not_retried_and_fails_the_feed_with_a_report(tmp_path: Path) -> None:
    config = str(feeds_file(tmp_path, f'name = "gone"\nsource = "{tmp_path / "nowhere.csv"}"'))
    state = check_one_feed("gone", config, fetch_retries=3, retry_delay_seconds=5, return_state=True)
    assert state.is_failed()
    assert "nowhere.csv" in state.message and "check the path" in state.message
    assert task_states(state)["fetch"] == ["Failed"]
    report = json.loads((tmp_path / "out" / "gone" / "report.json").read_text())
    assert report["status"] == "fatal" and report["fatal"]["code"] == "fetch.not_found"
    assert outcome_of(state)["exit_code"] == 3


def test_a_failed_feed_run_by_a_worker_raises_its_outcome_not_a_type_error(tmp_path: Path) -> None:
    config = str(feeds_file(tmp_path, f'name = "gone"\nsource = "{tmp_path / "nowhere.csv"}"'))
    with pytest.raises(FlowFailed) as failed:  # as Prefect's engine runs a flow run in a worker or serve
        run_flow(check_one_feed, parameters={"name": "gone", "config": config, "fetch_retries": 0})
    assert (failed.value.outcome["status"], failed.value.outcome["exit_code"]) == ("fatal", 3)
    with pytest.raises(FlowFailed) as every:
        run_flow(check_all_feeds, parameters={"config": config, "fetch_retries": 0})
    assert [o["feed"] for o in every.value.outcome] == ["gone"]


def test_check_all_feeds_checks_as_many_feeds_at_once_as_the_feeds_file_says(tmp_path: Path,
                                                                              server: FeedServer) -> None:
    body = (FEEDS / "tiktok_clean.csv").read_bytes()
    active, most, arrived = [0], [0], [0]
    pair = threading.Condition()

    def held(handler: BaseHTTPRequestHandler) -> None:
        # Each download is answered once a second one runs beside it (the fifth has none), and a second later,
        # in which a third would arrive if more ran at once; never on a sleep that a loaded machine outlasts.
        with pair:
            active[0] += 1
            arrived[0] += 1
            most[0] = max(most[0], active[0])
            pair.notify_all()
            pair.wait_for(lambda: active[0] >= 2 or arrived[0] == 5, timeout=60)
        time.sleep(1.0)
        with pair:
            active[0] -= 1
        send(handler, 200, body)

    server.routes["/feed.csv"] = held
    entries = [f'name = "shop-{n}"\nsource = "{server.url("/feed.csv")}"' for n in range(5)]
    state = check_all_feeds(str(feeds_file(tmp_path, *entries, defaults="feeds_at_once = 2")), return_state=True)
    assert state.is_completed() and len(outcome_of(state)) == 5
    assert most[0] == 2


def test_one_failing_feed_stops_no_other_and_the_state_counts_failures(tmp_path: Path,
                                                                        server: FeedServer) -> None:
    server.routes["/down.csv"] = lambda handler: send(handler, 404, b"gone")
    config = str(feeds_file(
        tmp_path,
        f'name = "good"\nsource = "{FEEDS / "tiktok_clean.csv"}"',
        f'name = "missing"\nsource = "{tmp_path / "nowhere.csv"}"',
        f'name = "down"\nsource = "{server.url("/down.csv")}"',
        f'name = "meta"\nsource = "{FEEDS / "meta_catalog.tsv"}"\nchannel = "meta"\nformat = "tsv"',
        f'name = "odd"\nsource = "{FEEDS / "tiktok_clean.csv"}"\nlimits = {{ gtin = 5 }}',
    ))
    state = check_all_feeds(config, return_state=True)
    assert state.is_failed()
    assert state.message == "3 of 5 feeds failed: missing (fatal), down (fatal), odd (invalid)"
    outcomes = {o["feed"]: o for o in outcome_of(state)}
    assert {name: o["status"] for name, o in outcomes.items()} == {
        "good": "ok", "missing": "fatal", "down": "fatal", "meta": "errors", "odd": "invalid"}
    assert "gtin" in outcomes["odd"]["message"] and not (tmp_path / "out" / "odd").exists()
    for name in ("good", "meta"):
        assert (tmp_path / "out" / name / "manifest.json").is_file()


def test_a_subset_of_feeds_runs_by_name(tmp_path: Path) -> None:
    state = check_all_feeds(str(demo_feeds(tmp_path)), names=["northwind-meta"], return_state=True)
    assert [o["feed"] for o in state.result()] == ["northwind-meta"]
    assert not (tmp_path / "out" / "northwind-tiktok").exists()


def test_prefect_yaml_deploys_the_flows_with_parameters_they_take() -> None:
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    root = FIXTURES.parent
    project = yaml.safe_load((root / "prefect.yaml").read_text())
    flows = {}
    for deployment in project["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        flow = load_flow_from_entrypoint(f"{root / path}:{name}")
        flows[deployment["name"]] = flow.name
        assert set(deployment["parameters"]) <= set(flow.parameters.properties)
        assert (root / deployment["parameters"]["config"]).is_file()
        assert deployment["work_pool"]["name"] == "feedcheck"
    assert flows == {"all": "check-all-feeds", "one": "check-feed"}
