"""`whatworks rate FINDINGS.csv --direction ...`: the command-line contract of issue 8."""

import json

import pytest

from whatworks.cli import main

KEYS = {"effectiveness", "effectiveness_code", "effectiveness_label", "strength", "strength_label",
        "scheme_id", "scheme_version", "path", "k", "participants", "explanation", "statement",
        "synthesis", "studies"}
SYNTHESIS_KEYS = {"estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "method",
                  "test"}

CSV = """study,design,n,risk_of_bias,measure,yi,vi,es_id,months
Smith 2019,rct,400,low,RR,-0.35,0.02,a,12
Jones 2020,cluster-rct,,some-concerns,RR,-0.22,0.015,b,12
Khan 2021,qed,900,high,RR,-0.30,0.01,c,
Lee 2018,pre-post,3000,high,RR,-0.5,0.002,d,12
"""


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def findings(tmp_path):
    path = tmp_path / "findings.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_rate_json_has_the_contract_keys(findings, capsys):
    code, out, err = run(["rate", findings, "--direction", "decrease", "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert KEYS <= data.keys()
    assert SYNTHESIS_KEYS <= data["synthesis"].keys()
    assert (data["scheme_id"], data["scheme_version"]) == ("whatworks-2026", "2.0")
    assert data["path"] == "meta-analysis" and data["k"] == 3
    assert data["participants"] == 1300                       # Jones did not report its size
    assert {s["study"]: s["used"] for s in data["studies"]} == {
        "Smith 2019": True, "Jones 2020": True, "Khan 2021": True, "Lee 2018": False}
    assert all(set(s) >= {"study", "used", "reason"} for s in data["studies"])
    assert data["effectiveness"] in (-2, -1, 0, 1, 2) and data["strength"] in range(5)


def test_rate_scheme_1_0_reproduces_the_old_rules(findings, capsys):
    code, out, _ = run(["rate", findings, "--direction", "decrease", "--scheme", "whatworks-2026@1.0",
                        "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["scheme_version"] == "1.0"
    assert data["synthesis"]["k"] == 4                         # 1.0 pooled the pre-post study too
    assert data["participants"] == 1301                        # and counted an unknown size as 1


def test_rate_reads_the_direction_from_the_outcome(findings, capsys):
    code, out, _ = run(["rate", findings, "--outcome", "entry-to-care", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["outcome"] == "entry-to-care"
    assert "For entry to care, fewer is better, so this is better." in data["statement"]


def test_rate_prints_a_table_for_people(findings, capsys):
    code, out, _ = run(["rate", findings, "--direction", "decrease"], capsys)
    assert code == 0
    assert out.startswith("Effectiveness: ") and "Strength of evidence: " in out and "Lee 2018" in out


@pytest.mark.parametrize("edit, where", [
    (("Khan 2021,qed,900,high,RR,-0.30,0.01", "Khan 2021,qed,900,high,RR,minus,0.01"), "row 3, column 'yi'"),
    (("Jones 2020,cluster-rct,", "Jones 2020,cluster-trial,"), "row 2, column 'design'"),
    (("Smith 2019,rct,400,low", "Smith 2019,rct,400,awful"), "row 1, column 'risk_of_bias'"),
])
def test_bad_input_exits_2_with_one_line_naming_file_row_and_column(tmp_path, capsys, edit, where):
    path = tmp_path / "bad.csv"
    path.write_text(CSV.replace(*edit), encoding="utf-8")
    code, out, err = run(["rate", path, "--direction", "decrease"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and where in err


@pytest.mark.parametrize("argv, message", [
    (["--direction", "sideways"], "direction='sideways'"),
    ([], "direction=None"),
    (["--direction", "decrease", "--scheme", "whatworks-2026@9.9"], "version='9.9'"),
    (["--outcome", "entry-to-care", "--direction", "increase"], "'decrease' for entry-to-care"),
])
def test_bad_options_exit_2_with_one_line(findings, capsys, argv, message):
    code, _, err = run(["rate", findings, *argv], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_a_missing_column_is_named(tmp_path, capsys):
    path = tmp_path / "nodesign.csv"
    path.write_text("study,measure,yi,vi\nA,RR,0.1,0.01\n", encoding="utf-8")
    code, _, err = run(["rate", path, "--direction", "increase"], capsys)
    assert code == 2 and "column 'design'" in err and err.count("\n") == 1
