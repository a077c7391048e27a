"""The Evidence Store's demo content (src/whatworks/data/store/interventions.json) is well formed.

Checks the structure the store's loader relies on: required fields and their types, unique slugs
and study keys, outcome slugs that exist in the outcomes framework, illustrative flags, and
reported statistics that ``whatworks.effects.escalc`` turns into finite effects. The format is
described in src/whatworks/data/store/README.md.
"""

import json
import math
import re
from collections import defaultdict
from importlib import resources

import numpy as np
import pytest

from whatworks.effects import MEASURES, escalc
from whatworks.ratings.framework import FRAMEWORK
from whatworks.ratings.inputs import normalise_amstar2, normalise_design, normalise_risk_of_bias
from whatworks.synthesis import meta_analysis

STORE = resources.files("whatworks") / "data" / "store" / "interventions.json"

INTERVENTION_FIELDS = {
    "slug": str, "name": str, "aliases": list, "summary": str, "what_it_is": str, "how_it_works": str,
    "who_it_is_for": str, "population": list, "setting": list, "where_studied": list,
    "uk_evidence": bool, "implementation": dict, "cost": dict, "caveats": str,
    "review": (dict, type(None)), "studies": list, "findings": list,
}
IMPLEMENTATION_FIELDS = ("who_delivers", "training_and_supervision", "fidelity", "what_supports_it")
STUDY_FIELDS = ("key", "citation", "year", "design", "country", "sample_size",
                "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                "illustrative")
FINDING_FIELDS = ("study", "outcome", "timepoint_months", "measure", "reported", "yi", "vi",
                  "illustrative", "notes")
DESIGNS = {"rct", "cluster-rct", "qed", "cohort", "pre-post"}
UNITS = {"child", "family", "school", "local authority", "social worker", None}
RISK_OF_BIAS = {"low", "some concerns", "high"}
SOURCES = {"review", "trial", "manual"}
AMSTAR2 = {"high", "moderate", "low", "critically low"}
SETTINGS = {"home", "school", "court", "local authority", "community"}
POPULATIONS = {
    "children in need", "children on child protection plans", "families at risk of care "
    "proceedings", "children in care", "care leavers", "social workers", "foster carers",
    "kinship carers", "adolescents", "infants and young children", "young parents",
    "parents who misuse substances", "mothers who have had children removed",
}
RATED_DESIGNS = {"rct", "cluster-rct", "qed"}


@pytest.fixture(scope="module")
def store():
    with STORE.open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def interventions(store):
    return store["interventions"]


def all_studies(interventions):
    return [(i["slug"], s) for i in interventions for s in i["studies"]]


def all_findings(interventions):
    return [(i["slug"], f) for i in interventions for f in i["findings"]]


def effect(finding):
    """(yi, vi) of a finding: from its reported statistics via escalc, or as given."""
    if finding["reported"] is not None:
        columns = {name: [value] for name, value in finding["reported"].items()}
        es = escalc(finding["measure"], **columns)
        return float(es["yi"].iloc[0]), float(es["vi"].iloc[0])
    return finding["yi"], finding["vi"]


def test_the_file_is_versioned_and_small(store):
    assert store["version"] == 1
    assert set(store) == {"version", "interventions"}
    # the brief: keep the demo content under about 1 MB
    assert len(STORE.read_bytes()) < 1_000_000


def test_it_holds_at_least_32_interventions_with_unique_slugs(interventions):
    slugs = [i["slug"] for i in interventions]
    assert len(slugs) >= 32
    assert len(slugs) == len(set(slugs))
    for slug in slugs:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug


def test_every_intervention_has_the_required_fields(interventions):
    for i in interventions:
        # evidence_gap is optional (absent = False), as in the store's import format
        assert set(i) - {"evidence_gap"} == set(INTERVENTION_FIELDS), i["slug"]
        assert isinstance(i.get("evidence_gap", False), bool), i["slug"]
        for name, kind in INTERVENTION_FIELDS.items():
            assert isinstance(i[name], kind), (i["slug"], name)
        assert all(isinstance(a, str) and a.strip() for a in i["aliases"]), i["slug"]
        for name in ("name", "summary", "what_it_is", "how_it_works", "who_it_is_for", "caveats"):
            assert i[name].strip(), (i["slug"], name)
        assert set(i["implementation"]) == set(IMPLEMENTATION_FIELDS), i["slug"]
        assert all(isinstance(v, str) and v.strip() for v in i["implementation"].values())
        assert set(i["cost"]) == {"unit_cost_gbp", "cost_notes"}, i["slug"]
        gbp = i["cost"]["unit_cost_gbp"]
        assert gbp is None or (isinstance(gbp, (int, float)) and gbp > 0), i["slug"]


def test_summaries_are_two_to_four_sentences(interventions):
    for i in interventions:
        sentences = len(re.findall(r"[.!?](?:\s|$)", i["summary"]))
        assert 2 <= sentences <= 4, (i["slug"], sentences)


def test_tags_come_from_the_documented_vocabularies(interventions):
    for i in interventions:
        assert i["population"] and set(i["population"]) <= POPULATIONS, i["slug"]
        assert i["setting"] and set(i["setting"]) <= SETTINGS, i["slug"]


def test_where_studied_and_uk_evidence_follow_the_studies(interventions):
    uk = {"England", "Wales", "Scotland", "Northern Ireland"}
    for i in interventions:
        countries = {s["country"] for s in i["studies"]}
        assert set(i["where_studied"]) == countries, i["slug"]
        with_comparison = {s["country"] for s in i["studies"] if s["design"] in RATED_DESIGNS}
        assert i["uk_evidence"] == bool(with_comparison & uk), i["slug"]


def test_reviews_have_a_citation_year_and_amstar2_rating(interventions):
    for i in interventions:
        r = i["review"]
        if r is None:
            continue
        assert set(r) == {"key", "citation", "year", "amstar2", "url"}, i["slug"]
        assert r["citation"].strip() and isinstance(r["year"], int)
        assert r["amstar2"] in AMSTAR2, i["slug"]
        assert r["url"] is None or r["url"].startswith("https://doi.org/10."), i["slug"]


def test_reviews_shared_by_interventions_are_identical(interventions):
    by_key = defaultdict(list)
    for i in interventions:
        if i["review"] is not None:
            by_key[i["review"]["key"]].append(i["review"])
    for key, copies in by_key.items():
        assert all(c == copies[0] for c in copies), key


def test_studies_have_the_required_fields_and_allowed_values(interventions):
    for slug, s in all_studies(interventions):
        assert set(s) == set(STUDY_FIELDS), (slug, s.get("key"))
        assert s["citation"].strip() and isinstance(s["year"], int) and 1950 < s["year"] < 2030
        assert s["design"] in DESIGNS, (slug, s["key"])
        assert s["unit_of_randomisation"] in UNITS, (slug, s["key"])
        assert s["risk_of_bias"] in RISK_OF_BIAS, (slug, s["key"])
        assert s["source"] in SOURCES, (slug, s["key"])
        assert isinstance(s["sample_size"], int) and s["sample_size"] >= 1, (slug, s["key"])
        assert s["follow_up_months"] is None or s["follow_up_months"] > 0, (slug, s["key"])
        assert isinstance(s["illustrative"], bool), (slug, s["key"])


def test_designs_risk_of_bias_and_amstar2_are_understood_by_the_ratings(interventions):
    # the rating rules read these fields; each must map onto the rating scheme's own names
    for _slug, s in all_studies(interventions):
        normalise_design(s["design"])
        normalise_risk_of_bias(s["risk_of_bias"])
    for i in interventions:
        if i["review"] is not None:
            normalise_amstar2(i["review"]["amstar2"])


def test_randomised_studies_say_what_was_randomised(interventions):
    for slug, s in all_studies(interventions):
        if s["design"] in ("rct", "cluster-rct"):
            assert s["unit_of_randomisation"] is not None, (slug, s["key"])


def test_study_keys_are_unique_across_the_file(interventions):
    keys = [s["key"] for _, s in all_studies(interventions)]
    assert len(keys) == len(set(keys))


def test_every_finding_names_a_study_of_its_own_intervention(interventions):
    for i in interventions:
        own = {s["key"] for s in i["studies"]}
        for f in i["findings"]:
            assert f["study"] in own, (i["slug"], f["study"])


def test_every_finding_outcome_is_in_the_outcomes_framework(interventions):
    slugs = {o.slug for o in FRAMEWORK.outcomes}
    for slug, f in all_findings(interventions):
        assert f["outcome"] in slugs, (slug, f["study"], f["outcome"])


def test_findings_have_the_required_fields_and_an_illustrative_flag(interventions):
    for slug, f in all_findings(interventions):
        assert set(f) == set(FINDING_FIELDS), (slug, f.get("study"))
        assert isinstance(f["illustrative"], bool), (slug, f["study"])
        assert isinstance(f["notes"], str), (slug, f["study"])
        assert f["timepoint_months"] > 0, (slug, f["study"])
        assert f["measure"] in MEASURES, (slug, f["study"], f["measure"])


def test_each_finding_gives_either_reported_statistics_or_an_effect(interventions):
    for slug, f in all_findings(interventions):
        if f["reported"] is not None:
            assert f["yi"] is None and f["vi"] is None, (slug, f["study"])
            assert f["reported"] and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         for v in f["reported"].values()), (slug, f["study"])
        else:
            assert f["yi"] is not None and f["vi"] is not None, (slug, f["study"])
            # an effect given directly is a pooled or adjusted published figure: notes say so
            assert f["notes"].strip(), (slug, f["study"])


def test_reported_statistics_give_finite_effects_with_escalc(interventions):
    for slug, f in all_findings(interventions):
        yi, vi = effect(f)
        assert math.isfinite(yi) and math.isfinite(vi) and vi > 0, (slug, f["study"], yi, vi)


def test_findings_for_one_intervention_and_outcome_share_a_measure(interventions):
    # the synthesis pools an intervention x outcome, which needs one effect-size measure
    for i in interventions:
        measures = defaultdict(set)
        for f in i["findings"]:
            measures[f["outcome"]].add(f["measure"])
        for outcome, used in measures.items():
            assert len(used) == 1, (i["slug"], outcome, used)


def test_made_up_numbers_are_flagged_illustrative(interventions):
    # an invented study can only carry invented numbers
    by_key = {s["key"]: s for _, s in all_studies(interventions)}
    for slug, f in all_findings(interventions):
        if by_key[f["study"]]["illustrative"]:
            assert f["illustrative"], (slug, f["study"])
    for slug, s in all_studies(interventions):
        if s["illustrative"]:
            assert "illustrative" in s["citation"].lower(), (slug, s["key"])


def test_the_demo_covers_no_evidence_single_studies_and_meta_analyses(interventions):
    rated_studies = []
    for i in interventions:
        rated = {s["key"] for s in i["studies"] if s["design"] in RATED_DESIGNS}
        rated_studies.append(len(rated & {f["study"] for f in i["findings"]}))
    assert rated_studies.count(0) >= 2      # "no evidence"
    assert rated_studies.count(1) >= 3      # the vote rule
    assert sum(n >= 2 for n in rated_studies) >= 10  # a meta-analysis is possible


def test_the_fgc_trial_counts_reproduce_the_published_percentages(interventions):
    fgc = next(i for i in interventions if i["slug"] == "family-group-conferences")
    published = {"entry-to-care": (36.2, 44.8), "care-proceedings": (59.2, 71.7)}
    for f in fgc["findings"]:
        if f["study"] == "fgc-taylor2023":
            r = f["reported"]
            # counts were derived from percentages given to one decimal place
            assert 100 * r["ai"] / r["n1i"] == pytest.approx(published[f["outcome"]][0], abs=0.05)
            assert 100 * r["ci"] / r["n2i"] == pytest.approx(published[f["outcome"]][1], abs=0.05)


def test_the_ifps_demo_data_reproduce_the_reviews_pooled_relative_risks(interventions):
    # Bezeczky et al. (2020): RR (95% CI) of placement at 3, 6, 12 and 24 months, to 2 decimals
    pooled = {3: (0.57, 0.35, 0.93), 6: (0.51, 0.27, 0.96), 12: (0.60, 0.48, 0.76),
              24: (0.51, 0.30, 0.87)}
    ifps = next(i for i in interventions if i["slug"] == "intensive-family-preservation-services")
    for months, expected in pooled.items():
        rows = [f for f in ifps["findings"] if f["timepoint_months"] == months]
        effects = np.array([effect(f) for f in rows])
        fit = meta_analysis(effects[:, 0], effects[:, 1], method="REML")
        got = np.round(np.exp([fit.estimate, fit.ci_lower, fit.ci_upper]), 2)
        assert tuple(got) == expected, months
