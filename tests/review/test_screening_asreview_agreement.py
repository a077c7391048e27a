"""Reference agreement with ASReview 3.0.8, the benchmark's peer, from its committed runs.

``benchmarks/results/asreview-3.0.8.jsonl.gz`` holds ASReview's own simulations (``asreview
simulate --prior-idx ... --seed``; its default model: TF-IDF of words and word pairs, a linear SVM
with the 9.8 tilt, certainty-based querying, a refit after every label), each with the order in
which it labelled the records. Our ``svm`` model refitting after every label (``refit=1``) is the
same method, so on the same priors it must label the same records in the same order, up to the
point where two records score within the solvers' tolerance of each other (LIBLINEAR's
coordinate shuffle differs between the two bindings), and reach 95% recall at the same record.
The default (``refit="auto"``) refits less often; that and ``svm-widen`` are compared with
ASReview in ``benchmarks/bench_screening.py``, not here.
"""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.review.conftest import shared
from whatworks.cli import main
from whatworks.compute import task_seeds
from whatworks.review.screening.data import load_records
from whatworks.review.screening.features import extract
from whatworks.review.screening.simulate import simulate_one

PEER = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "asreview-3.0.8.jsonl.gz"
DATASET = "virus_kwok2020_ferdinands"


def _peer_runs(name: str) -> dict:
    with gzip.open(PEER, "rt") as fh:
        runs = [json.loads(line) for line in fh]
    return {r["seed"]: r for r in runs if r["dataset"] == name}


@pytest.mark.slow
def test_svm_refitting_after_every_label_labels_records_as_asreview_does():
    records = load_records(shared("screening", f"{DATASET}.csv"))
    X, y = extract(records.texts, "tfidf"), np.asarray(records.labels)
    peers = _peer_runs(DATASET)
    for seed in task_seeds(0, 3):
        theirs = peers[seed]
        ours = simulate_one({"X": X, "labels": y, "seed": seed, "model": "svm", "refit": 1,
                             "prior_relevant": 1, "prior_irrelevant": 1})
        assert ours["priors"] == theirs["priors"]
        # the same first 150 records in the same order (ASReview's runs agree with ours for 153 to
        # all 835 records on these seeds), and 95% recall at the same record
        assert ours["order"][:150] == theirs["order"][:150], seed
        assert ours["wss_95"] == pytest.approx(theirs["wss_95"], abs=1e-9), seed


@pytest.mark.slow
def test_the_command_line_reproduces_asreview_with_refit_1(capsys):
    path = shared("screening", f"{DATASET}.csv")
    assert main(["review", "simulate", str(path), "--model", "svm", "--refit", "1", "--seeds", "1",
                 "--backend", "serial", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    theirs = _peer_runs(DATASET)[task_seeds(0, 1)[0]]
    assert out["settings"]["refit"] == 1
    assert out["per_seed"][0]["wss_95"] == pytest.approx(theirs["wss_95"], abs=1e-9)
