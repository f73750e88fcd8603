"""Deployments from the feeds file: one per feed with its schedule, and one to run every feed on demand.

``feedcheck serve`` serves them from this process (``prefect.serve``): the
schedules run for as long as it does, and any deployment can be started from
the Prefect UI or with ``prefect deployment run 'check-feed/<feed>'``.  The
same flows deploy to a work pool with ``prefect deploy`` and ``prefect.yaml``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule

from feedcheck.feeds import FeedConfig, load_feeds
from feedcheck.flows.check import check_all_feeds, check_one_feed


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
                        f"{feed.destination or feed.out}.",
        )
        for feed in feeds
    ]
    made.append(check_all_feeds.to_deployment(name="all", parameters={"config": path}, tags=["feedcheck"],
                                              description="Check every feed of the feeds file now."))
    return made


def serve_feeds(config: str | Path) -> None:
    """Serve the feeds' deployments until interrupted (Ctrl-C)."""
    serve(*deployments(config), print_starting_message=True)


def _schedule(feed: FeedConfig) -> Schedule:
    schedule = feed.schedule
    assert schedule is not None
    if schedule.cron:
        return Cron(schedule.cron, timezone=schedule.timezone)
    assert schedule.interval is not None
    midnight = datetime(2026, 1, 1, tzinfo=ZoneInfo(schedule.timezone))  # "every 1h" runs on the hour
    return Interval(schedule.interval, anchor_date=midnight, timezone=schedule.timezone)
