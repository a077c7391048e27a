"""Multiple imputation: Rubin's rules against mice, and the imputations' behaviour by simulation."""

import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference
from whatworks.errors import InputError
from whatworks.trials.analyse import analyse
from whatworks.trials.imputation import delta_sensitivity, multiple_imputation, rubin

MI = load_reference("trials_mi.json")
TRIALS = load_reference("trials.json")


@pytest.mark.parametrize("case", MI["cases"])
def test_rubins_rules_match_mice_pool_scalar(case):
    dfcom = math.inf if case["dfcom"] == "Inf" else case["dfcom"]
    p = rubin(case["Q"], case["U"], df_complete=dfcom)
    # closed forms: agreement to rounding
    for ours, ref in ((p.estimate, "qbar"), (p.within, "ubar"), (p.between, "b"), (p.total, "t"),
                      (p.df, "df"), (p.riv, "r"), (p.fmi, "fmi")):
        assert ours == pytest.approx(case[ref], rel=1e-10), ref


def small_trial(missing=0.2, seed=1):
    d = pd.DataFrame(TRIALS["continuous"]["data"])
    rng = np.random.default_rng(seed)
    d.loc[rng.uniform(size=len(d)) < missing, "y"] = np.nan
    return d


KW = dict(outcome="y", treatment="treat", cluster="school", block="stratum",
          covariates=["pretest"])


def test_without_missing_outcomes_every_imputation_is_the_complete_analysis():
    d = pd.DataFrame(TRIALS["continuous"]["data"])
    res = multiple_imputation(d, m=2, seed=1, **KW)
    full = analyse(d, family="gaussian", unconditional=False, **KW)
    assert full.icc is None and full.effect_size is None
    assert res.n_missing == 0 and res.pooled.between == 0
    assert res.pooled.estimate == pytest.approx(full.estimate, rel=1e-12)
    assert res.pooled.se == pytest.approx(full.se, rel=1e-12)


def test_imputations_are_reproducible_from_the_seed_and_vary_between_draws():
    d = small_trial()
    a = multiple_imputation(d, m=3, seed=5, **KW)
    b = multiple_imputation(d, m=3, seed=5, **KW)
    assert a.estimates == b.estimates and len(set(a.estimates)) == 3 and a.n_missing > 0
    assert a.pooled.se > min(a.ses)     # the between-imputation variance adds uncertainty


def test_under_mcar_the_pooled_effect_is_close_to_the_complete_data_effect():
    full = analyse(pd.DataFrame(TRIALS["continuous"]["data"]), family="gaussian", **KW)
    res = multiple_imputation(small_trial(0.2), m=5, seed=3, **KW)
    # 20% MCAR: the pooled estimate stays within one complete-data SE of the full-data estimate
    # (a loose bound: imputation noise and the lost information are each a fraction of an SE)
    assert abs(res.pooled.estimate - full.estimate) < full.se


def test_a_delta_on_the_treated_arm_shifts_the_effect_by_about_delta_times_its_missing_share():
    d = small_trial(0.3, seed=2)
    table = delta_sensitivity(d, deltas=[0.0, 0.5], m=3, seed=4, **KW)
    shift = table["estimate"].iloc[1] - table["estimate"].iloc[0]
    share = d.loc[d["treat"] == 1, "y"].isna().mean()
    # same seed, so the imputations differ only by +0.5 in the treated arm; the mixed model's
    # weighting makes the shift close to, not exactly, 0.5 x the treated arm's missing share
    assert shift == pytest.approx(0.5 * share, rel=0.25)


def test_missing_covariates_are_refused():
    d = small_trial()
    d.loc[0, "pretest"] = np.nan
    with pytest.raises(InputError, match="column 'pretest'.*only the outcome is imputed"):
        multiple_imputation(d, m=2, seed=1, **KW)


def test_the_cli_pools_imputations_for_each_delta(tmp_path, capsys):
    import json

    from whatworks.cli import main

    path = tmp_path / "d.csv"
    small_trial(0.2).to_csv(path, index=False)
    code = main(["trial", "impute", str(path), "--outcome", "y", "--treatment", "treat",
                 "--cluster", "school", "--m", "2", "--seed", "3", "--delta", "0", "1",
                 "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["delta"] for r in out] == [0.0, 1.0]
    assert out[1]["estimate"] > out[0]["estimate"]
    code = main(["trial", "impute", str(path), "--outcome", "y", "--treatment", "treat",
                 "--cluster", "school", "--seed", "3", "--delta-arm", "all"])
    assert code == 2 and "--delta-arm='all' is not allowed" in capsys.readouterr().err
