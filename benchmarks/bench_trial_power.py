"""Throughput of simulation-based power (whatworks.trials.power_sim) and its scaling with workers.

Two simulations, each run with 1 and 2 workers on a local process pool and on a running Dask
LocalCluster (and once in-process), in chunks large enough that one task is about a second of work,
so that the fixed costs of a task (scheduling, pickling the results) are small beside it:

* ``three-level``: the issue's design, CRA3_3r, 20 pupils x 4 classes x 100 schools, rho2 = .06,
  rho3 = .18, 40% of schools treated, es = .2; each replication simulates 8,000 pupils and tests the
  effect on school means (vectorised over a chunk: about 0.1 ms of CPU per replication, so 10,000
  replications are about one CPU-second and the run uses many more to give the workers something to
  share).
* ``cluster-counts``: the social workers in schools shape, ``ClusterCounts``: 21 local authorities x
  13 schools (273; the trial had 268), about 1,000 pupils per school (size CV .4), section 47
  enquiries at 20 per 1,000 pupil-years over two years, between-school CV .3, between-authority CV .2,
  rate ratio 1.055, analysed by a Poisson GLM with authority fixed effects, exposure offset and
  cluster-robust SEs (an IRLS fit per replication: about 1 ms of CPU each).

For every row: wall-clock, CPU seconds (this process, its finished children, and a running Dask
cluster's workers read through ``client.run``; the process pool's workers are children of the
forkserver and cannot be read from here), the cores the run kept busy (CPU / wall: 1 worker can reach
1.0, 2 workers 2.0 on idle cores; far less says the machine was shared), and the 1-minute load
average when the row finished. For
each backend: speed-up ``T1 / T2`` (wall-clock, 1 worker over 2) and parallel efficiency
``speed-up / 2``. Every run of a case must give the same power (the chunks carry their own seeds),
which the script checks. It ends with a markdown table ready for RESULTS.md.

Run from the repository root (``--quick`` takes about a minute on two idle cores):

    .venv/bin/python benchmarks/bench_trial_power.py [--quick] [--json PATH] [--no-r]

The peer for the three-level case is the same simulation in base R (``bench_trial_power.R``), run
for 10,000 replications (not in ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # workers inherit: one thread per process
os.environ.setdefault("OMP_NUM_THREADS", "1")

from whatworks.trials.design import power as formula_power  # noqa: E402
from whatworks.trials.power_sim import ClusterCounts, ThreeLevelContinuous, simulate_power  # noqa: E402

HERE = Path(__file__).resolve().parent
THREE_LEVEL = dict(es=0.2, rho2=0.06, rho3=0.18, n=20, J=4, K=100, p=0.4)
SWIS = dict(rate0=0.02, rate_ratio=1.055, exposure=2000.0, blocks=21, clusters_per_block=13, k=0.3,
            size_cv=0.4, block_cv=0.2)

#: case -> (scenario, (replications, chunk) in full mode, (replications, chunk) in --quick mode)
CASES = {
    "three-level": (ThreeLevelContinuous(**THREE_LEVEL), (100_000, 2_500), (20_000, 2_500)),
    "cluster-counts": (ClusterCounts(**SWIS), (24_000, 1_000), (4_000, 500)),
}


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


def timed(case: str, label: str, workers: int | None, client=None, **kw) -> dict:
    """Wall-clock and CPU time of one run of ``case``."""
    scenario, reps, chunk = CASE_RUN[case]
    c0 = _cpu(client)
    t0 = time.perf_counter()
    res = simulate_power(scenario, replications=reps, seed=2026, chunk=chunk, progress=False,
                         client=client, workers=workers, **kw)
    wall = time.perf_counter() - t0
    cpu = None if kw.get("backend") == "processes" else _cpu(client) - c0
    load = os.getloadavg()[0]
    row = {"case": case, "backend": label, "workers": workers, "replications": reps, "chunk": chunk,
           "tasks": -(-reps // chunk), "seconds": wall, "replications_per_second": reps / wall,
           "cpu_seconds": cpu, "power": res.power, "power_mcse": res.power_mcse,
           "load_average_1min": load}
    cpu_text = f"{cpu:7.2f} CPU s" if cpu is not None else "      – CPU s"
    print(f"{case:15s} {label:26s} {workers or '-'!s:>2} worker(s) {wall:7.2f} s wall "
          f"{reps / wall:8.0f} rep/s | {cpu_text} | power {res.power:.4f} | load {load:.2f}", flush=True)
    return row


def run_case(case: str, rows: list[dict]) -> None:
    _warm(CASE_RUN[case][0])  # imports and first calls out of the timings
    rows.append(timed(case, "serial", None, backend="serial"))
    for w in (1, 2):
        rows.append(timed(case, "processes", w, backend="processes"))
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed not installed: pip install 'whatworks[dask]'; no Dask rows")
        return
    for w in (1, 2):
        t0 = time.perf_counter()
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.submit(sum, [1]).result()  # workers up
            started = time.perf_counter() - t0
            client.run(_warm, CASE_RUN[case][0])  # imports done on every worker
            row = timed(case, "dask (running cluster)", w, client)
            row["cluster_start_seconds"] = started
            rows.append(row)
    powers = {round(r["power"], 12) for r in rows if r["case"] == case}
    if len(powers) != 1:
        raise SystemExit(f"{case}: backends disagree: {powers}")


def _warm(scenario) -> None:
    simulate_power(scenario, replications=4, chunk=2, seed=1, backend="serial", progress=False)


def scaling(rows: list[dict]) -> list[dict]:
    out = []
    for case in dict.fromkeys(r["case"] for r in rows):
        serial = next(r for r in rows if r["case"] == case and r["backend"] == "serial")
        for backend in ("processes", "dask (running cluster)"):
            one = [r for r in rows if r["case"] == case and r["backend"] == backend and r["workers"] == 1]
            two = [r for r in rows if r["case"] == case and r["backend"] == backend and r["workers"] == 2]
            if one and two:
                s = one[0]["seconds"] / two[0]["seconds"]
                out.append({"case": case, "backend": backend, "speed_up": s, "efficiency": s / 2,
                            "speed_up_over_serial": serial["seconds"] / two[0]["seconds"]})
    return out


def markdown(rows: list[dict], scale: list[dict]) -> str:
    lines = ["| case | backend | workers | replications (tasks) | wall-clock | replications / s | "
             "CPU seconds | cores busy (CPU / wall) | power | load (1 min) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        known = r.get("cpu_seconds") is not None
        cpu = f"{r['cpu_seconds']:.2f}" if known else "–"
        busy = f"{r['cpu_seconds'] / r['seconds']:.2f}" if known else "–"
        lines.append(f"| {r['case']} | {r['backend']} | {r['workers'] or '–'} | {r['replications']:,} "
                     f"({r['tasks']}) | {r['seconds']:.2f} s | {r['replications_per_second']:,.0f} | {cpu} | "
                     f"{busy} | {r['power']:.4f} | {r.get('load_average_1min', float('nan')):.2f} |")
    lines += ["", "| case | backend | speed-up T1/T2 | parallel efficiency | 2 workers vs serial |",
              "|---|---|---:|---:|---:|"]
    for s in scale:
        lines.append(f"| {s['case']} | {s['backend']} | {s['speed_up']:.2f}x | {s['efficiency']:.0%} | "
                     f"{s['speed_up_over_serial']:.2f}x |")
    return "\n".join(lines)


CASE_RUN: dict[str, tuple] = {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (about a minute on 2 idle cores)")
    ap.add_argument("--case", choices=list(CASES), action="append", help="run only this case")
    ap.add_argument("--json", metavar="PATH", help="write every row as JSON")
    ap.add_argument("--no-r", action="store_true", help="skip the base-R peer")
    ap.add_argument("--table-from", metavar="JSON", help="print the markdown tables of an earlier --json run")
    args = ap.parse_args()
    if args.table_from:
        rows = json.loads(Path(args.table_from).read_text())["rows"]
        print(markdown(rows, scaling(rows)))
        return 0
    for case, (scenario, full, quick) in CASES.items():
        CASE_RUN[case] = (scenario, *(quick if args.quick else full))
    start_load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; Python "
          f"{platform.python_version()}; load average at start {start_load}", flush=True)
    rows: list[dict] = []
    for case in args.case or list(CASES):
        run_case(case, rows)
    if not args.quick and not args.no_r and shutil.which("Rscript") and (not args.case or
                                                                          "three-level" in args.case):
        reps = 10_000
        out = subprocess.run(["Rscript", str(HERE / "bench_trial_power.R"), str(reps)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out)
        rows.append({"case": "three-level", "backend": "base R loop (peer)", "workers": 1,
                     "replications": reps, "chunk": 1, "tasks": reps, "seconds": r["seconds"],
                     "replications_per_second": reps / r["seconds"], "cpu_seconds": r["cpu"],
                     "power": r["power"], "load_average_1min": os.getloadavg()[0]})
        print(f"three-level     base R loop, {reps} replications: {r['seconds']:.2f} s wall, "
              f"{r['cpu']:.2f} CPU s, power {r['power']:.4f}")
    scale = scaling(rows)
    for s in scale:
        print(f"{s['case']:15s} {s['backend']:26s} speed-up T1/T2 {s['speed_up']:.2f}x, efficiency "
              f"{s['efficiency']:.0%}; 2 workers vs serial {s['speed_up_over_serial']:.2f}x")
    if "three-level" in (args.case or CASES):
        f = formula_power("CRA3_3r", **THREE_LEVEL).power
        ref = next(r for r in rows if r["case"] == "three-level")
        print(f"three-level formula power (noncentral t) {f:.4f}; simulated {ref['power']:.4f} "
              f"+- {ref['power_mcse']:.4f}")
    print(f"load average at start {start_load}, at end {os.getloadavg()}")
    print("\n" + markdown(rows, scale))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "scaling": scale, "quick": args.quick,
                                               "load_at_start": start_load}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
