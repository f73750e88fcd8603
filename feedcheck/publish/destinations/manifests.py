"""Reading the manifests a destination holds: the gate's baseline, whatever the destination."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from feedcheck.findings import FindingLog, make_finding


def encode(manifest: dict[str, Any]) -> bytes:
    """A manifest as it is published."""
    return (json.dumps(manifest, indent=2) + "\n").encode()


class NotAManifest(ValueError):
    """Bytes that are not a feedcheck manifest; the message says why, after the place's name."""


def parsed(data: bytes) -> dict[str, Any]:
    """A manifest's content.

    Raises:
        NotAManifest: the bytes are not JSON, or not a feedcheck manifest.
    """
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise NotAManifest(f"cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), int):
        raise NotAManifest("is not a feedcheck manifest")
    return manifest


def readable(data: bytes, shown: str, log: FindingLog) -> dict[str, Any] | None:
    """The manifest in ``data`` (read from ``shown``), or ``None`` with a finding that says why not."""
    try:
        return parsed(data)
    except NotAManifest as exc:
        log.add(make_finding("publish.manifest_unreadable", detail=f"{shown} {exc}."))
        return None


Version = TypeVar("Version")


def past_keep(versions: Iterable[tuple[bytes | None, Version]], keep: int) -> list[Version]:
    """The versions beyond the newest ``keep`` (at least one is kept), each given with its manifest's bytes
    (``None``: unreadable), by the manifests' ``published_at``; one without it counts as the oldest."""
    dated = sorted(((_published_at(data), version) for data, version in versions), reverse=True)
    return [version for _, version in dated[max(keep, 1):]]


def _published_at(data: bytes | None) -> str:
    try:
        return str(json.loads((data or b"").decode("utf-8"))["published_at"])
    except (ValueError, KeyError, TypeError):
        return ""


def newest(contents: Iterable[bytes | None]) -> dict[str, Any] | None:
    """The newest readable manifest of the published versions (``None``: one that could not be fetched): the
    gate's baseline when the current one cannot be read."""
    manifests = []
    for data in contents:
        with contextlib.suppress(NotAManifest):
            if data is not None:
                manifests.append(parsed(data))
    return max(manifests, key=lambda m: str(m.get("published_at", "")), default=None)
