"""Conversions between metrics, against metafor 3.8 (OR2DL, D2ORL) and independent R
implementations of Borenstein et al. (2009), from tests/reference/effects.json.

Tolerance: rtol 1e-10 (closed forms; both sides are a few floating-point operations apart).
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.effects import (
    Effects,
    WhatWorksWarning,
    escalc,
    lnor_to_smd,
    r_to_smd,
    smd_to_lnor,
    smd_to_r,
)
from whatworks.errors import InputError

CONV = load_reference("effects.json")["conversions"]
RTOL = 1e-10


def close(actual, desired):
    np.testing.assert_allclose(actual, vec(desired), rtol=RTOL, atol=1e-14)


def test_log_odds_ratio_to_smd_matches_metafor_or2dl_on_bcg():
    ref = CONV["lnor_to_smd"]
    out = escalc("OR", **{k: vec(v) for k, v in ref["args"].items()})
    d, vd = lnor_to_smd(out["yi"], out["vi"])
    close(d, ref["yi"])
    close(vd, ref["vi"])


def test_smd_to_log_odds_ratio_matches_metafor_d2orl_on_cohens_d():
    ref = CONV["smd_to_lnor"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", WhatWorksWarning)
        d = escalc("SMD", correct=False, **{k: vec(v) for k, v in ref["args"].items()})
    close(d["yi"], ref["input_yi"])
    lnor, v = smd_to_lnor(d["yi"], d["vi"])
    close(lnor, ref["yi"])
    close(v, ref["vi"])


@pytest.mark.parametrize("name, function", [("r_to_smd", r_to_smd), ("r_to_smd_n", r_to_smd),
                                            ("smd_to_r", smd_to_r), ("smd_to_r_n", smd_to_r)])
def test_r_and_d_conversions_match_the_borenstein_equations(name, function):
    ref = CONV[name]
    sizes = {k: vec(ref[k]) for k in ("n1i", "n2i") if k in ref}
    out = function(vec(ref["input_yi"]), vec(ref["input_vi"]), **sizes)
    close(out.yi, ref["yi"])
    close(out.vi, ref["vi"])


def test_a_conversion_returns_a_result_that_unpacks_prints_and_tabulates():
    out = lnor_to_smd([0.9069, -0.2], [0.0676, 0.01])
    assert isinstance(out, Effects)
    d, vd = out
    assert d.shape == (2,) and vd.shape == (2,)
    assert "Effects (SMD), k = 2" in repr(out)
    assert list(out.to_frame().columns) == ["yi", "vi"]
    assert out.to_dict()["yi"] == pytest.approx(list(d))


def test_a_scalar_converts_to_a_scalar_and_a_missing_variance_stays_missing():
    d, vd = lnor_to_smd(0.9069)
    assert isinstance(d, float) and np.isnan(vd)


def test_a_negative_variance_is_refused():
    with pytest.raises(InputError, match="row 2.*cannot be negative"):
        smd_to_r([0.1, 0.2], [0.01, -0.01])


def test_a_correlation_of_one_cannot_become_a_d():
    with pytest.raises(InputError, match="strictly between -1 and 1"):
        r_to_smd([0.2, 1.0])


def test_group_sizes_come_in_pairs():
    with pytest.raises(InputError, match="both n1i and n2i"):
        r_to_smd([0.2], n1i=[10])


finite_d = st.floats(min_value=-5, max_value=5, allow_nan=False)
positive_v = st.floats(min_value=1e-4, max_value=2)
sizes = st.integers(min_value=2, max_value=5000)


@given(finite_d, positive_v, sizes, sizes)
def test_d_to_r_and_back_is_the_identity(d, v, n1, n2):
    r, vr = smd_to_r(d, v, n1i=n1, n2i=n2)
    d2, v2 = r_to_smd(r, vr, n1i=n1, n2i=n2)
    assert d2 == pytest.approx(d, rel=1e-9, abs=1e-12)
    assert v2 == pytest.approx(v, rel=1e-9)


@given(finite_d, positive_v)
def test_log_odds_ratio_to_d_and_back_is_the_identity(d, v):
    lnor, vl = smd_to_lnor(d, v)
    d2, v2 = lnor_to_smd(lnor, vl)
    assert d2 == pytest.approx(d, rel=1e-12, abs=1e-15)
    assert v2 == pytest.approx(v, rel=1e-12)


def test_equal_groups_use_a_equal_to_four():
    assert smd_to_r(0.5, 0.04).yi == pytest.approx(smd_to_r(0.5, 0.04, n1i=30, n2i=30).yi)
