"""Intention-to-treat models against lme4 (tests/reference/make_trials.R -> trials.json)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference
from whatworks.cli import main
from whatworks.errors import InputError, ParameterError
from whatworks.trials.analyse import analyse

REF = load_reference("trials.json")
NAMES = {"(Intercept)": "intercept", "treat": "treatment"}


def frame(name):
    return pd.DataFrame(REF[name]["data"])


def check(res, model, *, est_tol, se_rel):
    ours = res.coefficients.set_index("term")
    for term, est, se in zip(model["terms"], model["estimate"], model["se"], strict=True):
        row = ours.loc[NAMES.get(term, term)]
        assert row["estimate"] == pytest.approx(est, abs=est_tol), term
        assert row["se"] == pytest.approx(se, rel=se_rel), term


@pytest.fixture(scope="module")
def continuous():
    return analyse(frame("continuous"), outcome="y", treatment="treat", cluster="school",
                   block="stratum", covariates=["pretest"], family="gaussian")


@pytest.fixture(scope="module")
def swis_negbin():
    return analyse(frame("swis"), outcome="s47", treatment="treat", cluster="school", block="la",
                   covariates=["log_base", "fsm"], exposure="pupils", family="negbin")


def test_the_linear_mixed_model_matches_lmer(continuous):
    ref = REF["continuous"]
    # statsmodels' REML optimum (gtol 1e-9) and lme4's agree to about 1e-8; the SEs are computed
    # as lme4 does, (X'V^-1 X)^-1 at the REML estimates
    check(continuous, ref["model"], est_tol=1e-6, se_rel=1e-5)
    assert continuous.sd_cluster == pytest.approx(ref["model"]["sd_cluster"], rel=1e-5)
    assert continuous.sigma_residual == pytest.approx(ref["model"]["sigma"], rel=1e-6)


def test_icc_and_hedges_g_use_the_unconditional_model(continuous):
    null = REF["continuous"]["null"]
    assert continuous.icc == pytest.approx(null["icc"], rel=1e-5)
    sd_total = math.sqrt(null["var_cluster"] + null["var_residual"])
    n = continuous.n
    j = 1 - 3 / (4 * n - 9)
    b, se = REF["continuous"]["model"]["estimate"][1], REF["continuous"]["model"]["se"][1]
    e = continuous.effect_size
    assert e["g"] == pytest.approx(j * b / sd_total, rel=1e-5)
    assert e["ci_lower"] == pytest.approx(j * (b - 1.959963984540054 * se) / sd_total, rel=1e-5)
    assert e["ci_upper"] == pytest.approx(j * (b + 1.959963984540054 * se) / sd_total, rel=1e-5)


def test_the_logistic_glmm_matches_glmer():
    ref = REF["binary"]
    res = analyse(frame("binary"), outcome="y", treatment="treat", cluster="team",
                  covariates=["age"], family="binomial")
    # lme4's inner PIRLS stops at a looser tolerance than ours: its deviance at its own optimum is
    # ~6e-5 above ours (exact modes), so its optimum is ~5e-5 away and its finite-difference
    # Hessian (hence SEs) differs by up to 0.2%
    check(res, ref["model"], est_tol=1e-4, se_rel=2e-3)
    assert res.sd_cluster == pytest.approx(ref["model"]["sd_cluster"], rel=1e-3)
    assert res.loglik == pytest.approx(ref["model"]["loglik"], abs=1e-4)
    assert res.ratio["estimate"] == pytest.approx(math.exp(ref["model"]["estimate"][1]), rel=1e-4)
    s2 = ref["null"]["sd_cluster"] ** 2
    assert res.icc == pytest.approx(s2 / (s2 + math.pi ** 2 / 3), rel=1e-3)


def test_the_poisson_glmm_with_exposure_matches_glmer():
    ref = REF["swis"]["poisson"]
    res = analyse(frame("swis"), outcome="s47", treatment="treat", cluster="school", block="la",
                  covariates=["log_base", "fsm"], exposure="pupils", family="poisson")
    check(res, ref, est_tol=1e-4, se_rel=2e-3)   # tolerance: as for the logistic model
    assert res.estimate == pytest.approx(ref["estimate"][1], abs=1e-5)
    assert res.loglik >= ref["loglik"] - 1e-6      # our optimum is at least as good as lme4's
    assert res.sd_cluster == pytest.approx(ref["sd_cluster"], rel=1e-4)


def test_the_negative_binomial_glmm_matches_glmer_nb(swis_negbin):
    ref = REF["swis"]["negbin"]
    check(swis_negbin, ref, est_tol=2e-5, se_rel=1e-5)
    assert swis_negbin.theta == pytest.approx(ref["theta"], rel=1e-4)
    assert swis_negbin.sd_cluster == pytest.approx(ref["sd_cluster"], rel=1e-4)
    assert swis_negbin.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    r = swis_negbin.ratio
    assert r["measure"] == "rate ratio"
    assert r["ci_lower"] < r["estimate"] < r["ci_upper"]
    assert math.log(r["ci_upper"]) - math.log(r["estimate"]) == pytest.approx(
        1.959963984540054 * ref["se"][1], rel=1e-4)


def test_the_cli_gives_the_contract_keys(tmp_path, capsys):
    path = tmp_path / "data.csv"
    frame("continuous").to_csv(path, index=False)
    code = main(["trial", "analyse", str(path), "--outcome", "y", "--treatment", "treat",
                 "--cluster", "school", "--block", "stratum", "--covariates", "pretest",
                 "--family", "gaussian", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("estimate", "se", "ci_lower", "ci_upper", "p_value", "icc"):
        assert isinstance(out[key], float)
    assert set(out["effect_size"]) >= {"g", "ci_lower", "ci_upper"}
    assert out["estimate"] == pytest.approx(REF["continuous"]["model"]["estimate"][1], abs=1e-6)


def test_the_cli_reports_an_odds_ratio_for_binary_outcomes(tmp_path, capsys):
    path = tmp_path / "data.csv"
    frame("binary").assign(arm=lambda d: np.where(d["treat"] == 1, "yes", "no")).to_csv(
        path, index=False)
    code = main(["trial", "analyse", str(path), "--outcome", "y", "--treatment", "arm",
                 "--treated", "yes", "--cluster", "team", "--covariates", "age",
                 "--family", "binomial", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["ratio"]["estimate"] == pytest.approx(math.exp(REF["binary"]["model"]["estimate"][1]),
                                                     rel=1e-4)


@pytest.mark.parametrize("argv,message", [
    (["--family", "gamma"], "--family='gamma' is not allowed; expected one of gaussian, binomial"),
    (["--family", "gaussian", "--block", "region"], "column 'region': no such column"),
    (["--family", "binomial"], "must be 0 or 1"),
    (["--family", "gaussian", "--exposure", "pretest"], "only with family poisson or negbin"),
])
def test_bad_analyse_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    path = tmp_path / "data.csv"
    frame("continuous").to_csv(path, index=False)
    code = main(["trial", "analyse", str(path), "--outcome", "y", "--treatment", "treat",
                 "--cluster", "school", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_outcomes_are_left_out_with_a_warning():
    d = frame("continuous")
    d.loc[[0, 5], "y"] = np.nan
    with pytest.warns(UserWarning, match="2 of 624 rows have a missing value in y"):
        res = analyse(d, outcome="y", treatment="treat", cluster="school", family="gaussian")
    assert res.n == 622 and res.n_excluded == 2


def test_a_treatment_column_with_three_arms_is_refused():
    d = frame("continuous").assign(arm=lambda d: d["school"] % 3)
    with pytest.raises(InputError, match="exactly two arms"):
        analyse(d, outcome="y", treatment="arm", cluster="school", family="gaussian")
    with pytest.raises(ParameterError, match="treated"):
        analyse(d.assign(arm=d["treat"].map({0: "c", 1: "t"})), outcome="y", treatment="arm",
                treated="x", cluster="school", family="gaussian")


def test_one_row_per_cluster_is_refused_for_gaussian_and_flagged_for_negbin():
    d = frame("swis").query("year == 1")
    with pytest.raises(InputError, match="every cluster has one row"):
        analyse(d.assign(y=np.log1p(d["s47"])), outcome="y", treatment="treat",
                cluster="school", family="gaussian")
    with pytest.warns(UserWarning, match="weakly identified"):
        analyse(d, outcome="s47", treatment="treat", cluster="school", exposure="pupils",
                family="negbin")


def test_a_numeric_arm_column_takes_treated_as_written():
    d = frame("continuous")
    one = analyse(d, outcome="y", treatment="treat", treated="1", cluster="school",
                  family="gaussian", unconditional=False)
    zero = analyse(d, outcome="y", treatment="treat", treated="0", cluster="school",
                   family="gaussian", unconditional=False)
    assert zero.estimate == pytest.approx(-one.estimate, rel=1e-6)


def test_cluster_ids_are_read_as_written_so_07_and_7_stay_two_clusters(tmp_path, capsys):
    data = frame("continuous")
    schools = sorted(data["school"].unique())
    # pairs of ids equal as numbers, different as written: '0' and '00', '1' and '01', ...
    codes = {c: ("0" if i % 2 else "") + str(i // 2) for i, c in enumerate(schools)}
    path = tmp_path / "data.csv"
    data.assign(school=data["school"].map(codes)).to_csv(path, index=False)
    code = main(["trial", "analyse", str(path), "--outcome", "y", "--treatment", "treat",
                 "--cluster", "school", "--family", "gaussian", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_clusters"] == len(schools)
