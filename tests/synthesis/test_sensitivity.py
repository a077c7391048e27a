"""Leave-one-out, influence, cumulative and Baujat against metafor 3.8
(tests/reference/make_bias_sensitivity.R)."""

import warnings

import numpy as np
import pytest

from tests.conftest import load_reference, vec
from whatworks.errors import InputError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.sensitivity import baujat, cumulative, influence, leave_one_out

REF = load_reference("bias_sensitivity.json")
CASES = REF["sensitivity"]
MOD_CASES = [c for c in CASES if "influence_mods" in c]


def _id(case):
    return f"{case['dataset']}-{case['method']}-{case['test']}"


def _rtol(case):
    # closed-form estimators (DL, FE) agree to rounding; REML to the convergence of both sides
    return 1e-5 if case["method"] == "REML" else 1e-6


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


def _check_fields(res, ref, case):
    for ours, theirs in FIELDS.items():
        if ours == "tau2" and case["method"] == "FE":
            # metafor reports tau² as NA under a common-effect model; whatworks reports 0
            assert ref[theirs] is None and np.all(res.tau2 == 0)
            continue
        # I² near 0 and tiny p-values: an absolute floor as well
        close(getattr(res, ours), ref[theirs], _rtol(case), atol=1e-8)


def _fit(case, mods=False):
    d = REF["data"][case["dataset"]]
    y, v = vec(d["yi"]), vec(d["vi"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mods:
            m = vec(d["mod"])
            keep = np.isfinite(m)
            return meta_analysis(y[keep], v[keep], mods=m[keep], method=case["method"],
                                 test=case["test"])
        return meta_analysis(y, v, method=case["method"], test=case["test"])


FIELDS = {"estimate": "estimate", "se": "se", "statistic": "zval", "p_value": "pval",
          "ci_lower": "ci_lb", "ci_upper": "ci_ub", "q": "Q", "q_p_value": "Qp", "tau2": "tau2",
          "i2": "I2", "h2": "H2"}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_leave_one_out_matches_metafor_leave1out(case):
    _check_fields(leave_one_out(_fit(case)), case["leave1out"], case)


def test_leave_one_out_rows_equal_separate_refits():
    case = next(c for c in CASES if c["dataset"] == "molloy2014" and c["method"] == "REML")
    fit = _fit(case)
    res = leave_one_out(fit)
    for i in (0, 7, fit.k - 1):
        keep = np.arange(fit.k) != i
        one = meta_analysis(fit.yi[keep], fit.vi[keep], method=fit.method, test=fit.test)
        np.testing.assert_allclose([res.estimate[i], res.se[i], res.tau2[i]],
                                   [one.estimate, one.se, one.tau2], rtol=1e-9)


def test_leave_one_out_to_dict_is_a_list_of_rows():
    fit = _fit(CASES[0])
    rows = leave_one_out(fit).to_dict()
    assert isinstance(rows, list) and len(rows) == fit.k
    assert {"omitted", "estimate", "se", "tau2", "i2", "ci_lower"} <= set(rows[0])
    assert rows[0]["omitted"] == "Study 1"
    assert leave_one_out(fit).to_frame().shape == (fit.k, 12)


def test_leave_one_out_refuses_a_meta_regression():
    with pytest.raises(InputError, match="influence"):
        leave_one_out(_fit(MOD_CASES[0], mods=True))


INFLUENCE = {"rstudent": "rstudent", "dffits": "dffits", "cook_d": "cook_d", "cov_r": "cov_r",
             "tau2_del": "tau2_del", "qe_del": "QE_del", "hat": "hat", "weight": "weight"}


def _check_influence(res, ref, rtol):
    for ours, theirs in INFLUENCE.items():
        close(getattr(res, ours), ref[theirs], rtol, atol=1e-9)
    columns = list(ref["dfbs"].values())  # intercept, then the moderator, in metafor's order
    assert len(columns) == len(res.names)
    for j, column in enumerate(columns):
        close(res.dfbetas[:, j], column, rtol, atol=1e-9)
    assert res.influential.tolist() == list(ref["inf"])


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_influence_matches_metafor_influence(case):
    _check_influence(influence(_fit(case)), case["influence"], _rtol(case))


@pytest.mark.parametrize("case", MOD_CASES, ids=_id)
def test_influence_matches_metafor_for_a_meta_regression(case):
    # Cook's distance differences of deleted coefficients amplify the convergence error: 1e-5
    _check_influence(influence(_fit(case, mods=True)), case["influence_mods"],
                     max(_rtol(case), 1e-5))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cumulative_matches_metafor_cumul(case):
    d = REF["data"][case["dataset"]]
    order = vec(d["order"]) if "order" in d else None
    assert case["cumul"]["ordered"] == (order is not None)
    res = cumulative(_fit(case), order=order)
    _check_fields(res, case["cumul"], case)
    assert res.k.tolist() == list(range(1, res.k.size + 1))


def test_cumulative_orders_ties_as_the_data_are_ordered():
    fit = _fit(CASES[0])
    res = cumulative(fit, order=np.zeros(fit.k))
    assert res.order.tolist() == list(range(fit.k))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_baujat_matches_metafor_baujat(case):
    res = baujat(_fit(case))
    close(res.x, case["baujat"]["x"], _rtol(case))
    close(res.y, case["baujat"]["y"], _rtol(case))
    assert len(res.labels) == res.x.size


@pytest.mark.parametrize("case", MOD_CASES, ids=_id)
def test_baujat_matches_metafor_for_a_meta_regression(case):
    res = baujat(_fit(case, mods=True))
    close(res.x, case["baujat_mods"]["x"], max(_rtol(case), 1e-5))
    close(res.y, case["baujat_mods"]["y"], max(_rtol(case), 1e-5))


def test_leave_one_out_handles_a_large_meta_analysis_in_one_batch():
    rng = np.random.default_rng(1)
    k = 1500
    v = rng.uniform(0.01, 0.2, k)
    y = rng.normal(0.2, np.sqrt(v + 0.04))
    fit = meta_analysis(y, v, method="REML")
    res = leave_one_out(fit)
    keep = np.arange(k) != 11
    one = meta_analysis(y[keep], v[keep], method="REML")
    np.testing.assert_allclose([res.estimate[11], res.tau2[11]], [one.estimate, one.tau2],
                               rtol=1e-8)
