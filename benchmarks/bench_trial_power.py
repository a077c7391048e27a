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


def timed(label, reps, **kw):
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = simulate_power(ThreeLevelContinuous(**SCENARIO), replications=reps, seed=2026, chunk=250,
                         progress=False, **kw)
    wall = time.perf_counter() - t0
    row = {"case": label, "seconds": wall, "replications_per_second": reps / wall,
           "parent_cpu_seconds": time.process_time() - c0, "power": res.power,
           "power_mcse": res.power_mcse}
    print(f"{label:40s} {wall:8.2f} s  {reps / wall:9.0f} rep/s  power {res.power:.4f}", flush=True)
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
                rows.append(timed(f"dask LocalCluster, {w} worker(s), running", reps, client=client)[0])
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
                     "replications_per_second": reps / r["seconds"], "power": r["power"],
                     "power_mcse": (r["power"] * (1 - r["power"]) / reps) ** 0.5,
                     "process_seconds": wall})
        print(f"{'base R loop':40s} {r['seconds']:8.2f} s  {reps / r['seconds']:9.0f} rep/s  "
              f"power {r['power']:.4f}")
    f = formula_power("CRA3_3r", **SCENARIO).power
    print(f"formula power (noncentral t): {f:.4f}; simulated {ref.power:.4f} +- {ref.power_mcse:.4f}")
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "formula_power": f, "replications": reps,
                                               "default_plan": plan(40).to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
