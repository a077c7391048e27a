"""Two screeners' agreement (``whatworks review agree``): kappa against R's psych, and its promises."""

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.cli import main
from whatworks.errors import InputError
from whatworks.review.screening.agreement import agreement, merge_decisions
from whatworks.review.screening.screen import Decision

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "kappa.json").read_text())


def _decisions(table):
    """Two screeners' decisions reproducing a 2 x 2 table (include-include, include-exclude,
    exclude-include, exclude-exclude), on records 0, 1, 2, ..."""
    first, second = [], []
    k = 0
    for (a, b), count in zip([(1, 1), (1, 0), (0, 1), (0, 0)], table, strict=True):
        for _ in range(count):
            first.append(Decision(k, a))
            second.append(Decision(k, b))
            k += 1
    return [f"r{i}" for i in range(k)], first, second


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_kappa_and_its_standard_error_agree_with_psych(name):
    ref = REFERENCE[name]
    ids, first, second = _decisions(ref["table"])
    r = agreement(ids, ids, first, second)
    assert r.both == ref["n"]
    assert r.kappa == pytest.approx(ref["kappa"], abs=1e-12)
    assert r.kappa_se ** 2 == pytest.approx(ref["var_kappa"], rel=1e-9)


def test_the_textbook_example():
    # 50 proposals, two readers: yes-yes 20, yes-no 5, no-yes 10, no-no 15: kappa 0.4
    ids, first, second = _decisions([20, 5, 10, 15])
    r = agreement(ids, ids, first, second)
    assert (r.observed, r.chance, r.kappa, r.pabak) == pytest.approx((0.7, 0.5, 0.4, 0.4))
    assert r.kappa_lower == pytest.approx(0.4 - 1.959963984540054 * r.kappa_se)
    assert [c["id"] for c in r.conflicts] == [f"r{i}" for i in range(20, 35)]


def test_kappa_is_undefined_not_a_number_when_everything_was_excluded_by_both():
    ids, first, second = _decisions([0, 0, 0, 30])
    r = agreement(ids, ids, first, second)
    assert r.kappa is None and r.kappa_se is None and r.to_dict()["kappa_ci"] is None
    assert r.observed == 1.0 and r.pabak == 1.0 and "every shared record exclude" in r.note


def test_one_screener_giving_one_label_everywhere_gets_kappa_0_and_says_why():
    ids, first, second = _decisions([0, 0, 2, 7])  # the first excluded all nine
    r = agreement(ids, ids, first, second)
    assert (r.kappa, r.kappa_se, r.kappa_lower, r.kappa_upper) == (0.0, 0.0, 0.0, 0.0)
    assert "first screener gave every shared record the same label" in r.note


def test_no_shared_record():
    r = agreement(["a", "b"], ["A", "B"], [Decision(0, 1)], [Decision(1, 0)])
    assert (r.both, r.only_first, r.only_second, r.kappa, r.observed) == (0, 1, 1, None, None)
    assert "no record was decided by both" in r.note


decisions = st.dictionaries(st.integers(0, 39), st.integers(0, 1), max_size=40)


@settings(max_examples=300, deadline=None)
@given(a=decisions, b=decisions, level=st.floats(0.5, 0.999))
def test_what_agreement_says_holds_for_any_two_screeners(a, b, level):
    ids = [f"r{i}" for i in range(40)]
    first = [Decision(i, v) for i, v in a.items()]
    second = [Decision(i, v) for i, v in b.items()]
    r = agreement(ids, ids, first, second, level=level)
    shared = set(a) & set(b)
    assert r.both == len(shared) == sum(map(sum, r.table))
    assert (r.only_first, r.only_second) == (len(a) - len(shared), len(b) - len(shared))
    disagree = {i for i in shared if a[i] != b[i]}
    assert {c["id"] for c in r.conflicts} == {ids[i] for i in disagree}
    assert r.table[0][1] + r.table[1][0] == len(disagree)
    if not shared:
        assert r.kappa is None and r.observed is None
        return
    assert r.observed == pytest.approx(1 - len(disagree) / len(shared))
    assert r.pabak == pytest.approx(2 * r.observed - 1)
    swapped = agreement(ids, ids, second, first, level=level)
    assert swapped.table == ((r.table[0][0], r.table[1][0]), (r.table[0][1], r.table[1][1]))
    if r.kappa is None:  # undefined only when every shared label is one and the same
        assert len({a[i] for i in shared} | {b[i] for i in shared}) == 1
        return
    assert swapped.kappa == pytest.approx(r.kappa)
    assert -1 <= r.kappa <= 1
    assert (r.kappa == pytest.approx(1)) == (not disagree)
    assert -1 <= r.kappa_lower <= r.kappa <= r.kappa_upper <= 1 and r.kappa_se >= 0
    one_label = len({a[i] for i in shared}) == 1 or len({b[i] for i in shared}) == 1
    assert (r.note is not None) == one_label
    if one_label:
        assert r.kappa == pytest.approx(0, abs=1e-12)


def test_a_level_outside_0_to_1_is_refused():
    from whatworks.errors import ParameterError

    with pytest.raises(ParameterError, match="level"):
        agreement(["a"], ["A"], [], [], level=95)


# -- the command ------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("id,title,abstract\n" + "".join(f"r{i},Title {i},text {i}\n" for i in range(6)),
                       encoding="utf-8")
    first = tmp_path / "ana.csv"
    first.write_text("id,label\nr0,include\nr1,exclude\nr2,exclude\nr3,include\nr5,0\n", encoding="utf-8")
    second = tmp_path / "ben.csv"
    second.write_text("id,label,source\nr0,1,model\nr1,1,model\nr2,0,model\nr3,0,model\nr4,0,model\n",
                      encoding="utf-8")
    return records, first, second


def test_the_command_gives_kappa_pabak_and_the_records_to_resolve(files, capsys):
    records, first, second = files
    assert main(["review", "agree", str(records), str(first), str(second), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["both"], out["only_first"], out["only_second"]) == (4, 1, 1)
    assert out["table"] == {"include_include": 1, "include_exclude": 1, "exclude_include": 1,
                            "exclude_exclude": 1}
    assert out["kappa"] == pytest.approx(0.0) and out["pabak"] == pytest.approx(0.0)
    assert [(c["id"], c["first"], c["second"]) for c in out["conflicts"]] == [("r1", 0, 1), ("r3", 1, 0)]
    assert main(["review", "agree", str(records), str(first), str(second)]) == 0
    table = capsys.readouterr().out
    assert "Cohen's kappa: 0.000" in table and "2 record(s) decided differently" in table
    assert main(["review", "agree", str(records), str(first), str(second), "--format", "csv"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows == [["id", "title", "first", "second"], ["r1", "Title 1", "exclude", "include"],
                    ["r3", "Title 3", "include", "exclude"]]


def test_a_bad_decisions_file_exits_2_naming_file_line_and_column(files, tmp_path, capsys):
    records, first, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\nr0,1\nr9,0\n", encoding="utf-8")
    assert main(["review", "agree", str(records), str(first), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 3" in err and "'id'" in err and err.count("\n") == 1


# ---- merging two screeners' decisions into the review's


@st.composite
def two_screeners(draw):
    n = draw(st.integers(1, 30))
    def one():
        chosen = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
        return [Decision(i, draw(st.integers(0, 1)), draw(st.sampled_from([None, "model"])))
                for i in chosen]
    first, second = one(), one()
    a, b = {d.index: d.label for d in first}, {d.index: d.label for d in second}
    conflicts = [i for i in a if i in b and a[i] != b[i]]
    fixed = draw(st.lists(st.sampled_from(conflicts), unique=True)) if conflicts else []
    resolved = [Decision(i, draw(st.integers(0, 1)), None, k + 2) for k, i in enumerate(fixed)]
    return n, first, second, resolved


@settings(max_examples=300, deadline=None)
@given(two_screeners(), st.sampled_from(["resolve", "include"]))
def test_a_merge_keeps_every_decision_and_settles_each_conflict_as_its_rule_says(case, rule):
    n, first, second, resolved = case
    a, b = {d.index: d.label for d in first}, {d.index: d.label for d in second}
    fix = {d.index: d.label for d in resolved}
    unresolved = [i for i in a if i in b and a[i] != b[i] and i not in fix]
    if rule == "resolve" and unresolved:
        with pytest.raises(InputError, match=f"{len(unresolved)} record"):
            merge_decisions(first, second, resolved, conflicts=rule)
        return
    merged = merge_decisions(first, second, resolved, conflicts=rule)
    # one row per record either decided: the first screener's in order, then the second's own
    assert [m.index for m in merged] == [d.index for d in first] + \
        [d.index for d in second if d.index not in a]
    for m in merged:
        assert (m.first, m.second) == (a.get(m.index), b.get(m.index))
        if m.index in a and m.index in b and a[m.index] == b[m.index]:
            assert (m.label, m.how) == (a[m.index], "agreed")
        elif m.index in fix:
            assert (m.label, m.how) == (fix[m.index], "resolved")
        elif m.index in a and m.index in b:
            assert (m.label, m.how) == (1, "either included") and rule == "include"
        else:
            assert m.label == (a | b)[m.index] and m.how in ("first only", "second only")
        assert m.source != "prior" or m.index in a


def test_a_resolution_of_a_record_that_is_no_conflict_is_refused():
    first = [Decision(0, 1), Decision(1, 0)]
    second = [Decision(0, 1), Decision(1, 1)]
    with pytest.raises(InputError, match="line 2: record 0 is not a conflict"):
        merge_decisions(first, second, [Decision(0, 0, None, 2)])
    assert [m.label for m in merge_decisions(first, second, [Decision(1, 0, None, 2)])] == [1, 0]


def test_the_merge_command_writes_the_review_decisions_that_prisma_reads(tmp_path, capsys):
    records = tmp_path / "records.csv"
    with open(records, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "source_database"])
        w.writerows([[f"r{k}", f"title {k}", "Embase"] for k in range(6)])
    ana = _write_decisions(tmp_path / "ana.csv", [("r0", "include"), ("r1", "exclude"),
                                                  ("r2", "include"), ("r3", "exclude")])
    ben = _write_decisions(tmp_path / "ben.csv", [("r0", "include"), ("r1", "include"),
                                                  ("r2", "exclude"), ("r4", "exclude")])
    out = tmp_path / "decisions.csv"
    args = ["review", "merge", str(records), str(ana), str(ben), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 record(s) decided differently have no resolution ('r1', 'r2')" in err
    assert not out.exists()
    fix = _write_decisions(tmp_path / "fix.csv", [("r1", "exclude"), ("r2", "include")])
    assert main(args + ["--resolved", str(fix)]) == 0
    assert "5 decisions (2 include): 1 agreed, 2 resolved, 1 first only, 1 second only" in \
        capsys.readouterr().out
    rows = list(csv.DictReader(open(out)))
    assert [(r["id"], r["label"], r["how"]) for r in rows] == [
        ("r0", "include", "agreed"), ("r1", "exclude", "resolved"), ("r2", "include", "resolved"),
        ("r3", "exclude", "first only"), ("r4", "exclude", "second only")]
    assert main(args + ["--conflicts", "include"]) == 0
    assert [r["label"] for r in csv.DictReader(open(out))] == ["include"] * 3 + ["exclude"] * 2
    capsys.readouterr()
    assert main(["review", "prisma", str(records), "--decisions", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["screening"]["screened_by_person"] == 5
    ben_prior = tmp_path / "ben_prior.csv"
    with open(ben_prior, "w", newline="") as fh:
        csv.writer(fh).writerows([["id", "label", "source"], ["r5", "include", "prior"]])
    assert main(["review", "merge", str(records), str(ana), str(ben_prior), "--out", str(out)]) == 0
    assert "1 prior(s) of the second screener's own keep no source" in capsys.readouterr().out
    assert list(csv.DictReader(open(out)))[-1]["source"] == ""
    bad = _write_decisions(tmp_path / "bad.csv", [("r0", "exclude")])
    assert main(args + ["--resolved", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 2: record 'r0' is not a conflict" in err
    assert main(["review", "merge", str(records), str(ana), str(ben), "--out", str(ana),
                 "--conflicts", "include"]) == 2
    assert "--out" in capsys.readouterr().err


def _write_decisions(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows(rows)
    return path
