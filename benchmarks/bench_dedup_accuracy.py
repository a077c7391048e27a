"""Deduplication accuracy, counted on records as ASySD reports it.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_dedup_accuracy.py [--shared ../shared/data]

1. ``dedup/dedup_benchmark.csv`` (2,524 records of 2,049 works; truth in ``work_id``) with the
   shipped coefficients, as given; and again with the benchmark's truth corrected where its source,
   the nudging review export, itself marks two of its records as duplicates
   (``duplicate_record_id``) but the benchmark gave them different ``work_id`` s (found by identical
   normalised titles; listed in the output).
2. ``screening/nudging_nagtegaal2019_full_with_TA_labels_and_duplicates.csv`` (titles and abstracts
   only; duplicates marked in ``duplicate_record_id``).

The held-out (cross-validated) figures of the model come from ``fit_dedup_model.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from fit_dedup_model import corrected_truth, load

from whatworks.review.dedup import deduplicate, duplicate_metrics
from whatworks.review.records import Record

ROOT = Path(__file__).resolve().parents[1]


def nudging(path: Path) -> tuple[list[Record], dict[str, str]]:
    f = pd.read_csv(path, dtype=str, keep_default_na=False)
    recs = [Record(id=r.record_id, title=r.title or None, abstract=r.abstract or None)
            for r in f.itertuples()]
    work = {r.record_id: (str(int(float(r.duplicate_record_id))) if r.duplicate_record_id else r.record_id)
            for r in f.itertuples()}
    return recs, work


def run(records, work_of, **kw) -> dict:
    t0 = time.perf_counter()
    res = deduplicate(records, **kw)
    seconds = time.perf_counter() - t0
    m = duplicate_metrics(res.groups, work_of)
    m.update(seconds=round(seconds, 2), review_queue=len(res.review_queue))
    # a person who decides every queued pair rightly (accepts the true ones only)
    resolved = res
    for p in res.review_queue:
        if work_of[p.a] == work_of[p.b]:
            resolved = resolved.merge(p.a, p.b)
    r = duplicate_metrics(resolved.groups, work_of)
    m.update(after_review_sensitivity=r["sensitivity"], after_review_specificity=r["specificity"],
             queued_true=sum(work_of[p.a] == work_of[p.b] for p in res.review_queue))
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--json")
    args = ap.parse_args()
    shared = Path(args.shared)
    nud_path = shared / "screening" / "nudging_nagtegaal2019_full_with_TA_labels_and_duplicates.csv"
    out = {}
    recs, work = load(shared / "dedup" / "dedup_benchmark.csv")
    out["benchmark"] = run(recs, work)
    fixed, notes = corrected_truth(recs, work, nud_path)
    out["benchmark_corrected"] = run(recs, fixed)
    out["benchmark_corrected"]["merged_work_ids"] = notes
    nrecs, nwork = nudging(nud_path)
    out["nudging"] = run(nrecs, nwork)
    for k in ("benchmark", "benchmark_corrected", "nudging"):
        m = out[k]
        print(f"{k}: sensitivity {m['sensitivity']:.4f} "
              f"({m['duplicates_removed']}/{m['duplicate_records']}), "
              f"specificity {m['specificity']:.5f} ({m['unique_records'] - m['uniques_removed']}/"
              f"{m['unique_records']}), {m['review_queue']} pairs for review ({m['queued_true']} true; "
              f"after review {m['after_review_sensitivity']:.4f} / {m['after_review_specificity']:.5f}), "
              f"{m['seconds']} s")
    for n in notes:
        print("  corrected:", n)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
