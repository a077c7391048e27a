"""Throughput of simulation-based power (whatworks.trials.power_sim) and its scaling with workers.

A three-level cluster trial (CRA3_3r: 20 pupils x 4 classes x 100 schools, rho2 = .06, rho3 = .18,
40% of schools treated, es = .2), 10,000 replications, each simulating 8,000 pupils and testing the
effect on school means (80 million simulated pupils in all). Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/bench_trial_power.py [--replications 10000] [--json PATH]

Backends timed: in-process (serial), a local process pool with 1 and 2 workers, and a Dask
LocalCluster with 1 and 2 workers (timed with the cluster already running, and once including its
start-up). The peer is the same simulation written in base R (bench_trial_power.R), run once.
Every run must give the same power (identical seeds per chunk), which the script checks.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # workers inherit: one thread per process
os.environ.setdefault("OMP_NUM_THREADS", "1")

from whatworks.compute import plan  # noqa: E402
from whatworks.trials.design import power as formula_power  # noqa: E402
from whatworks.trials.power_sim import ThreeLevelContinuous, simulate_power  # noqa: E402

HERE = Path(__file__).resolve().parent
SCENARIO = dict(es=0.2, rho2=0.06, rho3=0.18, n=20, J=4, K=100, p=0.4)


def _cpu(client=None) -> float:
    """CPU seconds (user + system) of this process, its finished children, and a Dask client's workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    if client is not None:
        total += sum(client.run(_worker_cpu).values())
    return total


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(label, reps, client=None, **kw):
    """Wall-clock and CPU time of one run. The machine is shared, so CPU seconds (this process, the
    pool's workers once they have exited, a running cluster's workers) say what the work cost and
    wall-clock says what a user waited."""
    c0 = _cpu(client)
    t0 = time.perf_counter()
    res = simulate_power(ThreeLevelContinuous(**SCENARIO), replications=reps, seed=2026, chunk=250,
                         progress=False, client=client, **kw)
    wall = time.perf_counter() - t0
    cpu = _cpu(client) - c0
    if kw.get("backend") == "processes":
        cpu = None  # the pool's workers are children of the forkserver, not of this process
    row = {"case": label, "seconds": wall, "replications_per_second": reps / wall,
           "cpu_seconds": cpu, "replications_per_cpu_second": reps / cpu if cpu else None,
           "power": res.power, "power_mcse": res.power_mcse, "load_average_1min": os.getloadavg()[0]}
    cpu_text = f"{cpu:6.2f} CPU s {reps / cpu:7.0f} rep/CPU-s" if cpu else "CPU not measurable      "
    print(f"{label:44s} {wall:7.2f} s wall {reps / wall:7.0f} rep/s | {cpu_text} | power "
          f"{res.power:.4f} | load {os.getloadavg()[0]:.1f}", flush=True)
    return row, res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replications", type=int, default=10_000)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    reps = args.replications
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows = []
    simulate_power(ThreeLevelContinuous(**SCENARIO), replications=20, seed=1, backend="serial",
                   progress=False)  # warm-up: imports and first calls out of the timings
    base, ref = timed("serial (in-process)", reps, backend="serial")
    rows.append(base)
    for w in (1, 2):
        rows.append(timed(f"processes, {w} worker(s)", reps, backend="processes", workers=w)[0])
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed not installed: pip install 'whatworks[dask]'; skipping Dask rows")
    else:
        for w in (1, 2):
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.submit(sum, [1]).result()  # workers up and warm
                rows.append(timed(f"dask LocalCluster, {w} worker(s), running", reps, client)[0])
        rows.append(timed("dask LocalCluster, 2 workers, incl. start-up", reps, backend="dask",
                          workers=2)[0])
    powers = {round(r["power"], 12) for r in rows}
    assert len(powers) == 1, f"backends disagree: {powers}"
    if not args.no_r and shutil.which("Rscript"):
        t0 = time.perf_counter()
        out = subprocess.run(["Rscript", str(HERE / "bench_trial_power.R"), str(reps)], check=True,
                             capture_output=True, text=True).stdout
        wall = time.perf_counter() - t0
        r = json.loads(out)
        rows.append({"case": "base R loop (bench_trial_power.R)", "seconds": r["seconds"],
                     "replications_per_second": reps / r["seconds"], "cpu_seconds": r["cpu"],
                     "replications_per_cpu_second": reps / r["cpu"], "power": r["power"],
                     "power_mcse": (r["power"] * (1 - r["power"]) / reps) ** 0.5,
                     "process_seconds": wall})
        print(f"{'base R loop':44s} {r['seconds']:7.2f} s wall {reps / r['seconds']:7.0f} rep/s | "
              f"{r['cpu']:6.2f} CPU s {reps / r['cpu']:7.0f} rep/CPU-s | power {r['power']:.4f}")
    f = formula_power("CRA3_3r", **SCENARIO).power
    print(f"formula power (noncentral t): {f:.4f}; simulated {ref.power:.4f} +- {ref.power_mcse:.4f}")
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "formula_power": f, "replications": reps,
                                               "default_plan": plan(40).to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
