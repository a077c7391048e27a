"""Screening benchmark: our active learning against ASReview's default on every labelled dataset.

For each dataset in ../shared/data/screening and each of ``--seeds`` seeds (``task_seeds(0, n)``),
runs ``whatworks.review.screening.simulate_one`` (same priors as the peer), and reads the peer's
runs from the JSON-lines files written by ``asreview_peer.py`` (ASReview in its own virtualenv,
same priors and seeds, scored with the same metric functions). Prints a Markdown table of medians
(WSS@95, RRF@10, ATD in %), whole-simulation wall times and the stopping rules' recall and work
saved; ``--json FILE`` keeps every run.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_screening.py \
        --peer /work/bench-out/asreview.jsonl /work/bench-out/asreview_b.jsonl
    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_screening.py --refresh 100000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from whatworks.compute import map_tasks, task_seeds
from whatworks.review.screening.data import load_records
from whatworks.review.screening.features import extract
from whatworks.review.screening.simulate import simulate_one

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "screening"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/screening")
DATASETS = ["nudging_nagtegaal2019_ferdinands", "ace_cohen2006_ferdinands", "virus_kwok2020_ferdinands",
            "adhd_cohen2006", "depression_animal_bannachbrown2019",
            "nudging_nagtegaal2019_full_with_TA_labels_and_duplicates"]


def ours(name: str, seeds: list[int], model: str, features: str, backend: str) -> list[dict]:
    records = load_records(DATA / f"{name}.csv")
    t0 = time.perf_counter()
    X = extract(records.texts, features)
    feature_seconds = time.perf_counter() - t0
    tasks = [{"X": X, "labels": records.labels, "seed": s, "model": model, "prior_relevant": 1,
              "prior_irrelevant": 1} for s in seeds]
    runs = map_tasks(simulate_one, tasks, backend=backend, progress=False)
    for r in runs:
        r["dataset"] = name
        # a whole simulation = feature extraction + the run (the peer's time includes both, and start-up)
        r["whole_seconds"] = feature_seconds + r["seconds"]
    return runs


def peer(paths: list[str]) -> dict:
    out: dict = {}
    for p in paths:
        path = Path(p)
        if path.exists():
            for line in path.read_text().splitlines():
                d = json.loads(line)
                out[(d["dataset"], d["seed"])] = d
    return out


def table(runs: list[dict], peers: dict, seeds: list[int]) -> str:
    med = np.median
    lines = ["| dataset | WSS@95 ours | WSS@95 ASReview | RRF@10 ours | RRF@10 ASReview | ATD ours | "
             "ATD ASReview | s/run ours | s/run ASReview | speed-up | peer runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    diffs = []
    for name in DATASETS:
        mine = [r for r in runs if r["dataset"] == name]
        if not mine:
            continue
        theirs = [peers[(name, s)] for s in seeds if (name, s) in peers]
        row = [name, f"{med([r['wss_95'] for r in mine]):.1f}"]
        if theirs:
            row += [f"{med([r['wss_95'] for r in theirs]):.1f}"]
            diffs.append(med([r['wss_95'] for r in mine]) - med([r['wss_95'] for r in theirs]))
        else:
            row += ["-"]
        for key in ("rrf_10", "atd"):
            row += [f"{med([r[key] for r in mine]):.1f}",
                    f"{med([r[key] for r in theirs]):.1f}" if theirs else "-"]
        ws = med([r["whole_seconds"] for r in mine])
        row += [f"{ws:.2f}"]
        if theirs:
            ts = med([r["seconds"] for r in theirs])
            row += [f"{ts:.1f}", f"{ts / ws:.1f}x"]
        else:
            row += ["-", "-"]
        row += [str(len(theirs))]
        lines.append("| " + " | ".join(row) + " |")
    if diffs:
        lines.append(f"\nMean WSS@95 difference (ours - ASReview) over {len(diffs)} datasets: "
                     f"{np.mean(diffs):+.1f} points.")
    return "\n".join(lines)


def stopping_table(runs: list[dict]) -> str:
    lines = ["| rule | runs | stopped | target 95% reached (of stopped) | median recall | "
             "median work saved % |", "|---|---|---|---|---|---|"]
    for rule in runs[0]["stopping"]:
        st = [r["stopping"][rule] for r in runs]
        stopped = [s for s in st if s["stopped_at"] is not None]
        ok = sum(s["recall"] >= 0.95 for s in stopped)
        lines.append(f"| {rule} | {len(st)} | {len(stopped)} | {ok}/{len(stopped)} "
                     f"({100 * ok / max(1, len(stopped)):.0f}%) | "
                     f"{100 * np.median([s['recall'] for s in st]):.1f} | "
                     f"{100 * np.median([s['work_saved'] for s in st]):.1f} |")
    return "\n".join(lines)


def refresh_benchmark(n: int, labelled: int = 2000, repeats: int = 5,
                      models=("svm", "logistic", "nb")) -> str:
    """Ranking refresh time at ``n`` records: features once, then refit + scoring per refresh."""
    from whatworks.review.screening.session import ScreeningSession

    rng = np.random.default_rng(0)
    vocab = np.array([f"term{i}" for i in range(30000)])
    weights = 1 / np.arange(1, len(vocab) + 1)  # Zipf-like word frequencies
    weights /= weights.sum()
    texts = [" ".join(rng.choice(vocab, 180, p=weights)) for _ in range(n)]  # ~ title + abstract
    labels = (rng.random(n) < 0.03).astype(int)
    t0 = time.perf_counter()
    X = extract(texts, "tfidf")
    feat = time.perf_counter() - t0
    lines = [f"{n} records (synthetic, 180 words each), {X.shape[1]} features, {X.nnz} non-zeros; "
             f"feature extraction once: {feat:.1f} s"]
    for model in models:
        s = ScreeningSession(X, model=model, seed=0)
        for i in rng.choice(n, labelled, replace=False):
            s.label(int(i), int(labels[i]))
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            s.refresh()
            s.next(10)
            times.append(time.perf_counter() - t)
        lines.append(f"- {model}: refresh (refit on {labelled} labels + score all + rank) median "
                     f"{np.median(times):.2f} s, max {max(times):.2f} s")
    return "\n".join(lines)


def cpu_pairs(names: list[str], seed: int) -> str:
    """CPU time of one whole simulation, ours then ASReview's, back to back (insensitive to load)."""
    import asreview_peer

    lines = ["| dataset | WSS@95 ours | WSS@95 ASReview | CPU s ours (features + run) | CPU s ASReview "
             "(whole process) | wall s ours | wall s ASReview | CPU ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for name in names:
        records = load_records(DATA / f"{name}.csv")
        c0, w0 = time.process_time(), time.perf_counter()
        X = extract(records.texts, "tfidf")
        r = simulate_one({"X": X, "labels": records.labels, "seed": seed, "model": "svm",
                          "prior_relevant": 1, "prior_irrelevant": 1})
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        p = asreview_peer.run_one(name, seed)
        lines.append(f"| {name} | {r['wss_95']:.1f} | {p['wss_95']:.1f} | {cpu:.2f} | "
                     f"{p['cpu_seconds']:.2f} | {wall:.2f} | {p['seconds']:.2f} | "
                     f"{p['cpu_seconds'] / cpu:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--model", default="svm")
    ap.add_argument("--features", default="tfidf")
    ap.add_argument("--backend", default="serial", help="serial gives clean per-run times")
    ap.add_argument("--peer", nargs="*", default=[])
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--reuse", metavar="FILE",
                    help="take our runs from an earlier --json file (re-merge with more peer runs)")
    ap.add_argument("--models", nargs="*", default=["svm", "logistic", "nb"],
                    help="models for --refresh")
    ap.add_argument("--refresh", type=int, metavar="N",
                    help="only the ranking-refresh benchmark at N records")
    ap.add_argument("--cpu", nargs="*", metavar="DATASET",
                    help="only the paired CPU-time comparison (first seed) on these datasets")
    args = ap.parse_args()
    if args.cpu:
        print(cpu_pairs(args.cpu, task_seeds(0, 1)[0]))
        return
    if args.refresh:
        print(refresh_benchmark(args.refresh, models=args.models))
        return
    seeds = task_seeds(0, args.seeds)
    t0 = time.perf_counter()
    runs = []
    if args.reuse:
        runs = json.loads(Path(args.reuse).read_text())["ours"]
    else:
        for name in args.datasets:
            runs += ours(name, seeds, args.model, args.features, args.backend)
    total = time.perf_counter() - t0
    peers = peer(args.peer)
    print(table(runs, peers, seeds))
    print(f"\nOur {len(runs)} simulations: {total:.0f} s in all ({args.backend}).\n")
    print(stopping_table(runs))
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": runs, "peer": list(peers.values())}))


if __name__ == "__main__":
    main()
