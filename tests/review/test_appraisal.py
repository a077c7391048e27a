"""RoB 2 (``whatworks review rob2``): every leaf of the five domains' published algorithms (Higgins
et al. 2019, both versions of domain 2), the overall rule and the reviewers' departures, properties
over any answers (hypothesis), and the command end to end with its refusals."""

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.review.conftest import assert_one_line_naming, write_csv
from whatworks.cli import main
from whatworks.errors import InputError, ParameterError
from whatworks.review.appraisal import (
    DOMAINS,
    JUDGEMENTS,
    QUESTIONS,
    assess_rob2,
    normalise_answer,
    overall_judgement,
)

LOW, SOME, HIGH = JUDGEMENTS
BASE = {  # every domain low, on the shortest path
    "assignment": {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y",
                   "3.1": "Y", "4.1": "N", "4.2": "N", "4.3": "N", "5.1": "Y", "5.2": "N",
                   "5.3": "N"},
    "adherence": {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.4": "N",
                  "2.5": "N", "3.1": "Y", "4.1": "N", "4.2": "N", "4.3": "N", "5.1": "Y",
                  "5.2": "N", "5.3": "N"},
}


def _judge(domain, answers, effect="assignment"):
    prefix = domain[1] + "."
    base = {q: a for q, a in BASE[effect].items() if not q.startswith(prefix)}
    result = assess_rob2("S", {**base, **answers}, effect=effect)
    return next(d for d in result.domains if d.domain == domain).suggested


# Each leaf of each published decision diagram (RoB 2 detailed guidance, 22 August 2019), at least
# once, written as the diagrams read: the answers on the path, then the judgement.
LEAVES = [
    ("D1", {"1.2": "N"}, HIGH), ("D1", {"1.2": "PN"}, HIGH),
    ("D1", {"1.2": "NI", "1.3": "N"}, SOME), ("D1", {"1.2": "NI", "1.3": "NI"}, SOME),
    ("D1", {"1.2": "NI", "1.3": "PY"}, HIGH),
    ("D1", {"1.2": "Y", "1.1": "N"}, SOME), ("D1", {"1.2": "PY", "1.1": "PN", "1.3": "Y"}, SOME),
    ("D1", {"1.2": "Y", "1.1": "Y", "1.3": "N"}, LOW), ("D1", {"1.2": "Y", "1.1": "NI", "1.3": "NI"}, LOW),
    ("D1", {"1.2": "PY", "1.1": "PY", "1.3": "Y"}, SOME),
    # domain 2, effect of assignment: part 1 (2.1-2.5) and part 2 (2.6-2.7), the worse of the two
    ("D2", {"2.1": "N", "2.2": "PN", "2.6": "Y"}, LOW),
    ("D2", {"2.1": "Y", "2.3": "N", "2.6": "PY"}, LOW),
    ("D2", {"2.1": "NI", "2.3": "NI", "2.6": "Y"}, SOME),
    ("D2", {"2.1": "N", "2.2": "Y", "2.3": "Y", "2.4": "N", "2.6": "Y"}, SOME),
    ("D2", {"2.1": "Y", "2.3": "Y", "2.4": "Y", "2.5": "Y", "2.6": "Y"}, SOME),
    ("D2", {"2.1": "Y", "2.3": "PY", "2.4": "NI", "2.5": "N", "2.6": "Y"}, HIGH),
    ("D2", {"2.1": "Y", "2.3": "Y", "2.4": "PY", "2.5": "NI", "2.6": "Y"}, HIGH),
    ("D2", {"2.1": "N", "2.2": "N", "2.6": "N", "2.7": "N"}, SOME),
    ("D2", {"2.1": "N", "2.2": "N", "2.6": "NI", "2.7": "Y"}, HIGH),
    ("D2", {"2.1": "N", "2.2": "N", "2.6": "PN", "2.7": "NI"}, HIGH),
    ("D2", {"2.1": "Y", "2.3": "NI", "2.6": "N", "2.7": "PN"}, SOME),
    ("D2", {"2.1": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "N", "2.7": "N"}, HIGH),
    # domain 3
    ("D3", {"3.1": "Y"}, LOW), ("D3", {"3.1": "N", "3.2": "Y"}, LOW),
    ("D3", {"3.1": "NI", "3.2": "N", "3.3": "PN"}, LOW),
    ("D3", {"3.1": "N", "3.2": "PN", "3.3": "Y", "3.4": "N"}, SOME),
    ("D3", {"3.1": "N", "3.2": "N", "3.3": "NI", "3.4": "NI"}, HIGH),
    ("D3", {"3.1": "PN", "3.2": "N", "3.3": "PY", "3.4": "PY"}, HIGH),
    # domain 4
    ("D4", {"4.1": "Y"}, HIGH), ("D4", {"4.1": "N", "4.2": "PY"}, HIGH),
    ("D4", {"4.1": "NI", "4.2": "N", "4.3": "N"}, LOW),
    ("D4", {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "PN"}, LOW),
    ("D4", {"4.1": "N", "4.2": "PN", "4.3": "NI", "4.4": "Y", "4.5": "N"}, SOME),
    ("D4", {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "NI", "4.5": "NI"}, HIGH),
    ("D4", {"4.1": "N", "4.2": "NI", "4.3": "N"}, SOME),
    ("D4", {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "N"}, SOME),
    ("D4", {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "PN"}, SOME),
    ("D4", {"4.1": "N", "4.2": "NI", "4.3": "PY", "4.4": "Y", "4.5": "Y"}, HIGH),
    # domain 5
    ("D5", {"5.2": "Y"}, HIGH), ("D5", {"5.2": "N", "5.3": "PY"}, HIGH),
    ("D5", {"5.2": "NI", "5.3": "N"}, SOME), ("D5", {"5.2": "N", "5.3": "NI"}, SOME),
    ("D5", {"5.2": "NI", "5.3": "Y"}, HIGH),
    ("D5", {"5.2": "N", "5.3": "PN", "5.1": "Y"}, LOW), ("D5", {"5.2": "N", "5.3": "N", "5.1": "NI"}, SOME),
    ("D5", {"5.2": "PN", "5.3": "N", "5.1": "N"}, SOME),
]
ADHERENCE_LEAVES = [
    ("D2", {"2.1": "N", "2.2": "N", "2.4": "N", "2.5": "NA"}, LOW),
    ("D2", {"2.1": "Y", "2.3": "NA", "2.4": "PN", "2.5": "N"}, LOW),
    ("D2", {"2.1": "NI", "2.3": "PY", "2.4": "Y", "2.6": "Y"}, SOME),
    ("D2", {"2.1": "Y", "2.3": "N", "2.6": "Y"}, SOME),
    ("D2", {"2.1": "PY", "2.3": "NI", "2.6": "N"}, HIGH),
    ("D2", {"2.1": "N", "2.2": "N", "2.4": "Y", "2.6": "PY"}, SOME),
    ("D2", {"2.1": "N", "2.2": "PN", "2.4": "N", "2.5": "NI", "2.6": "NI"}, HIGH),
]


@pytest.mark.parametrize("domain, answers, expected", LEAVES,
                         ids=[f"{d}-{'-'.join(f'{k}{v}' for k, v in a.items())}" for d, a, _ in LEAVES])
def test_each_leaf_of_the_published_algorithms(domain, answers, expected):
    assert _judge(domain, answers) == expected


@pytest.mark.parametrize("domain, answers, expected", ADHERENCE_LEAVES)
def test_each_leaf_of_domain_2_for_the_effect_of_adhering(domain, answers, expected):
    assert _judge(domain, answers, "adherence") == expected


def test_a_question_on_the_path_must_be_answered_and_answered_in_its_options():
    with pytest.raises(InputError, match=r"D1: question 1.3 is on this domain's path \(1.2 NI\)"):
        _judge("D1", {"1.2": "NI"})
    with pytest.raises(InputError, match=r"question 2.4 is answered NA, but the path") as err:
        _judge("D2", {"2.1": "Y", "2.3": "Y", "2.4": "NA", "2.6": "Y"})
    assert err.value.column == "2.4"
    with pytest.raises(InputError, match="question 3.2 cannot be answered NI; give Y, PY, PN, N, NA"):
        _judge("D3", {"3.1": "N", "3.2": "NI"})
    with pytest.raises(InputError, match="'6.1' is not a RoB 2 signalling question"):
        assess_rob2("S", {**BASE["assignment"], "6.1": "Y"})
    with pytest.raises(InputError, match="probably yes"):
        assess_rob2("S", {**BASE["assignment"], "1.1": "perhaps"})
    with pytest.raises(ParameterError, match="effect"):
        assess_rob2("S", BASE["assignment"], effect="itt")
    assert normalise_answer(" Probably  Yes ") == "PY" and normalise_answer("") is None


def test_the_overall_rule_and_the_reviewers_departures():
    r = assess_rob2("S", {**BASE["assignment"], "5.1": "NI", "1.3": "Y"}, result="care")
    assert [d.final for d in r.domains] == [SOME, LOW, LOW, LOW, SOME] and r.overall == SOME
    assert r.sentence() == ("S (care): some concerns: D1 (randomisation process), D5 (selection of "
                            "the reported result).")
    # the review's rule: two domains with some concerns make a result high
    r2 = assess_rob2("S", {**BASE["assignment"], "5.1": "NI", "1.3": "Y"}, high_when_concerns=2)
    assert r2.overall == HIGH and "which the review's rule counts as high" in r2.sentence()
    # a departure needs its justification, and both judgements are kept
    with pytest.raises(InputError, match="D1 is judged high where the algorithm suggests low") as err:
        assess_rob2("S", BASE["assignment"], judgements={"D1": "high"})
    assert err.value.column == "d1_justification"
    r3 = assess_rob2("S", BASE["assignment"], judgements={"D1": "High"},
                     justifications={"D1": "sequence by date of birth in one site"})
    d1 = r3.domains[0]
    assert (d1.suggested, d1.final, d1.departed) == (LOW, HIGH, True) and r3.overall == HIGH
    r4 = assess_rob2("S", BASE["assignment"], judgements={"overall": "some concerns"},
                     justifications={"overall": "a small trial by the developers"})
    assert (r4.overall_suggested, r4.overall) == (LOW, SOME)
    assert "The reviewers judged it some concerns where the algorithms suggest low: a small " \
           "trial" in r4.sentence()
    with pytest.raises(InputError, match="not one of low, some concerns, high"):
        assess_rob2("S", BASE["assignment"], judgements={"D2": "unclear"})
    with pytest.raises(ParameterError, match="high_when_concerns"):
        overall_judgement([LOW] * 5, 1)


# ---- properties over any answers

def _answers(effect):
    return st.fixed_dictionaries({q: st.sampled_from(sorted(options) * 4 + [None])
                                  for q, (_, options) in QUESTIONS[effect].items()})


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["assignment", "adherence"]).flatmap(
    lambda e: st.tuples(st.just(e), _answers(e), _answers(e))))
def test_a_judgement_depends_only_on_the_answers_its_path_reads(case):
    effect, answers, other = case
    try:
        r = assess_rob2("S", answers, effect=effect)
    except InputError as exc:  # a question on a path, unanswered or NA: named as the column
        event("refused")
        assert exc.column in QUESTIONS[effect] and f"question {exc.column}" in str(exc)
        return
    event("judged")
    assert r.overall_suggested == overall_judgement([d.final for d in r.domains])
    for d in r.domains:
        assert d.suggested in JUDGEMENTS and d.path.endswith(f": {d.suggested}")
        read = [step.split()[0] for step in d.path.rsplit(":", 1)[0].split(" -> ")]
        assert all(answers[q] is not None and q.startswith(d.domain[1] + ".") for q in read)
        # other answers to the questions the path did not read leave the judgement as it was
        changed = {**answers, **{q: a for q, a in other.items()
                                 if q.startswith(d.domain[1] + ".") and q not in read}}
        try:
            again = assess_rob2("S", changed, effect=effect)
        except InputError:
            continue  # another domain's path now needs an answer
        assert next(x for x in again.domains if x.domain == d.domain).suggested == d.suggested
    assert set(r.unused) <= {q for q, a in answers.items() if a is not None}
    words = {LOW: "low risk of bias", SOME: "some concerns", HIGH: "high risk of bias"}
    assert f": {words[r.overall]}" in r.sentence()
    for d in r.domains:
        if r.overall != LOW and d.final == r.overall:
            assert f"{d.domain} ({DOMAINS[d.domain].lower()})" in r.sentence()


@given(st.lists(st.sampled_from(JUDGEMENTS), min_size=5, max_size=5),
       st.one_of(st.none(), st.integers(2, 5)))
def test_the_overall_judgement_is_the_worst_domain_or_the_reviews_rule(domains, k):
    got = overall_judgement(domains, k)
    concerns = domains.count(SOME)
    if HIGH in domains or (k is not None and concerns >= k):
        assert got == HIGH
    else:
        assert got == (SOME if concerns else LOW)


@given(st.sampled_from(["N", "PN", "NI"]), st.sampled_from(["Y", "PY"]))
def test_more_serious_answers_never_make_a_domain_less_serious(better, worse):
    order = JUDGEMENTS.index
    for q in ("1.3",):
        assert order(_judge("D1", {"1.2": "Y", "1.1": "Y", q: worse})) >= \
            order(_judge("D1", {"1.2": "Y", "1.1": "Y", q: better}))
    for q in ("5.2", "5.3"):
        rest = {"5.1": "Y", "5.2": "N", "5.3": "N"}
        assert order(_judge("D5", {**rest, q: worse})) >= order(_judge("D5", {**rest, q: better}))


# ---- the command

HEADER = ["study_id", "result", *QUESTIONS["assignment"], "d5_judgement", "d5_justification",
          "1.1_support"]


def _row(study, result, answers, d5=("", ""), support=""):
    return [study, result, *(answers.get(q, "") for q in QUESTIONS["assignment"]), *d5, support]


ROWS = [
    _row("Smith 2019", "entry to care 12m", {**BASE["assignment"], "2.1": "Y", "2.3": "N"},
         support="computer-generated list"),
    _row("Jones 2021", "entry to care 12m",
         {**BASE["assignment"], "1.2": "NI", "3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PY"}),
    _row("Brown 2020", "re-referral", BASE["assignment"],
         d5=("high", "the protocol lists four re-referral windows")),
]


def _at(question):
    return HEADER.index(question)


def _run(capsys, *argv):
    code = main(["review", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_judges_explains_and_draws(tmp_path, capsys):
    table = write_csv(tmp_path / "rob.csv", HEADER, ROWS)
    plot, summary = tmp_path / "tl.svg", tmp_path / "summary.svg"
    code, out, err = _run(capsys, "rob2", table, "--format", "json", "--plot", plot,
                          "--summary-plot", summary)
    assert code == 0, err
    result = json.loads(out)
    smith, jones, brown = result["assessments"]
    assert smith["overall"] == LOW and smith["unused"] == ["2.2"]
    assert smith["domains"][1]["path"] == "2.1 Y -> 2.3 N -> 2.6 Y: low"
    assert jones["domains"][0]["path"] == "1.2 NI -> 1.3 N: some concerns"
    assert jones["overall"] == HIGH and jones["sentence"].startswith(
        "Jones 2021 (entry to care 12m): high risk of bias: D3 (missing outcome data).")
    d5 = brown["domains"][4]
    assert (d5["suggested"], d5["judgement"]) == (LOW, HIGH) and "four re-referral" in d5["justification"]
    assert result["summary"]["overall"] == {LOW: 1, HIGH: 2}
    for path in (plot, summary):
        assert path.read_text().lstrip().startswith("<?xml")
    assert "Jones 2021 (entry to care 12m)" in plot.read_text()

    code, out, _ = _run(capsys, "rob2", table, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["Study", "D1", "D2", "D3", "D4", "D5", "Overall", "Weight"]  # robvis's layout
    assert rows[2] == ["Jones 2021 (entry to care 12m)", "Some concerns", "Low", "High", "Low",
                       "Low", "High", "1"]
    code, out, _ = _run(capsys, "rob2", table, "--high-when-concerns", "2")
    assert code == 0 and "overall: 1 low, 2 high" in out
    assert "D5 Selection of the reported result: high (suggested low: the protocol lists" in out


@pytest.mark.parametrize("change, fragment, column", [
    (lambda rows: rows[1].__setitem__(_at("3.2"), "NI"), "line 3: Jones 2021: question 3.2 cannot be "
     "answered NI", "3.2"),
    (lambda rows: rows[1].__setitem__(_at("1.3"), ""), "line 3: Jones 2021: D1: question 1.3 is on this "
     "domain's path (1.2 NI) but has no answer", "1.3"),
    (lambda rows: rows[2].__setitem__(-2, ""), "line 4: Brown 2020: D5 is judged high where the "
     "algorithm suggests low", "d5_justification"),
    (lambda rows: rows[0].__setitem__(0, ""), "line 2: the study_id is blank", "study_id"),
])
def test_bad_tables_exit_2_naming_the_file_line_and_column(tmp_path, capsys, change, fragment, column):
    rows = [list(r) for r in ROWS]
    change(rows)
    table = write_csv(tmp_path / "rob.csv", HEADER, rows)
    code, _, err = _run(capsys, "rob2", table)
    assert code == 2 and fragment in err and f"column '{column}'" in err and str(table) in err, err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_column_is_refused_not_ignored(tmp_path, capsys):
    table = write_csv(tmp_path / "rob.csv", [*HEADER[:-1], "1.1 support"], ROWS)
    code, _, err = _run(capsys, "rob2", table)
    assert code == 2 and "column '1.1 support' is not part of a RoB 2 table" in err
    alias = write_csv(tmp_path / "alias.csv", ["study_id", *(f"q{q.replace('.', '_')}" for q in
                                                             BASE["assignment"])],
                      [["S1", *BASE["assignment"].values()]])
    code, out, _ = _run(capsys, "rob2", alias, "--format", "json")
    assert code == 0 and json.loads(out)["assessments"][0]["overall"] == LOW


CELLS = st.one_of(st.sampled_from(["", "Y", "PY", "PN", "N", "NI", "NA", "S1", "high", "low",
                                   "adherence"]), st.text(max_size=4))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(header=st.lists(st.sampled_from(HEADER + ["effect", "colour"]), min_size=1, max_size=10,
                       unique=True),
       rows=st.lists(st.lists(CELLS, max_size=10), max_size=4))
def test_any_table_gives_judgements_or_one_line_naming_the_file(tmp_path_factory, capsys, header, rows):
    table = write_csv(tmp_path_factory.mktemp("fuzz") / "r.csv", header, rows)
    code, out, err = _run(capsys, "rob2", table, "--format", "json")
    event("judged" if code == 0 else "refused")
    if code == 0:
        for a in json.loads(out)["assessments"]:
            assert a["overall_suggested"] == overall_judgement([d["judgement"] for d in a["domains"]])
    else:
        assert_one_line_naming(code, err, table)


@pytest.mark.parametrize("effect", ["assignment", "adherence"])
def test_the_blank_table_filled_in_is_judged(tmp_path, capsys, effect):
    code, out, _ = _run(capsys, "rob2", "--blank", "--effect", effect)
    assert code == 0
    header, wording = list(csv.reader(io.StringIO(out)))
    assert header[:3] == ["study_id", "result", "effect"] and header[3:3 + len(QUESTIONS[effect])] \
        == list(QUESTIONS[effect]) and "overall_justification" in header
    assert wording[0] == "(question)" and wording[3] == "Was the allocation sequence random?"
    filled = [BASE[effect].get(c, "") for c in header]
    filled[:3] = ["S1", "care", effect]
    table = write_csv(tmp_path / "rob.csv", header, [wording, filled])  # the wording row is skipped
    code, out, err = _run(capsys, "rob2", table, "--format", "json")
    assert code == 0, err
    (only,) = json.loads(out)["assessments"]
    assert (only["study_id"], only["effect"], only["overall"]) == ("S1", effect, LOW)
    code, _, err = _run(capsys, "rob2")
    assert code == 2 and "give a RoB 2 table to judge (or --blank" in err
    for extra in ([str(table)], ["--plot", str(tmp_path / "p.svg")], ["--format", "json"]):
        code, _, err = _run(capsys, "rob2", "--blank", *extra)  # nothing accepted and ignored
        assert code == 2 and "--blank writes an empty table and judges nothing: drop" in err


# ---- joined up: the meta-analysis reads the review's RoB 2 table

ES = [["Smith 2019", "-0.35", "0.02"], ["Jones 2021", "-0.10", "0.04"],
      ["Brown 2020", "-0.52", "0.05"], ["Lee 2018", "-0.20", "0.03"]]


def _rob_rows():
    low = BASE["assignment"]
    return [_row("Smith 2019", "care", low),
            _row("Jones 2021", "care", {**low, "1.2": "NI", "3.1": "N", "3.2": "N", "3.3": "Y",
                                        "3.4": "Y"}),
            _row("Brown 2020", "care", {**low, "2.6": "N", "2.7": "N", "5.1": "NI"}),
            _row("Lee 2018", "care", {**low, "1.3": "Y"})]


def test_meta_draws_each_studys_rob2_beside_the_forest_plot_and_groups_by_it(tmp_path, capsys):
    es = write_csv(tmp_path / "es.csv", ["study", "yi", "vi"], ES)
    rob = write_csv(tmp_path / "rob.csv", HEADER, _rob_rows())
    plot = tmp_path / "forest.svg"
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2", str(rob),
                 "--subgroup", "rob2_overall", "--plot", str(plot), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert [(r["label"], r["D1"], r["D3"], r["overall"]) for r in result["risk_of_bias"]] == [
        ("Smith 2019", LOW, LOW, LOW), ("Jones 2021", SOME, HIGH, HIGH),
        ("Brown 2020", LOW, LOW, SOME), ("Lee 2018", SOME, LOW, SOME)]
    assert sorted(g["name"] for g in result["subgroups"]["subgroups"]) == [HIGH, LOW, SOME]
    svg = plot.read_text()
    assert svg.count('id="risk-of-bias') == 4 * 6  # five domains and overall for each study
    # the same with meta-regression on the overall judgement
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2", str(rob),
                 "--mods", "rob2_overall", "--format", "json"])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("change, args, fragment", [
    (lambda es, rob: es.pop(), [], None),  # fewer studies than assessments: fine
    (lambda es, rob: rob.pop(), [], "study 'Lee 2018' has no row in"),
    (lambda es, rob: rob.append(_row("Lee 2018", "re-referral", BASE["assignment"])), [],
     "study 'Lee 2018' has 2 results in"),
    (lambda es, rob: None, ["--no-slab"], "--rob2 matches studies by their labels: give --slab"),
    (lambda es, rob: None, ["--no-slab", "--random", "study"], "--rob2 cannot be used with --random"),
])
def test_meta_refuses_a_rob2_table_it_cannot_match(tmp_path, capsys, change, args, fragment):
    es_rows, rob_rows = [list(r) for r in ES], _rob_rows()
    change(es_rows, rob_rows)
    es = write_csv(tmp_path / "es.csv", ["study", "yi", "vi"], es_rows)
    rob = write_csv(tmp_path / "rob.csv", HEADER, rob_rows)
    argv = ["meta", str(es), "--yi", "yi", "--vi", "vi", "--rob2", str(rob), "--format", "json"]
    argv += [] if "--no-slab" in args else ["--slab", "study"]
    argv += [a for a in args if a != "--no-slab"]
    code = main(argv)
    out, err = capsys.readouterr()
    if fragment is None:
        assert code == 0 and len(json.loads(out)["risk_of_bias"]) == 3
    else:
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_the_forest_plot_refuses_judgements_it_cannot_draw():
    import numpy as np

    from whatworks.synthesis import meta_analysis
    from whatworks.synthesis.plots import forest_plot

    fit = meta_analysis(np.array([0.1, 0.3]), np.array([0.01, 0.02]))
    with pytest.raises(ParameterError, match="risk_of_bias"):
        forest_plot(fit, risk_of_bias=[[LOW] * 6])
    with pytest.raises(ParameterError, match="risk_of_bias"):
        forest_plot(fit, risk_of_bias=[[LOW] * 6, ["unclear"] * 6])
    fig = forest_plot(fit, risk_of_bias=[[LOW] * 6, None])  # a study not assessed: nothing drawn
    assert sum(c.get_gid() == "risk-of-bias" for c in fig.axes[0].collections) == 6


def test_the_predicted_direction_of_bias_is_kept_and_checked(tmp_path, capsys):
    r = assess_rob2("S", BASE["assignment"], directions={"D3": "Towards  null", "overall": "NA"})
    assert r.domains[2].direction == "towards null" and r.overall_direction == "NA"
    assert r.domains[0].direction is None
    with pytest.raises(InputError, match="D1 direction 'upwards' is not one of NA, favours") as err:
        assess_rob2("S", BASE["assignment"], directions={"D1": "upwards"})
    assert err.value.column == "d1_direction"
    table = write_csv(tmp_path / "rob.csv", ["study_id", *BASE["assignment"], "d3_direction"],
                      [["S1", *BASE["assignment"].values(), "favours experimental"]])
    code, out, err = _run(capsys, "rob2", table, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["assessments"][0]["domains"][2]["direction"] == "favours experimental"


def test_a_workbook_is_read_as_its_first_sheet(tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    sheet.append(_row("Lee 2018", "care", {**BASE["assignment"], "1.2": "NI"}))
    path = tmp_path / "rob2.xlsx"
    book.save(path)
    code, out, err = _run(capsys, "rob2", path, "--format", "json")
    assert code == 0, err
    assert [a["overall"] for a in json.loads(out)["assessments"]] == [LOW, HIGH, HIGH, SOME]
    sheet.cell(row=5, column=HEADER.index("1.3") + 1, value="")  # Lee 2018: 1.3 now unanswered
    book.save(path)
    code, _, err = _run(capsys, "rob2", path)
    assert code == 2 and f"{path}, column '1.3': line 5: Lee 2018: D1: question 1.3" in err, err
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    code, _, err = _run(capsys, "rob2", tmp_path / "bad.xlsx")
    assert code == 2 and "cannot read this workbook" in err and len(err.strip().splitlines()) == 1


def test_a_question_of_the_other_effect_answered_is_refused_not_ignored(tmp_path, capsys):
    answers = {**BASE["adherence"], "2.7": "N"}
    with pytest.raises(InputError, match="question 2.7 is asked only for the effect of assignment"):
        assess_rob2("S", answers, effect="adherence")
    assert assess_rob2("S", {**BASE["adherence"], "2.7": ""}, effect="adherence").overall == LOW
    table = write_csv(tmp_path / "rob.csv", ["study_id", "effect", *QUESTIONS["assignment"]],
                      [["S1", "adherence", *({**BASE["adherence"], "2.7": "Y"}.get(q, "")
                                             for q in QUESTIONS["assignment"])]])
    code, _, err = _run(capsys, "rob2", table)
    assert code == 2 and "line 2: S1: question 2.7 is asked only for the effect of assignment" in err


def test_the_sensitivity_analyses_by_risk_of_bias_refit_on_the_right_studies(tmp_path, capsys):
    import numpy as np

    from whatworks.synthesis import meta_analysis

    es = write_csv(tmp_path / "es.csv", ["study", "yi", "vi"], ES)
    rob = write_csv(tmp_path / "rob.csv", HEADER, _rob_rows())
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2", str(rob),
                 "--rob2-sensitivity", "--method", "DL", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)["rob2_sensitivity"]
    yi, vi = np.array([float(r[1]) for r in ES]), np.array([float(r[2]) for r in ES])
    # overall judgements: Smith low, Jones high, Brown some concerns, Lee some concerns
    for row, keep in zip(rows, ([0, 2, 3], [0]), strict=True):
        direct = meta_analysis(yi[keep], vi[keep], method="DL")
        assert row["k"] == len(keep) and row["estimate"] == pytest.approx(direct.estimate)
        assert row["ci_lower"] == pytest.approx(direct.ci_lower)
        assert row["left_out"] == [ES[i][0] for i in range(4) if i not in keep]
    assert rows[0]["restriction"] == "excluding results at high risk of bias"
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2", str(rob),
                 "--rob2-sensitivity"])
    text = capsys.readouterr().out
    assert "Sensitivity analyses by risk of bias (RoB 2)" in text and "left out: Jones 2021" in text
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--rob2-sensitivity"])
    assert code == 2 and "--rob2-sensitivity needs --rob2" in capsys.readouterr().err
    # a meta-regression's refits would drop its moderators: refused, not done
    code = main(["meta", str(es), "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2", str(rob),
                 "--mods", "rob2_overall", "--rob2-sensitivity"])
    assert code == 2 and "--rob2-sensitivity cannot be used with --mods" in capsys.readouterr().err


@given(st.lists(st.sampled_from(JUDGEMENTS), max_size=12))
def test_each_restriction_keeps_exactly_the_judgements_it_names(overall):
    from whatworks.review.appraisal import restrictions

    kept = restrictions(overall)
    assert kept["excluding results at high risk of bias"] == [j != HIGH for j in overall]
    assert kept["results at low risk of bias only"] == [j == LOW for j in overall]
