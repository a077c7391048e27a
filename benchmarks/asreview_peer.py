"""Run ASReview's default simulation (the peer) on the benchmark datasets with our seeds and priors.

Used by ``bench_screening.py``; runs ``asreview simulate`` from a SEPARATE virtualenv (default
``/work/asreview-venv``, set ``ASREVIEW_VENV``) under ``nice``, one run at a time, with the same prior
records as our run for that seed (``--prior-idx``) and the same seed. Reads the labelling order from
the project's ``results.db`` and scores it with *our* metric functions, so both tools are measured
the same way. Appends one JSON line per run to the output file and skips runs already there.

    PYTHONPATH=src .venv/bin/python benchmarks/asreview_peer.py OUT.jsonl [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from whatworks.compute import task_seeds
from whatworks.review.screening import metrics
from whatworks.review.screening.data import load_records
from whatworks.review.screening.simulate import choose_priors

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "screening"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/screening")
DATASETS = ["nudging_nagtegaal2019_ferdinands", "ace_cohen2006_ferdinands", "virus_kwok2020_ferdinands",
            "adhd_cohen2006", "depression_animal_bannachbrown2019",
            "nudging_nagtegaal2019_full_with_TA_labels_and_duplicates"]
VENV = Path(os.environ.get("ASREVIEW_VENV", "/work/asreview-venv"))


def asreview_version() -> str:
    out = subprocess.run([str(VENV / "bin" / "asreview"), "--version"], capture_output=True, text=True,
                         cwd=tempfile.gettempdir())  # it leaves a cache file in its working directory
    return out.stdout.strip()


def run_one(name: str, seed: int) -> dict:
    path = DATA / f"{name}.csv"
    y = load_records(path).labels
    priors = choose_priors(y, seed, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "run.asreview"
        cmd = ["nice", "-n", "10", str(VENV / "bin" / "asreview"), "simulate", str(path),
               "--prior-idx", *map(str, priors), "--seed", str(seed % 2**32), "-o", str(project)]
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        with zipfile.ZipFile(project) as z:
            z.extract("results.db", tmp)
        con = sqlite3.connect(Path(tmp) / "results.db")
        rows = con.execute("SELECT record_id, label, classifier FROM results ORDER BY rowid").fetchall()
        con.close()
    order = [int(r[0]) for r in rows if int(r[0]) not in priors]
    # ASReview's record_id is the 0-based row of the CSV; check the labels agree with ours
    seq = np.array([int(r[1]) for r in rows if int(r[0]) not in priors])
    if not np.array_equal(seq, y[order]):
        raise SystemExit(f"{name}: ASReview's labels disagree with the CSV's label_included")
    n = len(y) - len(priors)
    return {"dataset": name, "seed": seed, "priors": priors, "seconds": seconds, "cpu_seconds": cpu,
            "n_screened": len(order), "classifiers": sorted({str(r[2]) for r in rows}),
            "wss_95": 100 * metrics.wss(seq, 0.95, n_total=n),
            "rrf_10": 100 * metrics.rrf(seq, 10, n_total=n),
            "atd": 100 * metrics.atd(seq, n_total=n), "order": order, "labels": seq.tolist()}


def _done(paths) -> set:
    done = set()
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                d = json.loads(line)
                done.add((d["dataset"], d["seed"]))
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--reverse", action="store_true", help="seeds in reverse order (a second worker)")
    ap.add_argument("--skip", nargs="*", default=[], help="JSON-lines files of runs already done")
    args = ap.parse_args()
    out = Path(args.out)
    version = asreview_version()
    seeds = task_seeds(args.seed, args.seeds)
    for seed in reversed(seeds) if args.reverse else seeds:
        for name in args.datasets:
            if (name, seed) in _done([out, *map(Path, args.skip)]):
                continue
            res = run_one(name, seed)
            res["asreview"] = version
            with out.open("a") as fh:
                fh.write(json.dumps(res) + "\n")
            print(f"{name} seed {seed}: WSS@95 {res['wss_95']:.1f} in {res['seconds']:.1f}s", file=sys.stderr,
                  flush=True)


if __name__ == "__main__":
    main()
