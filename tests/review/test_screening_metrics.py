"""WSS@r, RRF@x and ATD against values computed by hand from their definitions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whatworks.errors import InputError, ParameterError
from whatworks.review.screening.metrics import atd, recall_curve, rrf, wss


def test_wss_rrf_atd_match_hand_computed_values():
    # N = 10, R = 2 relevant at positions 0 and 2 (0-based).
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    # 95% recall needs ceil(1.9) = 2 relevant: reached after 3 records -> 7/10 - 0.05
    assert wss(y, 0.95) == pytest.approx(0.65)
    # 10% of 10 records = 1 record screened: 1 of 2 relevant found
    assert rrf(y, 10) == pytest.approx(0.5)
    # records screened before each relevant one: 0 and 2 -> mean 1 -> 1/10
    assert atd(y) == pytest.approx(0.1)


def test_a_sequence_cut_after_the_last_relevant_is_padded_to_n_total():
    y = [0, 1, 0, 1]  # then 16 irrelevant records not listed
    assert wss(y, 0.95, n_total=20) == pytest.approx((20 - 4) / 20 - 0.05)
    assert rrf(y, 10, n_total=20) == pytest.approx(0.5)  # 2 records screened
    assert atd(y, n_total=20) == pytest.approx((1 + 3) / 2 / 20)
    x, rec = recall_curve(y, n_total=20)
    assert len(x) == 21 and rec[-1] == 1 and rec[2] == 0.5


def test_wss_at_lower_recall_needs_fewer_relevant_records():
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]  # 4 relevant; 75% recall = 3 found after 3 records
    assert wss(y, 0.75) == pytest.approx(7 / 10 - 0.25)
    assert wss(y, 1.0) == pytest.approx(0.0)


def test_no_relevant_record_is_refused():
    with pytest.raises(InputError, match="no relevant"):
        wss([0, 0, 0])


def test_bad_recall_is_refused():
    with pytest.raises(ParameterError, match="recall"):
        wss([1, 0], 1.5)


@given(st.lists(st.integers(0, 1), min_size=1, max_size=60).filter(lambda v: sum(v) > 0))
def test_sorting_relevant_first_is_the_best_order(y):
    best = sorted(y, reverse=True)
    assert wss(best) >= wss(y) - 1e-12
    assert atd(best) <= atd(y) + 1e-12
    assert rrf(best, 10) >= rrf(y, 10)
    assert -0.05 - 1e-12 <= wss(y) <= 0.95
    assert 0 <= atd(y) < 1


def test_random_order_saves_no_work_on_average():
    # Simulation check of the definition: in random order, WSS@95 is about 0 on average (its
    # expectation is slightly above 0 because the last needed relevant record ends a run; with
    # 40 of 2000 relevant the mean is ~0.95*40/41 - 0.95 ~ -0.02 .. +0.02; tolerance 0.03 covers
    # the Monte Carlo error of 400 runs, sd ~0.05 / sqrt(400) = 0.0025, and that bias).
    rng = np.random.default_rng(3)
    y = np.zeros(2000, dtype=int)
    y[:40] = 1
    vals = [wss(rng.permutation(y)) for _ in range(400)]
    assert abs(np.mean(vals)) < 0.03
