"""GLMs and the multilevel model (whatworks.places.models, .multilevel) against R's glm,
MASS::glm.nb and lme4::glmer (tests/reference/make_places.R -> places.json)."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from tests.places.svg import svg_text
from whatworks.errors import InputError, ParameterError
from whatworks.places import load_panel
from whatworks.places.boundaries import current_code
from whatworks.places.models import expected_rates, fit_counts, rate_model
from whatworks.places.multilevel import _Problem, multilevel_model

REF = load_reference("places.json")


@pytest.fixture(scope="module")
def panel():
    return load_panel()


@pytest.fixture(scope="module")
def data():
    d = REF["la2023"]
    return pd.DataFrame({"code": d["code"], "count": vec(d["count"]),
                         "population": vec(d["population"]), "region": d["region"],
                         "imd10": vec(d["imd_score"]) / 10})


def _design(data, region=True):
    cols = [np.ones(len(data)), data["imd10"].to_numpy()]
    names = ["intercept", "imd10"]
    if region:
        for level in sorted(data["region"].unique())[1:]:  # R's treatment contrasts
            cols.append((data["region"] == level).to_numpy(float))
            names.append(level)
    return np.column_stack(cols), names


@pytest.mark.parametrize("family, key, region", [("poisson", "poisson", True),
                                                 ("negbin", "negbin", True),
                                                 ("negbin", "negbin_deprivation", False)])
def test_glm_coefficients_match_r(data, family, key, region):
    # IRLS to a relative deviance change of 1e-12 in both (theta by a 1-d optimiser here, by
    # alternation in glm.nb): 1e-6 relative
    ref = REF[key]
    X, names = _design(data, region)
    fit = fit_counts(data["count"], data["population"], X, names, family=family)
    np.testing.assert_allclose(fit.estimate, vec(ref["coef"]), rtol=1e-6)
    np.testing.assert_allclose(fit.se, vec(ref["se"]), rtol=1e-6)
    np.testing.assert_allclose(fit.fitted, vec(ref["fitted"]), rtol=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-9)
    assert fit.aic == pytest.approx(ref["aic"], rel=1e-9)
    assert fit.deviance == pytest.approx(ref["deviance"], rel=1e-6)
    assert fit.df_resid == ref["df_resid"]
    if family == "negbin":
        assert fit.theta == pytest.approx(ref["theta"], rel=1e-6)
        assert fit.theta_se == pytest.approx(ref["theta_se"], rel=1e-5)


def test_the_panel_model_names_terms_and_reports_rate_ratios(panel):
    fit = rate_model(panel, year=2023, family="negbin")
    frame = fit.to_frame()
    assert frame["term"].tolist()[:3] == ["intercept", "imd_score_per_10",
                                          "region: East of England"]
    assert fit.reference_region == "East Midlands"
    np.testing.assert_allclose(frame["rate_ratio"], np.exp(frame["estimate"]))
    assert (frame["rr_ci_lower"] < frame["rate_ratio"]).all()
    # same numbers as R on R's own reading of the files
    np.testing.assert_allclose(fit.estimate, vec(REF["negbin"]["coef"]), rtol=1e-6)
    assert "Negative binomial" in repr(fit) and fit.to_dict()["coefficients"][1]["term"] == \
        "imd_score_per_10"


def test_another_reference_region_changes_only_the_contrasts(panel):
    a = rate_model(panel, year=2023, family="poisson")
    b = rate_model(panel, year=2023, family="poisson", reference_region="London")
    assert b.terms[2] == "region: East Midlands"
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    np.testing.assert_allclose(a.fitted, b.fitted, rtol=1e-8)


def test_each_authority_is_set_against_the_rate_expected_for_its_deprivation(panel):
    res = expected_rates(panel, year=2023)
    frame = res.to_frame()
    assert len(frame) == 152
    ref = pd.Series(vec(REF["negbin_deprivation"]["fitted"]),
                    index=[current_code(c) for c in REF["la2023"]["code"]])
    np.testing.assert_allclose(res.expected, ref[list(res.codes)], rtol=1e-6)
    assert (frame["pi_lower"] <= frame["expected"]).all()
    assert (frame["expected"] <= frame["pi_upper"]).all()
    outside = frame[frame["flag"] != "within"]
    assert ((outside["count"] > outside["pi_upper"]) | (outside["count"] < outside["pi_lower"])).all()


def test_the_deprivation_chart_marks_the_chosen_authority(panel, tmp_path):
    from whatworks.synthesis.plots import save_figure

    res = expected_rates(panel, year=2023)
    fig = res.plot_deprivation(highlight="E08000037")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts][0] == "Gateshead"
    assert ax.get_xlabel().startswith("IMD 2019 average score")
    # issue 10: a legend for every colour, a title with the year, the source
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    flags = set(res.flag)
    words = {"above": "more than expected", "below": "fewer than expected", "within": "as expected"}
    for flag in flags:
        n = list(res.flag).count(flag)
        assert any(t.startswith(words[flag]) and f"{n} authorities" in t for t in legend)
    assert "expected given deprivation" in legend and "Gateshead" in legend
    text = svg_text(save_figure(fig, tmp_path / "dep.svg").read_bytes())
    assert "against deprivation, 2023" in text and "(152 authorities)" in text
    assert "Source: Department for Education" in text and "Indices of Deprivation 2019" in text


def test_a_bad_family_or_reference_region_is_named(panel):
    with pytest.raises(ParameterError, match="family='zip'"):
        rate_model(panel, year=2023, family="zip")
    with pytest.raises(ParameterError, match="reference_region='Wales'"):
        rate_model(panel, year=2023, reference_region="Wales")


def test_a_year_without_populations_is_refused_with_the_reason(panel):
    with pytest.raises(InputError, match="populations exist for 2010 and 2019"):
        rate_model(panel, year=2015)


def test_the_multilevel_model_matches_lme4(panel):
    # both maximise the same Laplace approximation; lme4's bobyqa stopped at rhoend 1e-12 and
    # ours by Newton steps: 1e-5 relative on the estimates
    ref = REF["glmer"]
    fit = multilevel_model(panel, year=2023)
    np.testing.assert_allclose(fit.estimate, vec(ref["fixef"]), rtol=1e-5)
    assert fit.sd_region == pytest.approx(ref["sd_region"], rel=1e-5)
    assert fit.sd_authority == pytest.approx(ref["sd_authority"], rel=1e-5)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    assert fit.aic == pytest.approx(ref["aic"], rel=1e-8)
    assert list(fit.regions) == ref["region_names"]
    np.testing.assert_allclose(fit.region_effect, vec(ref["region_effects"]), rtol=1e-4,
                               atol=1e-6)
    # the conditional standard errors are a closed form at the estimates
    np.testing.assert_allclose(fit.se_conditional, vec(ref["se_conditional"]), rtol=1e-5)
    # the Hessian-based ones come from finite differences in both (steps 1e-4): 1e-3
    np.testing.assert_allclose(fit.se, vec(ref["se"]), rtol=1e-3)


def test_the_laplace_deviance_at_lme4s_estimates_is_lme4s(data):
    # a closed-form check independent of either optimiser: same objective at the same point
    ref = REF["glmer"]
    regions, index = np.unique(data["region"], return_inverse=True)
    X, _ = _design(data, region=False)
    prob = _Problem(data["count"].to_numpy(), X, np.log(data["population"].to_numpy()), index,
                    len(regions))
    params = np.concatenate([[ref["sd_region"], ref["sd_authority"]], vec(ref["fixef"])])
    assert -prob.deviance(params) / 2 == pytest.approx(ref["loglik"], rel=1e-10)


def test_the_multilevel_result_describes_itself(panel):
    fit = multilevel_model(panel, year=2023)
    assert 0 < fit.region_share < 1
    assert "authorities within regions" in repr(fit)
    out = fit.to_dict()
    assert {c["term"] for c in out["coefficients"]} == {"intercept", "imd_score_per_10"}
    assert len(out["regions"]) == 9
    frame = fit.authorities()
    np.testing.assert_allclose(frame["ratio"], frame["count"] / frame["expected"])
