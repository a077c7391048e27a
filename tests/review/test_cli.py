"""`whatworks review import` and `whatworks review dedup` through the main command (exit codes,
one-line errors, the JSON contract)."""

import json
import subprocess
import sys

import pandas as pd

from whatworks.cli import main
from whatworks.review import cli as review_cli

RIS = """TY  - JOUR
AU  - Smith, Jane
TI  - Family group conferences and re-referral: a randomised controlled trial
PY  - 2019
DO  - 10.1016/j.chiabu.2019.01.001
ER  -
"""
NBIB = """PMID- 30711709
TI  - Family group conferences and re-referral: a randomized controlled trial.
DP  - 2019 Mar
FAU - Smith, Jane
AID - 10.1016/j.chiabu.2019.01.001 [doi]

PMID- 222
TI  - Kinship care and placement stability.
DP  - 2018
"""


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_dedup_json(tmp_path, capsys):
    a, b = tmp_path / "scopus.ris", tmp_path / "pubmed.nbib"
    a.write_text(RIS, encoding="utf-8")
    b.write_text(NBIB, encoding="utf-8")
    out_csv = tmp_path / "records.csv"
    code, out, err = run(["review", "import", a, b, "--out", out_csv], capsys)
    assert code == 0 and "total: 3 records from 2 file(s)" in err
    frame = pd.read_csv(out_csv)
    assert list(frame["id"]) == ["R1", "R2", "R3"]
    assert list(frame["source_database"].fillna("")) == ["", "PubMed", "PubMed"]
    code, out, err = run(["review", "dedup", out_csv, "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["groups"] == [["R1", "R2"]] or data["groups"] == [["R2", "R1"]]
    pair = next(p for p in data["pairs"] if {p["a"], p["b"]} == {"R1", "R2"})
    assert pair["decision"] == "merged" and pair["reason"] == "same DOI" and 0 <= pair["probability"] <= 1
    code, out, err = run(["review", "dedup", out_csv, "--format", "csv"], capsys)
    csv_frame = pd.read_csv(__import__("io").StringIO(out))
    assert csv_frame["kept"].sum() == 2
    assert set(csv_frame.loc[csv_frame["id"] == "R3", "source_file"]) == {str(b)}  # provenance kept


def test_bad_input_exits_2_with_one_line_naming_file_line_and_field(tmp_path, capsys):
    bad = tmp_path / "cut.ris"
    bad.write_text("TY  - JOUR\nTI  - a\nER  -\nAU  - Lost, Its TY\n", encoding="utf-8")
    code, out, err = run(["review", "import", bad, "--out", tmp_path / "r.csv"], capsys)
    assert code == 2 and not (tmp_path / "r.csv").exists()
    assert err.count("\n") == 1
    assert f"{bad}, line 4, field AU:" in err


def test_dedup_bad_table_and_threshold_exit_2(tmp_path, capsys):
    t = tmp_path / "t.csv"
    t.write_text("id,title\n1,a\n1,b\n", encoding="utf-8")
    code, _, err = run(["review", "dedup", t], capsys)
    assert code == 2 and "row 2, field id" in err and err.count("\n") == 1
    t.write_text("id,title\n1,a\n", encoding="utf-8")
    code, _, err = run(["review", "dedup", t, "--merge-threshold", "0.2"], capsys)
    assert code == 2 and "merge_threshold" in err


def test_input_formats_match_the_readers():
    from whatworks.review.io import FORMATS

    assert review_cli.INPUT_FORMATS == FORMATS


def test_building_the_parser_imports_no_reader_or_matcher():
    code = ("import sys; from whatworks.review import cli; import argparse; "
            "p = argparse.ArgumentParser(); cli.register(p.add_subparsers()); "
            "bad = [m for m in ('rapidfuzz', 'rispy', 'bibtexparser', 'openpyxl', 'pandas', "
            "'whatworks.review.io', 'whatworks.review.dedup') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_template_names_match_the_shipped_templates():
    from whatworks.review.extraction import TEMPLATES

    assert review_cli.TEMPLATE_NAMES == tuple(TEMPLATES)


def test_template_blank_table_and_check(tmp_path, capsys):
    code, out, _ = run(["review", "template", "realist_cmo", "--format", "csv"], capsys)
    assert code == 0 and out.startswith("study_id,cmo_id,programme_theory,context,")
    t = tmp_path / "n.csv"
    t.write_text("study_id,design,intervention,outcome_domain,direction_of_effect\n"
                 "S1,cohort,FGC,re-referral,favours intervention\nS2,cohort,FGC,re-referral,positive\n",
                 encoding="utf-8")
    code, _, err = run(["review", "template", "narrative_synthesis", "--check", t], capsys)
    assert code == 2 and f"{t}, row 2, column 'direction_of_effect'" in err and err.count("\n") == 1
    t.write_text(t.read_text().replace(",positive", ",mixed"), encoding="utf-8")
    code, out, _ = run(["review", "template", "narrative_synthesis", "--check", t], capsys)
    assert code == 0 and 're-referral,1,0,0,1,0,"S1, S2"' in out
    code, _, err = run(["review", "template", "thematic_coding", "--format", "xlsx"], capsys)
    assert code == 2 and "--output" in err
    code, _, _ = run(["review", "template", "thematic_coding", "--format", "xlsx", "-o", tmp_path / "t.xlsx"],
                     capsys)
    assert code == 0 and (tmp_path / "t.xlsx").exists()
