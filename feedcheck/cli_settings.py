"""The command line's options as settings: where ``feedcheck check``, ``events`` and ``run`` turn their
arguments into a :class:`~feedcheck.feeds.FeedConfig` and the options of :mod:`feedcheck.settings`, which
check them; only the options' own syntax (``NAME=PATH``, ``FIELD=N``) is checked here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from feedcheck.clock import parse_now
from feedcheck.errors import ConfigError
from feedcheck.feeds import FeedConfig
from feedcheck.publish.destinations import check_destination, is_remote
from feedcheck.settings import (
    CATALOG_EVENTS,
    PURCHASE_EVENTS,
    ChannelOptions,
    EventOptions,
    FetchLimits,
    PublishOptions,
    ReadLimits,
)


def feed_config(args: argparse.Namespace, source: str, events: list[str], **settings: Any) -> FeedConfig:
    """The command's options as the settings of one feed, as a feeds file would give them."""
    headers, basic = auth_vars(args)
    return FeedConfig(**{
        "name": Path(str(source)).name,
        "source": source,
        "channel": args.channel,
        "out": local_folder(args),
        "destination": args.out if is_remote(args.out) else None,
        "format": PublishOptions.format,
        "events": tuple(events),
        "currency": args.currency.upper() if args.currency else None,
        "countries": ChannelOptions(countries=tuple(c for c in args.countries.split(",") if c.strip())).countries,
        "header_env": headers,
        "basic_env": basic,
        "limits": limits(args.limit),
        "fetch_limits": FetchLimits(deadline=args.timeout, max_bytes=args.max_bytes),
        "read_limits": ReadLimits(max_findings_per_code=args.max_findings, processes=args.processes),
        "event_options": event_settings(args),
        "dask": args.dask,
        "now": now_of(args),
    } | settings)


def local_folder(args: argparse.Namespace) -> Path:
    """The run's local folder: --out, or --work when --out is a URL.

    Raises:
        ConfigError: --out names a destination feedcheck cannot publish to, or --work comes with a folder.
    """
    if not is_remote(check_destination(args.out, "--out")):
        if args.work is not None:
            raise ConfigError("--work is the local folder of a run that publishes to a URL; --out is a folder "
                              "here, and holds everything.")
        return Path(args.out)
    return args.work if args.work is not None else Path("out")


def publish_options(args: argparse.Namespace) -> PublishOptions:
    return PublishOptions(format=args.format, keep=args.keep, max_drop=args.max_drop,
                          max_error_share=args.max_error_share, accept_drop=args.accept_drop)


def event_settings(args: argparse.Namespace) -> EventOptions:
    fields = {}
    for pair in args.field:
        name, _, path = pair.partition("=")
        if not name or not path:
            raise ConfigError(f"--field takes NAME=PATH, e.g. event_id=properties.eventId; got '{pair}'.")
        fields[name.strip()] = path.strip()
    return EventOptions(
        purchase_events=frozenset(args.purchase_event) or PURCHASE_EVENTS,
        catalog_events=frozenset(args.catalog_event) or CATALOG_EVENTS,
        fields=fields,
        dedup_window_hours=args.dedup_window,
        id_patterns=tuple(args.id_pattern),
        processes=args.processes,
    )


def now_of(args: argparse.Namespace) -> str | None:
    return parse_now(args.now, "--now") if args.now else None


def limits(pairs: list[str]) -> dict[str, int]:
    limits = {}
    for pair in pairs:
        name, _, number = pair.partition("=")
        if not number.isdigit():
            raise ConfigError(f"--limit takes FIELD=N with a whole number, got '{pair}'.")
        limits[name.strip()] = int(number)
    return limits


def auth_vars(args: argparse.Namespace) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The names of the environment variables holding the feed's credentials."""
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
    return headers, basic
