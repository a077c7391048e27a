"""The outcomes framework: the National Framework's four outcomes plus workforce and system."""

import json

import pytest

from whatworks.errors import ParameterError
from whatworks.ratings import FRAMEWORK, Outcome, export_framework, get_outcome

NATIONAL_FRAMEWORK = [
    "Children, young people and families stay together and get the help they need",
    "Children are supported by their family network",
    "Children are safe in and outside of their homes",
    "Children in care and care leavers have stable, loving homes",
]


def test_the_domains_are_the_national_frameworks_four_outcomes_then_workforce_and_system():
    names = [d.name for d in FRAMEWORK.domains]
    assert names[:4] == NATIONAL_FRAMEWORK
    assert [d.slug for d in FRAMEWORK.domains[4:]] == ["workforce", "system"]


@pytest.mark.parametrize("slug,direction", [
    ("entry-to-care", "decrease"), ("re-entry-to-care", "decrease"), ("reunification", "increase"),
    ("days-in-care", "decrease"), ("placement-stability", "increase"),
    ("kinship-placement", "increase"), ("section-47-enquiries", "decrease"),
    ("section-17-assessments", "decrease"), ("child-protection-plans", "decrease"),
    ("re-referrals", "decrease"), ("family-functioning", "increase"),
    ("parental-empowerment", "increase"), ("family-satisfaction", "increase"),
    ("school-attendance", "increase"), ("attainment", "increase"),
    ("social-worker-distress", "decrease"), ("sickness-absence", "decrease"),
    ("staff-turnover", "decrease"),
])
def test_every_outcome_the_field_measures_is_there_with_its_better_direction(slug, direction):
    outcome = get_outcome(slug)
    assert outcome.direction == direction
    assert outcome.measures and outcome.description


def test_workforce_outcomes_are_counted_in_social_workers():
    assert {o.unit for o in FRAMEWORK.domains[4].outcomes} == {"social workers"}


def test_the_export_is_flat_json_ready_and_consistent():
    data = json.loads(json.dumps(export_framework()))
    assert (data["framework_id"], data["version"]) == ("whatworks-outcomes", "1.0")
    domains = {d["slug"] for d in data["domains"]}
    slugs = [o["slug"] for o in data["outcomes"]]
    assert len(slugs) == len(set(slugs)) == len(FRAMEWORK.outcomes)
    assert all(o["domain"] in domains for o in data["outcomes"])
    assert [o["order"] for o in data["outcomes"]] == list(range(len(slugs)))
    assert set(data["outcomes"][0]) == {"slug", "name", "description", "direction", "measures",
                                        "domain", "unit", "order"}
    assert Outcome.from_dict(data["outcomes"][0]) == FRAMEWORK.outcomes[0]


def test_an_unknown_outcome_lists_the_known_ones():
    with pytest.raises(ParameterError, match="entry-to-care"):
        get_outcome("happiness")


def test_an_outcome_needs_a_better_direction_and_a_slug():
    with pytest.raises(ParameterError, match="direction"):
        Outcome("x", "X", "", "sideways", ())
    with pytest.raises(ParameterError, match="slug"):
        Outcome("Entry to care", "X", "", "decrease", ())


def test_outcome_names_read_mid_sentence():
    assert get_outcome("entry-to-care").phrase == "entry to care"
    assert Outcome("cp", "CP plans", "", "decrease", ()).phrase == "CP plans"
