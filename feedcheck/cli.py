"""The ``feedcheck`` command line: a thin shell over the library.

Exit codes: 0 no error findings, 1 error findings, 2 usage or option error,
3 the feed could not be fetched or read, 4 an internal error (a bug: please
report it with the output of ``--verbose``).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from feedcheck.channels import CHANNEL_NAMES
from feedcheck.check import FeedReport, check_feed
from feedcheck.config import ChannelOptions, FetchLimits, ReadLimits
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.fetch import Auth, Validators
from feedcheck.report import atomic_write, write_reports

STATE_FILE = ".feedcheck-state.json"
EXIT_USAGE = 2
EXIT_INTERNAL = 4


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except FeedcheckError as exc:
        print(f"feedcheck: {exc.finding.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("feedcheck: interrupted; reports already written are complete, nothing is half-written.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if args.verbose:
            traceback.print_exc()
        print(
            f"feedcheck: internal error ({type(exc).__name__}). This is a bug in feedcheck, not in your feed; "
            "run again with --verbose and report the output.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedcheck", description="Check product feeds for TikTok, Google and Meta.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="fetch and validate a feed, write findings.csv and report.json",
        description="Fetch a feed (path, file:// or http(s):// URL, plain or gzip; CSV, TSV, RSS or Atom), "
        "validate it for a channel, and write DIR/findings.csv and DIR/report.json.",
    )
    check.add_argument("source", help="feed path or URL")
    check.add_argument("--channel", choices=CHANNEL_NAMES, default="tiktok", help="channel rules (default tiktok)")
    check.add_argument("--out", type=Path, default=Path("out"), help="report folder (default ./out)")
    check.add_argument("--currency", help="the catalog's currency, e.g. USD (default: inferred from the prices)")
    check.add_argument("--limit", action="append", default=[], metavar="FIELD=N",
                       help="override a length limit the channel does not publish, e.g. title=255")
    check.add_argument("--max-findings", type=int, default=ReadLimits.max_findings_per_code, metavar="N",
                       help="findings stored per code; counts stay exact (default %(default)s)")
    check.add_argument("--timeout", type=float, default=FetchLimits.deadline, metavar="SECONDS",
                       help="wall-clock limit for downloading the feed (default %(default)s)")
    check.add_argument("--max-bytes", type=int, default=FetchLimits.max_bytes, metavar="N",
                       help="largest download accepted (default %(default)s)")
    check.add_argument("--header-env", action="append", default=[], metavar="HEADER=VAR",
                       help="send HEADER with the value of environment variable VAR (e.g. Authorization=FEED_TOKEN)")
    check.add_argument("--basic-auth-env", metavar="USER_VAR:PASSWORD_VAR",
                       help="HTTP basic auth from two environment variables")
    check.add_argument("--force", action="store_true", help="fetch even if the server says the feed is unchanged")
    check.add_argument("-v", "--verbose", action="store_true", help="show tracebacks for internal errors")
    check.set_defaults(run=_check)
    return parser


def _check(args: argparse.Namespace) -> int:
    options = ChannelOptions(currency=args.currency.upper() if args.currency else None, limits=_limits(args.limit))
    out: Path = args.out
    state = _load_state(out)
    previous = None if args.force else _validators(state.get(str(args.source)))
    report = check_feed(
        args.source,
        args.channel,
        options=options,
        fetch_limits=FetchLimits(deadline=args.timeout, max_bytes=args.max_bytes),
        read_limits=ReadLimits(max_findings_per_code=args.max_findings),
        previous=previous,
        auth=_auth(args),
    )
    if report.unchanged:
        code = int(state[str(args.source)].get("exit_code", 0))
        print(f"{report.source} is unchanged since the last check; its report is in {out / 'report.json'}.")
        return code
    paths = write_reports(out, report.to_dict(), report.log)
    if report.fetched is not None and not report.fatal:
        _save_state(out, state, str(args.source), report)
    print(_summary(report, paths))
    return report.exit_code


def _limits(pairs: list[str]) -> dict[str, int]:
    limits = {}
    for pair in pairs:
        name, _, number = pair.partition("=")
        if not number.isdigit():
            raise ConfigError(f"--limit takes FIELD=N with a whole number, got '{pair}'.")
        limits[name.strip()] = int(number)
    return limits


def _auth(args: argparse.Namespace) -> Auth | None:
    headers = {}
    for pair in args.header_env:
        header, _, var = pair.partition("=")
        if not header or not var:
            raise ConfigError(f"--header-env takes HEADER=VAR, got '{pair}'.")
        headers[header] = var
    basic = None
    if args.basic_auth_env:
        user, _, password = args.basic_auth_env.partition(":")
        if not user or not password:
            raise ConfigError("--basic-auth-env takes USER_VAR:PASSWORD_VAR.")
        basic = (user, password)
    return Auth.from_env(headers, basic) if headers or basic else None


def _load_state(out: Path) -> dict[str, dict[str, object]]:
    """What earlier runs into ``out`` remember; a damaged file is ignored, not fatal."""
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _validators(entry: dict[str, object] | None) -> Validators | None:
    if not entry or not (entry.get("etag") or entry.get("last_modified")):
        return None
    return Validators(etag=entry.get("etag"), last_modified=entry.get("last_modified"))  # type: ignore[arg-type]


def _save_state(out: Path, state: dict[str, dict[str, object]], key: str, report: FeedReport) -> None:
    assert report.fetched is not None
    state[key] = {
        "etag": report.fetched.validators.etag,
        "last_modified": report.fetched.validators.last_modified,
        "sha256": report.fetched.sha256,
        "exit_code": report.exit_code,
    }
    atomic_write(out / STATE_FILE, json.dumps(state, indent=2).encode())


def _summary(report: FeedReport, paths: dict[str, Path]) -> str:
    lines = []
    fatal = report.log.fatal
    if fatal:
        lines.append(f"FAILED  {report.source}: {fatal.message}")
    else:
        info = report.info
        shape = f"{info.format.upper()}, {info.encoding}{', gzip' if info.compressed else ''}" if info else ""
        verdict = "OK" if report.status == "ok" else "ERRORS"
        lines.append(f"{verdict}  {report.source} ({shape}) for {report.channel}")
        lines.append(
            f"  {report.items_total:,} items: {report.items_with_errors:,} with errors (rejected by the channel), "
            f"{report.items_with_warnings:,} with warnings only"
        )
        top = [(c, n) for c, n in report.log.counts.most_common() if report.log.severity_of[c].value != "info"][:8]
        if top:
            lines.append("  top findings:")
            lines.extend(f"    {n:>8,}  {report.log.severity_of[c].value:<7}  {c}" for c, n in top)
    lines.append(f"  reports: {paths['findings']}  {paths['report']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
