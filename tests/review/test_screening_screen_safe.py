"""``whatworks review screen --safe``: a review screened by following the SAFE procedure's phases.

A team follows the command in batches, answering with the true labels; every phase must ask for what
Boetje & van de Schoot (2024) describe, and each phase change must happen exactly when the published
conditions first hold.
"""

import json
import math

import numpy as np
import pytest

from tests.review.conftest import write_csv
from tests.review.synthetic import synthetic_frame
from whatworks.cli import main
from whatworks.review.screening.data import Records
from whatworks.review.screening.screen import Decision, screen


def _review(n=400, relevant=16, seed=2):
    frame = synthetic_frame(n, relevant, seed=seed)
    records = Records.from_lists(frame.title, frame.abstract)
    return records, [f"r{k}" for k in range(n)], frame.label_included.to_numpy()


def _follow(records, ids, y, *, batch=10, priors=(), seed=0, limit=2000):
    """Screen by following screen(safe=True) in batches; returns the decisions and each call's
    result, the decisions made so far when it was asked."""
    decisions = [Decision(i, int(y[i]), "prior") for i in priors]
    calls = []
    while len(calls) < limit:
        result = screen(records, ids, decisions, n=batch, model="svm", seed=seed, safe=True)
        calls.append((len(decisions), result))
        if result.safe["phase"] == 4 or not result.next:
            break
        for entry in result.next:
            i = ids.index(entry["id"])
            decisions.append(Decision(i, int(y[i])))
    return decisions, calls


@pytest.fixture(scope="module")
def followed():
    records, ids, y = _review()
    decisions, calls = _follow(records, ids, y)
    return records, ids, y, decisions, calls


def test_phase_1_is_the_seeded_random_sample_and_stops_when_it_holds_both_kinds(followed):
    records, ids, y, decisions, calls = followed
    n = len(ids)
    order = [f"r{i}" for i in np.random.default_rng(0).permutation(n)]
    phase1 = [(k, r) for k, r in calls if r.safe["phase"] == 1]
    assert phase1, "the screening starts in phase 1"
    asked = [e["id"] for _, r in phase1 for e in r.next]
    assert asked == order[:len(asked)]  # the seeded permutation, whatever a model would rank
    assert all(e["score"] is None for _, r in phase1 for e in r.next)
    assert len(asked) >= math.ceil(0.01 * n)
    sample = y[[ids.index(i) for i in asked]]
    assert 0 < sample.sum() < len(sample)  # it ended holding a relevant and an irrelevant record
    before = y[[ids.index(i) for i in asked[:-1]]]  # and not one record later than needed:
    assert not (len(before) >= math.ceil(0.01 * n) and 0 < before.sum() < len(before))
    # the first call in phase 2 estimates the relevant records from that sample
    k, first2 = next((k, r) for k, r in calls if r.safe["phase"] == 2)
    assert first2.safe["random_sample"] == {"size": math.ceil(0.01 * n), "screened": len(asked),
                                            "relevant": int(sample.sum()), "not_random_draws": 0}
    assert first2.safe["estimated_relevant"] == pytest.approx(sample.sum() / len(asked) * n)


def test_each_phase_change_happens_when_the_published_conditions_first_hold(followed):
    records, ids, y, decisions, calls = followed
    n = len(ids)
    labels = np.array([d.label for d in decisions])
    final = calls[-1][1].safe
    assert final["phase"] == 4 and final["phase_starts"].keys() == {2, 3, 4}
    m1, m2, m3 = (final["phase_starts"][p] for p in (2, 3, 4))
    est = final["estimated_relevant"]

    def phase2_done(m):
        run = m - (np.flatnonzero(labels[:m])[-1] + 1 if labels[:m].any() else 0)
        return m >= math.ceil(2 * est) and m >= math.ceil(0.1 * n) and run >= 50

    assert phase2_done(m2) and not any(phase2_done(m) for m in range(m1, m2))
    assert not labels[m3 - 50:m3].any() and m3 - m2 >= 50
    assert all(labels[m - 50:m].any() for m in range(m2 + 50, m3))  # no earlier run of 50 in phase 3
    # the calls said so: phase 2 asked by the model, phase 3 by the different model, with scores
    for k, r in calls:
        expected = 1 if k < m1 else 2 if k < m2 else 3 if k < m3 else 4
        assert r.safe["phase"] == expected, (k, r.safe["phase"])
        if expected in (2, 3):
            assert r.ranked_by_model and all(e["score"] is not None for e in r.next)
    assert any(r.safe["phase"] == 3 and "logistic" in r.note for _, r in calls)


def test_phase_4_asks_for_no_more_screening_and_lists_the_top_ranked_excluded_records(followed):
    records, ids, y, decisions, calls = followed
    last = calls[-1][1]
    assert last.next == [] and last.safe["phase"] == 4 and "second screener" in last.note
    check = last.safe["quality_check"]
    assert len(check) == 10
    excluded = {ids[d.index] for d in decisions if d.label == 0}
    assert all(q["id"] in excluded for q in check)
    scores = [q["score"] for q in check]
    assert scores == sorted(scores, reverse=True)
    # the procedure found most relevant records on this easy review, and saved work
    found = sum(d.label for d in decisions)
    assert found >= 0.8 * y.sum() and len(decisions) < len(ids)


def test_priors_are_left_out_of_the_procedure():
    records, ids, y = _review(200, 10, seed=5)
    relevant = int(np.flatnonzero(y)[0])
    r = screen(records, ids, [Decision(relevant, 1, "prior"), Decision(int(np.flatnonzero(y == 0)[0]),
                                                                         0, "prior")],
               n=5, model="svm", safe=True)
    assert r.safe["phase"] == 1 and r.safe["priors_left_out"] == 2
    assert r.safe["random_sample"]["screened"] == 0 and not r.ranked_by_model


def test_decisions_not_drawn_at_random_in_phase_1_are_flagged():
    records, ids, y = _review(200, 10, seed=5)
    r = screen(records, ids, [Decision(0, int(y[0]), "model")], n=5, model="svm", safe=True)
    assert r.safe["random_sample"]["not_random_draws"] == 1 and "biased" in r.safe["next_step"]




def test_the_command_shows_the_phase_and_refuses_what_it_cannot_do(tmp_path, capsys):
    records, ids, y = _review(200, 10, seed=5)
    path = write_csv(tmp_path / "records.csv", ["id", "title", "abstract"],
                  [[i, t, a] for i, t, a in zip(ids, records.titles, records.abstracts, strict=True)])
    labels = write_csv(tmp_path / "d.csv", ["id", "label"], [[ids[0], int(y[0])]])
    assert main(["review", "screen", str(path), "--labels", str(labels), "--safe", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "SAFE procedure: phase 1 (random sample for training data)" in out
    assert main(["review", "screen", str(path), "--labels", str(labels), "--safe", "--no-cache",
                 "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["safe"]["phase"] == 1 and len(result["next"]) == 1  # 1% of 200 = 2, one done
    for args, fragment in ((["--safe-model", "nb"], "--safe-model"),
                           (["--safe", "--model", "logistic"], "a model other than")):
        code = main(["review", "screen", str(path), "--labels", str(labels), "--no-cache", *args])
        err = capsys.readouterr().err
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_the_core_refuses_a_phase_3_model_without_safe_or_one_that_cannot_read_the_features():
    from whatworks.errors import ParameterError

    records, ids, y = _review(200, 10, seed=5)
    with pytest.raises(ParameterError, match="safe=True"):
        screen(records, ids, [], n=5, model="svm", safe_model="logistic")
    with pytest.raises(ParameterError, match="without negative values"):
        screen(records, ids, [], n=5, safe=True, safe_model="nb")  # svm-widen reads tfidf-meaning
    with pytest.raises(ParameterError, match="a model other than"):
        screen(records, ids, [], n=5, model="logistic", safe=True)


def test_screen_reports_phase_3_features_and_ranks_with_them():
    records, ids, y = _review(300, 12, seed=6)
    decisions, calls = _follow(records, ids, y, batch=10)
    # the same decisions with phase 3 on its own features: the same phase (the labels decide it),
    # and the quality check ranked by naive Bayes on tfidf
    r = screen(records, ids, decisions, n=5, model="svm", safe=True, safe_model="nb",
               safe_features="tfidf")
    assert r.safe["features_phase3"] == "tfidf" and r.safe["model_phase3"] == "nb"
    assert r.safe["phase"] == calls[-1][1].safe["phase"] == 4
    from whatworks.review.screening.features import extract
    from whatworks.review.screening.session import ScreeningSession

    nb = ScreeningSession(extract(records.texts, "tfidf"), model="nb", seed=0)
    for d in decisions:
        nb.label(d.index, d.label, source="model")
    nb.refresh()
    excluded = [i for i in range(len(ids)) if nb.labels_[i] == 0]
    top = sorted(excluded, key=lambda i: -nb.scores_[i])[:5]
    assert [q["id"] for q in r.safe["quality_check"]] == [ids[i] for i in top]
