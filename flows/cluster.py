"""The flows' work on a Dask cluster: the library's pure steps (a chunk's rules, a part of a feed read, an event
block's parse) as Prefect tasks, submitted through :class:`ClusterTasks`, and the flow's Dask task runner.

Imported by the steps that read, when a feed has ``dask`` set: it loads pandas and the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture

from feedcheck.cluster import local_cluster_options, local_workers
from feedcheck.errors import ConfigError
from feedcheck.events.read import Parsed, parse_block
from feedcheck.readers.parts import Part
from feedcheck.rules.assess import Assessment, SchemaKey, assess
from feedcheck.rules.validate import PartAssessed, assess_part
from feedcheck.settings import EventOptions, ReadLimits

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner


@task(name="assess", cache_policy=NO_CACHE, persist_result=False)
def assess_task(key: SchemaKey, chunk: pd.DataFrame, keep: int) -> Assessment:
    """One chunk's rules, on a Dask worker; the check folds the results back in the feed's order."""
    return assess(key, chunk, keep)


@task(name="read-part", cache_policy=NO_CACHE, persist_result=False)
def assess_part_task(key: SchemaKey, part: Part, data: bytes, limits: ReadLimits, keep: int) -> PartAssessed:
    """One part of a feed cut into parts, read and its rules run on a Dask worker; folded back in order."""
    return assess_part(key, part, data, limits, keep)


@task(name="parse", cache_policy=NO_CACHE, persist_result=False)
def parse_task(data: bytes, first_line: int, options: EventOptions) -> Parsed | None:
    """One block of an event log read as columns, on a Dask worker; the events are checked in the log's order."""
    return parse_block(data, first_line, options)


class ClusterTasks(Executor):
    """Submits the library's pure steps (a chunk's rules, an event block's parse) as tasks to the running
    flow's task runner, so that on a DaskTaskRunner each is a task run on the cluster."""

    _TASKS: dict[Callable[..., Any], Any] = {assess: assess_task, assess_part: assess_part_task,
                                             parse_block: parse_task}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        task_of = self._TASKS.get(fn)
        if task_of is None:
            raise TypeError(f"{fn!r} has no task to run it on the cluster.")
        return _TaskFuture(task_of.submit(*map(_scattered, args), **kwargs))


def _scattered(arg: Any) -> Any:
    """Bytes (a part of a feed, tens of megabytes) sent ahead to the flow's Dask cluster: inside the task's
    graph they would go through the scheduler, which warns of a large graph.  Dask hands the task the bytes."""
    runner = getattr(FlowRunContext.get(), "task_runner", None)
    client = getattr(runner, "client", None)
    return client.scatter(arg, hash=False) if isinstance(arg, bytes) and client is not None else arg


class _TaskFuture:
    """A Prefect future with what the library's readers ask of one: its result, or cancel it."""

    def __init__(self, future: PrefectFuture[Any]) -> None:
        self.future = future

    def result(self) -> Any:
        return self.future.result()

    def cancel(self) -> bool:
        wrapped = getattr(self.future, "wrapped_future", None)  # a Dask future, on a DaskTaskRunner
        return bool(wrapped.cancel()) if wrapped is not None else False


def dask_runner(address: str) -> DaskTaskRunner:
    """A local cluster started for the run (``local``, ``local:N``), or the scheduler at ``address``.

    Raises:
        ConfigError: prefect-dask is not installed.
    """
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("The feed has dask set, but prefect-dask is not installed: pip install "
                          "'feedcheck[flows,dask]'.") from None
    workers = local_workers(address)
    if workers is None:
        return DaskTaskRunner(address=address)
    with get_client(sync_client=True) as client:  # the workers report to this run's server, even a temporary one
        api = str(client.api_url)
    return DaskTaskRunner(cluster_kwargs=local_cluster_options(workers) | {"env": {"PREFECT_API_URL": api}})
