"""Leave-one-out and influence diagnostics at k = 1,500: whatworks next to metafor.

Run from the repository root (metafor needs Rscript; --no-r leaves it out):

    .venv/bin/python benchmarks/bench_sensitivity.py [--k 1500] [--repeats 7] [--r-repeats 1] [--no-r]

The same simulated data (fixed seed; vi = 4/n, n in 20..399, tau^2 = 0.05) go to both. whatworks
fits the k leave-one-out models as one vectorised batch (``sensitivity.fit_subsets``); the script
reports the median and best wall-clock and process-CPU time over the repeats (CPU time is less
sensitive to other load on the machine), and checks that metafor's ``leave1out`` and ``influence``
give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from whatworks.synthesis import meta_analysis
from whatworks.synthesis.sensitivity import influence, leave_one_out

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); reps <- as.integer(args[2])
out <- list()
for (method in c("REML", "DL")) {
  fit <- rma(yi, vi, data = d, method = method)
  for (what in c("leave1out", "influence")) {
    f <- if (what == "leave1out") function() leave1out(fit) else function() influence(fit)
    # metafor refits k models (about a minute each call at k = 1,500): the first call is timed
    # too, so reps = 1 makes one call per case
    times <- numeric(reps)
    for (i in seq_len(reps)) times[i] <- system.time(res <- f())[["elapsed"]]
    est <- if (what == "leave1out") res$estimate else res$inf$cook.d
    out[[paste(method, what)]] <- list(median = median(times), best = min(times), value = est)
  }
}
cat(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def timed(fn, repeats: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"median": float(np.median(walls)), "best": min(walls),
            "cpu_median": float(np.median(cpus))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--r-repeats", type=int, default=1, help="metafor calls per case (slow)")
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261130)
    n = rng.integers(20, 400, args.k)
    v = 4.0 / n
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    ours = {}
    for method in ("REML", "DL"):
        fit = meta_analysis(y, v, method=method)
        for what, fn in (("leave1out", leave_one_out), ("influence", influence)):
            res = fn(fit)  # warm-up
            ours[f"{method} {what}"] = timed(lambda fn=fn, fit=fit: fn(fit), args.repeats)
            ours[f"{method} {what}"]["value"] = (res.estimate if what == "leave1out"
                                                 else res.cook_d)
    theirs = None
    if not args.no_r and shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "d.csv"
            np.savetxt(csv, np.column_stack([y, v]), delimiter=",", header="yi,vi", comments="",
                       fmt="%.17g")
            script = Path(tmp) / "bench.R"
            script.write_text(R_SCRIPT)
            done = subprocess.run(["Rscript", str(script), str(csv), str(args.r_repeats)],
                                  capture_output=True, text=True, check=True)
            theirs = json.loads(done.stdout)
    print(f"k = {args.k:,}; {args.repeats} repeats; median (best) wall-clock seconds\n")
    print("| case | whatworks wall | whatworks CPU | metafor wall | metafor / whatworks | "
          "max abs difference |")
    print("|---|---|---|---|---|---|")
    for key, r in ours.items():
        row = f"| {key} | {r['median']:.3f} ({r['best']:.3f}) | {r['cpu_median']:.3f} |"
        if theirs:
            t = theirs[key]
            diff = np.nanmax(np.abs(np.asarray(t["value"], float) - r["value"]))
            row += (f" {t['median']:.3f} ({t['best']:.3f}) | {t['median'] / r['median']:.0f}x | "
                    f"{diff:.1e} |")
        else:
            row += " - | - | - |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
