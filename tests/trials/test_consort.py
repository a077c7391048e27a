"""CONSORT: the 2025 checklist and cluster extension as data, which items a record answers, and the
flow diagram's numbers (checked in the SVG text) and consistency rules."""

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError
from whatworks.trials.consort import (
    CLUSTER_EXTENSION,
    CONSORT_2025,
    allocated_counts,
    checklist,
    flow_from_dict,
    flow_from_record,
    flow_svg,
)
from whatworks.trials.record import load_record, record_from_dict

DEMO = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme/swis-trial.json"
ARMS = [("intervention", "Intervention"), ("control", "Control")]


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_the_checklist_has_the_30_numbered_items_of_consort_2025():
    numbers = {re.match(r"\d+", it.item).group() for it in CONSORT_2025}
    assert numbers == {str(i) for i in range(1, 31)}
    assert len(CONSORT_2025) == 42  # with their lettered parts
    assert len({it.item for it in CONSORT_2025 + CLUSTER_EXTENSION}) == 42 + len(CLUSTER_EXTENSION)
    # each cluster item is attached to an existing CONSORT 2025 item
    base = {it.item for it in CONSORT_2025}
    assert all(it.item.removesuffix("-cluster") in base for it in CLUSTER_EXTENSION)
    assert all(len(it.text) < 200 for it in CONSORT_2025 + CLUSTER_EXTENSION)  # paraphrases, not the text


def test_an_empty_record_answers_nothing_but_its_title_and_a_full_one_answers_more():
    bare = record_from_dict({"id": "t", "title": "A randomised trial"})
    c = checklist(bare)
    assert len(c.items) == 42 and [r["item"] for r in c.items if r["answered"]] == ["1a"]
    plain = record_from_dict({"id": "t", "title": "A trial"})
    assert checklist(plain).answered == 0
    rec = record_from_dict(
        {
            "id": "t",
            "title": "A trial",
            "funding": "The centre",
            "reporting": {"6": "Introduction, paragraph 2"},
        }
    )
    rows = {r["item"]: r for r in checklist(rec).items}
    assert rows["5a"]["by"] == "funding"
    assert rows["6"]["by"] == "reported: Introduction, paragraph 2"
    assert not rows["5b"]["answered"]


def test_the_demo_cluster_trial_is_checked_against_the_cluster_extension_too():
    rec = load_record(DEMO)
    c = checklist(rec)
    rows = {r["item"]: r for r in c.items}
    assert len(c.items) == 42 + len(CLUSTER_EXTENSION)
    assert rows["22a-cluster"]["answered"] and rows["26-cluster"]["by"] == "results"
    assert rows["17a"]["by"] == "randomisation.method + randomisation.seed"
    assert not rows["2"]["answered"]  # no registration in the demo record
    assert f"{c.answered} of {len(c.items)}" in c.summary_text()


def test_the_flow_diagram_shows_every_count_from_the_record():
    rec = load_record(DEMO)
    flow = flow_from_record(rec)
    texts = svg_texts(flow_svg(flow))
    assert flow.randomised("clusters") == 268
    assert texts[texts.index("Randomised") + 1].strip() == "n = 268 schools; n = 267,000 pupils"
    assert texts[texts.index("Assessed for eligibility") + 1].strip() == "n = 300 schools"
    i = texts.index("Allocated to social worker in school")
    assert texts[i + 1].strip() == "n = 134 schools; n = 134,000 pupils"
    assert "post not filled: 4" in [t.strip() for t in texts]
    assert [t for t in texts if t in ("Enrolment", "Allocation", "Follow-up", "Analysis")] == [
        "Enrolment",
        "Allocation",
        "Follow-up",
        "Analysis",
    ]
    assert texts.count("Analysed") == 2


def _flow(ni, nc, lost_i, lost_c, assessed_extra=5):
    return {
        "assessed": ni + nc + assessed_extra,
        "excluded": {"individuals": assessed_extra},
        "arms": {
            "intervention": {"allocated": ni, "lost": lost_i, "analysed": ni - lost_i, "excluded": lost_i},
            "control": {"allocated": nc, "lost": lost_c, "analysed": nc - lost_c, "excluded": lost_c},
        },
    }


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.data())
def test_consistent_counts_draw_and_show_each_arms_numbers(ni, nc, data):
    li, lc = data.draw(st.integers(0, ni)), data.draw(st.integers(0, nc))
    flow = flow_from_dict(_flow(ni, nc, li, lc), cluster=False, arms=ARMS)
    texts = [t.strip() for t in svg_texts(flow_svg(flow))]
    assert f"n = {ni + nc:,} participants" in texts
    assert f"n = {ni - li:,} participants" in texts and f"n = {nc - lc:,} participants" in texts
    assert f"n = {li:,} participants" in texts


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d.update(assessed=1000),
            r"assessed - 5 excluded = 995, but the arms' allocated individuals add up",
        ),
        (
            lambda d: d["arms"]["control"].update(analysed=99),
            r"control: analysed 99 \+ excluded from analysis 10",
        ),
        (
            lambda d: d["arms"]["control"].update(lost=101),
            r"control: lost 101 individuals is more than the 100",
        ),
        (lambda d: d["arms"]["control"].update(allocated=None), r"arm 'control' needs its 'allocated'"),
        (lambda d: d["arms"].update(placebo={"allocated": 3}), r"arm\(s\) \['placebo'\]"),
        (
            lambda d: d.update(excluded={"individuals": 5, "reasons": {"declined": 9}}),
            r"reasons add up to 9, more than the 5",
        ),
        (lambda d: d["arms"]["control"].update(allocated=-1), r"whole number >= 0, got -1"),
    ],
)
def test_inconsistent_counts_are_refused_naming_the_sum(change, message):
    d = copy.deepcopy(_flow(50, 100, 0, 10))
    change(d)
    with pytest.raises(InputError, match=message):
        flow_from_dict(d, cluster=False, arms=ARMS, source="trial.json")


def test_allocated_counts_come_from_an_allocation_table():
    rows = [
        {"school": f"s{i}", "arm": "intervention" if i % 2 else "control", "pupils": 10 + i} for i in range(6)
    ]
    assert allocated_counts(rows, cluster="school", size="pupils") == {
        "control": {"clusters": 3, "individuals": 10 + 12 + 14},
        "intervention": {"clusters": 3, "individuals": 11 + 13 + 15},
    }
    pupils = [
        {"school": "a", "arm": "control"},
        {"school": "a", "arm": "control"},
        {"school": "b", "arm": "intervention"},
    ]
    assert allocated_counts(pupils, cluster="school") == {
        "control": {"clusters": 1, "individuals": 2},
        "intervention": {"clusters": 1, "individuals": 1},
    }
    with pytest.raises(InputError, match="no column 'la'"):
        allocated_counts(rows, cluster="la")


def test_the_analysis_plan_hash_is_computed_and_checked(tmp_path):
    rec = load_record(DEMO)
    h = rec.analysis_plan_hash()
    assert h["computed"] == h["recorded"] and len(h["sha256"]) == 64
    (tmp_path / "sap.md").write_text("changed plan")
    data = json.loads(DEMO.read_text())
    data["analysis_plan"]["path"] = "sap.md"
    f = tmp_path / "t.json"
    f.write_text(json.dumps(data))
    with pytest.raises(InputError, match="the plan changed after it was registered"):
        load_record(f).analysis_plan_hash()


def test_bad_records_name_the_field():
    with pytest.raises(InputError, match="'title' is required"):
        record_from_dict({"id": "x"}, source="t.json")
    with pytest.raises(InputError, match="at least two arms"):
        record_from_dict({"id": "x", "title": "y", "arms": ["a"]})
    with pytest.raises(InputError, match="has no 'flow'"):
        flow_from_record(record_from_dict({"id": "x", "title": "y"}))


def test_three_arms_get_three_columns():
    arms = [("a", "Arm A"), ("b", "Arm B"), ("c", "Arm C")]
    d = {"arms": {k: {"allocated": 10 + i, "analysed": 9 + i} for i, (k, _) in enumerate(arms)}}
    flow = flow_from_dict(d, cluster=False, arms=arms)
    svg = flow_svg(flow)
    texts = [t.strip() for t in svg_texts(svg)]
    assert [t for t in texts if t.startswith("Allocated to")] == ["Allocated to Arm A", "Allocated to Arm B",
                                                                   "Allocated to Arm C"]
    assert "n = 33 participants" in texts  # randomised
    assert texts.count("Analysed") == 3


def test_the_flow_diagram_is_painted_without_inline_styles():
    """No <style> element or style attribute (a page's Content-Security-Policy without inline
    styles would refuse them, leaving black boxes): boxes, stage labels and lines carry their
    paint as presentation attributes, and text takes the root's fill."""
    root = ET.fromstring(flow_svg(flow_from_record(load_record(DEMO))))
    ns = "{http://www.w3.org/2000/svg}"
    assert not list(root.iter(f"{ns}style"))
    assert all("style" not in e.attrib for e in root.iter())
    assert root.get("fill") == "#111"
    rects = list(root.iter(f"{ns}rect"))
    assert rects and all(r.get("fill") for r in rects)
    assert all(r.get("stroke") == "#333" for r in rects if r.get("class") == "box")
    lines = list(root.iter(f"{ns}line"))
    assert lines and all(li.get("stroke") == "#333" for li in lines)
