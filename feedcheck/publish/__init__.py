"""Publishing a cleaned catalog: cleaning the accepted items, the quality gate, the atomic publish, and the
state runs leave in a feed's folder (history, snapshots of items, the last run)."""

from importlib import metadata

import feedcheck.publish.codes  # noqa: F401  (declares the finding codes this room raises)

STORE = "history.sqlite"  # in a feed's folder: its run history (publish.history) and the alerts waiting for Slack


def version() -> str:
    """feedcheck's installed version, recorded in every manifest and in what a skipped run must share."""
    try:
        return metadata.version("feedcheck")
    except metadata.PackageNotFoundError:
        return "unknown"
