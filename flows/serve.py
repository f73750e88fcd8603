"""Deployments from the feeds file: one per feed with its schedule, and one to run every feed on demand.

``feedcheck serve`` serves them from this process (``prefect.serve``): the
schedules run for as long as it does, and any deployment can be started from
the Prefect UI or with ``prefect deployment run 'check-feed/<feed>'``.  The
same flows deploy to a work pool with ``prefect deploy`` and ``prefect.yaml``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from prefect import get_client, serve
from prefect.automations import Automation
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterName,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.deployments.runner import RunnerDeployment
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import get_current_settings
from prefect.states import Crashed

from feedcheck.errors import ConfigError
from feedcheck.feeds import FeedConfig, load_feeds
from feedcheck.flows.check import PAGE, check_all_feeds, check_one_feed
from feedcheck.sources.redact import redact_url

API_WAIT = 120.0  # seconds serve waits for the API of a server started beside it


def deployments(config: str | Path) -> list[RunnerDeployment]:
    """A deployment per feed of ``config`` (on its schedule, one run at a time) and ``check-all-feeds/all``.

    Raises:
        ConfigError: the feeds file is missing or wrong.
    """
    path = str(Path(config).resolve())
    feeds = load_feeds(path)
    made = [
        check_one_feed.to_deployment(
            name=feed.name,
            parameters={"name": feed.name, "config": path},
            schedules=[_schedule(feed)] if feed.schedule else None,
            concurrency_limit=1,  # two runs of one feed would only race for its folder
            tags=["feedcheck", feed.channel],
            description=f"Check {feed.name} ({feed.channel}) and publish its cleaned catalog to "
                        f"{feed.publishes_to}.",
        )
        for feed in feeds
    ]
    made.append(check_all_feeds.to_deployment(name="all", parameters={"config": path}, tags=["feedcheck"],
                                              description="Check every feed of the feeds file now."))
    return made


def serve_feeds(config: str | Path, api_wait: float = API_WAIT) -> None:
    """Serve the feeds' deployments until interrupted (Ctrl-C or SIGTERM), once Prefect's API answers.

    Raises:
        ConfigError: the feeds file is wrong, or the API did not answer within ``api_wait`` seconds.
    """
    made = deployments(config)
    names = [deployment.name for deployment in made]
    wait_for_api(api_wait)
    crash_silent_runs()
    crash_orphaned_runs(names)
    threading.Thread(target=_keep_deleting_dangling_runs, args=(names,), name="feedcheck-dangling-runs",
                     daemon=True).start()
    serve(*made, print_starting_message=True)


def wait_for_api(seconds: float) -> None:
    """Return once Prefect's API answers its health check: started beside its server (a Procfile, a service
    manager), serve comes up before the server does.

    Raises:
        ConfigError: no answer within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while True:
        with get_client(sync_client=True) as client:
            error = client.api_healthcheck()
        if error is None:
            return
        if time.monotonic() >= deadline:
            api = redact_url(str(get_current_settings().api.url))
            raise ConfigError(f"Prefect's API at {api} did not answer in {seconds:.0f} s ({type(error).__name__}); "
                              "start its server, or check PREFECT_API_URL.")
        time.sleep(1.0)


ZOMBIES = "feedcheck: crash flow runs that stopped reporting"
HEARTBEATS_MISSED = 3  # a run is declared dead after this many heartbeats in a row did not come


def crash_silent_runs() -> None:
    """Make sure the server has the automation that marks a flow run Crashed once its heartbeats stop (its
    process was killed, or its machine lost), as Prefect's "detect zombie flows" guide sets it up; a run
    would otherwise stay Running for ever.  The heartbeat's period is PREFECT_FLOWS_HEARTBEAT_FREQUENCY."""
    within = timedelta(seconds=HEARTBEATS_MISSED * (get_current_settings().flows.heartbeat_frequency or 180))
    with contextlib.suppress(ValueError):  # there already: kept when its window is this period's
        existing = Automation.read(name=ZOMBIES)
        if getattr(existing.trigger, "within", None) == within:
            return
        existing.delete()
    Automation(
        name=ZOMBIES,
        description=f"Marks a flow run Crashed when {HEARTBEATS_MISSED} heartbeats in a row did not come.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="Its heartbeats stopped: the process running it was killed or lost.")],
    ).create()


ORPHANED = ("PENDING", "RUNNING", "CANCELLING")
FLOWS = ["check-feed", "check-all-feeds"]


def crash_orphaned_runs(names: list[str]) -> int:
    """Mark Crashed the runs of these deployments that a serve process before this one left Pending or Running;
    return how many.

    Served deployments run only in the serve process that serves them, so when serve starts, such a run has
    no process: serve was killed, or its machine lost. A Running run's heartbeats stop and the automation of
    :func:`crash_silent_runs` crashes it in time, but a Pending one never sent any, and each feed's deployment
    runs one run at a time: its next runs would wait behind it for ever.
    """
    crashed = 0
    with get_client(sync_client=True) as client:
        for deployment in _served(client, names):
            stale = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType[state] for state in ORPHANED]))))
            for run in stale:
                client.set_flow_run_state(run.id, Crashed(message="The serve process running it was stopped or "
                                                                  "lost; serve started again without it."),
                                          force=True)
                crashed += 1
    return crashed


SWEEP_EVERY = 30.0  # seconds between two looks for dangling runs
SWEEP_AHEAD = timedelta(minutes=5)  # how far ahead a look goes
PREFETCH = timedelta(seconds=30)  # serve's runner takes runs due in 10 s (its default): a margin past that


def delete_dangling_runs(names: list[str], now: datetime | None = None) -> int:
    """Delete the Scheduled runs of these deployments that a schedule they no longer have made; return how many.

    Each time serve starts it applies its deployments, and Prefect's server replaces their schedules with new
    ones. When the server's scheduler was mid-tick, it inserts the runs it had made from the old schedules
    after the replacement: a second run of the same feed at the same time (Prefect issues 17703, 18894).
    Only runs due after the runner's prefetch are deleted, so none that serve may be starting goes.
    """
    now = now or datetime.now(timezone.utc)
    soonest = now + PREFETCH
    deleted = 0
    with get_client(sync_client=True) as client:
        schedules = {deployment.id: {schedule.id for schedule in deployment.schedules}
                     for deployment in _served(client, names)}
        for run in _scheduled(client, list(schedules), soonest, now + SWEEP_AHEAD):
            made_by = run.created_by
            if made_by and made_by.type == "SCHEDULE" and made_by.id not in schedules[run.deployment_id]:
                with contextlib.suppress(ObjectNotFound):
                    client.delete_flow_run(run.id)
                    deleted += 1
    return deleted


def _keep_deleting_dangling_runs(names: list[str]) -> None:
    """:func:`delete_dangling_runs` every :data:`SWEEP_EVERY` seconds for as long as serve runs; a server that
    does not answer is asked again next time."""
    while True:
        time.sleep(SWEEP_EVERY)
        with contextlib.suppress(httpx.HTTPError):
            delete_dangling_runs(names)


def _served(client: SyncPrefectClient, names: list[str]) -> list[DeploymentResponse]:
    """The deployments of these names that the server already has (from an earlier serve), a page at a time."""
    found: list[DeploymentResponse] = []
    for start in range(0, len(names), PAGE):
        found += client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=FLOWS)),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names[start:start + PAGE])),
            limit=PAGE)
    return found


def _scheduled(client: SyncPrefectClient, deployments: list[UUID], after: datetime,
               before: datetime) -> list[FlowRun]:
    """The Scheduled runs of these deployments expected between two moments, a page at a time."""
    found: list[FlowRun] = []
    while True:
        page = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployments)),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(after_=after, before_=before)),
            offset=len(found), limit=PAGE)
        found += page
        if len(page) < PAGE:
            return found


def _schedule(feed: FeedConfig) -> Schedule:
    schedule = feed.schedule
    assert schedule is not None
    if schedule.cron:
        return Cron(schedule.cron, timezone=schedule.timezone)
    assert schedule.interval is not None
    midnight = datetime(2026, 1, 1, tzinfo=ZoneInfo(schedule.timezone))  # "every 1h" runs on the hour
    return Interval(schedule.interval, anchor_date=midnight, timezone=schedule.timezone)
