"""Extraction templates: data round-trips, validation naming entry and field, and the tables."""

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whatworks.errors import InputError, ParameterError
from whatworks.review.extraction import (
    TEMPLATES,
    ExtractionSheet,
    Field,
    Template,
    get_template,
)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_round_trip_as_json(name, tmp_path):
    t = TEMPLATES[name]
    p = tmp_path / "t.json"
    p.write_text(t.to_json())
    assert Template.from_json(p) == t
    assert list(t.blank().columns) == t.columns and t.columns[0] == "study_id"


def narrative_entries():
    return [
        {"study_id": "S1", "design": "randomised controlled trial", "intervention": "FGC",
         "outcome_domain": "re-referral", "direction_of_effect": "favours intervention",
         "sample_size": "412"},
        {"study_id": "S2", "design": "quasi-experimental", "intervention": "FGC",
         "outcome_domain": "re-referral", "direction_of_effect": "no clear difference"},
        {"study_id": "S2", "design": "quasi-experimental", "intervention": "FGC",
         "outcome_domain": "entry to care", "direction_of_effect": "favours intervention"},
    ]


def test_narrative_direction_table():
    sheet = ExtractionSheet.from_entries(get_template("narrative_synthesis"), narrative_entries())
    assert sheet.entries[0]["sample_size"] == 412
    table = sheet.direction_table().set_index("outcome_domain")
    assert table.loc["re-referral", "favours intervention"] == 1
    assert table.loc["re-referral", "no clear difference"] == 1
    assert table.loc["re-referral", "studies"] == "S1, S2"
    assert table.loc["entry to care", "favours comparator"] == 0


def test_validation_names_entry_and_field():
    t = get_template("narrative_synthesis")
    bad = narrative_entries()
    bad[1]["direction_of_effect"] = "positive"
    with pytest.raises(InputError, match=r"row 2, column 'direction_of_effect': 'positive' is not one of"):
        ExtractionSheet.from_entries(t, bad)
    bad = narrative_entries()
    bad[0]["sample_size"] = "about 400"
    with pytest.raises(InputError, match=r"row 1, column 'sample_size': 'about 400' is not a number"):
        ExtractionSheet.from_entries(t, bad)
    bad = narrative_entries()
    del bad[2]["intervention"]
    with pytest.raises(InputError, match=r"row 3, column 'intervention': Intervention is required"):
        ExtractionSheet.from_entries(t, bad)
    with pytest.raises(InputError, match=r"'colour' is not a field of this template"):
        ExtractionSheet.from_entries(t, [{**narrative_entries()[0], "colour": "red"}])


def test_thematic_theme_matrix():
    t = get_template("thematic_coding")
    rows = [
        {"study_id": "Q1", "finding_id": "1", "finding": "Parents felt heard", "analytical_theme": "voice"},
        {"study_id": "Q1", "finding_id": "2", "finding": "They chose the venue", "analytical_theme": "voice"},
        {"study_id": "Q2", "finding_id": "1", "finding": "Workers lacked time",
         "descriptive_theme": "workload", "methodological_limitations": "minor concerns"},
    ]
    m = ExtractionSheet.from_entries(t, rows).theme_matrix().set_index("theme")
    assert m.loc["voice", "Q1"] == 2 and m.loc["voice", "Q2"] == 0
    assert m.loc["voice", "studies"] == 1 and m.loc["workload", "findings"] == 1


def test_realist_cmo_table_and_exports(tmp_path):
    t = get_template("realist_cmo")
    rows = [{"study_id": "R1", "cmo_id": "1", "programme_theory": "ownership",
             "context": "families with extended kin", "mechanism_resource": "a private family time",
             "mechanism_response": "families feel the plan is theirs", "outcome": "plans are kept",
             "theory_test": "supports"}]
    sheet = ExtractionSheet.from_entries(t, rows)
    table = sheet.cmo_table()
    assert table.loc[0, "configuration"] == ("C: families with extended kin + M: a private family time "
                                             "-> families feel the plan is theirs => O: plans are kept")
    sheet.to_csv(tmp_path / "cmo.csv")
    again = ExtractionSheet.from_frame(t, pd.read_csv(tmp_path / "cmo.csv", dtype=str))
    assert again.entries == sheet.entries
    sheet.to_xlsx(tmp_path / "cmo.xlsx")
    assert list(pd.read_excel(tmp_path / "cmo.xlsx", sheet_name="fields")["name"]) == t.columns
    json.dumps(sheet.to_dict())
    with pytest.raises(ParameterError, match="template"):
        sheet.direction_table()


def test_a_team_template_from_data():
    t = Template.from_dict({"name": "costs", "fields": [
        {"name": "study_id", "required": True},
        {"name": "cost_per_family", "kind": "number", "minimum": 0},
        {"name": "perspective", "kind": "multi_choice", "choices": ["local authority", "NHS"]}]})
    s = ExtractionSheet.from_entries(t, [{"study_id": "S1", "cost_per_family": "1,250",
                                          "perspective": "local authority; NHS"}])
    assert s.entries[0]["cost_per_family"] == 1250.0
    assert s.to_frame().loc[0, "perspective"] == "local authority; NHS"
    with pytest.raises(ParameterError, match="study_id"):
        Template.from_dict({"name": "x", "fields": [{"name": "a"}]})
    with pytest.raises(ParameterError, match="kind"):
        Field("a", "A", kind="colour")


@given(st.lists(st.fixed_dictionaries({
    "study_id": st.text(min_size=1, max_size=5).filter(str.strip),
    "sample_size": st.one_of(st.none(), st.integers(0, 10_000)),
    "direction_of_effect": st.sampled_from(TEMPLATES["narrative_synthesis"].field(
        "direction_of_effect").choices),
    "outcome_domain": st.sampled_from(["a", "b"]), "intervention": st.just("x"),
    "design": st.just("cohort")}), max_size=8))
def test_direction_table_counts_every_entry_once(entries):
    sheet = ExtractionSheet.from_entries(get_template("narrative_synthesis"), entries)
    table = sheet.direction_table()
    choices = TEMPLATES["narrative_synthesis"].field("direction_of_effect").choices
    assert int(table[list(choices)].to_numpy().sum()) == len(entries)
