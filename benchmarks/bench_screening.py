"""Screening benchmark: our active learning against ASReview's default on every labelled dataset.

For each dataset in ../shared/data/screening and each of ``--seeds`` seeds (``task_seeds(0, n)``),
runs one whole simulation **as its own process** (start-up, imports, reading the CSV, feature
extraction, the replay and the stopping rules' evaluation: everything ASReview's ``asreview
simulate`` process does, and more), with the same priors as the peer, and reads the peer's runs
from the JSON-lines files written by ``asreview_peer.py`` (ASReview in its own virtualenv, same
priors and seeds, scored with the same metric functions). The peer's runs are committed in
``benchmarks/results/asreview-<version>.jsonl.gz`` (read by default), so a later session compares
without rerunning ASReview. Prints a Markdown table of medians (WSS@95, RRF@10, ATD in %), CPU and
wall time per whole simulation for both tools, and the stopping rules' recall and work saved;
``--json FILE`` keeps every run.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_screening.py
    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_screening.py --refresh 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from whatworks.compute import task_seeds
from whatworks.review.screening.data import load_records
from whatworks.review.screening.features import extract
from whatworks.review.screening.registry import DEFAULT_MODEL, NEEDS_MEANING, default_features
from whatworks.review.screening.simulate import simulate_one

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "screening"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/screening")
# ASReview's committed runs (WSS@95 identical in all three: its results do not depend on the machine;
# its CPU times do). Read in this order, the last file holding a (dataset, seed) wins: the runs on a
# quiet machine. Compare CPU only with runs made on the machine this benchmark runs on (--peer).
# The last file holds runs on another seed set (--seed 1, 5-6 seeds per dataset; its times are
# from a slow, shared machine and are not for CPU ratios).
PEER = [HERE / "results" / f"asreview-3.0.8{tail}.jsonl.gz"
        for tail in ("", ".xeon-2026-12-01", ".epyc-quiet-2026-12-01", ".seed1-2026-12-01")]
DATASETS = ["nudging_nagtegaal2019_ferdinands", "ace_cohen2006_ferdinands", "virus_kwok2020_ferdinands",
            "adhd_cohen2006", "depression_animal_bannachbrown2019",
            "nudging_nagtegaal2019_full_with_TA_labels_and_duplicates"]


def child(name: str, seed: int, model: str, features: str) -> None:
    """One whole simulation in this (fresh) process; prints its result as JSON (``--child``)."""
    c0, w0 = time.process_time(), time.perf_counter()
    records = load_records(DATA / f"{name}.csv")
    c1 = time.process_time()
    X = extract(records.texts, features)
    c2 = time.process_time()
    r = simulate_one({"X": X, "labels": records.labels, "seed": seed, "model": model,
                      "prior_relevant": 1, "prior_irrelevant": 1})
    r.update(dataset=name, load_cpu=c1 - c0, feature_cpu=c2 - c1,
             in_process_cpu=time.process_time() - c0, in_process_seconds=time.perf_counter() - w0)
    r.pop("order")
    print(json.dumps(r))


def ours(name: str, seeds: list[int], model: str, features: str) -> list[dict]:
    """Each seed's whole simulation as a fresh process: wall and CPU time (user + system) of it."""
    runs = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    for s in seeds:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", name, str(s), model, features],
                             capture_output=True, text=True, check=True, env=env)
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = json.loads(out.stdout)
        r["whole_seconds"] = wall
        r["whole_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        runs.append(r)
        print(f"{name} seed {s}: WSS@95 {r['wss_95']:.1f}, {r['whole_cpu']:.2f} s CPU, {wall:.2f} s wall",
              file=sys.stderr, flush=True)
    return runs


def peer(paths) -> dict:
    out: dict = {}
    for p in paths:
        path = Path(p)
        if path.exists():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt") as fh:
                for line in fh:
                    d = json.loads(line)
                    out[(d["dataset"], d["seed"])] = d
    return out


def table(runs: list[dict], peers: dict, seeds: list[int]) -> str:
    med = np.median
    lines = ["| dataset | WSS@95 ours | WSS@95 ASReview | RRF@10 ours | RRF@10 ASReview | ATD ours | "
             "ATD ASReview | CPU s ours | CPU s ASReview | CPU ratio | wall s ours | wall s ASReview | "
             "wall ratio | peer runs | paired WSS@95: ours higher / level / lower | "
             "median paired difference | mean paired difference (95% CI) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    diffs, ratios = [], []
    for name in DATASETS:
        mine = [r for r in runs if r["dataset"] == name]
        if not mine:
            continue
        theirs = [peers[(name, s)] for s in seeds if (name, s) in peers]
        row = [name]
        for key in ("wss_95", "rrf_10", "atd"):
            row += [f"{med([r[key] for r in mine]):.1f}",
                    f"{med([r[key] for r in theirs]):.1f}" if theirs else "-"]
        if theirs:
            diffs.append(med([r["wss_95"] for r in mine]) - med([r["wss_95"] for r in theirs]))
        for ours_key, peer_key in (("whole_cpu", "cpu_seconds"), ("whole_seconds", "seconds")):
            mine_t = med([r[ours_key] for r in mine])
            row += [f"{mine_t:.2f}"]
            if theirs:
                peer_t = med([r[peer_key] for r in theirs])
                row += [f"{peer_t:.2f}", f"{peer_t / mine_t:.1f}x"]
                if ours_key == "whole_cpu":
                    ratios.append(peer_t / mine_t)
            else:
                row += ["-", "-"]
        row += [str(len(theirs))]
        # the same seed and priors for both tools: each run's difference, not only the medians'
        by_seed = {r["seed"]: r["wss_95"] for r in mine}
        paired = [by_seed[s] - peers[(name, s)]["wss_95"] for s in seeds
                  if s in by_seed and (name, s) in peers]
        tol = 1e-9
        row += [f"{sum(d > tol for d in paired)} / {sum(abs(d) <= tol for d in paired)} / "
                f"{sum(d < -tol for d in paired)}", f"{med(paired):+.2f}" if paired else "-",
                paired_interval(paired)]
        lines.append("| " + " | ".join(row) + " |")
    if diffs:
        lines.append(f"\nWSS@95 difference (ours - ASReview) over {len(diffs)} datasets: mean "
                     f"{np.mean(diffs):+.2f}, smallest {min(diffs):+.2f} points; CPU ratio "
                     f"{min(ratios):.1f}x to {max(ratios):.1f}x.")
    return "\n".join(lines)


def paired_interval(paired: list[float], level: float = 0.95) -> str:
    """The mean paired difference and its t interval (the seeds are independent draws of priors
    and of the classifiers' tie-breaking, each run by both tools)."""
    if len(paired) < 2:
        return "-"
    from scipy import stats

    d = np.asarray(paired, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return f"{d.mean():+.2f} ({d.mean() - half:+.2f} to {d.mean() + half:+.2f})"


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
    matrices: dict[str, tuple] = {}
    lines = []
    for model in models:
        kind = default_features(model)
        if kind not in matrices:
            t0 = time.perf_counter()
            X = extract(texts, kind)
            matrices[kind] = (X, time.perf_counter() - t0)
            lines.append(f"{n} records (synthetic, 180 words each), features {kind}: {X.shape[1]} "
                         f"columns, {X.nnz} non-zeros; extraction once: {matrices[kind][1]:.1f} s")
        X = matrices[kind][0]
        s = ScreeningSession(X, model=model, seed=0)
        chosen = rng.choice(n, labelled, replace=False)
        if model in NEEDS_MEANING:
            # relevant labels first, so the session ends in a dry spell: both rankers are fitted
            chosen = chosen[np.argsort(-labels[chosen], kind="stable")]
        for i in chosen:
            s.label(int(i), int(labels[i]))
        times, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            s.refresh()
            s.next(10)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        widened = getattr(s.model, "history_", None)
        state = f" ({widened[-1]['follows']})" if widened else ""
        lines.append(f"- {model}{state}: refresh (refit on {labelled} labels + score all + rank) wall median "
                     f"{np.median(times):.2f} s, max {max(times):.2f} s; CPU median {np.median(cpu):.2f} s, "
                     f"max {max(cpu):.2f} s")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0,
                    help="base seed of the runs' seeds (task_seeds(seed, seeds)); 0 is the benchmark's "
                         "own set, 1 an independent set of ten with committed ASReview runs")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--features", default=None, help="default: the model's own (registry.default_features)")
    ap.add_argument("--peer", nargs="*", default=[str(p) for p in PEER],
                    help="the peer's runs (JSON lines, optionally gzipped); default: benchmarks/results")
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--reuse", metavar="FILE",
                    help="take our runs from an earlier --json file (re-merge with more peer runs)")
    ap.add_argument("--models", nargs="*", default=["svm", "logistic", "nb"],
                    help="models for --refresh")
    ap.add_argument("--refresh", type=int, metavar="N",
                    help="only the ranking-refresh benchmark at N records")
    args = ap.parse_args()
    if args.refresh:
        print(refresh_benchmark(args.refresh, models=args.models))
        return
    args.features = args.features or default_features(args.model)
    seeds = task_seeds(args.seed, args.seeds)
    t0 = time.perf_counter()
    runs = []
    if args.reuse:
        runs = json.loads(Path(args.reuse).read_text())["ours"]
    else:
        for name in args.datasets:
            runs += ours(name, seeds, args.model, args.features)
    total = time.perf_counter() - t0
    peers = peer(args.peer)
    print(table(runs, peers, seeds))
    print(f"\nOur {len(runs)} simulations, one process each, one at a time: {total:.0f} s in all.\n")
    print(stopping_table(runs))
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": runs, "peer": list(peers.values())}))


if __name__ == "__main__":
    main()
