"""multilevel() against metafor 3.8 rma.mv(random = ~ 1 | study/es) (tests/reference/make_dependent.R),
and properties of the block-diagonal algebra it rests on."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError, WhatWorksWarning
from whatworks.synthesis.multilevel import (
    Nesting,
    _apply,
    _evaluate,
    _inverse,
    _logdet,
    covariance_blocks,
    multilevel,
)

REF = load_reference("dependent.json")
CASES = REF["multilevel"]


def columns(name):
    data = REF["data"][name]
    y = vec(data["yi"] if "yi" in data else data["effectsize"])
    v = vec(data["vi"] if "vi" in data else data["var"])
    return data, y, v


def fit_case(case):
    data, y, v = columns(case["data"])
    X = np.atleast_2d(np.array(case["X"], dtype=float))
    X = X.reshape(len(y), -1)
    mods = pd.DataFrame(X[:, 1:], columns=labels(case["X_names"])[1:]) if X.shape[1] > 1 else None
    return multilevel(y, v, study=data[case["study"]], es=data[case["es"]], mods=mods,
                      method=case["method"], test=case["test"])


def labels(x):
    """A fixture's list of strings (jsonlite unboxes a list of one)."""
    return [str(v) for v in np.atleast_1d(x)]


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", list(CASES))
def test_it_matches_metafor_rma_mv(key):
    case = CASES[key]
    res = fit_case(case)
    assert res.k == len(columns(case["data"])[1])
    assert res.n_clusters == case["n_clusters"]
    assert res.n_groups == case["n_inner"]
    assert res.names == tuple(labels(case["X_names"]))
    # Variance components are iterative: metafor's nlminb stops about 1e-6 (relative) from the
    # optimum, ours much closer, hence 1e-5. A component on the boundary is 0 here and ~1e-11
    # in metafor (it optimises log(sigma2)), hence the absolute tolerance.
    close(res.sigma2, case["sigma2"], 1e-5, atol=1e-9)
    close([c.estimate for c in res.coefficients], case["beta"], 1e-5)
    close([c.se for c in res.coefficients], case["se"], 1e-5)
    close([c.statistic for c in res.coefficients], case["stat"], 1e-5)
    close([c.p_value for c in res.coefficients], case["pval"], 1e-5, atol=1e-12)
    close([c.ci_lower for c in res.coefficients], case["ci_lb"], 1e-5)
    close([c.ci_upper for c in res.coefficients], case["ci_ub"], 1e-5)
    close(res.vcov.ravel(), np.ravel(case["vb"]), 1e-5, atol=1e-12)
    assert res.estimate == res.coefficients[0].estimate
    # Q_E is closed form (weights 1/vi): rounding only.
    close(res.q, case["QE"], 1e-9)
    close(res.q_p_value, case["QEp"], 1e-6, atol=1e-300)
    assert res.q_df == res.k - res.p
    close(res.qm, case["QM"], 1e-5)
    close(res.qm_p_value, case["QMp"], 1e-5, atol=1e-12)
    assert [j + 1 for j in res.btt] == list(np.atleast_1d(case["btt"]))
    assert res.qm_df[0] == vec(case["QMdf"])[0]
    if case["test"] == "t":
        assert res.df == case["dfs"]
        assert res.qm_df[1] == vec(case["QMdf"])[1]
    else:
        assert res.df is None
    # The log-likelihood is stationary at the optimum, so it agrees far beyond the estimates.
    close(res.loglik, case["loglik"], 1e-8)
    close(res.deviance, case["deviance"], 1e-8)
    close([res.aic, res.bic, res.aicc], [case["AIC"], case["BIC"], case["AICc"]], 1e-8)


def test_it_sets_a_component_on_the_boundary_to_exactly_zero():
    res = fit_case(CASES["berkey1998_REML_z"])
    assert res.sigma2[0] == 0.0
    assert CASES["berkey1998_REML_z"]["sigma2"][0] < 1e-9


def test_it_gives_each_row_its_own_inner_level_by_default():
    case = CASES["konstantopoulos2011_REML_z"]
    data, y, v = columns(case["data"])
    default = multilevel(y, v, study=data["district"])
    explicit = multilevel(y, v, study=data["district"], es=np.arange(len(y)))
    assert default.sigma2 == explicit.sigma2
    np.testing.assert_allclose(default.sigma2, case["sigma2"], rtol=1e-5)


def test_it_reads_columns_from_a_data_frame():
    case = CASES["assink2016_mods_REML_z"]
    data = pd.DataFrame(REF["data"]["assink2016"])
    res = multilevel("yi", "vi", study="study", es="esid", mods=["year", "deltype"], data=data)
    close([c.estimate for c in res.coefficients], case["beta"], 1e-5)
    assert res.names == ("intrcpt", "year", "deltypegeneral", "deltypeovert")


def test_it_accepts_any_hashable_labels_and_any_row_order():
    case = CASES["assink2016_REML_z"]
    data, y, v = columns(case["data"])
    study = [f"study {s}" for s in data["study"]]
    es = [("es", e) for e in data["esid"]]
    order = np.random.default_rng(3).permutation(len(y))
    res = multilevel(y[order], v[order], study=[study[i] for i in order],
                     es=[es[i] for i in order])
    close(res.sigma2, case["sigma2"], 1e-5)
    close(res.estimate, case["beta"], 1e-5)


def test_its_result_converts_to_json_and_prints():
    res = fit_case(CASES["assink2016_mods_REML_t"])
    out = json.loads(json.dumps(res.to_dict()))
    assert out["sigma2"] == list(res.sigma2)
    assert "X" not in out and "nesting" not in out
    assert "sigma^2 ~ 1 | study:" in repr(res) and "sigma^2 ~ 1 | study/es:" in repr(res)
    assert list(res.to_frame().index) == list(res.names)


def test_it_refuses_bad_arguments_with_a_clear_message():
    y, v = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.01, 0.02, 0.03, 0.04])
    with pytest.raises(ParameterError, match="method"):
        multilevel(y, v, study=[1, 1, 2, 2], method="DL")
    with pytest.raises(ParameterError, match="test"):
        multilevel(y, v, study=[1, 1, 2, 2], test="knha")
    with pytest.raises(InputError, match="not positive"):
        multilevel(y, np.array([0.01, 0.0, 0.03, 0.04]), study=[1, 1, 2, 2])
    with pytest.raises(InputError, match="study"):
        multilevel(y, v, study=[1, 1, 2])
    with pytest.raises(InputError, match="collinear"):
        multilevel(y, v, study=[1, 1, 2, 2], mods=np.column_stack([[1, 2, 3, 4], [2, 4, 6, 8]]))


def test_it_warns_when_the_two_levels_cannot_be_told_apart():
    y, v = np.array([0.1, 0.5, 0.3, 0.9, 0.2]), np.array([0.01, 0.02, 0.03, 0.04, 0.02])
    with pytest.warns(WhatWorksWarning, match="cannot be told apart"):
        res = multilevel(y, v, study=[1, 2, 3, 4, 5])
    assert res.sigma2[0] + res.sigma2[1] > 0


# ---- properties of the algebra -----------------------------------------------------------------

@st.composite
def nested_data(draw):
    n_study = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_study, max_size=n_study))
    study = np.repeat(np.arange(n_study), sizes)
    k = study.size
    es = np.array(draw(st.lists(st.integers(0, 2), min_size=k, max_size=k)))  # shared labels
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 1.0, k)
    y = rng.normal(size=k)
    X = np.column_stack([np.ones(k), rng.normal(size=k)])
    s1, s2 = draw(st.floats(0, 2)), draw(st.floats(0, 2))
    return Nesting.from_codes(study, es), X, y, v, s1, s2


@settings(max_examples=60, deadline=None)
@given(nested_data())
def test_the_sherman_morrison_inverse_equals_the_dense_inverse(case):
    nest, X, y, v, s1, s2 = case
    k = y.size
    V = covariance_blocks(nest, v, s1, s2)(np.arange(k)[None, :])[0]
    inv = _inverse(nest, v, s1, s2)
    np.testing.assert_allclose(_apply(nest, inv, X), np.linalg.solve(V, X), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(_logdet(nest, v, inv), np.linalg.slogdet(V)[1], rtol=1e-10,
                               atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(nested_data(), st.booleans())
def test_the_analytic_gradient_matches_differences_of_the_likelihood(case, reml):
    nest, X, y, v, s1, s2 = case
    if y.size <= 2:
        return
    s1, s2 = s1 + 0.05, s2 + 0.05  # keep the central differences inside the parameter space
    ev = _evaluate(nest, X, y, v, s1, s2, reml, 0.0)
    h = 1e-6
    for j, (a, b) in enumerate([((s1 + h, s2), (s1 - h, s2)), ((s1, s2 + h), (s1, s2 - h))]):
        up = _evaluate(nest, X, y, v, *a, reml, 0.0, with_gradient=False).loglik
        down = _evaluate(nest, X, y, v, *b, reml, 0.0, with_gradient=False).loglik
        np.testing.assert_allclose(ev.gradient[j], (up - down) / (2 * h), rtol=1e-5, atol=1e-6)
