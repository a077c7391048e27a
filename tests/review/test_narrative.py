"""Synthesis without meta-analysis (``whatworks review effect-direction``): the sign test against R,
the effect direction plot's 70% rule, the promises of the sentences over generated sheets, and the
command end to end, with its refusals."""

import csv
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.review.conftest import assert_one_line_naming, write_csv
from whatworks.cli import main
from whatworks.errors import ParameterError
from whatworks.review.extraction import ExtractionSheet, get_template
from whatworks.review.narrative import (
    DIRECTIONS,
    format_p,
    sign_test,
    study_direction,
    summarise_estimates,
    vote_count,
)

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "reference" / "narrative.json")
                       .read_text())
FI, FC, NC, MX, UN = DIRECTIONS


def _run(capsys, *argv):
    code = main(["review", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


# ---- the statistics, against R (tests/reference/make_narrative.R)

@pytest.mark.parametrize("case", REFERENCE["quantiles"], ids=lambda c: str(len(c["values"])))
def test_the_summary_of_estimates_agrees_with_r(case):
    e = summarise_estimates(case["values"], "OR")
    assert (e.q1, e.median, e.q3, e.minimum, e.maximum) == pytest.approx(
        (case["q1"], case["median"], case["q3"], case["min"], case["max"]), rel=1e-12)
    assert e.studies == len(case["values"])


@pytest.mark.parametrize("case", REFERENCE["sign_test"],
                         ids=lambda c: f"{c['favouring']}of{c['n']}@{c['confidence']}")
def test_the_sign_test_and_wilson_interval_agree_with_r(case):
    t = sign_test(case["favouring"], case["n"], case["confidence"])
    assert t.p_value == pytest.approx(case["p_value"], rel=1e-10, abs=1e-12)
    assert t.ci_low == pytest.approx(case["ci_low"], rel=1e-9, abs=1e-12)
    assert t.ci_high == pytest.approx(case["ci_high"], rel=1e-9, abs=1e-12)
    assert t.proportion == case["favouring"] / case["n"]


def test_nothing_to_test_and_bad_arguments():
    assert sign_test(0, 0) is None
    with pytest.raises(ParameterError, match="favouring"):
        sign_test(3, 2)
    with pytest.raises(ParameterError, match="confidence"):
        sign_test(1, 2, confidence=95)
    with pytest.raises(ParameterError, match="share"):
        vote_count([], share=0.5)
    with pytest.raises(ParameterError, match="finite effect estimates"):
        summarise_estimates([1.0, float("nan")], "OR")


# ---- a study's direction in a domain: the effect direction plot's 70% rule

@pytest.mark.parametrize("directions, expected", [
    ([FI], FI),
    ([FI, FI, FC], MX),                     # 67%: below 70%
    ([FI] * 7 + [FC] * 3, FI),              # 70% exactly
    ([FC] * 7 + [NC] * 2 + [FI], FC),
    ([FI, FI, UN], FI),                     # unclear outcomes are not counted
    ([UN, UN], UN),
    ([NC, NC, NC], NC),
    ([FI, FC, NC], MX),
    ([MX], MX),
])
def test_a_studys_direction_is_the_one_seventy_percent_of_its_outcomes_share(directions, expected):
    assert study_direction(directions) == expected


@given(st.lists(st.sampled_from(DIRECTIONS), min_size=1, max_size=20))
def test_the_seventy_percent_rule_over_any_outcomes(directions):
    got = study_direction(directions)
    known = [d for d in directions if d != UN]
    if not known:
        assert got == UN
    elif got != MX:
        assert known.count(got) / len(known) >= 0.7 - 1e-12
    else:  # mixed: no direction (mixed aside) reaches 70%
        assert all(known.count(d) / len(known) < 0.7 - 1e-12 for d in (FI, FC, NC))


# ---- the table's promises, over generated sheets

ENTRY = st.fixed_dictionaries({
    "study_id": st.sampled_from(["S1", "S2", "S3", "S4", "S5", "S6"]),
    "design": st.just("randomised controlled trial"),
    "intervention": st.just("FGC"),
    "outcome_domain": st.sampled_from(["entry to care", "re-referral", "wellbeing"]),
    "direction_of_effect": st.sampled_from(DIRECTIONS),
    "sample_size": st.one_of(st.none(), st.integers(0, 1000)),
    "risk_of_bias": st.sampled_from([None, "low", "some concerns", "high", "not assessed"]),
    "grouping": st.sampled_from([None, None, "family support"]),
    "effect_metric": st.sampled_from([None, "OR", "SMD"]),
    "effect_estimate": st.one_of(st.none(), st.floats(-3, 3, allow_nan=False)),
})


def _percent(x):
    return f"{100 * x:.0f}%"


@settings(max_examples=300, deadline=None)
@given(st.lists(ENTRY, min_size=1, max_size=30))
def test_every_study_counts_once_per_domain_and_each_sentence_states_its_numbers(entries):
    sheet = ExtractionSheet.from_entries(get_template("narrative_synthesis"), entries)
    votes = vote_count(sheet.entries)
    cells = {(e["grouping"], e["outcome_domain"]) for e in entries}
    assert {(v.grouping, v.outcome_domain) for v in votes} == cells
    for v in votes:
        rows = [e for e in entries if (e["grouping"], e["outcome_domain"]) == (v.grouping,
                                                                             v.outcome_domain)]
        # every study with an outcome in the domain, once, in the direction its outcomes give
        assert [s.study_id for s in v.studies] == list(dict.fromkeys(e["study_id"] for e in rows))
        for s in v.studies:
            mine = [e for e in rows if e["study_id"] == s.study_id]
            assert s.direction == study_direction(e["direction_of_effect"] for e in mine)
            assert sum(s.outcomes.values()) == len(mine)
            sizes = [e["sample_size"] for e in mine if e["sample_size"] is not None]
            assert s.sample_size == (max(sizes) if sizes else None)
        c = v.counts
        assert sum(c.values()) == len(v.studies)
        d = v.to_dict()
        assert d["with_direction"] == c[FI] + c[FC]
        text = v.sentence()
        rest = c[NC] + c[MX] + c[UN]
        if c[FI] + c[FC] == 0:
            assert d["sign_test_p"] is None and "no sign test" in text
        else:
            t = v.test
            assert t.favouring == c[FI] and t.n == c[FI] + c[FC]
            assert 0 <= t.ci_low <= t.proportion <= t.ci_high <= 1 and 0 < t.p_value <= 1
            assert f"{c[FI]} of {t.n} stud" in text
            assert f"({_percent(t.proportion)}, 95% CI {_percent(t.ci_low)} to " \
                   f"{_percent(t.ci_high)}; sign test {format_p(t.p_value)})" in text
            # the test is symmetric: the comparator's count gives the same p, the mirrored interval
            u = sign_test(c[FC], t.n)
            assert u.p_value == pytest.approx(t.p_value)
            assert (u.ci_low, u.ci_high) == pytest.approx((1 - t.ci_high, 1 - t.ci_low))
        assert (f"{rest} stud" in text and "not in the sign test" in text) == (rest > 0)
        event(f"with direction: {min(c[FI] + c[FC], 3)}")
        # the estimates: one per study and metric (its median), summarised per metric
        given = [e for e in rows if e["effect_estimate"] is not None]
        metrics = list(dict.fromkeys(e["effect_metric"] or "(metric not given)" for e in given))
        assert [x.metric for x in v.estimates] == metrics
        for x in v.estimates:
            mine = [e for e in given if (e["effect_metric"] or "(metric not given)") == x.metric]
            assert x.studies == len({e["study_id"] for e in mine})
            values = [e["effect_estimate"] for e in mine]
            assert min(values) - 1e-9 <= x.minimum <= x.q1 <= x.median <= x.q3 <= x.maximum \
                <= max(values) + 1e-9
            assert f"{v.name}, {x.metric} ({x.studies} stud" in x.sentence(v.name)


def test_the_p_value_words():
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0312) == "p = 0.0312"
    assert format_p(0.375) == "p = 0.38"
    assert format_p(1.0) == "p = 1.00"
    assert not math.isnan(sign_test(5, 5).p_value)


# ---- the command

HEADER = ["study_id", "design", "intervention", "outcome_domain", "outcome_measure",
          "direction_of_effect", "sample_size", "risk_of_bias", "grouping", "effect_metric",
          "effect_estimate"]
ROWS = [
    ["S1", "randomised controlled trial", "FGC", "entry to care", "entered care 12m",
     "favours intervention", "420", "low", "", "OR", "0.62"],
    ["S1", "randomised controlled trial", "FGC", "re-referral", "re-referral", "no clear difference",
     "420", "low", "", "", ""],
    ["S2", "cluster randomised trial", "FGC", "entry to care", "entered care 6m",
     "favours intervention", "120", "some concerns", "", "OR", "0.80"],
    ["S2", "cluster randomised trial", "FGC", "entry to care", "entered care 12m",
     "favours intervention", "120", "some concerns", "", "OR", "0.70"],
    ["S2", "cluster randomised trial", "FGC", "entry to care", "days in care", "favours comparator",
     "120", "high", "", "MD", "1.5"],
    ["S3", "quasi-experimental", "FGC", "entry to care", "entered care", "favours intervention", "40",
     "high", "", "OR", "0.55"],
    ["S4", "cohort", "FGC", "entry to care", "entered care", "favours comparator", "900",
     "some concerns", "", "OR", "1.30"],
    ["S4", "cohort", "FGC", "re-referral", "re-referral", "favours intervention", "900",
     "some concerns", "", "", ""],
    ["S5", "randomised controlled trial", "FGC", "entry to care", "entered care",
     "favours intervention", "75", "low", "", "", ""],
]


def test_the_command_counts_tests_and_draws(tmp_path, capsys):
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, ROWS)
    plot = tmp_path / "edp.svg"
    code, out, err = _run(capsys, "effect-direction", sheet, "--format", "json", "--plot", plot)
    assert code == 0, err
    result = json.loads(out)
    assert "sign test" in result["method"] and "not how large" in result["method"]
    care, rereferral = result["domains"]
    # S2's three outcomes in the domain: two for, one against (67%): mixed
    assert {s["study_id"]: s["direction"] for s in care["per_study"]} == {
        "S1": FI, "S2": MX, "S3": FI, "S4": FC, "S5": FI}
    assert care["per_study"][1]["risk_of_bias"] == "high"  # the most serious of its outcomes'
    assert care["per_study"][1]["size_band"] == "medium"
    assert (care["favours_intervention"], care["favours_comparator"], care["mixed"]) == (3, 1, 1)
    assert care["sign_test_p"] == pytest.approx(0.625)  # binom.test(3, 4)
    assert care["sentence"].startswith("entry to care: 3 of 4 studies with a clear direction "
                                       "favour the intervention (75%, 95% CI 30% to 95%; "
                                       "sign test p = 0.62); 1 study")
    assert rereferral["with_direction"] == 1 and rereferral["no_clear_difference"] == 1
    # ORs: S1 0.62, S2 the median of 0.80 and 0.70 (0.75), S3 0.55, S4 1.30; S2's MD alone
    odds, md = care["estimates"]
    assert (odds["metric"], odds["studies"], odds["median"], odds["min"], odds["max"]) == \
        ("OR", 4, pytest.approx(0.685), 0.55, 1.30)
    assert odds["q1"] == pytest.approx(0.6025) and odds["q3"] == pytest.approx(0.8875)
    assert odds["sentence"] == ("entry to care, OR (4 studies): median 0.685 (interquartile range "
                                "0.603 to 0.887; range 0.55 to 1.3).")
    assert (md["metric"], md["studies"], md["median"]) == ("MD", 1, 1.5)
    assert rereferral["estimates"] == []
    svg = plot.read_text()
    assert svg.lstrip().startswith("<?xml") and "Effect direction plot" in svg

    code, out, _ = _run(capsys, "effect-direction", sheet, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["outcome_domain"] for r in table] == ["entry to care", "re-referral"]
    assert table[0]["favours_intervention"] == "3" and "per_study" not in table[0]
    code, out, _ = _run(capsys, "effect-direction", sheet)
    assert code == 0 and "S2: mixed (2 favours intervention, 1 favours comparator)" in out
    assert "entry to care, MD (1 study): 1.5." in out
    assert "method: Vote counting based on the direction of effect" in out


@pytest.mark.parametrize("rows, fragment", [
    ([["S1", "randomised controlled trial", "FGC", "care", "", "positive", "", "", ""]],
     "row 1, column 'direction_of_effect'"),
    ([["S1", "randomised controlled trial", "FGC", "care", "", "favours intervention", "many", "",
       ""]], "column 'sample_size'"),
    ([], "no entries after the header"),
])
def test_bad_sheets_exit_2_naming_the_file_row_and_field(tmp_path, capsys, rows, fragment):
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, rows)
    code, _, err = _run(capsys, "effect-direction", sheet)
    assert code == 2 and fragment in err and str(sheet) in err and len(err.strip().splitlines()) == 1


def test_a_plot_into_a_missing_folder_is_refused_before_any_work(tmp_path, capsys):
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, ROWS)
    code, _, err = _run(capsys, "effect-direction", sheet, "--plot", tmp_path / "no" / "p.svg")
    assert code == 2 and "no" in err and len(err.strip().splitlines()) == 1


CELLS = st.one_of(st.sampled_from(["", "S1", "S2", "care", "favours intervention",
                                   "favours comparator", "mixed", "unclear", "12", "-3", "low",
                                   "randomised controlled trial", "FGC"]), st.text(max_size=5))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(header=st.lists(st.sampled_from(HEADER + ["colour"]), min_size=1, max_size=8, unique=True),
       rows=st.lists(st.lists(CELLS, min_size=1, max_size=8), max_size=5))
def test_any_table_gives_the_votes_or_one_line_naming_the_file(tmp_path_factory, capsys, header, rows):
    sheet = write_csv(tmp_path_factory.mktemp("fuzz") / "s.csv", header, rows)
    code, out, err = _run(capsys, "effect-direction", sheet, "--format", "json")
    event("votes" if code == 0 else "refused")
    if code == 0:
        for d in json.loads(out)["domains"]:
            assert d["studies"] == sum(d[k.replace(" ", "_")] for k in DIRECTIONS)
    else:
        assert_one_line_naming(code, err, sheet)


# ---- joined up: risk of bias from the review's RoB 2 table

def _rob2_table(tmp_path, rows):
    from whatworks.review.appraisal import QUESTIONS

    low = {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y", "3.1": "Y",
           "4.1": "N", "4.2": "N", "4.3": "N", "5.1": "Y", "5.2": "N", "5.3": "N"}
    header = ["study_id", "result", *QUESTIONS["assignment"]]
    return write_csv(tmp_path / "rob2.csv", header,
                     [[study, result, *({**low, **changes}.get(q, "") for q in QUESTIONS["assignment"])]
                      for study, result, changes in rows])


def test_risk_of_bias_comes_from_the_rob2_table(tmp_path, capsys):
    rows = [r[:7] + [""] + r[8:] for r in ROWS]  # the sheet's own risk of bias left blank
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, rows)
    rob = _rob2_table(tmp_path, [("S1", "entered care 12m", {}),
                                 ("S4", "entered care", {"1.2": "NI", "1.3": "Y"}),
                                 ("S4", "re-referral", {"5.1": "NI"})])
    code, out, err = _run(capsys, "effect-direction", sheet, "--rob2", rob, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    care, rereferral = result["domains"]
    risk = {s["study_id"]: s["risk_of_bias"] for s in care["per_study"]}
    assert risk == {"S1": "low", "S2": None, "S3": None, "S4": "high", "S5": None}
    assert {s["study_id"]: s["risk_of_bias"] for s in rereferral["per_study"]} == {
        "S1": "low", "S4": "some concerns"}
    # S1's one assessment is of entry to care: using it for re-referral is said, not hidden
    assert result["notes"] == ["row 2 (S1, re-referral): RoB 2 of 'entered care 12m', the study's "
                               "only assessment"]


@pytest.mark.parametrize("rob_rows, fragment", [
    ([("S1", "entered care 12m", {"1.2": "N"})],
     "row 1, column 'risk_of_bias': the sheet says 'low' but RoB 2 judges study 'S1' 'high'"),
    ([("S4", "days", {}), ("S4", "other", {})],
     "row 7, column 'risk_of_bias': study 'S4' has several RoB 2 results ('days', 'other') and none"),
])
def test_a_sheet_that_disagrees_with_rob2_is_refused_by_row(tmp_path, capsys, rob_rows, fragment):
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, ROWS)
    rob = _rob2_table(tmp_path, rob_rows)
    code, _, err = _run(capsys, "effect-direction", sheet, "--rob2", rob)
    assert code == 2 and fragment in err and str(sheet) in err, err


def test_a_bad_rob2_table_is_named_not_the_sheet(tmp_path, capsys):
    sheet = write_csv(tmp_path / "sheet.csv", HEADER, ROWS)
    rob = _rob2_table(tmp_path, [("S1", "entered care 12m", {"1.2": "NI", "1.3": ""})])
    code, _, err = _run(capsys, "effect-direction", sheet, "--rob2", rob)
    assert code == 2 and f"{rob}, column '1.3': line 2: S1: D1: question 1.3" in err, err
    assert str(sheet) not in err
