"""Whole-process times of the ``whatworks`` command, beside R/metafor doing the same job.

What a user feels: ``whatworks --version`` and ``--help`` (start-up), and ``whatworks meta`` on a CSV
of 1,000,000 studies (start-up + reading the CSV + the fit + JSON out). Each is a fresh process, timed
from outside (wall clock), median of the repeats after one warm-up run (so the file is in the page
cache); CPU time (user + system of the child) is reported too, being less sensitive to other load
on a shared machine. R rows, also whole processes: ``Rscript`` loading metafor (start-up), and
``read.csv`` of the same file (R's parser); metafor's ``rma()`` itself cannot fit k = 1,000,000 (it
forms k x k matrices), so the fit comparison stays in ``bench_synthesis.py``, as do PyMARE's
in-process times (PyMARE has no command line).

Run from the repository root::

    .venv/bin/python benchmarks/bench_cli.py            # about a minute
    .venv/bin/python benchmarks/bench_cli.py --no-r     # without R
    git archive 8ab580b src | tar -x -C /tmp/before      # the same, for an older commit
    .venv/bin/python benchmarks/bench_cli.py --no-r --src /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def make_csv(path: Path, k: int, seed: int = 20261130) -> None:
    """k studies: a text label, yi and vi (6 decimals), as a user's file would have them."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.1, k)
    yi = rng.normal(0.2, np.sqrt(vi + 0.02))
    labels = np.char.add("study", np.arange(k).astype(str))
    body = np.char.add(np.char.add(np.char.add(labels, ","), np.char.mod("%.6f", yi)),
                       np.char.add(",", np.char.mod("%.6f", vi)))
    with open(path, "w") as fh:
        fh.write("study,yi,vi\n")
        fh.write("\n".join(body.tolist()))
        fh.write("\n")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], repeats: int, env: dict[str, str]) -> tuple[float, float, list[float]]:
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), _child_cpu()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
        cpu.append(_child_cpu() - c)
    return statistics.median(times), statistics.median(cpu), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="the whatworks source tree to time (e.g. an older commit's, unpacked with "
                         "git archive, for a before/after comparison under the same load)")
    opts = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(opts.src))
    exe = [sys.executable, "-m", "whatworks.cli"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "studies.csv"
        make_csv(data, opts.k)
        cases = [("whatworks --version", [*exe, "--version"]),
                 ("whatworks --help", [*exe, "--help"]),
                 (f"whatworks meta (k = {opts.k:,}, REML, --format json)",
                  [*exe, "meta", str(data), "--yi", "yi", "--vi", "vi", "--format", "json"])]
        if not opts.no_r and shutil.which("Rscript"):
            cases.append(("R: Rscript -e 'library(metafor)' (start-up)",
                          ["Rscript", "-e", "suppressMessages(library(metafor))"]))
            cases.append((f"R: Rscript read.csv of the same file (k = {opts.k:,}, no fit)",
                          ["Rscript", "-e", f"d <- read.csv('{data}'); cat(nrow(d))"]))
        for name, cmd in cases:
            med, cpu, times = timed(cmd, opts.repeats, env)
            rows.append((name, med, cpu, times))
            print(f"{name}: median {med:.3f} s, CPU {cpu:.3f} s "
                  f"({', '.join(f'{t:.2f}' for t in times)})", flush=True)
    print("\n| command | median wall-clock (s) | median CPU (s) | all runs (s) |\n|---|---|---|---|")
    for name, med, cpu, times in rows:
        print(f"| {name} | {med:.3f} | {cpu:.3f} | {', '.join(f'{t:.2f}' for t in times)} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
