"""multilevel(random=[...]), the CHE covariance and che() against metafor 3.8 rma.mv and
clubSandwich 0.5.8 (tests/reference/make_random.R: single level, nested 2 and 3 levels, crossed,
CHE with rho = 0.6 and 0.8, with and without moderators, REML and ML, CR2 and HTZ)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError, WhatWorksWarning
from whatworks.synthesis import che, multilevel, robust
from whatworks.synthesis.covariance import BlockCovariance, constant_correlation

REF = load_reference("random.json")
CASES = REF["cases"]


def frame(name):
    return pd.DataFrame(REF["data"][name])


def terms_of(case):
    terms = case["terms"]
    terms = [terms] if isinstance(terms, str) else terms
    return ["/".join([t] if isinstance(t, str) else t) for t in terms]


def labels(x):
    return [str(v) for v in np.atleast_1d(x)]


def fit_case(case, **kw):
    d = frame(case["data"])
    X = np.array(case["X"], dtype=float).reshape(len(d), -1)
    mods = pd.DataFrame(X[:, 1:], columns=labels(case["X_names"])[1:]) if X.shape[1] > 1 else None
    random = terms_of(case)
    if isinstance(case.get("rho"), float):
        V = constant_correlation(d["vi"], d[random[0].split("/")[0]], case["rho"])
        return multilevel(d["yi"], V=V, random=random, data=d, mods=mods, method=case["method"],
                          **kw)
    return multilevel(d["yi"], d["vi"], random=random, data=d, mods=mods, method=case["method"],
                      **kw)


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", list(CASES))
def test_it_matches_metafor_rma_mv(key):
    case = CASES[key]
    res = fit_case(case)
    assert res.s_nlevels == tuple(int(n) for n in np.atleast_1d(case["s_nlevels"]))
    assert res.names == tuple(labels(case["X_names"]))
    # Our optimum is at least as high as metafor's (both evaluate the same likelihood; the log-
    # likelihood is flat at the optimum, so it agrees far beyond the estimates).
    assert res.loglik >= case["loglik"] - 1e-8 - 1e-12 * abs(case["loglik"])
    close(res.loglik, case["loglik"], 1e-8)
    # Variance components are iterative. Where nlminb at rel.tol 1e-12 failed, metafor's default
    # controls ("control": "default" in the JSON) stop up to ~3e-5 (relative) short of the
    # optimum (our log-likelihood is higher there, asserted above), hence 1e-4; estimates
    # inherit it damped (1e-5 observed), checked at 1e-4 as well.
    close(res.sigma2, case["sigma2"], 1e-4, atol=1e-9)
    close([c.estimate for c in res.coefficients], case["beta"], 1e-4)
    close([c.se for c in res.coefficients], case["se"], 1e-4)
    close([c.p_value for c in res.coefficients], case["pval"], 1e-4, atol=1e-12)
    close([c.ci_lower for c in res.coefficients], case["ci_lb"], 1e-4)
    close([c.ci_upper for c in res.coefficients], case["ci_ub"], 1e-4)
    close(res.vcov.ravel(), np.ravel(case["vb"]), 1e-4, atol=1e-12)
    # Q_E is closed form (GLS with V^-1): rounding only.
    close(res.q, case["QE"], 1e-9)
    close(res.qm, case["QM"], 1e-4)
    close(res.qm_p_value, case["QMp"], 1e-4, atol=1e-12)
    close([res.aic, res.bic, res.aicc], [case["AIC"], case["BIC"], case["AICc"]], 1e-7)
    close(res.deviance, case["deviance"], 1e-7)


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if "CR2" in c])
def test_cr2_and_htz_match_clubsandwich(key):
    case = CASES[key]
    rob = robust(fit_case(case))
    ref = case["CR2"]
    # CR2 inherits the fitted variance components (1e-4 above, relative): 1e-4 again.
    close([c.estimate for c in rob.coefficients], ref["beta"], 1e-4)
    close([c.se for c in rob.coefficients], ref["se"], 1e-4)
    close([c.df for c in rob.coefficients], ref["df"], 1e-4)
    close([c.p_value for c in rob.coefficients], ref["pval"], 1e-4, atol=1e-12)
    close([c.ci_lower for c in rob.coefficients], ref["ci_lb"], 1e-4)
    close([c.ci_upper for c in rob.coefficients], ref["ci_ub"], 1e-4)
    if "HTZ" in case:
        htz = rob.moderators
        assert htz.test == "HTZ"
        close(htz.statistic, case["HTZ"]["Fstat"], 1e-4)
        close(htz.df_denom, case["HTZ"]["df_denom"], 1e-4)
        close(htz.p_value, case["HTZ"]["pval"], 1e-4, atol=1e-12)


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if "V_blocks" in c])
def test_constant_correlation_matches_vcalc(key):
    case = CASES[key]
    d = frame(case["data"])
    V = constant_correlation(d["vi"], d[terms_of(case)[0].split("/")[0]], case["rho"])
    for ours, theirs in zip(V.blocks(), case["V_blocks"], strict=False):
        np.testing.assert_allclose(ours, np.atleast_2d(np.array(theirs, dtype=float)),
                                   rtol=1e-14, atol=1e-18)
    assert len(V.blocks()) == len(case["V_blocks"])


@pytest.mark.parametrize("key", ["tanner_che08_mods_REML", "lopez_che08_REML"])
def test_che_fits_and_tests_in_one_call(key):
    case = CASES[key]
    d = frame(case["data"])
    s, e = terms_of(case)[0].split("/")
    mods = list(labels(case["X_names"])[1:])
    res = che("yi", "vi", study=s, es=e, rho=case["rho"], mods=mods, data=d)
    close(res.model.sigma2, case["sigma2"], 1e-4, atol=1e-9)
    close([c.se for c in res.robust.coefficients], case["CR2"]["se"], 1e-4)
    close(res.df, case["CR2"]["df"][0], 1e-4)
    close(res.robust.moderators.p_value, case["HTZ"]["pval"], 1e-4)
    assert res.model.random == (s, f"{s}/{e}")
    assert res.model.sampling_covariance == "block"
    assert res.to_dict()["rho"] == case["rho"]
    assert "CHE" in repr(res)


def test_one_grouping_column_is_one_variance_component():
    # metafor's ~ 1 | study: one component. (The older study= keyword keeps its meaning, study/row.)
    case = CASES["lopez_single_REML"]
    res = fit_case(case)
    assert res.random == ("study",) and len(res.sigma2) == 1
    close(res.estimate, -1.13293773457914, 1e-5)   # dat.lopez2019; not -1.486 (study/row)


def test_the_sparse_and_blocked_algorithms_agree_with_each_other():
    from whatworks.synthesis import varcomp

    case = CASES["moura_crossed_mods_REML"]
    d = frame(case["data"])
    y = d["yi"].to_numpy()
    V = BlockCovariance.diagonal(d["vi"].to_numpy())
    codes = [pd.factorize(d[c])[0] for c in ("study", "species", "esid")]
    X = np.linalg.qr(np.array(case["X"], dtype=float))[0]
    s2 = np.array([0.05, 0.01, 0.02])
    a = varcomp.engine(V, codes, X, y, "blocked").evaluate(s2, True)
    b = varcomp.engine(V, codes, X, y, "sparse").evaluate(s2, True)
    # the same quantities by two exact routes: rounding only
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-11)
    np.testing.assert_allclose(a.gradient, b.gradient, rtol=1e-8)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-10)


def test_it_refuses_bad_random_terms_and_inputs():
    d = frame("tannersmith2016")
    with pytest.raises(InputError, match="no such column"):
        multilevel("yi", "vi", random=["nope"], data=d)
    with pytest.raises(ParameterError, match="random"):
        multilevel("yi", "vi", random=["studyid//esid"], data=d)
    with pytest.raises(ParameterError, match="random"):
        multilevel("yi", "vi", random=["~ x | studyid"], data=d)
    with pytest.raises(InputError, match="not both"):
        multilevel("yi", "vi", V=np.diag(d["vi"]), random=["studyid"], data=d)
    with pytest.raises(InputError, match="not both"):
        multilevel("yi", "vi", random=["studyid"], study="studyid", data=d)
    with pytest.raises(ParameterError, match="rho"):
        constant_correlation(d["vi"], d["studyid"], 1.0)
    with pytest.raises(InputError, match="positive"):
        constant_correlation([0.1, -0.2], [1, 1], 0.5)


def test_the_metafor_formula_spelling_is_accepted_and_identical_levels_warn():
    d = frame("tannersmith2016")
    a = multilevel("yi", "vi", random="~ 1 | studyid/esid", data=d)
    b = multilevel("yi", "vi", random=["studyid/esid"], data=d)
    assert a.sigma2 == b.sigma2
    with pytest.warns(WhatWorksWarning, match="told apart"):
        multilevel("yi", "vi", random=["studyid/studyid"], data=d)


def test_a_dense_v_is_split_into_its_blocks_and_rows_with_missing_values_are_dropped():
    case = CASES["tanner_che06_REML"]
    d = frame(case["data"])
    V = constant_correlation(d["vi"], d["studyid"], 0.6)
    dense = multilevel("yi", V=V.to_dense(), random=["studyid/esid"], data=d)
    close(dense.sigma2, case["sigma2"], 1e-4, atol=1e-9)
    d2 = d.copy()
    d2.loc[3, "yi"] = np.nan
    with pytest.warns(WhatWorksWarning, match="left out"):
        res = multilevel("yi", V=V, random=["studyid/esid"], data=d2)
    keep = np.arange(len(d)) != 3
    ref = multilevel(d["yi"][keep].to_numpy(), V=V.to_dense()[np.ix_(keep, keep)],
                     random=["studyid/esid"], data=d[keep].reset_index(drop=True))
    assert res.k == len(d) - 1
    np.testing.assert_allclose(res.sigma2, ref.sigma2, rtol=1e-10)


def test_result_arrays_are_read_only():
    res = fit_case(CASES["tanner_che06_REML"])
    with pytest.raises(ValueError):
        res.yi[0] = 1.0
    with pytest.raises(ValueError):
        res.vcov[0, 0] = 1.0


def test_robust_refuses_clusters_that_split_crossed_random_effects():
    res = fit_case(CASES["moura_crossed_REML"])
    with pytest.raises(InputError, match="more than one cluster"):
        robust(res)


# ---- properties of the two algorithms ----------------------------------------------------------

@st.composite
def structures(draw):
    k = draw(st.integers(3, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    n_terms = draw(st.integers(1, 3))
    codes = [pd.factorize(rng.integers(0, draw(st.integers(1, 5)), k))[0] for _ in range(n_terms)]
    cluster = rng.integers(0, draw(st.integers(1, 4)), k)
    v = rng.uniform(0.01, 1.0, k)
    rho = draw(st.floats(0.0, 0.9))
    V = constant_correlation(v, cluster, rho)
    X = np.column_stack([np.ones(k), rng.normal(size=k)])[:, :draw(st.integers(1, 2))]
    s2 = np.array([draw(st.floats(0.01, 2.0)) for _ in codes])  # inside: central differences
    return V, codes, np.linalg.qr(X)[0], rng.normal(size=k), s2


def dense_loglik(V, codes, X, y, s2, reml):
    S = V.to_dense() + sum(s * (c[:, None] == c[None, :]) for s, c in zip(s2, codes, strict=True))
    Si = np.linalg.inv(S)
    H = X.T @ Si @ X
    b = np.linalg.solve(H, X.T @ Si @ y)
    r = y - X @ b
    k, p = X.shape
    ll = -0.5 * (np.linalg.slogdet(S)[1] + r @ Si @ r)
    if reml:
        return ll - 0.5 * ((k - p) * np.log(2 * np.pi) + np.linalg.slogdet(H)[1])
    return ll - 0.5 * k * np.log(2 * np.pi)


@settings(max_examples=60, deadline=None)
@given(structures(), st.booleans())
def test_both_algorithms_give_the_dense_likelihood_and_its_gradient(case, reml):
    from whatworks.synthesis import varcomp

    V, codes, X, y, s2 = case
    if y.size <= X.shape[1]:
        return
    expected = dense_loglik(V, codes, X, y, s2, reml)
    for algorithm in ("blocked", "sparse"):
        ev = varcomp.engine(V, codes, X, y, algorithm).evaluate(s2, reml)
        np.testing.assert_allclose(ev.loglik, expected, rtol=1e-9, atol=1e-9)
        h = 1e-6
        for r in range(len(s2)):
            e = np.zeros(len(s2))
            e[r] = h
            fd = (dense_loglik(V, codes, X, y, s2 + e, reml)
                  - dense_loglik(V, codes, X, y, s2 - e, reml)) / (2 * h)
            # central difference: truncation O(h^2), rounding ~1e-16 |loglik| / h ~ 1e-9
            np.testing.assert_allclose(ev.gradient[r], fd, rtol=1e-5, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=15), st.floats(0.0, 0.95),
       st.integers(0, 2 ** 31))
def test_the_block_covariance_equals_its_dense_definition(cluster, rho, seed):
    rng = np.random.default_rng(seed)
    k = len(cluster)
    v = rng.uniform(0.01, 1.0, k)
    V = constant_correlation(v, cluster, rho)
    c = np.asarray(cluster)
    same = c[:, None] == c[None, :]
    dense = np.where(same, rho * np.sqrt(np.outer(v, v)), 0.0)
    np.fill_diagonal(dense, v)
    # atol 1e-300: a subnormal rho (hypothesis tries 5e-324) rounds differently in the two orders
    np.testing.assert_allclose(V.to_dense(), dense, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(V.diag(), v, rtol=0, atol=0)
    rows = rng.integers(0, k, (3, 4))
    np.testing.assert_allclose(V.submatrix(rows), dense[rows[:, :, None], rows[:, None, :]],
                               rtol=1e-15, atol=1e-300)
    keep = rng.random(k) < 0.6
    if keep.any():
        np.testing.assert_allclose(V.subset(keep).to_dense(), dense[np.ix_(keep, keep)],
                                   rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(V.inverse().to_dense(), np.linalg.inv(dense), rtol=1e-8,
                               atol=1e-8)
    np.testing.assert_allclose(V.logdet(), np.linalg.slogdet(dense)[1], rtol=1e-10, atol=1e-10)
    same_blocks = BlockCovariance.from_matrix(dense)
    np.testing.assert_allclose(same_blocks.to_dense(), dense, rtol=1e-15, atol=1e-300)
