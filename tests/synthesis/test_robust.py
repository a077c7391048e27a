"""Cluster-robust inference against clubSandwich 0.5.8 and metafor 3.8 robust()
(tests/reference/make_dependent.R), and the low-rank degrees-of-freedom algebra against brute force."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from tests.synthesis.test_multilevel import columns, fit_case, labels
from whatworks.errors import InputError, ParameterError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.robust import (
    _gamma,
    cr2_coef_test,
    htz_df,
    robust,
    sandwich,
    satterthwaite_df,
)

REF = load_reference("dependent.json")
ROBUST = REF["robust"]
UNIVARIATE = REF["robust_univariate"]


def close(actual, expected, rtol, atol=1e-12):
    np.testing.assert_allclose(np.ravel(np.asarray(actual, dtype=float)), vec(np.ravel(expected)),
                               rtol=rtol, atol=atol)


def check_cr2(res, ref, rtol):
    cf = res.coefficients
    close([c.estimate for c in cf], ref["beta"], rtol)
    close([c.se for c in cf], ref["se"], rtol)
    close([c.statistic for c in cf], ref["tstat"], rtol)
    close([c.df for c in cf], ref["df"], rtol)
    close([c.p_value for c in cf], ref["pval"], rtol)
    close([c.ci_lower for c in cf], ref["ci_lb"], rtol)
    close([c.ci_upper for c in cf], ref["ci_ub"], rtol)
    close(res.vcov, ref["vcov"], rtol)


def check_htz(test, ref, rtol):
    assert test.test == "HTZ"
    assert test.df_num == ref["df_num"]
    close(test.statistic, ref["Fstat"], rtol)
    close(test.df_denom, ref["df_denom"], rtol)
    close(test.p_value, ref["pval"], rtol)


@pytest.mark.parametrize("key", list(ROBUST))
def test_it_matches_clubsandwich_cr2_on_a_multilevel_fit(key):
    ref = ROBUST[key]
    res = robust(fit_case(REF["multilevel"][key]))
    # The working model holds the REML variance components, which agree with metafor's to ~1e-6
    # (iterative); everything after them is closed form, so 1e-5 covers it.
    assert res.adjust == "CR2"
    check_cr2(res, ref["CR2"], 1e-5)
    if "HTZ" in ref:
        check_htz(res.moderators, ref["HTZ"], 1e-5)
    else:
        assert res.moderators is None
    if "HTZ_2_3" in ref:
        check_htz(res.wald_test([1, 2]), ref["HTZ_2_3"], 1e-5)


@pytest.mark.parametrize("key", list(ROBUST))
def test_it_matches_metafor_robust_with_and_without_clubsandwich(key):
    ref = ROBUST[key]
    fit = fit_case(REF["multilevel"][key])
    cr2 = robust(fit)
    m2 = ref["metafor_CR2"]
    close([c.se for c in cr2.coefficients], m2["se"], 1e-5)
    close([c.df for c in cr2.coefficients], m2["df"], 1e-5)
    close([c.ci_upper for c in cr2.coefficients], m2["ci_ub"], 1e-5)
    cr1 = robust(fit, adjust="CR1")
    m1 = ref["metafor_CR1"]
    close([c.se for c in cr1.coefficients], m1["se"], 1e-5)
    close([c.statistic for c in cr1.coefficients], m1["tval"], 1e-5)
    close([c.df for c in cr1.coefficients], np.broadcast_to(vec(m1["df"]), fit.p), 0)
    close([c.p_value for c in cr1.coefficients], m1["pval"], 1e-5)
    close([c.ci_lower for c in cr1.coefficients], m1["ci_lb"], 1e-5)
    close(cr1.vcov, m1["vcov"], 1e-5)
    if fit.p > 1:
        close(cr1.moderators.statistic, m1["QM"], 1e-5)
        close([cr1.moderators.df_num, cr1.moderators.df_denom], m1["QMdf"], 0)
        close(cr1.moderators.p_value, m1["QMp"], 1e-5, atol=1e-20)


@pytest.mark.parametrize("key", list(UNIVARIATE))
def test_it_matches_clubsandwich_on_a_univariate_fit_given_its_tau2(key):
    ref = UNIVARIATE[key]
    data, y, v = columns(ref["data"])
    X = np.array(ref["X"], dtype=float).reshape(len(y), -1)
    p = X.shape[1]
    res = cr2_coef_test(X, y, v + ref["tau2"], data[ref["cluster"]], names=labels(ref["X_names"]),
                        btt=list(range(1, p)) if p > 1 else None)
    # Given metafor's tau2 the working model is fixed and everything is closed form.
    check_cr2(res, ref["CR2"], 1e-8)
    if p > 1:
        check_htz(res.moderators, ref["HTZ"], 1e-8)


@pytest.mark.parametrize("key", list(UNIVARIATE))
def test_it_works_on_a_meta_analysis_result(key):
    ref = UNIVARIATE[key]
    data, y, v = columns(ref["data"])
    X = np.array(ref["X"], dtype=float).reshape(len(y), -1)
    mods = pd.DataFrame(X[:, 1:], columns=labels(ref["X_names"])[1:]) if X.shape[1] > 1 else None
    fit = meta_analysis(y, v, mods=mods, method="REML")
    res = robust(fit, data[ref["cluster"]])
    # tau2 comes from our REML fit (iterative, 1e-5 against metafor).
    check_cr2(res, ref["CR2"], 1e-5)
    assert res.names == tuple(labels(ref["X_names"]))
    cr1 = robust(fit, data[ref["cluster"]], adjust="CR1")
    close([c.se for c in cr1.coefficients], ref["metafor_CR1"]["se"], 1e-5)
    close([c.p_value for c in cr1.coefficients], ref["metafor_CR1"]["pval"], 1e-5)


def test_it_clusters_a_multilevel_fit_by_coarser_labels_only():
    case = REF["multilevel"]["assink2016_REML_z"]
    fit = fit_case(case)
    coarse = [s // 5 for s in fit.study]
    assert robust(fit, coarse).n_clusters == len(set(coarse))
    with pytest.raises(InputError, match="more than one cluster"):
        robust(fit, np.arange(fit.k))


def test_it_refuses_bad_arguments():
    fit = fit_case(REF["multilevel"]["konstantopoulos2011_REML_z"])
    with pytest.raises(ParameterError, match="adjust"):
        robust(fit, adjust="HC3")
    with pytest.raises(ParameterError, match="fit"):
        robust(object(), [1, 2])
    with pytest.raises(InputError, match="clusters"):
        cr2_coef_test(np.ones((4, 1)), np.arange(4.0), np.ones(4), [1, 1, 1, 1])


def test_its_result_converts_to_json_and_prints():
    res = robust(fit_case(REF["multilevel"]["hierdat_mods_REML_z"]))
    out = json.loads(json.dumps(res.to_dict()))
    assert out["moderators"]["test"] == "HTZ"
    assert "vcov" not in out and "sandwich" not in out
    assert "Satterthwaite" in repr(res)
    assert list(res.to_frame().columns)[:2] == ["estimate", "se"]


# ---- the low-rank algebra against explicit k x k computations ------------------------------------

def brute_force(X, y, Phi, codes, C, W=None):
    """Satterthwaite and HTZ degrees of freedom from their definitions with dense matrices."""
    k, p = X.shape
    W = np.linalg.inv(Phi) if W is None else W
    M = np.linalg.inv(X.T @ W @ X)
    IH = np.eye(k) - X @ M @ X.T @ W
    P = []
    for j in np.unique(codes):
        idx = np.flatnonzero(codes == j)
        S = IH[idx] @ Phi @ IH[idx].T
        L = np.linalg.cholesky(Phi[np.ix_(idx, idx)])
        vals, vecs = np.linalg.eigh(L.T @ S @ L)
        f = np.where(vals > 1e-8 * vals.max(), 1 / np.sqrt(np.abs(vals)), 0.0)
        A = L @ (vecs * f) @ vecs.T @ L.T
        G = A @ W[np.ix_(idx, idx)] @ X[idx] @ M          # n_j x p
        P.append(IH[idx].T @ G)                            # k x p: rows of p_j(c) = P_j c
    P = np.array(P)                                        # m x k x p
    sat = []
    for c in np.eye(p):
        pc = P @ c                                         # m x k
        O = pc @ Phi @ pc.T
        sat.append(np.trace(O) ** 2 / (O ** 2).sum())
    Pc = P @ C.T                                           # m x k x q
    E = np.einsum("iks,kl,ilt->st", Pc, Phi, Pc)           # E[C V_R C']
    vals, vecs = np.linalg.eigh(E)
    Pc = Pc @ (vecs / np.sqrt(vals)) @ vecs.T
    O = np.einsum("iks,kl,jlt->ijst", Pc, Phi, Pc)
    q = C.shape[0]
    tr = np.einsum("ijss->ij", O)
    eta = q * (q + 1) / ((tr ** 2).sum() + np.einsum("ijst,ijts->", O, O))
    return np.array(sat), eta


@st.composite
def clustered(draw):
    m = draw(st.integers(4, 7))
    sizes = draw(st.lists(st.integers(1, 4), min_size=m, max_size=m))
    codes = np.repeat(np.arange(m), sizes)
    k = codes.size
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    # continuous covariates: no cluster has leverage 1 (that degenerate case, where B_j is
    # singular, is covered by assink2016 against clubSandwich; brute force is unstable there)
    X = np.column_stack([np.ones(k), rng.normal(size=k), rng.normal(size=k)])
    if k < 6:
        X = X[:, :2]
    y = rng.normal(size=k)
    Phi = np.zeros((k, k))
    for j in range(m):
        idx = np.flatnonzero(codes == j)
        B = rng.normal(size=(idx.size, idx.size))
        Phi[np.ix_(idx, idx)] = B @ B.T + np.diag(rng.uniform(0.1, 1.0, idx.size))
    return X, y, Phi, codes


@settings(max_examples=40, deadline=None)
@given(clustered(), st.booleans())
def test_the_low_rank_degrees_of_freedom_equal_their_definitions(case, own_weights):
    X, y, Phi, codes = case
    p = X.shape[1]
    # with own_weights, W is not Phi^-1 (the general branch): diagonal inverse-variance weights
    W = np.diag(1 / np.diag(Phi)) if own_weights else None
    sw = sandwich(X, y, Phi, codes, W=W)
    C = np.eye(p)[1:]
    sat, eta = brute_force(X, y, Phi, codes, C, W)
    np.testing.assert_allclose(satterthwaite_df(sw, np.eye(p)), sat, rtol=1e-7)
    np.testing.assert_allclose(htz_df(sw, C), eta, rtol=1e-7)


@settings(max_examples=30, deadline=None)
@given(clustered())
def test_cr2_is_unbiased_when_the_working_model_is_true(case):
    X, y, Phi, codes = case
    sw = sandwich(X, y, Phi, codes)
    # E[V_R] = sum_j p_j' Phi p_j = M (the model-based covariance) when no cluster is degenerate
    p = X.shape[1]
    u = np.concatenate([sw.a, sw.b], axis=1)             # (m, 2p, p)
    expected = (sw.s - np.einsum("mis,ij,mjt->mst", u, _gamma(sw), u)).sum(axis=0)
    Rinv = sw.Rinv
    np.testing.assert_allclose(Rinv @ expected @ Rinv.T, Rinv @ sw.M @ Rinv.T, rtol=1e-7,
                               atol=1e-10)
    assert expected.shape == (p, p)


def test_a_cluster_robust_se_of_zero_is_flagged_not_passed_off_as_evidence(tmp_path, capsys):
    """Effects that agree exactly leave no residual in any cluster: SE 0, t infinite, p 0. The result
    says those mean nothing, in its note, its JSON and the command's table."""
    from whatworks.cli import main

    yi, vi = np.full(5, 0.2), np.array([0.01, 0.02, 0.01, 0.03, 0.02])
    cluster = np.array(["A", "A", "B", "B", "C"])
    res = robust(meta_analysis(yi, vi), cluster)
    assert res.se == 0 and "standard error of intrcpt is 0" in res.note
    assert res.to_dict()["note"] == res.note and res.note in res.summary_text()
    path = tmp_path / "z.csv"
    path.write_text("study,yi,vi\n" + "".join(f"{c},{y},{v}\n" for c, y, v in
                                                zip(cluster, yi, vi, strict=True)))
    assert main(["meta", str(path), "--yi", "yi", "--vi", "vi", "--robust", "study"]) == 0
    out = capsys.readouterr().out
    assert "Cluster-robust inference (CR2" in out and "note: the cluster-robust standard error" in out
    assert main(["meta", str(path), "--yi", "yi", "--vi", "vi", "--robust", "study", "--format",
                 "json"]) == 0
    assert "carry no information" in json.loads(capsys.readouterr().out)["robust"]["note"]
    # a positive SE: no note
    other = robust(meta_analysis(yi + np.array([0, 0.1, -0.1, 0.05, 0]), vi), cluster)
    assert other.se > 0 and other.note is None and other.to_dict()["note"] is None
