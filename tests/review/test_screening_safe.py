"""The SAFE procedure's phases, tracked from labels and replayed on a synthetic review."""

import numpy as np

from tests.review.synthetic import synthetic_frame
from whatworks.review.screening.data import Records
from whatworks.review.screening.features import extract
from whatworks.review.screening.safe import SafeProcedure, simulate_safe


def test_phases_follow_the_published_conditions():
    proc = SafeProcedure(1000)  # random sample: 1% = 10 records, holding both classes
    for label in [0] * 9 + [1]:
        phase = proc.update(label)
    assert phase == 2 and proc.n_random == 10 and proc.relevant_in_random == 1
    # 1 relevant in 10 -> 100 relevant estimated -> 200 screened needed; also 10% = 100 and 50 in a row
    for _ in range(150):
        phase = proc.update(0)
    assert phase == 2  # 160 screened: fewer than twice the estimate
    for _ in range(40):
        phase = proc.update(0)
    assert phase == 3  # 200 screened, 190 irrelevant in a row, 20% screened
    for _ in range(49):
        phase = proc.update(0)
    assert phase == 3
    assert proc.update(0) == 4  # 50 irrelevant in a row with the second model
    assert "SAFE" in proc.describe()


def test_a_relevant_record_in_phase_3_restarts_the_count():
    proc = SafeProcedure(200, random_share=0.05)
    for label in [1] + [0] * 9 + [0] * 50:
        proc.update(label)
    assert proc.phase == 3
    for label in [0] * 30 + [1] + [0] * 49:
        proc.update(label)
    assert proc.phase == 3
    assert proc.update(0) == 4


def test_simulated_safe_run_reaches_phase_4_and_reports_recall():
    frame = synthetic_frame(300, 12, seed=4)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    out = simulate_safe({"X": extract(rec.texts), "labels": rec.labels, "seed": 3})
    assert set(out["phase_starts"]) == {2, 3, 4}
    assert out["phase_starts"][2] >= 3  # 1% of 300 = 3 records at least
    assert 0 < out["recall"] <= 1 and 0 <= out["work_saved"] < 1
    assert np.isclose(out["work_saved"], 1 - out["stopped_at"] / 300)
