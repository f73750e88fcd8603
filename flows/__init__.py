"""Prefect flows and deployments for feedcheck; the work itself is the library's (:mod:`feedcheck.pipeline`)."""

from feedcheck.flows.check import check_all_feeds, check_one_feed
from feedcheck.flows.serve import deployments, serve_feeds

__all__ = ["check_all_feeds", "check_one_feed", "deployments", "serve_feeds"]
