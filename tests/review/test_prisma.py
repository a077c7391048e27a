"""The PRISMA 2020 flow (``whatworks review prisma``), and screening a deduplicated table.

The flow's counts are tied to each other (records identified = duplicates removed + records
screened + records awaiting screening, ...); those ties and the sentences that state them are
checked as invariants over generated reviews, and one review is followed end to end through the
real import -> dedup -> screen -> prisma commands.
"""

import csv
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.review.conftest import assert_one_line_naming, write_csv
from whatworks.cli import main
from whatworks.errors import InputError
from whatworks.review.prisma import (
    NO_REASON,
    FlowRecord,
    FullTextDecision,
    prisma_flow,
    read_flow_records,
    read_full_text,
    read_other_methods,
    read_previous,
    screening_ids,
    sought_for_retrieval,
)
from whatworks.review.screening.screen import Decision, read_decisions


def _run(capsys, *args):
    code = main(["review", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err




# ---- a review followed through the real commands

TOPICS = ["family group conferencing", "intensive family preservation services",
          "social workers in schools", "signs of safety practice model", "kinship care support",
          "parenting programmes for neglect", "devolved budgets for social workers",
          "shared decision-making meetings", "foster carer training", "reunification after care"]


def _export(tmp_path):
    """Two databases' exports of the same ten studies (Embase has all ten, Scopus six of them, one
    with its DOI only) and a register's two trials."""
    rows = []
    for k, topic in enumerate(TOPICS):
        rows.append([f"e{k}", f"A trial of {topic} for children in need", f"We evaluated {topic} "
                     f"in {k + 3} local authorities.", f"Author{k}, A.; Other, B.", 2018 + k % 5,
                     "Child Abuse Negl", f"10.1000/cwc.{k}", "Embase"])
        if k < 6:
            rows.append([f"s{k}", f"A trial of {topic} for children in need", f"We evaluated {topic} "
                         f"in {k + 3} local authorities.", f"Author{k}, A.; Other, B.",
                         2018 + k % 5, "Child abuse & neglect", f"https://doi.org/10.1000/CWC.{k}",
                         "Scopus"])
    rows.append(["t1", "Registered trial of respite care", "Protocol.", "", 2022, "", "", "ISRCTN"])
    rows.append(["t2", "Registered trial of family drug courts", "Protocol.", "", 2023, "", "",
                 "ISRCTN"])
    return write_csv(tmp_path / "records.csv", ["id", "title", "abstract", "authors", "year", "journal",
                                            "doi", "source_database"], rows)


def test_a_review_followed_from_dedup_through_screening_to_the_flow(tmp_path, capsys):
    records = _export(tmp_path)
    dd, kept = tmp_path / "dedup.csv", tmp_path / "kept.csv"
    code, _, err = _run(capsys, "dedup", records, "--format", "csv", "-o", dd, "--deduplicated", kept)
    assert code == 0, err
    table = list(csv.DictReader(open(dd, encoding="utf-8")))
    assert len(table) == 18 and sum(r["kept"] == "False" for r in table) == 6
    alone = list(csv.DictReader(open(kept, encoding="utf-8")))
    assert len(alone) == 12 and all("kept" not in r for r in alone)
    assert sorted(r["source_database"] for r in alone).count("Embase; Scopus") == 6

    # screening the dedup table leaves the duplicates out, and says so
    code, out, err = _run(capsys, "screen", dd, "--format", "json", "--next", 20, "--no-cache")
    assert code == 0, err
    result = json.loads(out)
    assert result["records"] == 12 and result["duplicates_left_out"] == 6
    assert {r["id"] for r in result["next"]} == {r["id"] for r in alone}
    code, out, _ = _run(capsys, "screen", dd, "--no-cache")
    assert "6 records with kept False" in out

    decisions = write_csv(tmp_path / "decisions.csv", ["id", "label", "source"],
                       [["e0", "include", "prior"], ["e1", "exclude", "prior"],
                        ["e2", "include", ""], ["e3", "include", ""], ["e4", "exclude", ""],
                        ["t1", "exclude", ""], ["e5", "include", ""]])
    full = write_csv(tmp_path / "full.csv", ["id", "decision", "reason", "study"],
                  [["e0", "include", "", "S1"], ["e2", "exclude", "wrong population", ""],
                   ["e3", "not retrieved", "", ""], ["e5", "include", "", "S1"]])
    plot = tmp_path / "flow.svg"
    code, out, err = _run(capsys, "prisma", dd, "--decisions", decisions, "--full-text", full,
                          "--registers", "ISRCTN", "--stopped", "--format", "json", "--plot", plot)
    assert code == 0, err
    flow = json.loads(out)
    assert flow["identified"] == {"total": 18, "databases_total": 16, "registers_total": 2,
                                  "databases": {"Embase": 10, "Scopus": 6},
                                  "registers": {"ISRCTN": 2}}
    assert flow["removed_before_screening"] == {"duplicates": 6, "automation": 0, "other": 0,
                                                "automation_reasons": {}, "other_reasons": {}}
    assert flow["screening"] == {"records_screened": 12, "screened_by_person": 7,
                                 "records_excluded": 8, "excluded_by_person": 3,
                                 "excluded_by_automation": 5, "awaiting_screening": 0}
    assert flow["retrieval"] == {"sought": 4, "not_retrieved": 1, "assessed": 3,
                                 "excluded": {"wrong population": 1}, "awaiting_assessment": 0,
                                 "included": 2}
    assert flow["included"] == {"studies": 1, "reports": 2, "new_studies": 1, "new_reports": 2,
                                "previous_studies": None, "previous_reports": None}
    assert flow["other_methods"] is None
    assert plot.read_text().lstrip().startswith("<?xml") and "Records screened" in plot.read_text()

    code, text, _ = _run(capsys, "prisma", dd, "--decisions", decisions, "--full-text", full,
                         "--registers", "ISRCTN", "--stopped")
    assert code == 0
    for line in ("Duplicate records removed (n = 6)", "Records screened (n = 12)",
                 "Records excluded (n = 8)", "by automation tools (n = 5)",
                 "wrong population (n = 1)", "Studies included in review (n = 1)",
                 "Reports of included studies (n = 2)"):
        assert line in text


def test_without_stopped_the_records_not_screened_are_awaiting_and_the_flow_says_so(tmp_path, capsys):
    records = _export(tmp_path)
    decisions = write_csv(tmp_path / "d.csv", ["id", "label"], [["e0", "1"], ["e1", "0"]])
    code, out, err = _run(capsys, "prisma", records, "--decisions", decisions, "--format", "json")
    assert code == 0, err
    flow = json.loads(out)
    assert flow["removed_before_screening"]["duplicates"] == 0
    assert flow["screening"]["awaiting_screening"] == 16
    assert flow["screening"]["excluded_by_automation"] == 0
    assert any("no kept column" in n for n in flow["notes"])
    assert any("16 record(s) are not screened yet" in n and "--stopped" in n for n in flow["notes"])
    assert flow["included"]["studies"] is None and flow["included"]["reports"] is None


@pytest.mark.parametrize("name, rows, fragment, where", [
    ("dup", [["s0", "include"]], "record 's0' is a duplicate of record 'e0'", "line 2"),
    ("unknown", [["zz", "include"]], "no record has id 'zz'", "line 2"),
])
def test_a_decision_on_a_duplicate_or_unknown_record_exits_2_naming_the_line(tmp_path, capsys, name,
                                                                             rows, fragment, where):
    dd = tmp_path / "dedup.csv"
    assert _run(capsys, "dedup", _export(tmp_path), "--format", "csv", "-o", dd)[0] == 0
    decisions = write_csv(tmp_path / "d.csv", ["id", "label"], rows)
    for command in (["prisma", dd, "--decisions", decisions], ["screen", dd, "--labels", decisions]):
        code, out, err = _run(capsys, *command, "--no-cache" if command[0] == "screen" else "--stopped")
        assert code == 2 and fragment in err and where in err and str(decisions) in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("rows, fragment", [
    ([["e1", "include", ""]], "was not sought for retrieval (it was excluded at title and abstract, "
                              "decisions line 3)"),
    ([["s0", "include", ""]], "it was removed as a duplicate of 'e0'"),
    ([["e4", "exclude", "x"]], "it has no title-and-abstract decision"),
    ([["e0", "include", ""], ["e0", "exclude", "x"]],
     "line 3: id 'e0' is also the id of the record on line 2"),
    ([["e0", "maybe", ""]], "decision 'maybe' is not allowed"),
])
def test_a_bad_full_text_file_exits_2_naming_the_line(tmp_path, capsys, rows, fragment):
    dd = tmp_path / "dedup.csv"
    assert _run(capsys, "dedup", _export(tmp_path), "--format", "csv", "-o", dd)[0] == 0
    decisions = write_csv(tmp_path / "d.csv", ["id", "label"], [["e0", "1"], ["e1", "0"]])
    full = write_csv(tmp_path / "f.csv", ["id", "decision", "reason"], rows)
    code, _, err = _run(capsys, "prisma", dd, "--decisions", decisions, "--full-text", full)
    assert code == 2 and fragment in err and str(full) in err, err


def test_bad_records_and_options_exit_2_with_one_line(tmp_path, capsys):
    merged = write_csv(tmp_path / "merged.csv", ["id", "title", "source_database"],
                    [["a", "x", "Embase"], ["b", "y", "Embase; Scopus"]])
    code, _, err = _run(capsys, "prisma", merged)
    assert code == 2 and "line 3" in err and "deduplicated table" in err
    bad_kept = write_csv(tmp_path / "k.csv", ["id", "title", "kept"], [["a", "x", "perhaps"]])
    for command in (["prisma", bad_kept], ["screen", bad_kept, "--no-cache"]):
        code, _, err = _run(capsys, *command)
        assert code == 2 and "line 2" in err and "kept is 'perhaps'" in err
    records = _export(tmp_path)
    code, _, err = _run(capsys, "prisma", records, "--registers", "CT.gov")
    assert code == 2 and "'CT.gov'" in err and "ISRCTN" in err
    code, _, err = _run(capsys, "prisma", records, "--full-text", records)
    assert code == 2 and "--decisions" in err
    code, _, err = _run(capsys, "prisma", records, "--plot", tmp_path / "flow.gif")
    assert code == 2 and ".svg" in err
    all_gone = write_csv(tmp_path / "gone.csv", ["id", "title", "kept"], [["a", "x", "False"]])
    code, _, err = _run(capsys, "screen", all_gone, "--no-cache")
    assert code == 2 and "nothing is left to screen" in err


def test_screening_a_dedup_table_reads_decisions_and_details_of_the_kept_rows_only(tmp_path):
    from whatworks.review.screening.data import load_records_with_ids, record_details

    path = write_csv(tmp_path / "r.csv", ["title", "abstract", "journal", "kept", "duplicate_of"],
                  [["one", "a", "J1", "True", ""], ["two", "b", "J2", "false", "1"],
                   ["three", "c", "J3", "1", ""]])
    records, ids = load_records_with_ids(path)
    assert records.titles == ("one", "three") and ids == ["1", "3"] and ids.left_out == {"2": "1"}
    assert [d["journal"] for d in record_details(path)] == ["J1", "J3"]
    labels = write_csv(tmp_path / "d.csv", ["id", "label"], [["3", "1"]])
    assert [(d.index, d.label) for d in read_decisions(labels, ids)] == [(1, 1)]


# ---- the flow's promises, over generated reviews

@st.composite
def reviews(draw):
    n = draw(st.integers(1, 40))
    dbs = draw(st.lists(st.sampled_from(["Embase", "MEDLINE", "Scopus", "ISRCTN", ""]), min_size=n,
                        max_size=n))
    kept = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    kept[draw(st.integers(0, n - 1))] = True  # at least one record kept
    removed = draw(st.lists(st.sampled_from([None, None, None, ("not English", None),
                                             ("before 2000", None), ("not an RCT", "automation")]),
                            min_size=n, max_size=n))
    removed[kept.index(True)] = None  # at least one record goes to screening
    records = [FlowRecord(f"r{k}", db or None, kept[k], None if kept[k] else "r0", None,
                          *(removed[k] or (None, None)))
               for k, db in enumerate(dbs)]
    n_kept = sum(r.screened_set for r in records)
    screened = draw(st.lists(st.integers(0, n_kept - 1), unique=True, max_size=n_kept))
    decisions = [Decision(i, draw(st.integers(0, 1))) for i in screened]
    kept_ids = [r.id for r in records if r.screened_set]
    included = [kept_ids[d.index] for d in decisions if d.label == 1]
    full = None
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(included), unique=True)) if included else []
        full = [FullTextDecision(i, draw(st.sampled_from(["include", "exclude", "not_retrieved"])),
                                 draw(st.sampled_from([None, "wrong population", "wrong design"])),
                                 draw(st.sampled_from([None, "S1", "S2"])))
                for i in chosen]
    registers = ["ISRCTN"] if draw(st.booleans()) and "ISRCTN" in dbs else []
    other = None
    if draw(st.booleans()):  # reports found by other methods (PRISMA 2020's second column)
        m = draw(st.integers(0, 8))
        other = [FullTextDecision(f"o{k}", draw(st.sampled_from(
                    ["include", "exclude", "not_retrieved", "not_sought", "awaiting"])),
                    draw(st.sampled_from([None, "wrong population", "wrong design"])),
                    draw(st.sampled_from([None, "S1", "S3"])),
                    source=draw(st.sampled_from(["Citation searching", "Websites"])))
                 for k in range(m)]
    previous = None
    if draw(st.booleans()):  # an updated review: the previous version's included reports
        previous = [FullTextDecision(f"p{k}", "include", None, draw(st.sampled_from([None, "S1", "S2"])))
                    for k in range(draw(st.integers(1, 5)))]
    return records, decisions, full, draw(st.booleans()), registers, other, previous


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reviews())
def test_every_record_is_counted_once_in_every_stage_and_each_box_says_its_count(review):
    records, decisions, full, stopped, registers, other, previous = review
    flow = prisma_flow(records, decisions, full, stopped=stopped, registers=registers, other=other,
                       previous=previous)
    d = flow.to_dict()
    ident, before, scr, ret, inc = (d[k] for k in ("identified", "removed_before_screening",
                                                    "screening", "retrieval", "included"))
    n_kept = sum(r.screened_set for r in records)
    # identification: every record once, in one database or register
    assert ident["total"] == len(records) == ident["databases_total"] + ident["registers_total"]
    assert sum(ident["databases"].values()) == ident["databases_total"]
    assert set(ident["registers"]) == set(registers)
    # removed before screening (duplicates, automation, other) + screened + awaiting = identified
    assert before["duplicates"] + before["automation"] + before["other"] + scr["records_screened"] + \
        scr["awaiting_screening"] == ident["total"]
    assert before["duplicates"] == sum(not r.kept for r in records)
    assert before["automation"] == sum(before["automation_reasons"].values()) == \
        sum(r.kept and r.removed_by == "automation" and bool(r.removed) for r in records)
    assert before["other"] == sum(before["other_reasons"].values())
    assert scr["records_screened"] + scr["awaiting_screening"] == n_kept
    assert scr["screened_by_person"] == len(decisions)
    assert scr["records_excluded"] == scr["excluded_by_person"] + scr["excluded_by_automation"]
    assert scr["records_screened"] == scr["records_excluded"] + ret["sought"]
    assert ret["sought"] == sum(x.label for x in decisions)
    # the stopping rule's records are excluded by automation only when screening stopped
    if stopped:
        assert scr["awaiting_screening"] == 0
        assert scr["excluded_by_automation"] == n_kept - len(decisions)
    else:
        assert scr["excluded_by_automation"] == 0
        assert (scr["awaiting_screening"] > 0) == any("not screened yet" in t for t in d["notes"])
    if full is None:
        assert ret["assessed"] is None and inc["reports"] is None and inc["studies"] is None
        assert inc["new_reports"] is None and inc["new_studies"] is None
    else:
        assert ret["sought"] == ret["not_retrieved"] + ret["assessed"] + ret["awaiting_assessment"]
        assert ret["assessed"] == sum(ret["excluded"].values()) + ret["included"]
        gave_no_reason = any(x.decision == "exclude" and not x.reason for x in full)
        assert (NO_REASON in ret["excluded"]) == gave_no_reason
        # the included box gathers both columns; an update's total adds the previous version
        om = d["other_methods"]
        assert inc["new_reports"] == ret["included"] + (om["included"] if om else 0)
        assert inc["reports"] == inc["new_reports"] + (inc["previous_reports"] or 0)
        assert inc["studies"] == inc["new_studies"] + (inc["previous_studies"] or 0)
        assert inc["studies"] <= inc["reports"] and (inc["studies"] > 0) == (inc["reports"] > 0)
        assert inc["new_studies"] <= inc["new_reports"]
        if previous is None:
            assert (inc["studies"], inc["reports"]) == (inc["new_studies"], inc["new_reports"])
        else:  # a new report of a study included before is a new report, not a new study
            old = {x.study or x.id for x in previous}
            new = {x.study or x.id for x in [*full, *(other or ())] if x.decision == "include"}
            assert inc["new_studies"] == len(new - old)
    if other is None:
        assert d["other_methods"] is None
    else:  # the second column: every report found by other methods once, in every stage
        om = d["other_methods"]
        assert om["identified"]["total"] == len(other) == sum(om["identified"]["sources"].values())
        assert om["sought"] == om["identified"]["total"] - om["not_sought"]
        assert om["sought"] == om["not_retrieved"] + om["assessed"] + om["awaiting_assessment"]
        assert om["assessed"] == sum(om["excluded"].values()) + om["included"]
    if previous is None:
        assert inc["previous_studies"] is None and inc["previous_reports"] is None
    else:
        assert inc["previous_reports"] == len(previous)
        # reports sharing a study count as one study; a report without one is its own
        assert inc["previous_studies"] == len({x.study or f"own {x.id}" for x in previous})
    # every box states the count it holds
    text = flow.to_text()
    assert f"Duplicate records removed (n = {before['duplicates']:,})" in text
    assert f"Records marked as ineligible by automation tools (n = {before['automation']:,})" in text
    assert f"Records removed for other reasons (n = {before['other']:,})" in text
    for reason, count in {**before["automation_reasons"], **before["other_reasons"]}.items():
        assert f"{reason} (n = {count:,})" in text
    assert f"Records screened (n = {scr['records_screened']:,})" in text
    assert f"Records excluded (n = {scr['records_excluded']:,})" in text
    assert f"by automation tools (n = {scr['excluded_by_automation']:,})" in text
    assert f"Reports sought for retrieval (n = {ret['sought']:,})" in text
    if full is not None:
        assert f"Reports assessed for eligibility (n = {ret['assessed']:,})" in text
        for reason, count in ret["excluded"].items():
            assert f"{reason} (n = {count:,})" in text
        if previous is None:
            assert f"Studies included in review (n = {inc['studies']:,})" in text
            assert f"Reports of included studies (n = {inc['reports']:,})" in text
            assert "new included" not in text and "Total studies" not in text
        else:
            assert f"New studies included in review (n = {inc['new_studies']:,})" in text
            assert f"Reports of new included studies (n = {inc['new_reports']:,})" in text
            assert f"Total studies included in review (n = {inc['studies']:,})" in text
            assert f"Reports of total included studies (n = {inc['reports']:,})" in text
    if previous is not None:
        assert "Studies included in previous version of review " \
               f"(n = {inc['previous_studies']:,})" in text
        assert "Reports of studies included in previous version of review " \
               f"(n = {inc['previous_reports']:,})" in text
    if other is not None:
        om = d["other_methods"]
        assert "Identification of new studies via other methods" in text
        for source, count in om["identified"]["sources"].items():
            assert f"{source} (n = {count:,})" in text
        assert f"Reports sought for retrieval (n = {om['sought']:,})" in text
        assert f"Reports assessed for eligibility (n = {om['assessed']:,})" in text
        for reason, count in om["excluded"].items():
            assert f"{reason} (n = {count:,})" in text


@settings(max_examples=100, deadline=None)
@given(reviews())
def test_the_files_a_review_writes_read_back_to_the_same_flow(tmp_path_factory, review):
    records, decisions, full, stopped, registers, other, previous = review
    tmp = tmp_path_factory.mktemp("flow")
    path = write_csv(tmp / "records.csv", ["id", "title", "source_database", "kept", "duplicate_of",
                                           "removed", "removed_by"],
                     [[r.id, "t", r.source_database or "", r.kept, r.duplicate_of or "",
                       r.removed or "", r.removed_by or ""] for r in records])
    table = read_flow_records(path)
    assert table.dedup_known and not table.by_row
    assert [(r.id, r.source_database, r.kept, r.removed, r.removed_by) for r in table.records] == \
        [(r.id, r.source_database, r.kept, r.removed, r.removed_by) for r in records]
    kept_ids = [r.id for r in records if r.screened_set]
    dpath = write_csv(tmp / "d.csv", ["id", "label"], [[kept_ids[x.index], x.label] for x in decisions])
    again = read_decisions(dpath, screening_ids(table.records))
    assert [(x.index, x.label) for x in again] == [(x.index, x.label) for x in decisions]
    sought, why_not = sought_for_retrieval(table.records, again)
    assert sought == {kept_ids[x.index] for x in decisions if x.label == 1}
    assert set(why_not) | sought == {r.id for r in records}
    words = {"not_retrieved": "Not retrieved", "not_sought": "not sought", "awaiting": ""}

    def fields(reports):
        return [(x.id, x.decision, x.reason, x.study, x.source) for x in reports]

    if full is not None:
        fpath = write_csv(tmp / "f.csv", ["id", "decision", "reason", "study"],
                          [[x.id, words.get(x.decision, x.decision.upper()), x.reason or "",
                            x.study or ""] for x in full])
        assert fields(read_full_text(fpath, sought, why_not)) == fields(full)
    if other is not None:
        opath = write_csv(tmp / "o.csv", ["ID", "Source", "Decision", "Reason", "Study"],
                          [[x.id, x.source, words.get(x.decision, x.decision), x.reason or "",
                            x.study or ""] for x in other])
        assert fields(read_other_methods(opath, (r.id for r in records))) == fields(other)
    if previous is not None:
        ppath = write_csv(tmp / "p.csv", ["id", "study"], [[x.id, x.study or ""] for x in previous])
        assert fields(read_previous(ppath)) == fields(previous)


def test_a_full_text_decision_outside_the_records_sought_is_refused_by_the_core():
    records = [FlowRecord("a", "Embase"), FlowRecord("b", "Embase")]
    with pytest.raises(ValueError):
        prisma_flow(records, [Decision(0, 0)], [FullTextDecision("a", "include")])
    with pytest.raises(InputError, match="no record has as its source_database"):
        prisma_flow(records, registers=["ISRCTN"])


# ---- any file: a count or one clear line, never a traceback

CELLS = st.one_of(st.sampled_from(["", "r0", "r1", "r2", "s0", "Embase", "Embase; Scopus", "True",
                                   "False", "maybe", "include", "exclude", "not retrieved", "1",
                                   "0", "prior", "model", "wrong population", "not sought",
                                   "Citation searching", "p1", "o1"]),
                  st.text(max_size=6))
TABLES = st.tuples(st.lists(st.sampled_from(["id", "title", "source_database", "kept",
                                             "duplicate_of", "label", "source", "decision",
                                             "reason", "study", "ID", "Label", "source"]),
                            min_size=0, max_size=5),
                   st.lists(st.lists(CELLS, max_size=6), max_size=6))


def _bytes(table) -> bytes:
    import io

    header, rows = table
    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.one_of(TABLES.map(_bytes), st.binary(max_size=80)),
       decisions=st.one_of(st.none(), TABLES.map(_bytes), st.binary(max_size=40)),
       full=st.one_of(st.none(), TABLES.map(_bytes)), stopped=st.booleans(),
       other=st.one_of(st.none(), TABLES.map(_bytes)), previous=st.one_of(st.none(), TABLES.map(_bytes)))
def test_any_files_give_the_flow_or_one_line_naming_the_file(tmp_path_factory, capsys, records,
                                                            decisions, full, stopped, other, previous):
    tmp = tmp_path_factory.mktemp("fuzz")
    args = ["prisma", tmp / "r.csv", "--format", "json"]
    (tmp / "r.csv").write_bytes(records)
    for name, content in (("--other-methods", other), ("--previous", previous)):
        if content is not None:
            (tmp / f"{name[2:]}.csv").write_bytes(content)
            args += [name, tmp / f"{name[2:]}.csv"]
    if decisions is not None:
        (tmp / "d.csv").write_bytes(decisions)
        args += ["--decisions", tmp / "d.csv"]
        if full is not None:
            (tmp / "f.csv").write_bytes(full)
            args += ["--full-text", tmp / "f.csv"]
    if stopped:
        args.append("--stopped")
    code, out, err = _run(capsys, *args)
    event("flow" if code == 0 else "refused")
    if code == 0:
        flow = json.loads(out)
        scr = flow["screening"]
        assert flow["identified"]["total"] == flow["removed_before_screening"]["duplicates"] + \
            scr["records_screened"] + scr["awaiting_screening"]
        om = flow["other_methods"]
        if om is not None:
            assert om["sought"] == om["not_retrieved"] + om["assessed"] + om["awaiting_assessment"]
    else:
        assert_one_line_naming(code, err, tmp)  # names the file (its folder)


def test_records_removed_before_screening_are_left_out_and_counted_by_reason(tmp_path, capsys):
    dd = tmp_path / "dedup.csv"
    assert _run(capsys, "dedup", _export(tmp_path), "--format", "csv", "-o", dd)[0] == 0
    rows = list(csv.DictReader(open(dd, encoding="utf-8")))
    why = {"t1": ("protocol only", ""), "t2": ("protocol only", ""), "e9": ("not an RCT", "automation")}
    for r in rows:
        r["removed"], r["removed_by"] = why.get(r["id"], ("", ""))
    marked = write_csv(tmp_path / "marked.csv", list(rows[0]), [list(r.values()) for r in rows])
    code, out, err = _run(capsys, "screen", marked, "--format", "json", "--next", 20, "--no-cache")
    assert code == 0, err
    result = json.loads(out)
    assert (result["records"], result["duplicates_left_out"], result["removed_left_out"]) == (9, 6, 3)
    assert not {r["id"] for r in result["next"]} & set(why)
    code, out, _ = _run(capsys, "screen", marked, "--no-cache")
    assert "3 records with a reason in the removed column" in out
    bad = write_csv(tmp_path / "bad.csv", ["id", "label"], [["e0", "1"], ["t1", "0"]])
    code, _, err = _run(capsys, "screen", marked, "--labels", bad, "--no-cache")
    assert code == 2 and "line 3" in err and "removed before screening (protocol only" in err
    decisions = write_csv(tmp_path / "d.csv", ["id", "label"], [["e0", "1"], ["e1", "0"]])
    code, out, err = _run(capsys, "prisma", marked, "--decisions", decisions, "--stopped",
                          "--format", "json")
    assert code == 0, err
    flow = json.loads(out)
    assert flow["removed_before_screening"] == {
        "duplicates": 6, "automation": 1, "other": 2, "automation_reasons": {"not an RCT": 1},
        "other_reasons": {"protocol only": 2}}
    assert flow["screening"]["records_screened"] == 9
    code, text, _ = _run(capsys, "prisma", marked, "--decisions", decisions, "--stopped")
    assert "Records marked as ineligible by automation tools (n = 1)" in text
    assert "Records removed for other reasons (n = 2)" in text and "protocol only (n = 2)" in text
    # a full-text decision on a removed record says why it was not sought
    full = write_csv(tmp_path / "f.csv", ["id", "decision"], [["t1", "include"]])
    code, _, err = _run(capsys, "prisma", marked, "--decisions", decisions, "--full-text", full)
    assert code == 2 and "removed before screening: protocol only" in err
    odd = write_csv(tmp_path / "odd.csv", ["id", "title", "removed", "removed_by"],
                    [["a", "x", "", "robot"]])
    code, _, err = _run(capsys, "prisma", odd)
    assert code == 2 and "removed_by is 'robot'" in err


@pytest.mark.parametrize("command", [
    ["prisma", "{dd}", "--plot", "{gone}/flow.svg"],
    ["prisma", "{dd}", "-o", "{gone}/flow.txt"],
    ["dedup", "{dd}", "-o", "{gone}/x.csv"],
    ["dedup", "{dd}", "--deduplicated", "{gone}/x.csv"],
    ["merge", "{dd}", "{d}", "{d}", "--out", "{gone}/x.csv"],
    ["agree", "{dd}", "{d}", "{d}", "-o", "{gone}/x.txt"],
])
def test_writing_into_a_missing_folder_is_one_line_naming_it(tmp_path, capsys, command):
    dd = tmp_path / "dedup.csv"
    assert _run(capsys, "dedup", _export(tmp_path), "--format", "csv", "-o", dd)[0] == 0
    d = write_csv(tmp_path / "d.csv", ["id", "label"], [["e0", "1"]])
    gone = tmp_path / "no" / "such"
    code, _, err = _run(capsys, *[c.format(dd=dd, d=d, gone=gone) for c in command])
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{gone}: the folder does not exist" in err


# ---- the second column (other methods) and updated reviews

def _update_files(tmp_path):
    records = write_csv(tmp_path / "rec.csv", ["id", "title", "source_database", "kept",
                                               "duplicate_of", "removed"],
                        [["a1", "t", "Embase", "True", "", ""], ["a2", "t", "Embase", "True", "", ""],
                         ["a3", "t", "MEDLINE", "False", "a1", ""],
                         ["a4", "t", "MEDLINE", "True", "", ""],
                         ["a5", "t", "MEDLINE", "True", "", "in the previous version"],
                         ["a6", "t", "ISRCTN", "True", "", ""]])
    decisions = write_csv(tmp_path / "dec.csv", ["id", "label"],
                          [["a1", "1"], ["a2", "1"], ["a4", "0"], ["a6", "1"]])
    full = write_csv(tmp_path / "full.csv", ["id", "decision", "reason", "study"],
                     [["a1", "include", "", "S1"], ["a2", "exclude", "wrong population", ""],
                      ["a6", "include", "", "S9"]])
    other = write_csv(tmp_path / "other.csv", ["id", "source", "decision", "reason", "study"],
                      [["c1", "Citation searching", "include", "", "S2"],
                       ["c2", "Citation searching", "exclude", "wrong design", ""],
                       ["c3", "Websites", "not retrieved", "", ""],
                       ["c4", "Citation searching", "not sought", "", ""],
                       ["c5", "Organisations", "include", "", "S1"],
                       ["c6", "Websites", "", "", ""]])
    previous = write_csv(tmp_path / "prev.csv", ["id", "study"],
                         [["p1", "S9"], ["p2", "S9"], ["p3", "S7"]])
    return records, decisions, full, other, previous


def test_an_update_with_other_methods_counts_new_previous_and_total_studies(tmp_path, capsys):
    records, decisions, full, other, previous = _update_files(tmp_path)
    plot = tmp_path / "prisma.svg"
    code, out, err = _run(capsys, "prisma", records, "--decisions", decisions, "--full-text", full,
                          "--other-methods", other, "--previous", previous, "--registers", "ISRCTN",
                          "--format", "json", "--plot", plot)
    assert code == 0, err
    flow = json.loads(out)
    assert flow["other_methods"] == {
        "identified": {"total": 6, "sources": {"Citation searching": 3, "Organisations": 1,
                                               "Websites": 2}},
        "not_sought": 1, "sought": 5, "not_retrieved": 1, "assessed": 3,
        "excluded": {"wrong design": 1}, "awaiting_assessment": 1, "included": 2}
    # new reports: a1 (S1), a6 (S9), c1 (S2), c5 (S1); S9 was included before, so two new studies
    assert flow["included"] == {"studies": 4, "reports": 7, "new_studies": 2, "new_reports": 4,
                                "previous_studies": 2, "previous_reports": 3}
    assert flow["retrieval"]["included"] == 2
    assert any("found by other methods have no decision yet" in n for n in flow["notes"])
    svg = plot.read_text()
    for box in ("Total studies included in review", "Studies included in previous", "Citation searching",
                "Reports of new included studies"):
        assert box in svg

    code, text, _ = _run(capsys, "prisma", records, "--decisions", decisions, "--full-text", full,
                         "--other-methods", other, "--previous", previous)
    assert code == 0
    for line in ("Identification of new studies via other methods", "Citation searching (n = 3)",
                 "Records not sought for retrieval (n = 1)", "Reports sought for retrieval (n = 5)",
                 "wrong design (n = 1)", "Studies included in previous version of review (n = 2)",
                 "New studies included in review (n = 2)", "Total studies included in review (n = 4)",
                 "Reports of total included studies (n = 7)"):
        assert line in text
    # other methods without an update: one included box for both columns
    code, out, _ = _run(capsys, "prisma", records, "--decisions", decisions, "--full-text", full,
                        "--other-methods", other, "--format", "json")
    assert json.loads(out)["included"] == {"studies": 3, "reports": 4, "new_studies": 3,
                                           "new_reports": 4, "previous_studies": None,
                                           "previous_reports": None}


@pytest.mark.parametrize("which, rows, fragment", [
    ("other", [["id", "decision"], ["c1", "include"]], "no column 'source'"),
    ("other", [["id", "source", "decision"], ["c1", "", "include"]], "line 2: report 'c1' names no source"),
    ("other", [["id", "source", "decision"], ["a2", "Websites", "include"]],
     "line 2: report 'a2' is also a record of the records table"),
    ("other", [["id", "source", "decision"], ["c1", "Websites", "maybe"]],
     "line 2: decision 'maybe' is not allowed; give include, exclude, not retrieved, not sought"),
    ("other", [["id", "source", "decision"], ["c1", "Websites", ""], ["c1", "Websites", ""]],
     "line 3: id 'c1' is also the id of the record on line 2"),
    ("previous", [["study"], ["S1"]], "no column 'id'"),
    ("previous", [["id", "study"], ["p1", "S1"], ["p1", "S1"]],
     "line 3: id 'p1' is also the id of the record on line 2"),
    ("previous", [["id"]], "line 2: no reports after the header"),
    ("previous", [["id", "study"], ["a1", "S1"]],
     "line 2: report 'a1' is included in this update and in the previous version"),
])
def test_bad_other_methods_and_previous_files_exit_2_naming_the_line(tmp_path, capsys, which, rows,
                                                                   fragment):
    records, decisions, full, other, previous = _update_files(tmp_path)
    bad = write_csv(tmp_path / "bad.csv", rows[0], rows[1:])
    args = ["prisma", records, "--decisions", decisions, "--full-text", full]
    args += ["--other-methods", bad] if which == "other" else ["--previous", bad]
    code, _, err = _run(capsys, *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    # the file named is the one to mend (the update's full-text file, for a report in both)
    assert str(full if "in this update" in fragment else bad) in err
    if "in this update" in fragment:
        assert str(bad) in err and "line 2" in err
