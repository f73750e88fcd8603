"""Prefect flows and deployments for feedcheck; the work itself is the library's (:mod:`feedcheck.pipeline`)."""

from feedcheck.flows.check import FlowFailed, check_all_feeds, check_one_feed, outcome_of
from feedcheck.flows.serve import deployments, serve_feeds

__all__ = ["FlowFailed", "check_all_feeds", "check_one_feed", "deployments", "outcome_of", "serve_feeds"]
