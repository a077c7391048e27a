"""Re-rating a whole Evidence Store when a scheme version changes: one batch vs one call each.

Generates an illustrative store of 1,000 interventions x 4 outcomes (4,000 syntheses) with 100,000
findings (``--quick``: 100 interventions, 10,000 findings) and times

- ``rate_evidence_batch``: every synthesis refitted and re-rated in one pass (the one-effect-per-
  study syntheses fitted by ``meta_analysis_batch``, one vectorised call per model);
- a loop of ``rate_evidence``, one call per intervention x outcome (what refreshing each rating in
  turn costs);

under scheme 2.0 and 1.0, and checks that both give the same ratings.

    .venv/bin/python benchmarks/bench_ratings.py            # full size (about a minute or two)
    .venv/bin/python benchmarks/bench_ratings.py --quick    # a tenth
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

OUTCOMES = ("entry-to-care", "family-functioning", "placement-stability", "re-referrals")


def generate(n_interventions: int, n_findings: int, seed: int = 2026) -> pd.DataFrame:
    """Bodies of about 11 studies (Poisson), 1-3 time points each, 3% of studies with two effects
    at a time point, 10% of unknown size, 10% of designs that are not rated; trimmed to
    ``n_findings`` rows."""
    rng = np.random.default_rng(seed)
    per = n_findings / (n_interventions * len(OUTCOMES))
    blocks = []
    for i in range(n_interventions):
        for outcome in OUTCOMES:
            measure = "SMD" if outcome == "family-functioning" else "RR"
            k = int(np.clip(rng.poisson(per / 1.95), 1, 40))   # about 2.06 rows per study
            centre = rng.normal(0.15 if measure == "SMD" else -0.15, 0.2)
            times = rng.integers(1, 4, k)
            twice = rng.random(k) < 0.03
            reps = times * (1 + twice)
            study = np.repeat(np.arange(k), reps)
            m = study.size
            months = np.concatenate([np.repeat(rng.choice([6.0, 12.0, 24.0], t, replace=False), 1 + w)
                                     for t, w in zip(times, twice, strict=True)])
            es = np.concatenate([np.tile(np.arange(1 + w), t) for t, w in zip(times, twice, strict=True)])
            design = rng.choice(["rct", "cluster-rct", "qed", "pre-post"], k, p=[.5, .2, .2, .1])
            n = rng.integers(40, 3000, k).astype(float)
            n[rng.random(k) < 0.1] = np.nan
            rob = rng.choice(["low", "some-concerns", "high", ""], k)
            blocks.append(pd.DataFrame({
                "intervention": f"intervention-{i:04d}", "outcome": outcome,
                "study": [f"s{j:02d}" for j in study], "design": design[study], "n": n[study],
                "risk_of_bias": rob[study], "measure": measure,
                "yi": centre + rng.normal(0, 0.15, k)[study] + rng.normal(0, 0.05, m),
                "vi": rng.uniform(0.004, 0.12, m), "es_id": [f"e{x}" for x in es],
                "months": months}))
    table = pd.concat(blocks, ignore_index=True)
    excess = len(table) - n_findings
    if excess > 0:      # drop rows at random (never a synthesis's last one) to hit the size exactly
        sizes = table.groupby(["intervention", "outcome"])["study"].transform("size")
        candidates = np.flatnonzero(sizes.to_numpy() > 1)
        table = table.drop(index=rng.choice(candidates, excess, replace=False)).reset_index(drop=True)
    return table


def timed(fn):
    """(result, wall-clock seconds, CPU seconds of this process): CPU time is the fairer number
    on a shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    from whatworks.ratings import rate_evidence
    from whatworks.ratings.batch import rate_evidence_batch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--schemes", nargs="+", default=["whatworks-2026@2.0", "whatworks-2026@1.0"],
                    metavar="ID@VERSION", help="schemes to time (default: 2.0 and 1.0)")
    args = ap.parse_args()
    n_int, n_find = (100, 10_000) if args.quick else (1_000, 100_000)
    table = generate(n_int, n_find)
    groups = table.groupby(["intervention", "outcome"], sort=False)
    print(f"store: {table.intervention.nunique():,} interventions, {groups.ngroups:,} syntheses, "
          f"{len(table):,} findings; {platform.python_implementation()} {platform.python_version()}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print("| scheme | batch: wall (CPU) | loop of rate_evidence: wall (CPU) | loop / batch (CPU) "
          "| same ratings |")
    print("|---|---|---|---|---|")
    for scheme in args.schemes:
        batch, t_batch, c_batch = timed(lambda s=scheme: rate_evidence_batch(table, scheme=s))

        def loop(s=scheme):
            return {key: rate_evidence(g.drop(columns=["intervention", "outcome"]), outcome=key[1],
                                       scheme=s) for key, g in groups}

        each, t_loop, c_loop = timed(loop)
        same = len(batch) == len(each) and all(
            (batch[k].rating.effectiveness_code, batch[k].rating.strength, batch[k].rating.explanation,
             batch[k].statement) == (each[k].rating.effectiveness_code, each[k].rating.strength,
                                     each[k].rating.explanation, each[k].statement) for k in each)
        print(f"| {scheme} | {t_batch:.1f} s ({c_batch:.1f} s) | {t_loop:.1f} s ({c_loop:.1f} s) | "
              f"{c_loop / c_batch:.1f}x | {same} |")
        paths = pd.Series([r.rating.path for r in batch.values()]).value_counts().to_dict()
        models = pd.Series([(r.synthesis or {}).get("method") for r in batch.values()]).value_counts(
            dropna=False).to_dict()
        print(f"  {scheme}: paths {paths}; models {models}")


if __name__ == "__main__":
    main()
