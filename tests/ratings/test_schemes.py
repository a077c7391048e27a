"""Rating schemes are versioned data: thresholds are parameters, and ratings record the version."""

import dataclasses
import json
import re

import pytest

from tests.ratings.builders import meta_inputs, rate, smd
from whatworks.errors import ParameterError
from whatworks.ratings import DEFAULT_SCHEME, SCHEME_V1, SCHEME_V2, Scheme, SchemeParameters, schemes
from whatworks.ratings.schemes import get_scheme, list_schemes, register_scheme


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so a test's schemes do not leak into others."""
    monkeypatch.setattr(schemes, "_REGISTRY", dict(schemes._REGISTRY))
    return schemes._REGISTRY


def test_the_default_scheme_is_whatworks_2026_version_2_0_and_1_0_stays_available():
    assert (DEFAULT_SCHEME.scheme_id, DEFAULT_SCHEME.version) == ("whatworks-2026", "2.0")
    assert get_scheme() is DEFAULT_SCHEME is SCHEME_V2
    assert get_scheme("whatworks-2026", "1.0") is SCHEME_V1


def test_the_scales_have_five_points_and_two_distinct_zeros():
    values = [lv.value for lv in SCHEME_V1.effectiveness_levels]
    assert sorted(v for v in values if v is not None) == [-2, -1, 0, 0, 1, 2]
    codes = {lv.code for lv in SCHEME_V1.effectiveness_levels}
    assert {"no-evidence", "no-effect", "unclear-or-mixed"} <= codes
    assert [lv.label for lv in SCHEME_V1.strength_levels] == [
        "No or very low", "Low", "Moderate", "Moderate to high", "High"]
    assert all(lv.description for lv in SCHEME_V1.effectiveness_levels
               + SCHEME_V1.strength_levels)


def test_a_new_version_with_a_changed_threshold_changes_the_result_and_records_the_version(registry):
    inputs = meta_inputs(smd(0.30, 0.20, 0.40, k=12, tau2=0.03))   # P(better) = 0.952
    old = rate(inputs)
    stricter = register_scheme(SCHEME_V1.revise(
        "1.1", changes="Consistency by probability needs 97.5%.", consistent_probability=0.975))
    new = rate(inputs, stricter)
    assert (old.effectiveness, old.scheme_version) == (2, "1.0")
    assert (new.effectiveness, new.scheme_version) == (1, "1.1")
    assert get_scheme("whatworks-2026", "1.1") is stricter
    assert rate(inputs, "whatworks-2026@1.0") == old                  # old versions stay usable


def test_a_published_version_cannot_be_replaced(registry):
    changed = dataclasses.replace(SCHEME_V1, title="something else")
    with pytest.raises(ParameterError, match="published versions never change"):
        register_scheme(changed)
    register_scheme(SCHEME_V1)                                 # the same content is fine


def test_revise_refuses_unknown_parameters_and_the_same_version():
    with pytest.raises(ParameterError, match="scheme parameter"):
        SCHEME_V1.revise("1.1", changes="x", no_such_threshold=3)
    with pytest.raises(ParameterError, match="version"):
        SCHEME_V1.revise("1.0", changes="x")


@pytest.mark.parametrize("bad", [
    {"vote_basis": "votes"}, {"vote_majority": 1.0}, {"smallest_important_ratio": 0.9},
    {"i2_serious": 80.0}, {"imprecision_n_very_serious": 1000}, {"design_start": {"rct": 7}},
    {"amstar2_downgrade": {"high": 0}}, {"min_studies_meta": 0}, {"i2_words": ((50.0, "x"),)},
    {"smallest_important_difference": {"SMD": -1.0}}, {"no_effect_min_strength": 5},
])
def test_bad_parameters_are_refused_with_the_parameter_named(bad):
    name = next(iter(bad))
    with pytest.raises(ParameterError, match=re.escape(name)):
        SchemeParameters(**bad)


def test_unknown_schemes_and_versions_are_refused():
    with pytest.raises(ParameterError, match="scheme_id"):
        get_scheme("no-such-scheme")
    with pytest.raises(ParameterError, match="version"):
        get_scheme("whatworks-2026", "0.1")
    with pytest.raises(ParameterError, match="scheme"):
        rate(meta_inputs(smd(0.3, 0.2, 0.4)), scheme=42)


def test_a_scheme_round_trips_through_json():
    for scheme in (SCHEME_V1, SCHEME_V2):
        data = json.loads(json.dumps(scheme.to_dict()))
        assert Scheme.from_dict(data) == scheme


def test_version_2_0_states_its_pipeline_rules_with_their_parameters():
    text = " ".join(t for _, _, t in SCHEME_V2.describe_rules())
    assert "{" not in text and "}" not in text
    for shown in ("nearest 12 months", "rho = 0.6", "CR2", "at least 3 eligible studies",
                  "never gives +2", "Egger's regression test", "never as participants"):
        assert shown in text, shown


def test_a_rho_outside_0_to_1_is_refused_not_ignored():
    for rho in (1.0, -0.1, 1.5):
        with pytest.raises(ParameterError, match=f"rho={rho}"):
            SCHEME_V2.revise("2.1", changes="x", rho=rho)


def test_version_2_0_fits_the_che_working_model_with_rho_0_6():
    assert SCHEME_V2.parameters.rho == 0.6
    assert SCHEME_V2.parameters.dependent == "multilevel-cr2"


def test_every_rule_reads_with_its_thresholds_filled_in():
    rules = SCHEME_V1.describe_rules()
    assert {axis for _, axis, _ in rules} == {"effectiveness", "strength"}
    for _, _, text in rules:
        assert "{" not in text and "}" not in text
    text = " ".join(t for _, _, t in rules)
    for shown in ("10 studies", "90%", "0.91 and 1.10", "75%", "50%", "fewer than 400",
                  "fewer than 100", "critically low: down 2"):
        assert shown in text


def test_schemes_list_in_version_order(registry):
    register_scheme(SCHEME_V1.revise("1.10", changes="x"))
    register_scheme(SCHEME_V1.revise("1.9", changes="y"))
    versions = [s.version for s in list_schemes() if s.scheme_id == "whatworks-2026"]
    assert versions == ["1.0", "1.9", "1.10", "2.0"]
    assert get_scheme().version == "2.0"
