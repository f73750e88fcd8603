"""Where a feed's parts are read and checked side by side: a Dask cluster, or this machine's processors.

A feed cut into parts (:mod:`feedcheck.readers.parts`) has each part read
and assessed by a worker, :func:`feedcheck.rules.validate.assess_part`, which
depends on nothing but the part; the findings are folded back in the feed's
order, so the report and the cleaned catalog are the same as a run in one
process.  :func:`dask_executor` gives a Dask cluster's workers (a local one
started for the run, or one that already runs; Dask is optional:
``pip install 'feedcheck[dask]'``), :func:`local_executor` what a run
without a cluster uses for a feed of many chunks: a pool of this machine's
processes (:func:`local_processes`) for XML, one thread beside the checking
one for CSV and TSV.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from feedcheck.errors import ConfigError

LOCAL_WORKERS = 2
# How a run without a cluster reads a feed's parts.  XML items are turned into rows in Python, so its parts go to
# the machine's processes: on the 200k-item RSS bench feed, two took 0.75x the time of one.  Arrow parses CSV and
# TSV parts outside the GIL, and a process would cost more in sending their frames back (1.04x with two): one
# thread reads and assesses the parts while the checking thread folds, cleans and spools (0.91x of the same parts
# read in turn, on the 196k-item bench catalog).
LOCAL_FORMATS = {"rss": "processes", "atom": "processes", "csv": "thread", "tsv": "thread"}
_LOCAL = re.compile(r"local(?::([1-9][0-9]?))?")


def check_address(address: object, where: str = "Dask") -> None:
    """Refuse an address that is neither ``local``, ``local:N`` nor a Dask scheduler's address.

    Raises:
        ConfigError: with the forms that are accepted.
    """
    if not isinstance(address, str) or not (
            _LOCAL.fullmatch(address) or re.fullmatch(r"(tcp|tls|ws|wss|inproc)://\S+", address)):
        raise ConfigError(f"{where}: the address {address!r} is not understood; use 'local' (a local cluster of "
                          f"{LOCAL_WORKERS} workers), 'local:N' (N workers) or a scheduler such as tcp://host:8786.")


def local_workers(address: str) -> int | None:
    """The workers of the local cluster that ``local`` or ``local:N`` asks for; ``None`` for a scheduler."""
    local = _LOCAL.fullmatch(address)
    return None if local is None else int(local.group(1) or LOCAL_WORKERS)


def local_cluster_options(workers: int) -> dict[str, Any]:
    """How feedcheck starts a local cluster: one thread per worker process (the rules hold the GIL), and the
    scheduler's HTTP routes on a free port of 127.0.0.1, not Dask's fixed 8787 on every interface, so runs
    side by side do not clash and nothing is served to the network."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
            "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"}}


def processors() -> int:
    """The processors this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local_executor(fmt: str, processes: int) -> contextlib.AbstractContextManager[Executor]:
    """Where a run without a cluster reads the parts of a feed in ``fmt`` (one of :data:`LOCAL_FORMATS`)."""
    if LOCAL_FORMATS[fmt] == "thread":
        return ThreadPoolExecutor(1, thread_name_prefix="feedcheck-parts")
    return local_processes(processes)


@contextlib.contextmanager
def local_processes(processes: int) -> Iterator[Executor]:
    """A pool of ``processes`` processes of this machine (0: one per processor).

    The workers are forked from this process when it runs no other thread,
    so they start with everything imported; a process with threads (a
    Prefect flow's) must not fork, and starts them from a fork server, or
    spawns them where there is none.
    """
    methods = mp.get_all_start_methods()
    method = next(m for m in ("fork" if threading.active_count() == 1 else "", "forkserver", "spawn") if m in methods)
    with ProcessPoolExecutor(processes or processors(), mp_context=mp.get_context(method)) as pool:
        yield pool


@contextlib.contextmanager
def dask_executor(address: str, connect_timeout: float = 10.0) -> Iterator[Executor]:
    """An executor on the Dask cluster at ``address`` (``local`` or ``local:N`` start one for the run).

    The workers of an existing cluster must have feedcheck installed, the
    same version as here.

    Raises:
        ConfigError: the address is not understood, Dask is not installed, or no scheduler answers there
            within ``connect_timeout`` seconds.
    """
    check_address(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("Dask is not installed: pip install 'feedcheck[dask]', or run without --dask.") from None
    workers = local_workers(address)
    with contextlib.ExitStack() as stack:
        if workers is not None:
            target: Any = stack.enter_context(LocalCluster(**local_cluster_options(workers)))
        else:
            target = address
        try:
            client = stack.enter_context(Client(target, timeout=connect_timeout))
        except OSError as exc:
            raise ConfigError(f"No Dask scheduler answered at {address} ({exc}); start it, or check the "
                              f"address.") from None
        yield DaskExecutor(client)


class DaskExecutor(Executor):
    """Runs calls on a Dask client's workers; a frame or bytes among the arguments go straight to a worker.

    Frames given inline would travel inside the task graph, through the
    scheduler; scattered, they go to the worker that will use them.  They are
    scattered unhashed: each is sent once, and hashing a part of a feed (tens
    of megabytes) to name it cost the driver a second in eight.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        import pandas as pd  # loaded by then (the chunks are frames); not at the top, where every run would load it

        sent = [self.client.scatter(a, hash=False) if isinstance(a, (pd.DataFrame, bytes)) else a for a in args]
        return self.client.submit(fn, *sent, pure=False, **kwargs)
