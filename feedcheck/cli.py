"""The ``feedcheck`` command line: a thin shell over the library.

Exit codes: 0 no error findings, 1 error findings, 2 usage or option error,
3 the feed (or every event log) could not be fetched or read, 4 an internal
error (a bug: please report it with the output of ``--verbose``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from feedcheck.cli_settings import event_settings, feed_config, local_folder, now_of, publish_options
from feedcheck.clock import NOW_VARIABLE
from feedcheck.cluster import dask_executor
from feedcheck.errors import ConfigError, ExitCode, FeedcheckError
from feedcheck.feeds import Alerts, find_feed, fleet_folder, load_feeds
from feedcheck.findings import FindingLog
from feedcheck.pipeline import Steps, run_feed
from feedcheck.publish.formats import FORMATS
from feedcheck.reports.alerts import resolve_webhook
from feedcheck.reports.fleet import write_fleet_page
from feedcheck.reports.progress import Progress
from feedcheck.reports.render import count
from feedcheck.reports.terminal import events_summary, feed_summary, paths_line
from feedcheck.reports.write import write_reports
from feedcheck.rules.channels import CHANNEL_NAMES
from feedcheck.settings import (
    EVENT_FIELDS,
    EventOptions,
    FetchLimits,
    PublishOptions,
    ReadLimits,
)
from feedcheck.starter import write_starter
from feedcheck.steps import check_settings

_PREFECT_DEFAULTS = {  # as prefect.toml sets them in the project, wherever the CLI runs; the user's settings win
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",  # a first start creates the database
    "PREFECT_LOGGING_EXTRA_LOGGERS": "feedcheck",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except FeedcheckError as exc:
        print(f"feedcheck: {exc.finding.message}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `feedcheck check … | head`: the reader left; reports are already written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        print("feedcheck: interrupted; reports already written are complete, nothing is half-written.", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if args.verbose:
            traceback.print_exc()
        print(
            f"feedcheck: internal error ({type(exc).__name__}). This is a bug in feedcheck, not in your feed; "
            "run again with --verbose and report the output.",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedcheck", description="Check product feeds for TikTok, Google and Meta.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check",
        parents=[_feed_options(), _event_options()],
        help="fetch and validate a feed, write findings.csv and report.json",
        description="Fetch a feed (path, file:// or http(s):// URL, plain or gzip; CSV, TSV, RSS or Atom), "
        "validate it for a channel, and write DIR/findings.csv and DIR/report.json. With --events, also check "
        "purchase-event logs against the feed and write DIR/mismatches.csv.",
    )
    check.add_argument("source", help="feed path or URL")
    check.add_argument("--events", nargs="+", default=[], metavar="LOG",
                       help="event logs (files, folders or globs; JSON lines or arrays, plain or .gz) to check "
                       "and reconcile with the feed")
    check.add_argument("--force", action="store_true",
                       help="read the feed even if it is unchanged (its server says so, or a file has the same bytes)")
    check.add_argument("--publish-reports", action="store_true",
                       help="with a URL in --out, also publish the reports there, in reports/")
    check.add_argument("--format", choices=FORMATS, default=PublishOptions.format,
                       help="format of the published DIR/catalog.<ext> (default %(default)s)")
    check.add_argument("--keep", type=int, default=PublishOptions.keep, metavar="N",
                       help="published versions to keep (default %(default)s)")
    check.add_argument("--max-drop", type=float, default=PublishOptions.max_drop, metavar="SHARE",
                       help="refuse to publish when valid items fall by more than this share since the last "
                       "published catalog (default %(default)s)")
    check.add_argument("--max-error-share", type=float, default=PublishOptions.max_error_share, metavar="SHARE",
                       help="refuse to publish when more than this share of items have errors (default %(default)s)")
    check.add_argument("--accept-drop", action="store_true",
                       help="publish even though the gate would refuse a drop or an error share (recorded)")
    check.add_argument("--no-publish", action="store_true", help="check only; publish no catalog")
    check.add_argument("--alert", metavar="env:VARIABLE",
                       help="send a Slack alert when the feed's state changes; the webhook URL is read from this "
                       "environment variable")
    check.add_argument("--min-match-rate", type=float, metavar="SHARE",
                       help="with --events: alert when the catalog match rate falls under this share")
    check.add_argument("--name", help="the feed's name in alerts (default: the source's file name)")
    check.set_defaults(run=_check)
    events = sub.add_parser(
        "events",
        parents=[_feed_options(), _event_options()],
        help="check purchase-event logs, and reconcile their content ids with a catalog",
        description="Read purchase-event logs (TikTok Events API 2.0 and 1.x bodies, pixel events, flat records, "
        "or any shape mapped with --field), deduplicate them, check value, currency and contents, and with "
        "--catalog match every content_id against the feed. Writes DIR/findings.csv, DIR/report.json and, "
        "with --catalog, DIR/mismatches.csv. Nothing is published.",
    )
    events.add_argument("logs", nargs="+", metavar="LOG", help="event logs: files, folders or globs")
    events.add_argument("--catalog", metavar="SOURCE", help="the catalog feed (path or URL) to reconcile with")
    events.set_defaults(run=_events)
    diff = sub.add_parser(
        "diff",
        help="show what changed between two feeds",
        description="Compare two feeds (paths or URLs, any format) item by item: items added, removed, "
        "re-priced, changed in availability or otherwise. Exit 0 when nothing changed, 1 when something did.",
    )
    diff.add_argument("old", help="the earlier feed")
    diff.add_argument("new", help="the later feed")
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")
    diff.add_argument("--timeout", type=float, default=FetchLimits.deadline, metavar="SECONDS",
                      help="wall-clock limit for downloading each feed (default %(default)s)")
    diff.add_argument("-v", "--verbose", action="store_true", help="show tracebacks for internal errors")
    diff.set_defaults(run=_diff)
    run = sub.add_parser(
        "run",
        parents=[_feeds_file_options()],
        help="run feeds of the feeds file now, as Prefect flow runs",
        description="Run feeds of the feeds file now as Prefect flows (every feed when none is named): against "
        "the Prefect server in PREFECT_API_URL, or in a temporary local one when none is set. Prints where "
        "each feed's reports are. Exit 0 no errors, 1 error findings, 3 a feed failed or was refused.",
    )
    run.add_argument("feeds", nargs="*", metavar="FEED_NAME", help="feeds to run (default: all of them)")
    run.add_argument("--force", action="store_true",
                     help="read each feed even if it is unchanged (its server says so, or a file has the same bytes)")
    run.add_argument("--now", metavar="WHEN", help=_NOW_HELP)
    run.set_defaults(run=_run)
    init = sub.add_parser(
        "init",
        help="write a commented starter feeds.toml for a channel and a source",
        description="Write a commented starter feeds file for one feed, to edit and then run with "
        "'feedcheck run --config FILE'. An existing file is not replaced unless --force is given.",
    )
    init.add_argument("file", nargs="?", type=Path, default=Path("feeds.toml"), help="default ./feeds.toml")
    init.add_argument("--channel", choices=CHANNEL_NAMES, required=True, help="the channel the catalog is for")
    init.add_argument("--source", required=True, help="the feed's path or URL")
    init.add_argument("--name", help="the feed's name (default: from the source's file name)")
    init.add_argument("--out", default="out/feeds", metavar="FOLDER|URL",
                      help="where each feed publishes: a folder, s3://bucket/prefix or sftp://user@host/path "
                      "(default out/feeds)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.add_argument("-v", "--verbose", action="store_true", help="show tracebacks for internal errors")
    init.set_defaults(run=_init)
    serve = sub.add_parser(
        "serve",
        parents=[_feeds_file_options()],
        help="serve a Prefect deployment per feed, on the feed's schedule",
        description="Serve a Prefect deployment per feed of the feeds file, each on its schedule, plus "
        "check-all-feeds/all to run every feed on demand. Needs a Prefect server (PREFECT_API_URL); runs "
        "until interrupted.",
    )
    serve.set_defaults(run=_serve)
    return parser


def _feed_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--channel", choices=CHANNEL_NAMES, default="tiktok", help="channel rules (default tiktok)")
    options.add_argument("--out", default="out", metavar="FOLDER|URL",
                         help="where the cleaned catalog is published: a folder, which also holds the reports "
                         "(default ./out), or s3://bucket/prefix/ or sftp://user@host[:port]/path/")
    options.add_argument("--work", type=Path, metavar="FOLDER",
                         help="with a URL in --out: the local folder of the reports, history and state "
                         "(default ./out)")
    options.add_argument("--currency", help="the catalog's currency, e.g. USD (default: inferred from the prices)")
    options.add_argument("--countries", default="", metavar="CC,CC",
                         help="where the catalog is advertised, e.g. US,DE: Google's requirements in those "
                         "countries are errors (default: warnings that name the countries)")
    options.add_argument("--limit", action="append", default=[], metavar="FIELD=N",
                         help="override a length limit the channel does not publish, e.g. title=255")
    options.add_argument("--max-findings", type=int, default=ReadLimits.max_findings_per_code, metavar="N",
                         help="findings stored per code; counts stay exact (default %(default)s)")
    options.add_argument("--processes", type=int, default=ReadLimits.processes, metavar="N",
                         help="processes that read and check an XML feed of many chunks, and parse the blocks of "
                         "a big event log, side by side, without a Dask cluster: 0 one per processor (default); 1 "
                         "reads any feed in one pass, in this process (a CSV or TSV feed's parts are otherwise "
                         "parsed by Arrow on a thread beside it), and parses a log's blocks on a thread beside the "
                         "checking one")
    options.add_argument("--timeout", type=float, default=FetchLimits.deadline, metavar="SECONDS",
                         help="wall-clock limit for downloading the feed (default %(default)s)")
    options.add_argument("--max-bytes", type=int, default=FetchLimits.max_bytes, metavar="N",
                         help="largest download accepted (default %(default)s)")
    options.add_argument("--header-env", action="append", default=[], metavar="HEADER=VAR",
                         help="send HEADER with the value of environment variable VAR (e.g. Authorization=FEED_TOKEN)")
    options.add_argument("--basic-auth-env", metavar="USER_VAR:PASSWORD_VAR",
                         help="HTTP basic auth from two environment variables")
    options.add_argument("--now", metavar="WHEN", help=_NOW_HELP)
    options.add_argument("--dask", metavar="ADDRESS",
                         help="validate the feed's chunks and parse the event logs' blocks on Dask: 'local' or "
                         "'local:N' (a cluster of N worker processes, started for the run) or a scheduler such as "
                         "tcp://host:8786")
    options.add_argument("-v", "--verbose", action="store_true", help="show tracebacks for internal errors")
    return options


_NOW_HELP = (f"the moment the date rules judge at, e.g. 2026-11-20T12:00:00Z, to replay a check (default "
             f"${NOW_VARIABLE}, else the current time)")


def _feeds_file_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", type=Path, default=Path(os.environ.get("FEEDCHECK_CONFIG", "feeds.toml")),
                         help="the feeds file (default $FEEDCHECK_CONFIG or ./feeds.toml)")
    options.add_argument("-v", "--verbose", action="store_true",
                         help="show tracebacks for internal errors, and Prefect's log lines")
    return options


def _event_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--field", action="append", default=[], metavar="NAME=PATH",
                         help="where a field sits in logs of another shape, e.g. event_id=properties.eventId "
                         f"(names: {', '.join(EVENT_FIELDS)})")
    options.add_argument("--purchase-event", action="append", default=[], metavar="NAME",
                         help="an event name that is a purchase (default Purchase; repeat for several)")
    options.add_argument("--catalog-event", action="append", default=[], metavar="NAME",
                         help="an event name whose content ids must match the catalog "
                         "(default ViewContent, AddToCart, Purchase; repeat for several)")
    options.add_argument("--id-pattern", action="append", default=[], metavar="REGEX",
                         help="an id format to try when a content_id misses, its first group the id's core, "
                         "e.g. '^myshop-(.+)$'")
    options.add_argument("--dedup-window", type=float, default=EventOptions.dedup_window_hours, metavar="HOURS",
                         help="events with the same name and event_id this close are one event (default %(default)s)")
    return options


def _name_of(source: str) -> str:
    """A feed's name when ``--name`` gives none: its file's name, without a URL's query (which may hold a
    token, and the name goes to Slack)."""
    return PurePosixPath(urlsplit(source).path).name or urlsplit(source).hostname or "feed"


def _check(args: argparse.Namespace) -> int:
    """A run through the pipeline, as ``run`` and the flows make: one that finds its feed unchanged loads no
    pandas, pandera or lxml (nor does this module at its top), which is most of a second of each run."""
    feed = feed_config(args, args.source, args.events, name=args.name or _name_of(str(args.source)),
                        format=args.format, gate=publish_options(args),
                        alerts=Alerts(slack_webhook=args.alert, min_match_rate=args.min_match_rate),
                        publish=not args.no_publish, publish_reports=args.publish_reports)
    with _progress() as progress:
        webhook = resolve_webhook(args.alert) if args.alert else None
        run = run_feed(feed, Steps(force=args.force, webhook=webhook, progress=progress))
    if run.summary is None:
        print(f"{run.report.source} is unchanged since the last check; nothing was published; "
              f"its report is in {run.paths['report']}.")
    else:
        print(feed_summary(run.report, run.paths))
    return run.exit_code


@contextlib.contextmanager
def _progress() -> Iterator[Progress | None]:
    """The progress line, when a person watches standard error; cleared before the summary is printed."""
    progress = Progress.for_terminal()
    try:
        yield progress
    finally:
        if progress is not None:
            progress.close()


def _events(args: argparse.Namespace) -> int:
    from feedcheck.check import check_feed  # here and in _diff, not at the top: see _check
    from feedcheck.events.checker import check_events

    if args.catalog:
        feed = feed_config(args, args.catalog, args.logs)
        with dask_executor(feed.dask) if feed.dask else contextlib.nullcontext() as executor, \
                _progress() as progress:
            report = check_feed(feed.source, feed.channel, options=feed.channel_options(),
                                fetch_limits=feed.fetch_limits, read_limits=feed.read_limits, auth=feed.auth(),
                                events=feed.events, event_options=feed.event_options, executor=executor,
                                progress=progress)
        paths = write_reports(feed.out, report.to_dict(), report.log, report.mismatches)
        print(feed_summary(report, paths))
        unusable = report.events is not None and report.events.unusable
        return max(report.exit_code, ExitCode.UNUSABLE) if unusable else report.exit_code
    with dask_executor(args.dask) if args.dask else contextlib.nullcontext() as executor, _progress() as progress:
        only = check_events(args.logs, options=event_settings(args),
                            log=FindingLog(max_per_code=args.max_findings), progress=progress, executor=executor)
    paths = write_reports(local_folder(args), only.to_dict(), only.log)
    print(events_summary(only.summary, only.log))
    print(paths_line(paths))
    return only.exit_code


def _diff(args: argparse.Namespace) -> int:
    from feedcheck.publish.snapshot import diff_feeds

    try:
        changes, _ = diff_feeds(args.old, args.new, fetch_limits=FetchLimits(deadline=args.timeout))
    except ConfigError:
        raise
    except FeedcheckError as exc:
        print(f"feedcheck: {exc.finding.message}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(changes.as_dict(), indent=2, ensure_ascii=False))
        return int(changes.changed)
    print(f"{count(changes.old_items, 'item')} before, {changes.new_items:,} after")
    labels = {"added": "added", "removed": "removed", "price_changed": "price changed",
              "availability_changed": "availability changed", "other_changed": "other values changed"}
    for kind, label in labels.items():
        changed = getattr(changes, kind)
        if changed:
            print(f"  {changed:>8,}  {label}")
            for example in changes.examples.get(kind, [])[:5]:
                change = f"{example['before']} -> {example['after']}" if example["before"] and example["after"] else ""
                print(f"            {example['id']}  {change}".rstrip())
    if not changes.changed:
        print("  no changes")
    return int(changes.changed)


def _run(args: argparse.Namespace) -> int:
    feeds = load_feeds(args.config)
    for feed in [find_feed(feeds, name) for name in args.feeds] or feeds:
        check_settings(feed)
    flows = _flows(quiet=not args.verbose)
    config = str(args.config.resolve())
    try:
        if len(args.feeds) == 1:
            state = flows.check_one_feed(args.feeds[0], config, args.force, now=now_of(args), return_state=True)
            outcomes = [flows.outcome_of(state)]
            write_fleet_page(config)  # check-all-feeds writes it itself
        else:
            state = flows.check_all_feeds(config, args.feeds or None, args.force, now=now_of(args), return_state=True)
            outcomes = flows.outcome_of(state)
            if not isinstance(outcomes, list):
                outcomes = [outcomes]
    except (RuntimeError, OSError) as exc:  # Prefect's API never answered; no flow ran
        raise ConfigError(f"Prefect's API could not be reached ({exc}). With PREFECT_API_URL set, check that its "
                          "server is up; without it, Prefect starts a temporary local server: try again.") from None
    codes = []
    for outcome in outcomes:
        if not isinstance(outcome, dict):
            print(f"CRASHED  the flow run ended with {type(outcome).__name__}; see its logs in Prefect. "
                  "This is a bug in feedcheck: please report it.", file=sys.stderr)
            codes.append(ExitCode.INTERNAL)
            continue
        print(f"{outcome['status'].upper():<9} {outcome['message']}")
        if outcome.get("report"):
            print(f"          report: {outcome['report']}")
        codes.append(int(outcome["exit_code"]))
    print(f"every feed: {fleet_folder(config) / 'index.html'}")
    return max(codes, default=ExitCode.INTERNAL)


def _init(args: argparse.Namespace) -> int:
    written = write_starter(args.file, args.channel, args.source, name=args.name, out=args.out, force=args.force)
    print(f"wrote {written}: check it, then run every feed with: feedcheck run --config {written}")
    return ExitCode.OK


def _serve(args: argparse.Namespace) -> int:
    load_feeds(args.config)
    flows = _flows(quiet=False)
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise ConfigError("Schedules need a Prefect server: start one with 'prefect server start' and set "
                          "PREFECT_API_URL=http://127.0.0.1:4200/api (or log in to Prefect Cloud), then serve again.")
    flows.serve_feeds(args.config)
    return 0


def _flows(quiet: bool) -> Any:
    """The Prefect flows, imported only when a command runs one (Prefect takes most of a second to import)."""
    for name, value in _PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if quiet:  # runs keep their full logs in Prefect; the terminal shows the outcome
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    try:
        from feedcheck import flows
    except ImportError as exc:
        raise ConfigError(f"This command runs Prefect flows, and Prefect is not installed ({exc.name}); "
                          "install it with: pip install 'feedcheck[flows]'.") from None
    return flows


if __name__ == "__main__":
    sys.exit(main())
