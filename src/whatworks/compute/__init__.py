"""Where heavy work runs: in this process, on a local process pool, or on a Dask cluster.

One interface, :func:`map_tasks`, maps a function over a list of tasks and returns the results in
task order, whichever backend runs them. It knows nothing of the areas that use it (screening
simulations, trial power simulations): they pass a top-level function and picklable tasks.

Reproducibility: a task that needs randomness carries its own seed. :func:`task_seeds` derives
independent per-task seeds from one recorded base seed (numpy's ``SeedSequence.spawn``), so the
results are identical in-process, on a pool or on a cluster, and however the tasks are scheduled.

Choosing the backend (first that applies):

1. ``backend=`` given by the caller (``"serial"``, ``"processes"`` or ``"dask"``);
2. ``scheduler=`` given (a ``tcp://host:port`` address): Dask, on that cluster;
3. ``WHATWORKS_DASK_SCHEDULER`` in the environment: Dask, on that cluster;
4. ``WHATWORKS_COMPUTE`` in the environment (``serial``, ``processes`` or ``dask``);
5. otherwise ``"processes"`` (a local pool, one worker per core) when there is more than one task
   and more than one worker, else ``"serial"``.

``backend="dask"`` with no scheduler address starts a ``dask.distributed.LocalCluster`` for the call
and closes it afterwards (pass ``client=`` to reuse a running one). Dask is the optional extra
``whatworks[dask]``; asking for it without it installed is an error that says how to install it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from whatworks.errors import ParameterError, WhatWorksError

__all__ = ["BACKENDS", "ComputeError", "ComputePlan", "map_tasks", "plan", "task_seeds"]

#: The backends :func:`map_tasks` can run on.
BACKENDS = ("serial", "processes", "dask")


class ComputeError(WhatWorksError, RuntimeError):
    """A task failed, or the backend could not be reached; the message names the task or the address."""


@dataclass(frozen=True)
class ComputePlan:
    """The backend a call will use and why (recorded with results, e.g. in a simulation's provenance)."""

    backend: str
    workers: int
    scheduler: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "workers": self.workers, "scheduler": self.scheduler,
                "reason": self.reason}


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def plan(n_tasks: int, *, backend: str | None = None, workers: int | None = None,
         scheduler: str | None = None) -> ComputePlan:
    """Decide which backend runs ``n_tasks`` tasks (see the module docstring for the order)."""
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ParameterError("workers", workers, "a whole number of workers, 1 or more")
    if backend is not None:
        backend = str(backend).lower()
        if backend not in BACKENDS:
            raise ParameterError("backend", backend, ", ".join(BACKENDS))
    env_scheduler = os.environ.get("WHATWORKS_DASK_SCHEDULER", "").strip() or None
    env_backend = os.environ.get("WHATWORKS_COMPUTE", "").strip().lower() or None
    if env_backend is not None and env_backend not in BACKENDS:
        raise ParameterError("WHATWORKS_COMPUTE", env_backend, ", ".join(BACKENDS))
    address = scheduler or env_scheduler
    n_workers = workers or _cores()
    if backend is not None:
        reason = "asked for by the caller"
    elif scheduler:
        backend, reason = "dask", "a scheduler address was given"
    elif env_scheduler:
        backend, reason = "dask", "WHATWORKS_DASK_SCHEDULER is set"
    elif env_backend is not None:
        backend, reason = env_backend, "WHATWORKS_COMPUTE is set"
    elif n_tasks > 1 and n_workers > 1:
        backend, reason = "processes", f"{n_tasks} tasks, {n_workers} local workers"
    else:
        backend, reason = "serial", "one task or one worker"
    if backend != "dask":
        address = None
    if backend == "serial":
        n_workers = 1
    return ComputePlan(backend=backend, workers=n_workers, scheduler=address, reason=reason)


def task_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds derived from ``seed`` (numpy ``SeedSequence.spawn``).

    Task ``i`` always gets the same seed for the same ``seed``, whatever runs it, so a simulation
    records one base seed and is reproducible task by task.
    """
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError("seed", seed, "a non-negative whole number")
    children = np.random.SeedSequence(int(seed)).spawn(int(n))
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def _task_failed(index: int, exc: BaseException) -> BaseException:
    if isinstance(exc, WhatWorksError):
        return exc
    return ComputeError(f"task {index} failed: {type(exc).__name__}: {exc}")


def map_tasks(fn: Callable[[Any], Any], tasks: Iterable[Any], *, backend: str | None = None,
              workers: int | None = None, scheduler: str | None = None, client=None,
              progress: bool | None = None, description: str = "tasks") -> list[Any]:
    """Apply ``fn`` to every task and return the results in task order.

    Parameters
    ----------
    fn : a picklable (module-level) function of one task.
    tasks : the tasks (picklable); consumed into a list.
    backend : ``"serial"``, ``"processes"`` or ``"dask"``; default chosen by :func:`plan`.
    workers : local workers (processes, or a LocalCluster's workers); default one per core.
    scheduler : a Dask scheduler address (``tcp://host:port``); implies ``backend="dask"``.
    client : a running ``dask.distributed.Client`` to use instead of starting a cluster.
    progress : draw a progress bar on stderr (default: only when stderr is a terminal).
    description : the progress bar's label.

    A task's own error stops the map: a :class:`~whatworks.errors.WhatWorksError` is re-raised as it
    is; any other exception becomes a :class:`ComputeError` naming the task index.
    """
    items: Sequence[Any] = list(tasks)
    if client is not None and backend is None:
        backend = "dask"
    chosen = plan(len(items), backend=backend, workers=workers, scheduler=scheduler)
    advance, close = _bar(len(items), description, progress)
    try:
        if not items:
            return []
        if chosen.backend == "serial":
            return _serial(fn, items, advance)
        if chosen.backend == "processes":
            return _processes(fn, items, chosen.workers, advance)
        return _dask(fn, items, chosen, client, advance)
    finally:
        close()


def _bar(total: int, description: str, progress: bool | None):
    import sys

    if progress is False:
        return (lambda n=1: None), (lambda: None)
    if progress is None:
        from whatworks._progress import progress_callback

        return progress_callback(total, description)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, file=sys.stderr, leave=False, dynamic_ncols=True)
    return bar.update, bar.close


def _serial(fn, items, advance) -> list[Any]:
    out = []
    for i, task in enumerate(items):
        try:
            out.append(fn(task))
        except Exception as exc:
            raise _task_failed(i, exc) from exc
        advance(1)
    return out


def _processes(fn, items, workers: int, advance) -> list[Any]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # "spawn" would re-import the caller's __main__; "forkserver" is safe with threads (numpy BLAS,
    # Django) and is the default on Linux from Python 3.14 on.
    ctx = multiprocessing.get_context("forkserver")
    out: list[Any] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx) as pool:
        futures = {pool.submit(fn, task): i for i, task in enumerate(items)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    out[i] = future.result()
                except Exception as exc:
                    raise _task_failed(i, exc) from exc
                advance(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return out


def _dask(fn, items, chosen: ComputePlan, client, advance) -> list[Any]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ComputeError("the dask backend needs dask.distributed: pip install 'whatworks[dask]'") from exc
    own_client = own_cluster = None
    if client is None:
        if chosen.scheduler:
            try:
                client = own_client = Client(chosen.scheduler, timeout="10s")
            except OSError as exc:
                raise ComputeError(f"cannot reach the Dask scheduler at {chosen.scheduler}: {exc}; "
                                   "check WHATWORKS_DASK_SCHEDULER or --scheduler") from exc
        else:
            own_cluster = LocalCluster(n_workers=min(chosen.workers, len(items)), threads_per_worker=1,
                                       processes=True, dashboard_address=None)
            client = own_client = Client(own_cluster)
    try:
        futures = client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(items)
        for future in as_completed(futures):
            i = index[future.key]
            try:
                out[i] = future.result()
            except Exception as exc:
                client.cancel(futures)
                raise _task_failed(i, exc) from exc
            advance(1)
        return out
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
