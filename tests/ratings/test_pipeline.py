"""The evidence pipeline (findings table -> rating): the defects of 1.0 and their fixes in 2.0.

Each case is one of issue 8's examples: version 1.0 still gives the old (wrong) answer, so stored
ratings stay reproducible, and 2.0 gives the answer its labels promise.
"""

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from whatworks.errors import InputError, ParameterError
from whatworks.ratings import rate_evidence

V1, V2 = "whatworks-2026@1.0", "whatworks-2026@2.0"
Z = 1.959963984540054


def ratio_row(study, rr, lo, hi, *, design="rct", n=400, rob="low", measure="RR", **rest):
    se = (math.log(hi) - math.log(lo)) / (2 * Z)
    return dict(study=study, design=design, n=n, risk_of_bias=rob, measure=measure,
                yi=math.log(rr), vi=se ** 2, **rest)


def table(*rows):
    return pd.DataFrame(list(rows))


def test_a_pre_post_study_no_longer_drives_the_rating_of_an_rct():
    rows = table(ratio_row("RCT", 0.85, 0.70, 1.03, n=400),
                 ratio_row("PrePost", 0.75, 0.70, 0.80, design="pre-post", n=3000))
    old = rate_evidence(rows, direction="decrease", scheme=V1)
    assert (old.rating.effectiveness, old.rating.strength_label) == (2, "High")
    assert "across 2 studies and 400 children" in old.rating.explanation
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    alone = rate_evidence(rows.iloc[:1], direction="decrease", scheme=V2)
    assert new.rating.effectiveness == alone.rating.effectiveness == 0
    assert (new.k, new.participants) == (1, 400)
    used = {s.study: s for s in new.studies}
    assert (used["RCT"].used, used["PrePost"].used) == (True, False)
    assert "not rated" in used["PrePost"].reason


def test_two_studies_are_never_consistently_positive_under_2_0():
    rows = table(ratio_row("A", 0.70, 0.60, 0.82), ratio_row("B", 0.72, 0.62, 0.84))
    assert rate_evidence(rows, direction="decrease", scheme=V1).rating.effectiveness == 2
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert new.rating.effectiveness == 1
    assert "cannot show that it is consistent" in new.rating.explanation


def forty_heterogeneous_nulls():
    yi = np.linspace(-0.3, 0.3, 40)
    return table(*[dict(study=f"S{i:02d}", design="rct", n=500, risk_of_bias="low", measure="SMD",
                        yi=y, vi=0.002) for i, y in enumerate(yi)])


def test_heterogeneous_nulls_are_not_evidence_of_no_effect_under_2_0():
    rows = forty_heterogeneous_nulls()
    old = rate_evidence(rows, direction="increase", scheme=V1)
    assert old.rating.effectiveness_code == "no-effect"
    new = rate_evidence(rows, direction="increase", scheme=V2)
    assert new.rating.effectiveness_code == "unclear-or-mixed"
    assert new.synthesis["i2"] > 90 and new.synthesis["pi_upper"] > 0.1
    assert "prediction interval" in new.rating.effectiveness_explanation


def test_a_single_imprecise_rct_is_downgraded_for_imprecision_under_2_0():
    rows = table(ratio_row("A", 0.80, 0.48, 1.34, n=600))
    assert rate_evidence(rows, direction="decrease", scheme=V1).rating.strength_label == \
        "Moderate to high"
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert new.rating.strength_label == "Moderate"
    assert "includes both an important benefit and an important harm" in new.rating.explanation


def test_a_vote_count_explanation_never_claims_opposite_effects_it_did_not_count():
    from whatworks.ratings import RatingInputs, StudyFacts, rate

    # a significant but unimportant increase (RR within 0.91-1.10) and a significant decrease
    facts = (StudyFacts("A", "rct", 5000, "low", estimate=math.log(1.05), ci_lower=math.log(1.02),
                        ci_upper=math.log(1.08)),
             StudyFacts("B", "rct", 300, "low", estimate=math.log(0.70), ci_lower=math.log(0.55),
                        ci_upper=math.log(0.89)))
    inputs = RatingInputs("entry-to-care", facts, measure="RR")
    old = rate(inputs, V1)
    assert "0 (0) a statistically significant increase" in old.explanation
    assert "opposite directions" in old.explanation               # the contradiction of 1.0
    new = rate(inputs, V2)
    assert "0 (0) a statistically significant increase" in new.explanation
    assert "inconsistency" not in new.explanation


def test_several_effects_from_one_study_are_pooled_and_the_study_counts_once():
    rows = table(ratio_row("A", 0.70, 0.55, 0.89, n=300, es_id="a1"),
                 ratio_row("A", 0.75, 0.60, 0.94, n=300, es_id="a2"),
                 ratio_row("B", 0.80, 0.66, 0.97, n=500, es_id="b1"),
                 ratio_row("C", 0.78, 0.62, 0.98, n=200, es_id="c1"),
                 ratio_row("C", 0.90, 0.70, 1.16, n=200, es_id="c2"))
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert (new.k, new.participants) == (3, 1000)
    assert new.synthesis["method"] == "REML CHE (rho = 0.6) + CR2"
    assert (new.synthesis["k"], new.synthesis["effects"]) == (3, 5)
    assert "across 3 studies and 1,000 children" in new.rating.explanation
    old = rate_evidence(rows, direction="decrease", scheme=V1)
    assert old.synthesis["effects"] == 3                             # 1.0 dropped two effects
    assert "dropped" in old.studies[0].reason


def test_the_dependent_fit_agrees_with_the_engine_it_wraps():
    from whatworks.ratings.pipeline import fit_dependent_effects
    from whatworks.synthesis.multilevel import multilevel
    from whatworks.synthesis.robust import robust

    rng = np.random.default_rng(3)
    study = np.repeat(np.arange(6), 3)
    vi = rng.uniform(0.01, 0.05, study.size)
    yi = 0.2 + rng.normal(0, 0.1, 6)[study] + rng.normal(0, np.sqrt(vi))
    fit = fit_dependent_effects(yi, vi, study=study)
    ref = robust(multilevel(yi, vi, study=study), adjust="CR2")
    assert fit.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert (fit.ci_lower, fit.ci_upper) == pytest.approx((ref.ci_lower, ref.ci_upper), rel=1e-12)
    assert fit.pi_lower < fit.ci_lower and fit.pi_upper > fit.ci_upper


def test_the_che_working_model_is_fitted_with_the_schemes_rho():
    from whatworks.ratings.pipeline import fit_dependent_effects
    from whatworks.synthesis.che import che

    rng = np.random.default_rng(5)
    study = np.repeat(np.arange(8), 3)
    vi = rng.uniform(0.01, 0.05, study.size)
    yi = 0.2 + rng.normal(0, 0.1, 8)[study] + rng.normal(0, np.sqrt(vi))
    fit = fit_dependent_effects(yi, vi, study=study, rho=0.6)
    ref = che(yi, vi, study=study, rho=0.6)
    assert fit.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert (fit.ci_lower, fit.ci_upper) == pytest.approx((ref.ci_lower, ref.ci_upper), rel=1e-12)
    assert fit.method == "REML CHE (rho = 0.6) + CR2"
    hierarchical = fit_dependent_effects(yi, vi, study=study, rho=0.0)
    assert hierarchical.estimate != pytest.approx(fit.estimate, rel=1e-6)  # rho is not ignored


def test_every_study_with_a_single_effect_uses_the_ordinary_model():
    rows = table(ratio_row("A", 0.70, 0.55, 0.89), ratio_row("B", 0.80, 0.66, 0.97),
                 ratio_row("C", 0.78, 0.62, 0.98))
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert (new.synthesis["method"], new.synthesis["test"]) == ("REML", "knha")


def test_a_model_that_cannot_be_fitted_is_reported_and_the_vote_is_used():
    rows = table(*[dict(study=s, design="rct", n=300, risk_of_bias="low", measure="SMD", yi=0.2,
                        vi=0.04) for s in "ABC"])
    new = rate_evidence(rows, direction="increase", scheme=V2)
    assert new.rating.path == "vote-count" and new.synthesis is None
    assert "No meta-analysis: the knha test is undefined for these 3 studies" in new.rating.explanation


def test_an_unknown_sample_size_is_reported_never_counted_as_one():
    rows = table(ratio_row("A", 0.70, 0.55, 0.89, n=300), ratio_row("B", 0.80, 0.66, 0.97, n=None))
    old = rate_evidence(rows, direction="decrease", scheme=V1)
    assert old.participants == 301                                   # the defect of 1.0
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert (new.participants, new.participants_unknown) == (300, 1)
    assert "1 study did not report its size" in new.rating.explanation
    assert "301" not in new.rating.explanation


def test_egger_test_feeds_the_publication_bias_downgrade_from_ten_studies():
    # small studies with large benefits, large studies with none: funnel asymmetry
    vi = np.array([0.005, 0.006, 0.01, 0.02, 0.04, 0.06, 0.09, 0.12, 0.16, 0.2, 0.25, 0.3])
    yi = -0.02 - 1.5 * np.sqrt(vi) + np.array([1, -1] * 6) * 0.01
    rows = table(*[dict(study=f"S{i}", design="rct", n=int(4 / v), risk_of_bias="low",
                        measure="SMD", yi=y, vi=v) for i, (y, v) in enumerate(zip(yi, vi, strict=True))])
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert new.small_study["suspected"] and new.small_study["p_value"] < 0.10
    assert "suspected publication bias (Egger's test p = " in new.rating.explanation
    old = rate_evidence(rows, direction="decrease", scheme=V1)
    assert old.small_study is None and "publication bias" not in old.rating.explanation


def test_the_time_point_nearest_twelve_months_is_used():
    rows = table(ratio_row("A", 0.50, 0.40, 0.62, months=3), ratio_row("A", 0.90, 0.70, 1.16, months=12),
                 ratio_row("A", 0.95, 0.70, 1.29, months=24))
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert "12 months" in new.studies[0].reason and "2 at other time points" in new.studies[0].reason
    assert new.rating.effectiveness == 0


def test_reported_statistics_stand_in_for_yi_and_vi():
    rows = pd.DataFrame([dict(study="A", design="rct", n=None, risk_of_bias="low", measure="RR",
                              ai=24, n1i=100, ci=40, n2i=100)])
    new = rate_evidence(rows, direction="decrease", scheme=V2)
    assert new.participants == 200                                   # from n1i + n2i
    assert "about 24 in 100 children with the intervention, against 40 in 100 without" in new.statement


@pytest.mark.parametrize("column, value, message", [
    ("design", "trial", "design 'trial' is not one of"),
    ("n", "0", "n=0 must be a whole number"),
    ("risk_of_bias", "dreadful", "risk_of_bias 'dreadful'"),
    ("measure", "XYZ", "measure 'XYZ' is not an effect-size measure"),
    ("vi", "-1", "vi=-1 must be greater than 0"),
])
def test_bad_cells_name_the_row_and_column(column, value, message):
    rows = table(ratio_row("A", 0.7, 0.5, 0.9), ratio_row("B", 0.8, 0.6, 1.0)).astype(object)
    rows.loc[1, column] = value
    with pytest.raises(InputError, match=message) as info:
        rate_evidence(rows, direction="decrease", file="f.csv")
    assert (info.value.file, info.value.row, info.value.column) == ("f.csv", 2, column)


def test_a_study_must_keep_its_design_across_rows():
    rows = table(ratio_row("A", 0.7, 0.5, 0.9), ratio_row("A", 0.8, 0.6, 1.0, design="qed"))
    with pytest.raises(InputError, match="study 'A' has design 'qed' here but 'rct' in row 1"):
        rate_evidence(rows, direction="decrease")


def test_the_direction_is_required_and_must_agree_with_the_outcome():
    rows = table(ratio_row("A", 0.7, 0.5, 0.9))
    with pytest.raises(ParameterError, match="direction"):
        rate_evidence(rows)
    with pytest.raises(ParameterError, match="'decrease' for entry-to-care"):
        rate_evidence(rows, outcome="entry-to-care", direction="increase")
    assert rate_evidence(rows, outcome="entry-to-care").rating.outcome == "entry-to-care"


def test_the_statement_uses_u3_and_months_progress_for_attainment():
    rows = table(*[dict(study=s, design="rct", n=400, risk_of_bias="low", measure="SMD", yi=y,
                        vi=0.01) for s, y in (("A", 0.25), ("B", 0.30), ("C", 0.28))])
    new = rate_evidence(rows, outcome="attainment", scheme=V2)
    u3 = round(100 * NormalDist().cdf(new.synthesis["estimate"]))
    assert f"did better than {u3}% of children without it" in new.statement
    assert 0.27 <= new.synthesis["estimate"] <= 0.35                       # EEF: 0.27-0.35 is 4
    assert "about 4 months of additional progress" in new.statement
    assert "For educational attainment, more is better, so this is better." in new.statement


def test_the_statement_reads_better_from_the_outcome_direction_for_a_decrease():
    rows = table(*[dict(study=s, design="rct", n=400, risk_of_bias="low", measure="SMD", yi=y,
                        vi=0.01) for s, y in (("A", -0.25), ("B", -0.30), ("C", -0.28))])
    new = rate_evidence(rows, outcome="days-in-care", scheme=V2)
    assert "did better than" in new.statement and "fewer is better, so this is better" in new.statement
    assert "positive" not in new.statement and "negative" not in new.statement


def test_months_progress_follows_the_eef_table():
    from whatworks.ratings.statement import months_progress

    assert [months_progress(x) for x in (0.0, 0.019, 0.02, 0.18, 0.19, 0.44, 0.45, 0.96, 1.5)] == [
        0, 0, 1, 2, 3, 5, 6, 12, 12]
    assert months_progress(-0.3) == -4
