"""The programme of change projects: progression criteria judged green/amber/red by their stated rule,
projects assessed by stage, decisions recorded, and the demo programme's at-a-glance summary."""

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whatworks.errors import InputError
from whatworks.trials.programme import (
    RATINGS,
    STAGES,
    Criterion,
    Decision,
    Project,
    assess,
    demo_programme,
    judge,
    load_programme,
    overall_rating,
    programme_from_dict,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def criteria(draw):
    a, b = draw(finite), draw(finite)
    direction = draw(st.sampled_from(["higher", "lower"]))
    lo, hi = min(a, b), max(a, b)
    green, red = (hi, lo) if direction == "higher" else (lo, hi)
    return Criterion("m", "the measure", green=green, red=red, direction=direction)


@given(criteria(), finite)
def test_the_rating_is_exactly_what_the_rule_promises(c, value):
    r = judge(c, value).rating
    better_or_equal = (lambda x, t: x >= t) if c.direction == "higher" else (lambda x, t: x <= t)
    assert (r == "green") == better_or_equal(value, c.green)
    assert (r == "red") == (not better_or_equal(value, c.red))
    assert (r == "amber") == (not better_or_equal(value, c.green) and better_or_equal(value, c.red))
    assert r in ("green", "amber", "red")


@given(criteria(), finite, finite)
def test_a_better_result_never_gets_a_worse_rating(c, x, y):
    better, worse = (max(x, y), min(x, y)) if c.direction == "higher" else (min(x, y), max(x, y))
    order = {"red": 0, "amber": 1, "green": 2}
    assert order[judge(c, better).rating] >= order[judge(c, worse).rating]


@given(criteria())
def test_the_thresholds_themselves_are_green_and_amber_or_green(c):
    assert judge(c, c.green).rating == "green"
    assert judge(c, c.red).rating in ("amber", "green")


@given(st.lists(st.sampled_from(["green", "amber", "red", "pending"]), max_size=8))
def test_the_overall_rating_is_the_worst_with_pending_above_amber(ratings):
    o = overall_rating(ratings)
    if "red" in ratings:
        assert o == "red"
    elif not ratings or "pending" in ratings:
        assert o == "pending"
    elif "amber" in ratings:
        assert o == "amber"
    else:
        assert o == "green"
    assert o in RATINGS


def test_no_result_is_pending_and_the_rule_is_stated_in_words():
    c = Criterion("recruitment", "recruitment rate", green=80, red=60, unit="%")
    j = judge(c)
    assert j.rating == "pending" and j.suggested is None
    assert j.rule == "green if recruitment rate is at least 80 %; amber from 60 up to 80 %; red below 60 %"
    low = Criterion("ci_upper", "upper CI bound", green=0, red=5, direction="lower")
    assert low.rule() == "green if upper CI bound is at most 0; amber above 0 up to 5; red above 5"
    assert judge(low, 5).rating == "amber" and judge(low, 5.01).rating == "red"


def test_thresholds_in_the_wrong_order_are_refused_with_the_fix():
    with pytest.raises(InputError, match="red threshold must be <= the green one.*swap them"):
        Criterion("fidelity", "fidelity", green=50, red=75)
    with pytest.raises(InputError, match="direction 'up' is not allowed"):
        Criterion("fidelity", "fidelity", green=75, red=50, direction="up")


def test_a_project_is_judged_on_its_current_stage_and_suggests_a_decision():
    p = Project(
        "p",
        "P",
        "",
        ("Wigan",),
        "feasibility",
        criteria=(
            Criterion("a", "a", green=10, red=5, value=12, stage="pilot"),
            Criterion("b", "b", green=10, red=5, value=7),
            Criterion("c", "c", green=10, red=5, value=11),
        ),
    )
    a = assess(p)
    assert [j.rating for j in a.judgements] == ["amber", "green"]
    assert a.overall == "amber" and a.suggested == "modify"
    assert assess(p, stage="pilot").overall == "green"
    assert assess(p, {"b": 2}).overall == "red"
    with pytest.raises(InputError, match="match no feasibility criterion"):
        assess(p, {"zzz": 1})


def test_earning_a_trial_means_reaching_or_being_sent_to_a_randomised_stage():
    d = Decision("progress", "board", dt.date(2020, 1, 1), from_stage="pilot", to_stage="efficacy")
    assert Project("p", "P", "", (), "pilot", decisions=(d,)).earned_trial
    assert not Project("p", "P", "", (), "feasibility").earned_trial
    assert Project("p", "P", "", (), "effectiveness").earned_trial
    with pytest.raises(InputError, match="decision 'continue' is not allowed; expected one of progress"):
        Decision("continue", "board", dt.date(2020, 1, 1))


def test_the_demo_programme_shows_which_pilots_earned_a_large_trial():
    prog = demo_programme()
    rows = {r["project"]: r for r in prog.summary()}
    assert rows["social-workers-in-schools"]["partners"] == ["Lambeth", "Southampton", "Stockport"]
    assert rows["devolved-budgets"]["partners"] == ["Darlington", "Hillingdon", "Wigan"]
    assert rows["social-workers-in-schools"]["earned_trial"] and not rows["devolved-budgets"]["earned_trial"]
    assert prog.total_budget_gbp == 2_400_000
    assert sum(r["budget_gbp"] for r in rows.values()) == prog.total_budget_gbp
    assert all(r["budget_illustrative"] for r in rows.values())
    # the trial's real primary outcome (+5.5% section 47 enquiries) against a "reduce" criterion is red
    swis = prog.project("social-workers-in-schools")
    s47 = prog.assess(swis.slug, stage="effectiveness").judgements[0]
    assert s47.value == 5.5 and s47.rating == "red"  # from the trial record's rate ratio
    assert s47.source == "swis-trial: section 47 enquiries, ratio.estimate as a % change"
    # every figure without a source is flagged illustrative
    for p in prog.projects:
        for c in p.criteria:
            assert c.illustrative or c.source
    assert "earned a large trial" in prog.summary_text()
    assert prog.totals() == {
        "projects": 2,
        "partners": 6,
        "budget_gbp": 2_400_000,
        "budget_illustrative": True,
        "projects_without_budget": 0,
        "earned_trial": 1,
    }
    assert set(prog.to_frame().columns) >= {"project", "stage", "criteria", "decision", "earned_trial"}
    assert set(STAGES) == {"pilot", "feasibility", "efficacy", "effectiveness"}


def test_bad_programme_files_name_the_file_and_field(tmp_path):
    f = tmp_path / "prog.json"
    data = json.loads(
        json.dumps({"projects": [{"slug": "x", "name": "X", "partners": ["A"], "stage": "scale-up"}]})
    )
    f.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"prog.json.*stage 'scale-up' is not allowed; expected one of pi"):
        load_programme(f)
    data["projects"][0]["stage"] = "pilot"
    data["projects"][0]["criteria"] = [{"measure": "m", "green": "high", "red": 1}]
    with pytest.raises(InputError, match=r"criteria\[0\].green.*finite number"):
        programme_from_dict(data, source="prog.json")
    f.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_programme(f)


def test_a_project_converts_to_plain_json():
    d = demo_programme().project("devolved-budgets").to_dict()
    assert json.loads(json.dumps(d))["decisions"][0]["decided_on"] == "2020-09-30"
    assert d["criteria"][0]["stage"] == "pilot"


def test_a_criterion_linked_to_a_trial_result_waits_for_it_then_is_judged():
    from whatworks.trials.programme import ResultLink

    link = ResultLink("t1", "entry to care", "ratio.ci_upper", "percent-change")
    p = Project(
        "p",
        "P",
        "",
        (),
        "efficacy",
        criteria=(
            Criterion(
                "upper", "upper CI bound of the change", green=0, red=10, direction="lower", from_result=link
            ),
        ),
    )
    waiting = assess(p).judgements[0]
    assert waiting.rating == "pending" and waiting.source.startswith("waiting for t1: entry to care")
    rec = {
        "id": "t1",
        "results": [{"outcome": "entry to care", "ratio": {"estimate": 0.9, "ci_upper": 0.98}}],
    }
    got = assess(p, records={"t1": rec}).judgements[0]
    assert got.value == pytest.approx(-2.0) and got.rating == "green"
    rec["results"][0]["ratio"]["ci_upper"] = 1.2
    assert assess(p, records={"t1": rec}).judgements[0].rating == "red"
    assert assess(p, {"upper": 5}, records={"t1": rec}).judgements[0].rating == "amber"  # given wins
    with pytest.raises(InputError, match="scale 'log' is not allowed"):
        ResultLink("t1", "x", scale="log")
