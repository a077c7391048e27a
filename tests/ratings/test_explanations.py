"""Plain-English explanations, exact for a few fixtures (numbers on the natural scale, Cochrane's
words for I², thousands separators, Unicode minus signs)."""

import pytest

from tests.ratings.builders import meta_inputs, rate, smd, study
from whatworks.ratings import DEFAULT_SCHEME, RatingInputs, SynthesisNumbers
from whatworks.ratings._text import number

# Intensive family preservation services: the pooled child-level relative risk of placement at
# 12 months, RR 0.60 (95% CI 0.48 to 0.76), is from Bezeczky Z, El-Banna A, Petrou S, et al. (2020),
# Child Abuse & Neglect 102:104394 (a review of 33 studies). The number of studies pooled (12), the
# 3,400 children, I² and the prediction interval are illustrative (the Evidence Store issue's own
# example), and so are the twelve studies' facts below.
IFPS_STUDIES = tuple(
    study(f"S{i + 1}", n=n, direction="decrease", significant=sig, design=design, rob=rob)
    for i, (n, sig, design, rob) in enumerate([
        (400, True, "rct", "low"), (350, True, "rct", "moderate"), (300, False, "rct", "low"),
        (300, True, "qed", "moderate"), (250, True, "rct", "low"), (250, False, "qed", "high"),
        (300, True, "rct", "low"), (250, False, "rct", "moderate"), (250, True, "qed", "moderate"),
        (250, True, "rct", "low"), (250, False, "qed", "high"), (250, True, "rct", "low")]))
IFPS_12_MONTHS = SynthesisNumbers.from_natural_scale(
    "RR", 12, 0.60, 0.48, 0.76, pi_lower=0.31, pi_upper=1.17, i2=71.0, n_participants=3400)


def test_the_intensive_family_preservation_explanation_reads_as_published():
    r = rate(RatingInputs("entry-to-care", IFPS_STUDIES, IFPS_12_MONTHS, review_amstar2="moderate"))
    assert r.effectiveness_explanation == (
        "Tends positive: pooled relative risk 0.60 (95% CI 0.48 to 0.76) across 12 studies and "
        "3,400 children; substantial heterogeneity (I² = 71%). The confidence interval excludes no "
        "effect in the better direction (a decrease in entry to care is better), but the 95% "
        "prediction interval (0.31 to 1.17) includes no effect.")
    assert r.strength_explanation == (
        "Strength of evidence moderate to high: starts at high (69% of the 3,400 children were in "
        "randomised controlled trials); down 1 for inconsistency (I² = 71%, substantial; the "
        "prediction interval includes no effect).")
    assert r.explanation == f"{r.effectiveness_explanation} {r.strength_explanation}"


@pytest.mark.parametrize("months,rr,lo,hi", [
    (3, 0.57, 0.35, 0.93), (6, 0.51, 0.27, 0.96), (12, 0.60, 0.48, 0.76), (24, 0.51, 0.30, 0.87)])
def test_each_published_follow_up_shows_on_the_natural_scale(months, rr, lo, hi):
    # Bezeczky et al. (2020), child-level relative risk of placement at each follow-up.
    syn = SynthesisNumbers.from_natural_scale("RR", 5, rr, lo, hi)
    r = rate(RatingInputs("entry-to-care", IFPS_STUDIES[:5], syn))
    assert r.effectiveness_explanation.startswith(
        f"Tends positive: pooled relative risk {rr:.2f} (95% CI {lo:.2f} to {hi:.2f}) across 5 "
        "studies and 1,600 children.")


def test_a_negative_standardised_mean_difference_uses_minus_signs():
    r = rate(meta_inputs(smd(-0.25, -0.40, -0.10, pi=(-0.62, 0.12), i2=55.4, k=4), n=1250))
    assert r.effectiveness_explanation == (
        "Tends negative: pooled standardised mean difference \u22120.25 (95% CI \u22120.40 to "
        "\u22120.10) across 4 studies and 5,000 families; substantial heterogeneity (I² = 55%). The "
        "confidence interval excludes no effect in the worse direction (an increase in family "
        "functioning is better), but the 95% prediction interval (\u22120.62 to 0.12) includes no "
        "effect.")


def test_evidence_of_no_effect_says_which_effects_it_rules_out():
    r = rate(meta_inputs(smd(0.02, -0.05, 0.09, pi=(-0.06, 0.10), i2=0.0)))
    assert r.explanation == (
        "Evidence of no effect: pooled standardised mean difference 0.02 (95% CI \u22120.05 to "
        "0.09) across 5 studies and 1,500 families; low heterogeneity (I² = 0%). The confidence "
        "interval includes no effect and rules out effects larger than the smallest important "
        "effect (standardised mean difference \u22120.10 to 0.10); strength of evidence is high. "
        "Strength of evidence high: starts at high (100% of the 1,500 families were in randomised "
        "controlled trials); no downgrades.")


def test_a_vote_count_explains_the_counts_of_studies_and_participants():
    facts = [study("A", n=1200, direction="decrease"),
             study("B", n=800, direction="increase", significant=False),
             study("C", n=1500, direction="decrease", design="cluster-rct", rob="moderate")]
    r = rate(RatingInputs("section-47-enquiries", facts))
    assert r.explanation == (
        "Tends positive: no meta-analysis was possible; of 3 studies with 3,500 children, 2 (2,700 "
        "children) found a statistically significant decrease in section 47 enquiries (better), 0 "
        "(0) a statistically significant increase (worse) and 1 (800) neither. A majority of both "
        "the studies and the children are in studies showing a benefit. Strength of evidence high: "
        "starts at high (100% of the 3,500 children were in randomised controlled trials or "
        "cluster randomised trials); no downgrades.")


def test_no_evidence_is_explained_distinctly():
    r = rate(RatingInputs("kinship-placement", [study(design="pre-post")]))
    assert r.explanation == (
        "No evidence: no study of an eligible design (randomised controlled trial, cluster "
        "randomised trial or quasi-experimental design with a comparison group) has measured "
        "kinship placement yet. Not rated: 1 study of another design. Strength of evidence no "
        "or very low: there is no rigorous study to rate.")


def test_a_single_large_null_trial_is_evidence_of_no_effect():
    facts = [study("FGC", n=4000, design="cluster-rct", estimate=0.01, ci_lower=-0.05,
                   ci_upper=0.07)]
    r = rate(RatingInputs("care-proceedings", facts, measure="RR"))
    assert r.effectiveness_explanation == (
        "Evidence of no effect: no meta-analysis was possible; a single study with 4,000 children "
        "found no effect larger than the smallest important effect. Its confidence interval rules "
        "out effects larger than the smallest important effect (relative risk 0.91 to 1.10), and "
        "strength of evidence is moderate to high.")


@pytest.mark.parametrize("i2,word", [
    (0.0, "low"), (29.9, "low"), (30.0, "moderate"), (49.9, "moderate"), (50.0, "substantial"),
    (74.9, "substantial"), (75.0, "considerable"), (100.0, "considerable")])
def test_i2_words_follow_the_cochrane_handbook(i2, word):
    assert DEFAULT_SCHEME.parameters.i2_word(i2) == word
    r = rate(meta_inputs(smd(0.3, 0.2, 0.4, pi=(0.05, 0.55), i2=i2)))
    assert f"{word} heterogeneity" in r.explanation


@pytest.mark.parametrize("x,ratio,text", [
    (0.0, False, "0.00"), (-0.0001, False, "\u22120.0001"), (-0.001, False, "\u22120.001"),
    (-1e-9, False, "\u22121e-09"), (1.234, False, "1.23"), (0.0, True, "1.00"),
    (-0.6931471805599453, True, "0.50")])
def test_numbers_are_formatted_for_reading(x, ratio, text):
    assert number(x, ratio=ratio) == text
