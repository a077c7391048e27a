"""Stopping in practice: the SAFE procedure against the statistical rule on every labelled dataset.

For each dataset in ../shared/data/screening, runs ``whatworks.review.screening.simulate(...,
safe=True)`` with ``--seeds`` seeds (``task_seeds(0, n)``, the benchmark's seeds): each seed is one
simulation with the default model, where the ranked quasi-sample rule of Callaghan & Müller-Hansen
(2020, target 95%, confidence 95%) is evaluated, and one replay of the SAFE procedure (Boetje & van de
Schoot 2024: a random 1%, the default model until its three conditions hold, then ``--safe-model``
until 50 irrelevant records in a row). Prints a Markdown table: for each rule, the median and lowest
recall where it stopped, the share of runs that reached 95% recall, and the median work saved.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_stopping.py [--seeds 5] [--safe-model logistic]
        [--safe-features tfidf]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from whatworks.review.screening.data import load_records
from whatworks.review.screening.simulate import simulate

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "screening"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--safe-model", default="logistic")
    ap.add_argument("--safe-features", default=None,
                    help="phase 3's features (default: the screening model's)")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: the shared data sets are expected in ../shared/data")
    print("| dataset | records (relevant) | rule | recall median | lowest | runs reaching 95% "
          "| work saved median |\n|---|---|---|---|---|---|---|")
    reached = {"statistical": [], "SAFE": []}
    for path in sorted(DATA.glob("*.csv")):
        records = load_records(path)
        res = simulate(records, seeds=args.seeds, safe=True, safe_model=args.safe_model,
                       safe_features=args.safe_features, progress=False)
        stat = [r["stopping"]["callaghan_ranked"] for r in res.per_seed]
        # a run the rule never stopped screened everything: recall 1, nothing saved
        rows = {"statistical": ([s["recall"] for s in stat], [s["work_saved"] for s in stat]),
                "SAFE": ([r["recall"] for r in res.safe["per_seed"]],
                         [r["work_saved"] for r in res.safe["per_seed"]])}
        for rule, (recall, saved) in rows.items():
            recall = np.array(recall)
            reached[rule] += list(recall >= 0.95 - 1e-12)
            print(f"| {path.stem} | {len(records)} ({int(records.labels.sum())}) | {rule} | "
                  f"{100 * np.median(recall):.1f}% | {100 * recall.min():.1f}% | "
                  f"{int((recall >= 0.95 - 1e-12).sum())}/{len(recall)} | "
                  f"{100 * np.median(saved):.1f}% |")
    for rule, hits in reached.items():
        print(f"\n{rule}: 95% recall reached in {sum(hits)} of {len(hits)} runs "
              f"({100 * np.mean(hits):.0f}%)")


if __name__ == "__main__":
    main()
