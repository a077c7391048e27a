"""Fit the deduplication model's coefficients and report held-out accuracy and calibration.

    PYTHONPATH=src .venv/bin/python benchmarks/fit_dedup_model.py --l2 0.1 \
        [--data ../shared/data/dedup/dedup_benchmark.csv] [--evaluate-corrected NUDGING.csv]

1. Reads the labelled benchmark (records sharing ``work_id`` are the same work).
2. Grouped five-fold cross-validation by work: for each fold, the model is fitted on the candidate
   pairs of the other folds' works only, and ``deduplicate`` runs on the held-out works' records with
   it; sensitivity and specificity (ASySD's record-level definitions) are summed over the held-out
   folds, at several merge thresholds, and the held-out pair probabilities are binned for a
   calibration table (and Brier score).
3. Fits on all pairs and prints the coefficients to paste into ``src/whatworks/review/dedup/_model.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from whatworks.review.dedup import FEATURES, deduplicate, duplicate_metrics, pair_table
from whatworks.review.dedup._features import norm_text
from whatworks.review.dedup._model import fit_logistic, match_probability
from whatworks.review.records import Record

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / ".." / "shared" / "data" / "dedup" / "dedup_benchmark.csv"
THRESHOLDS = (0.5, 0.9, 0.95, 0.99, 0.999)


def load(path: Path) -> tuple[list[Record], dict[str, object]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    records, work_of = [], {}
    for row in frame.itertuples(index=False):
        def v(x):
            return x.strip() or None
        authors = tuple(a.strip() for a in row.authors.split(";") if a.strip())
        year = int(float(row.year)) if row.year.strip() else None
        rec = Record(id=str(row.record_id), title=v(row.title), abstract=v(row.abstract), authors=authors,
                     year=year, journal=v(row.journal), volume=v(row.volume), pages=v(row.pages),
                     doi=v(row.doi), source_database=v(row.source))
        records.append(rec)
        work_of[rec.id] = row.work_id
    return records, work_of


def corrected_truth(records, work_of, nudging_path: Path) -> tuple[dict, list[str]]:
    f = pd.read_csv(nudging_path, dtype=str, keep_default_na=False)
    marked = {norm_text(t) for t, d in zip(f.title, f.duplicate_record_id, strict=True) if d}
    works_by_title: dict[str, set] = {}
    for r in records:
        t = norm_text(r.title)
        if t in marked:
            works_by_title.setdefault(t, set()).add(work_of[r.id])
    alias, notes = {}, []
    for t, works in works_by_title.items():
        if len(works) > 1:
            target = min(works)
            for w in works:
                alias[w] = target
            notes.append(f"work_ids {sorted(works)}: '{t[:70]}'")
    return {i: alias.get(w, w) for i, w in work_of.items()}, notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json")
    ap.add_argument("--evaluate-corrected", metavar="NUDGING_CSV",
                    help="evaluate (never fit) against the truth corrected by the nudging export's own "
                         "duplicate marks (see bench_dedup_accuracy.py)")
    args = ap.parse_args()
    records, work_of = load(Path(args.data))
    eval_work = dict(work_of)
    if args.evaluate_corrected:
        eval_work, notes = corrected_truth(records, work_of, Path(args.evaluate_corrected))
        print(f"evaluating against the corrected truth ({len(notes)} pairs of work_ids joined)")
    works = sorted(set(work_of.values()))
    pairs, X = pair_table(records)
    # Folds are connected components of "same work or a candidate pair", so look-alike records
    # (and a work's records) are never split between training and held-out folds: splitting them
    # would hide exactly the false merges the held-out figures must count.
    parent = list(range(len(records)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_of_work: dict[object, int] = {}
    for k, r in enumerate(records):
        w = work_of[r.id]
        if w in first_of_work:
            parent[find(k)] = find(first_of_work[w])
        else:
            first_of_work[w] = k
    for i, j in pairs:
        parent[find(int(i))] = find(int(j))
    comps = sorted({find(k) for k in range(len(records))})
    rng = np.random.default_rng(args.seed)
    fold_of_comp = dict(zip(comps, rng.permutation(len(comps)) % args.folds, strict=True))
    fold = np.array([fold_of_comp[find(k)] for k in range(len(records))])
    sizes = np.bincount([find(k) for k in range(len(records))])
    print(f"{len(comps)} components for the folds (largest {sizes.max()} records)")

    y = np.array([work_of[records[i].id] == work_of[records[j].id] for i, j in pairs], dtype=float)
    all_dups = sum(1 for _ in records) - len(works)
    found = {frozenset((records[i].id, records[j].id)) for (i, j), t in zip(pairs, y, strict=True) if t}
    # how many duplicate records have at least one candidate partner of their work (blocking recall)
    partner = {i for p in found for i in p}
    print(f"{len(records)} records, {len(works)} works, {all_dups} duplicate records; "
          f"{len(pairs)} candidate pairs, {int(y.sum())} of them true; "
          f"{len(partner)} records in a true candidate pair")

    oof_p = np.full(len(pairs), np.nan)
    totals = {t: {"duplicate_records": 0, "duplicates_removed": 0, "unique_records": 0,
                  "uniques_removed": 0} for t in THRESHOLDS}
    for f in range(args.folds):
        train = (fold[pairs[:, 0]] != f) & (fold[pairs[:, 1]] != f)
        test = (fold[pairs[:, 0]] == f) & (fold[pairs[:, 1]] == f)
        b0, w = fit_logistic(X[train], y[train], l2=args.l2)
        oof_p[test] = match_probability(X[test], b0, w)
        held = [r for r, fo in zip(records, fold, strict=True) if fo == f]
        held_work = {r.id: eval_work[r.id] for r in held}
        for t in THRESHOLDS:
            res = deduplicate(held, merge_threshold=t, review_threshold=min(0.5, t), model=(b0, w))
            m = duplicate_metrics(res.groups, held_work)
            for k in totals[t]:
                totals[t][k] += m[k]
    rows = []
    for t in THRESHOLDS:
        tt = totals[t]
        sens = tt["duplicates_removed"] / tt["duplicate_records"]
        spec = 1 - tt["uniques_removed"] / tt["unique_records"]
        rows.append({"merge_threshold": t, "sensitivity": sens, "specificity": spec, **tt})
        print(f"held-out, merge at p >= {t}: sensitivity {sens:.4f}, specificity {spec:.5f} "
              f"({tt['duplicates_removed']}/{tt['duplicate_records']} duplicates removed, "
              f"{tt['uniques_removed']}/{tt['unique_records']} unique records removed)")

    ok = ~np.isnan(oof_p)
    p, yy = oof_p[ok], y[ok]
    brier = float(np.mean((p - yy) ** 2))
    edges = [0, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 1.0 + 1e-12]
    calib = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= lo) & (p < hi)
        if m.any():
            calib.append({"bin": f"[{lo:g}, {min(hi, 1):g})", "pairs": int(m.sum()),
                          "mean_predicted": float(p[m].mean()), "observed": float(yy[m].mean())})
    print(f"held-out calibration of {ok.sum()} pairs (Brier {brier:.4f}):")
    for c in calib:
        print(f"  {c['bin']:>14}: {c['pairs']:6d} pairs, predicted {c['mean_predicted']:.3f}, "
              f"observed {c['observed']:.3f}")

    b0, w = fit_logistic(X, y, l2=args.l2)
    print("\n# fitted by benchmarks/fit_dedup_model.py on all candidate pairs; paste into _model.py")
    print(f"INTERCEPT = {b0:.6f}")
    print("COEFFICIENTS: dict[str, float] = {")
    for name, c in zip(FEATURES, w, strict=True):
        print(f"    {name!r}: {c:.6f},")
    print("}")
    if args.json:
        Path(args.json).write_text(json.dumps({"held_out": rows, "calibration": calib, "brier": brier,
                                               "intercept": b0, "coefficients": dict(zip(FEATURES, w.tolist(),
                                                                                         strict=True))},
                                              indent=2))


if __name__ == "__main__":
    main()
