"""Invariants of meta_analysis that must hold for any data (hypothesis property tests)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError, ParameterError
from whatworks.synthesis import TAU2_ESTIMATORS, meta_analysis
from whatworks.synthesis.batch import meta_analysis_batch

METHODS = [m for m in TAU2_ESTIMATORS if m not in ("EE", "CE")]

studies = st.integers(min_value=3, max_value=25).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.005, 2.0, allow_nan=False), min_size=k, max_size=k)))


@settings(max_examples=40, deadline=None)
@given(data=studies, method=st.sampled_from(METHODS), seed=st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_study_order(data, method, seed):
    y, v = map(np.asarray, data)
    order = np.random.default_rng(seed).permutation(y.size)
    a = meta_analysis(y, v, method=method)
    b = meta_analysis(y[order], v[order], method=method)
    np.testing.assert_allclose([a.estimate, a.se, a.tau2, a.i2, a.q],
                               [b.estimate, b.se, b.tau2, b.i2, b.q], rtol=1e-7, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(data=studies, method=st.sampled_from(METHODS))
def test_tau2_is_never_negative_and_i2_is_a_percentage(data, method):
    y, v = map(np.asarray, data)
    fit = meta_analysis(y, v, method=method)
    assert fit.tau2 >= 0
    assert 0 <= fit.i2 <= 100
    # metafor's H² is Q/df under a common effect (may fall below 1), (vt + tau²)/vt otherwise
    assert fit.h2 >= (1 - 1e-12 if fit.is_random else 0)
    if fit.is_random:
        assert fit.tau2_ci_lower <= fit.tau2_ci_upper


@settings(max_examples=40, deadline=None)
@given(data=studies, method=st.sampled_from([m for m in METHODS if m != "FE"]))
def test_random_effects_equal_common_effect_when_tau2_is_zero(data, method):
    y, v = map(np.asarray, data)
    fit = meta_analysis(y, v, method=method)
    if fit.tau2 == 0:
        fe = meta_analysis(y, v, method="FE")
        np.testing.assert_allclose([fit.estimate, fit.se], [fe.estimate, fe.se], rtol=1e-12)


def test_homogeneous_studies_give_zero_tau2_and_equal_models():
    y = np.array([0.2, 0.2, 0.2, 0.2])
    v = np.array([0.1, 0.2, 0.05, 0.1])
    for method in METHODS:
        fit = meta_analysis(y, v, method=method)
        assert fit.tau2 == pytest.approx(0, abs=1e-12)
        assert fit.estimate == pytest.approx(0.2)


@pytest.mark.parametrize("method", ["REML", "ML", "DL", "PM", "SJ", "EB", "HE"])
def test_the_batch_call_agrees_with_single_fits(method):
    rng = np.random.default_rng(7)
    Y = rng.normal(0.2, 0.5, (50, 12))
    V = rng.uniform(0.02, 0.3, (50, 12))
    Y[3, 10:] = np.nan  # a shorter meta-analysis in the batch
    batch = meta_analysis_batch(Y, V, method=method, test="knha")
    for i in (0, 3, 49):
        keep = np.isfinite(Y[i])
        fit = meta_analysis(Y[i, keep], V[i, keep], method=method, test="knha")
        np.testing.assert_allclose(
            [batch.estimate[i], batch.se[i], batch.tau2[i], batch.pi_lower[i], batch.q[i]],
            [fit.estimate, fit.se, fit.tau2, fit.pi_lower, fit.q], rtol=1e-9, atol=1e-12)
    assert batch.k[3] == 10
    assert len(batch.to_frame()) == 50


def test_it_leaves_out_missing_rows_with_a_warning_that_counts_them():
    with pytest.warns(UserWarning, match="2 studies with missing values"):
        fit = meta_analysis([0.1, np.nan, 0.3, 0.4, 0.2], [0.1, 0.1, np.nan, 0.2, 0.1])
    assert fit.k == 3


def test_it_names_the_row_of_a_negative_variance():
    with pytest.raises(InputError, match="row 2, column 'vi'"):
        meta_analysis([0.1, 0.2, 0.3], [0.1, -0.1, 0.2])


def test_it_names_the_allowed_methods():
    with pytest.raises(ParameterError, match="method='XX' is not allowed; expected FE, EE"):
        meta_analysis([0.1, 0.2, 0.3], [0.1, 0.1, 0.2], method="XX")


def test_it_refuses_collinear_moderators():
    with pytest.raises(InputError, match="collinear"):
        meta_analysis([0.1, 0.2, 0.3, 0.5], [0.1, 0.1, 0.2, 0.1],
                      mods=np.column_stack([[1, 2, 3, 4], [2, 4, 6, 8]]))


def test_results_print_convert_and_serialise():
    import json

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = meta_analysis([0.1, 0.5, 0.3, 0.9], [0.04, 0.05, 0.02, 0.1],
                            mods={"dose": [1.0, 2.0, 1.5, 3.0]})
    text = repr(fit)
    assert "Mixed-effects model (k = 4" in text and "dose" in text
    d = fit.to_dict()
    assert [c["name"] for c in d["coefficients"]] == ["intrcpt", "dose"]
    json.dumps(d)  # JSON-ready: no numpy types, no NaN
    assert list(fit.to_frame().index) == ["intrcpt", "dose"]
    assert fit.studies_frame()["weight"].sum() == pytest.approx(100)


def test_a_failure_to_converge_is_a_clear_error_not_a_silent_nan():
    from whatworks.errors import ConvergenceError
    from whatworks.synthesis import Control

    y = np.array([0.1, 0.9, -0.4, 0.5, 1.2, -0.2])
    v = np.array([0.02, 0.05, 0.04, 0.03, 0.08, 0.02])
    with pytest.raises(ConvergenceError, match="did not converge within 1 iterations.*try"):
        meta_analysis(y, v, method="REML", control=Control(maxiter=1))


def test_the_omnibus_test_reports_its_degrees_of_freedom():
    y, v = np.array([0.1, 0.3, 0.5, 0.2, 0.4]), np.array([0.01, 0.02, 0.03, 0.01, 0.02])
    mods = {"x": [1.0, 2.0, 3.0, 4.0, 5.0]}
    assert meta_analysis(y, v, mods=mods).qm_df == (1,)
    assert meta_analysis(y, v, mods=mods, test="knha").qm_df == (1, 3)
