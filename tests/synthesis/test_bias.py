"""Small-study tests against metafor 3.8 (tests/reference/make_bias_sensitivity.R)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.bias import (
    _kendall_exact_p,
    begg_test,
    egger_test,
    fail_safe_n,
    kendall_test,
    pet_peese,
    selection_model,
    small_study_tests,
    trim_and_fill,
)

REF = load_reference("bias_sensitivity.json")
CASES = REF["bias"]


def _id(case):
    return f"{case['dataset']}-{case['method']}-{case['test']}"


def _rtol(case):
    # closed-form estimators (DL, FE) agree to rounding; REML to the convergence of both sides
    return 1e-5 if case["method"] == "REML" else 1e-6


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


def _data(name):
    d = REF["data"][name]
    return vec(d["yi"]), vec(d["vi"])


def _fit(case, mods=False):
    y, v = _data(case["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mods:
            m = vec(REF["data"][case["dataset"]]["mod"])
            keep = np.isfinite(m)
            return meta_analysis(y[keep], v[keep], mods=m[keep], method=case["method"],
                                 test=case.get("test", "z"))
        return meta_analysis(y, v, method=case["method"], test=case.get("test", "z"))


EGGER_VARIANTS = {"egger_rma": {}, "egger_lm": {"model": "lm"},
                  "egger_rma_vi": {"predictor": "vi"},
                  "peese_lm": {"model": "lm", "predictor": "vi"}}


@pytest.mark.parametrize("variant", list(EGGER_VARIANTS))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_egger_test_matches_metafor_regtest(case, variant):
    res = egger_test(_fit(case), **EGGER_VARIANTS[variant])
    ref = case[variant]
    rtol = _rtol(case) if EGGER_VARIANTS[variant].get("model") != "lm" else 1e-6
    close(res.statistic, ref["zval"], rtol)
    close(res.p_value, ref["pval"], rtol, atol=1e-14)
    close(res.limit_estimate, ref["est"], rtol)
    close([res.limit_ci_lower, res.limit_ci_upper], [ref["ci_lb"], ref["ci_ub"]], rtol)
    if ref["dfs"] is None:
        assert res.df is None
    else:
        assert res.df == ref["dfs"]


@pytest.mark.parametrize("case", [c for c in CASES if "egger_mods" in c], ids=_id)
def test_egger_test_adds_the_standard_error_to_the_models_moderators(case):
    res = egger_test(_fit(case, mods=True))
    close(res.statistic, case["egger_mods"]["zval"], _rtol(case))
    close(res.p_value, case["egger_mods"]["pval"], _rtol(case), atol=1e-14)
    assert res.limit_estimate is None  # as metafor: no limit estimate beside other moderators


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_begg_test_matches_metafor_ranktest(case):
    res = begg_test(_fit(case))
    # Kendall's tau is a ratio of integers; the exact p a sum of permutation counts
    close(res.tau, case["ranktest"]["tau"], 1e-12)
    close(res.p_value, case["ranktest"]["pval"], 1e-9)


def test_begg_test_uses_the_normal_approximation_when_variances_are_tied():
    # bangertdrowns2004 gives variances to 3 decimals, so there are ties
    case = next(c for c in CASES if c["dataset"] == "bangertdrowns2004")
    res = begg_test(_fit(case))
    assert not res.exact
    assert begg_test(_fit(CASES[0])).exact


TF_VARIANTS = {"L0": {}, "R0": {"estimator": "R0"}, "L0_left": {"side": "left"},
               "L0_right": {"side": "right"}, "R0_left": {"estimator": "R0", "side": "left"}}


@pytest.mark.parametrize("variant", list(TF_VARIANTS))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_trim_and_fill_matches_metafor_trimfill(case, variant):
    res = trim_and_fill(_fit(case), **TF_VARIANTS[variant])
    ref = case["trimfill"][variant]
    assert res.k0 == ref["k0"]
    assert res.side == ref["side"]
    # se_k0 and p_k0 are closed forms of the ranks
    close(res.se_k0, ref["se_k0"], 1e-9)
    if ref["p_k0"] is None:
        assert res.p_k0 is None
    else:
        close(res.p_k0, ref["p_k0"], 1e-12)
    fill = np.asarray(ref["fill"], dtype=bool)
    # imputed values come from the trimmed estimates: iterative under REML (tolerance 1e-5),
    # closed form under DL/FE
    close(res.filled_yi, vec(ref["yi"])[fill], _rtol(case))
    close(res.filled_vi, vec(ref["vi"])[fill], 1e-12)
    # by default the augmented data are refitted with a z test, as metafor 3.8 does even after
    # Knapp-Hartung: metafor's own trimfill result
    assert res.refit_test == ("z" if res.k0 > 0 else case["test"])
    close(res.estimate, ref["beta"], _rtol(case))
    close(res.se, ref["se"], _rtol(case))
    close(res.p_value, ref["pval"], _rtol(case), atol=1e-14)
    close([res.ci_lower, res.ci_upper], [ref["ci_lb"], ref["ci_ub"]], _rtol(case))
    close(res.tau2, ref["tau2"], _rtol(case))
    assert res.fit.k == len(ref["yi"])
    # refit_test="model": the augmented data refitted with the model's own test (rma refit)
    own = trim_and_fill(_fit(case), **TF_VARIANTS[variant], refit_test="model")
    refit = ref["refit"]
    assert own.refit_test == case["test"]
    close(own.estimate, refit["beta"], _rtol(case))
    close(own.se, refit["se"], _rtol(case))
    close(own.p_value, refit["pval"], _rtol(case), atol=1e-14)
    close([own.ci_lower, own.ci_upper], [refit["ci_lb"], refit["ci_ub"]], _rtol(case))


@given(st.integers(min_value=0, max_value=10_000))
@settings(max_examples=25, deadline=None)
def test_trim_and_fill_is_symmetric_under_a_sign_flip(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(5, 25))
    v = rng.uniform(0.01, 0.5, k)
    y = rng.normal(0.3, np.sqrt(v + 0.05)) + 0.8 * np.sqrt(v) * rng.uniform(0, 1)
    a = trim_and_fill(meta_analysis(y, v, method="DL"))
    b = trim_and_fill(meta_analysis(-y, v, method="DL"))
    assert a.k0 == b.k0
    assert {a.side, b.side} == {"left", "right"}
    np.testing.assert_allclose(a.estimate, -b.estimate, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.filled_yi, -b.filled_yi, rtol=1e-9, atol=1e-12)


def test_trim_and_fill_refuses_a_meta_regression():
    case = next(c for c in CASES if "egger_mods" in c)
    with pytest.raises(InputError, match="without moderators"):
        trim_and_fill(_fit(case, mods=True))


def test_trim_and_fill_names_the_allowed_estimators():
    with pytest.raises(ParameterError, match="estimator='Q0'"):
        trim_and_fill(_fit(CASES[0]), estimator="Q0")


FSN_VARIANTS = {"rosenthal": {}, "rosenthal_01": {"alpha": 0.01}, "orwin": {"type": "Orwin"},
                "orwin_target": {"type": "Orwin", "target": 0.05},
                "orwin_weighted": {"type": "Orwin", "weighted": True},
                "rosenberg": {"type": "Rosenberg"}}


@pytest.mark.parametrize("variant", list(FSN_VARIANTS))
@pytest.mark.parametrize("case", REF["fsn"], ids=lambda c: c["dataset"])
def test_fail_safe_n_matches_metafor_fsn(case, variant):
    y, v = _data(case["dataset"])
    res = fail_safe_n(y, v, **FSN_VARIANTS[variant])
    ref = case[variant]
    assert res.n == ref["fsnum"]
    for ours, theirs in ((res.p_value, "pval"), (res.mean_effect, "meanes"),
                         (res.target, "target")):
        if ref[theirs] is None:
            assert ours is None
        else:
            close(ours, ref[theirs], 1e-9, atol=1e-300)


def test_fail_safe_n_accepts_a_fitted_model():
    y, v = _data("hackshaw1998")
    assert fail_safe_n(meta_analysis(y, v)).n == fail_safe_n(y, v).n


@pytest.mark.parametrize("case", [c for c in CASES if c["method"] == "DL" and c["test"] == "z"],
                         ids=_id)
def test_pet_and_peese_are_the_classical_egger_regressions(case):
    fit = _fit(case)
    res = pet_peese(fit)
    close(res.pet.limit_estimate, case["egger_lm"]["est"], 1e-6)
    close(res.peese.limit_estimate, case["peese_lm"]["est"], 1e-6)
    # the weighted regression with multiplicative dispersion is the FE model with a KH-type test
    se = np.sqrt(fit.vi)
    direct = meta_analysis(fit.yi, fit.vi, mods=se, method="FE", test="knha")
    close(res.pet.fit.coefficients[0].se, direct.coefficients[0].se, 1e-12)
    p = direct.coefficients[0].p_value
    assert res.chosen == ("PEESE" if p < 0.05 else "PET")
    one = pet_peese(fit, one_sided=True)
    assert one.chosen == ("PEESE" if p / 2 < 0.05 else "PET")


def test_small_study_tests_has_the_cli_shape():
    out = small_study_tests(_fit(CASES[0]))
    assert set(out) == {"egger", "begg", "trim_and_fill"}
    assert set(out["egger"]) == {"statistic", "p_value"}
    assert set(out["begg"]) == {"tau", "p_value"}
    assert set(out["trim_and_fill"]) == {"k0", "side", "estimate", "se"}
    ref = CASES[0]
    close(out["egger"]["statistic"], ref["egger_rma"]["zval"], _rtol(ref))
    assert out["trim_and_fill"]["k0"] == ref["trimfill"]["L0"]["k0"]


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=30, unique=True),
       st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_kendall_exact_p_agrees_with_scipy(x, seed):
    x = np.array(x)
    y = np.random.default_rng(seed).permutation(x.size).astype(float)
    tau, p, exact = kendall_test(x, y)
    ref = stats.kendalltau(x, y, method="exact")
    assert exact
    np.testing.assert_allclose(tau, ref.statistic, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p, ref.pvalue, rtol=1e-9)


def test_kendall_exact_p_is_one_at_the_centre():
    assert _kendall_exact_p(3, 4) == 1.0


SEL_CASES = REF.get("selmodel", [])


def _sel_id(case):
    return (f"{case['dataset']}-{case['method']}-{case['alternative']}-"
            f"{'mods' if case.get('mods') else 'int'}-{len(np.atleast_1d(case['steps']))}step")


@pytest.mark.parametrize("case", SEL_CASES, ids=_sel_id)
def test_selection_model_matches_metafor_selmodel(case):
    fit = _fit(case, mods=bool(case.get("mods")))
    res = selection_model(fit, steps=case["steps"], alternative=case["alternative"])
    # both sides maximise a flat likelihood numerically (R: Nelder-Mead at reltol 1e-16,
    # restarted; here Newton steps) and take standard errors from numerical Hessians: 1e-5
    rtol = 1e-5
    close([c.estimate for c in res.coefficients], case["beta"], rtol)
    close([c.se for c in res.coefficients], case["se"], rtol)
    close([c.p_value for c in res.coefficients], case["pval"], rtol, atol=1e-12)
    close([c.ci_lower for c in res.coefficients], case["ci_lb"], rtol)
    close(res.tau2, case["tau2"], rtol)
    if case["method"] != "FE":
        close(res.tau2_se, case["se_tau2"], rtol)
    close(res.delta, case["delta"], rtol)
    close(res.delta_se, case["se_delta"], rtol)
    close(res.delta_p_value, case["pval_delta"], rtol, atol=1e-12)
    close(res.delta_ci_lower, case["ci_lb_delta"], rtol)
    close(res.delta_ci_upper, case["ci_ub_delta"], rtol)
    close(res.lrt, case["LRT"], rtol, atol=1e-8)
    close(res.lrt_p_value, case["LRTp"], rtol)
    assert res.lrt_df == case["LRTdf"]
    close(res.loglik, case["ll"], 1e-9)


def test_selection_model_needs_a_study_in_every_interval():
    y, v = _data("bcg")  # mostly negative effects: hardly any one-sided p below .025 upwards
    fit = meta_analysis(y, v)
    with pytest.raises(InputError, match="every p-value interval"):
        selection_model(fit, steps=(0.001, 0.002))


def test_selection_model_fits_at_least_as_well_as_the_ml_model_it_nests():
    # with every delta at 1 the likelihood is the ML random-effects likelihood
    y, v = _data("hackshaw1998")
    fit = meta_analysis(y, v, method="ML")
    res = selection_model(fit)
    assert res.loglik >= fit.loglik - 1e-9
    np.testing.assert_allclose(res.lrt, 2 * (res.loglik - fit.loglik), rtol=1e-9, atol=1e-12)
