"""whatworks.compute: one interface, the same results in-process, on a process pool and on Dask."""

import numpy as np
import pytest

from whatworks.compute import ComputeError, map_tasks, plan, task_seeds
from whatworks.errors import InputError, ParameterError


def simulate(task):
    """A small seeded simulation: the mean of 1,000 normal draws (module level: picklable)."""
    seed, scale = task
    return float(np.random.default_rng(seed).normal(0.0, scale, 1000).mean())


def fail_on_three(x):
    if x == 3:
        raise ZeroDivisionError("boom")
    return x


def user_error(x):
    raise InputError("a bad cell", file="data.csv", row=x, column="yi")


def tasks(n=6):
    return [(s, 1.0 + i) for i, s in enumerate(task_seeds(20201, n))]


def test_it_returns_results_in_task_order_in_process():
    assert map_tasks(abs, [-3, 2, -1], backend="serial") == [3, 2, 1]


def test_a_process_pool_gives_the_same_results_as_serial():
    serial = map_tasks(simulate, tasks(), backend="serial")
    pooled = map_tasks(simulate, tasks(), backend="processes", workers=2)
    assert pooled == serial


def test_seeds_are_fixed_by_the_base_seed_and_differ_between_tasks():
    a, b = task_seeds(7, 100), task_seeds(7, 100)
    assert a == b and len(set(a)) == 100
    assert task_seeds(7, 3) == a[:3]  # task i's seed does not depend on how many tasks there are
    assert task_seeds(8, 3) != a[:3]
    assert all(0 <= s < 2 ** 63 for s in a)


def test_a_failing_task_is_named():
    with pytest.raises(ComputeError, match="task 3 failed: ZeroDivisionError"):
        map_tasks(fail_on_three, range(5), backend="serial")
    with pytest.raises(ComputeError, match="task 3 failed: ZeroDivisionError"):
        map_tasks(fail_on_three, range(5), backend="processes", workers=2)


def test_a_user_error_in_a_task_passes_through_unchanged():
    with pytest.raises(InputError, match="data.csv, row 2, column 'yi'"):
        map_tasks(user_error, [2], backend="serial")


def test_the_plan_follows_the_documented_order(monkeypatch):
    monkeypatch.delenv("WHATWORKS_DASK_SCHEDULER", raising=False)
    monkeypatch.delenv("WHATWORKS_COMPUTE", raising=False)
    assert plan(1).backend == "serial"
    assert plan(10, workers=1).backend == "serial"
    assert plan(10, workers=2).backend == "processes"
    assert plan(10, scheduler="tcp://127.0.0.1:1").backend == "dask"
    monkeypatch.setenv("WHATWORKS_COMPUTE", "serial")
    assert plan(10, workers=2).backend == "serial"
    monkeypatch.setenv("WHATWORKS_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    p = plan(10)
    assert (p.backend, p.scheduler) == ("dask", "tcp://127.0.0.1:8786")
    assert plan(10, backend="serial").scheduler is None


def test_bad_choices_are_refused_with_the_allowed_values(monkeypatch):
    monkeypatch.delenv("WHATWORKS_COMPUTE", raising=False)
    with pytest.raises(ParameterError, match="serial, processes, dask"):
        plan(3, backend="threads")
    with pytest.raises(ParameterError, match="workers"):
        plan(3, workers=0)
    monkeypatch.setenv("WHATWORKS_COMPUTE", "gpu")
    with pytest.raises(ParameterError, match="WHATWORKS_COMPUTE"):
        plan(3)
    with pytest.raises(ParameterError, match="seed"):
        task_seeds(-1, 3)


def test_an_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed", reason="dask.distributed is installed by the test extra")
    with pytest.raises(ComputeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        map_tasks(abs, [1, 2], scheduler="tcp://127.0.0.1:9")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is installed by the test extra")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def test_a_real_dask_cluster_gives_the_same_results_as_serial(cluster):
    serial = map_tasks(simulate, tasks(), backend="serial")
    assert map_tasks(simulate, tasks(), scheduler=cluster.scheduler_address) == serial
    from distributed import Client

    with Client(cluster) as client:
        assert map_tasks(simulate, tasks(), client=client) == serial
        with pytest.raises(ComputeError, match="task 3 failed"):
            map_tasks(fail_on_three, range(5), client=client)
