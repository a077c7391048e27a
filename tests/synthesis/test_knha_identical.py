"""Knapp-Hartung with identical effects (a variance factor of 0, a singular covariance): never a crash.

metafor 3.8 answers with se 0, a zero-width interval and QM NA. ``meta_analysis`` refuses instead,
naming the cause and the tests that work (a zero-width interval would claim certainty the data do
not give); the batch engine, which must not stop a whole store's re-rating for one member, returns
metafor's numbers. The ad hoc correction (factor at least 1) fits as in metafor.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from whatworks.errors import DegenerateModelError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.batch import meta_analysis_batch

REF = json.loads((Path(__file__).parents[1] / "reference" / "knha_identical.json").read_text())
CASES = {k: v for k, v in REF.items() if k != "metafor_version"}
KEYS = ("estimate", "se", "ci_lower", "ci_upper", "tau2", "p_value")


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n]["test"] == "adhoc"))
def test_the_ad_hoc_correction_matches_metafor(name):
    ref = CASES[name]
    fit = meta_analysis(np.array(ref["yi"]), np.array(ref["vi"]), method="REML", test=ref["test"])
    for key in KEYS + ("pi_lower", "pi_upper"):
        got = getattr(fit, key)
        assert math.isfinite(got), key
        assert got == pytest.approx(ref[key], rel=1e-6, abs=1e-9), key
    if ref["qm"] is None:
        assert not math.isfinite(fit.qm)
    else:
        assert fit.qm == pytest.approx(ref["qm"], rel=1e-6)


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n]["test"] == "knha"))
def test_knapp_hartung_is_refused_with_the_reason_and_the_tests_that_work(name):
    ref = CASES[name]
    with pytest.raises(DegenerateModelError, match="test='z' or test='adhoc'"):
        meta_analysis(np.array(ref["yi"]), np.array(ref["vi"]), method="REML", test="knha")


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n]["test"] == "knha"))
def test_the_batch_engine_gives_metafors_numbers_without_crashing(name):
    ref = CASES[name]
    res = meta_analysis_batch(np.array([ref["yi"]]), np.array([ref["vi"]]), method="REML", test="knha")
    for key in KEYS:
        got = float(np.asarray(getattr(res, key))[0])
        assert got == pytest.approx(ref[key], rel=1e-6, abs=1e-9), key


def test_a_batch_with_a_singular_and_a_non_finite_covariance_gives_nan_for_those_alone():
    """Leave-one-out fits many subsets at once; one subset with identical effects (V singular) and
    another whose V is not finite must not sink the batch (numpy's SVD fails on NaN: the fuzz test
    of `whatworks meta --leave-one-out` found it)."""
    import numpy as np

    from whatworks.synthesis.model import _wald

    bb = np.array([[1.0], [2.0], [3.0]])
    qm = _wald(bb, np.array([[[0.0]], [[np.nan]], [[0.5]]]))
    assert np.isnan(qm[:2]).all() and qm[2] == 18.0
