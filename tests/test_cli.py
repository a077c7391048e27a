"""The whatworks command: contract names, JSON keys, exit codes and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from whatworks import __version__
from whatworks.cli import main

CONTRACT_KEYS = {"k", "method", "test", "estimate", "se", "statistic", "p_value", "ci_lower",
                 "ci_upper", "pi_lower", "pi_upper", "tau2", "tau2_se", "tau2_ci_lower",
                 "tau2_ci_upper", "i2", "h2", "q", "q_df", "q_p_value", "df", "coefficients", "qm",
                 "qm_p_value"}


@pytest.fixture
def bcg_csv(tmp_path):
    data = load_reference("rma.json")["data"]["bcg"]
    frame = pd.DataFrame({"yi": vec(data["yi"]), "vi": vec(data["vi"]), "ablat": vec(data["ablat"]),
                          "alloc": data["alloc"]})
    path = tmp_path / "bcg.csv"
    frame.to_csv(path, index=False)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_it_prints_its_version():
    done = subprocess.run([sys.executable, "-m", "whatworks.cli", "--version"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"whatworks {__version__}"


def test_meta_json_has_the_contract_keys_and_metafor_numbers(bcg_csv, capsys):
    code, out, err = run(["meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--method", "REML",
                          "--test", "knha", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert CONTRACT_KEYS <= result.keys()
    ref = next(f for f in load_reference("rma.json")["fits"] if f["dataset"] == "bcg"
               and f["method"] == "REML" and f["test"] == "knha" and not f["mods"])
    assert result["estimate"] == pytest.approx(ref["beta"], rel=1e-5)
    assert result["tau2"] == pytest.approx(ref["tau2"], rel=1e-5)
    assert result["df"] == 12


def test_meta_regression_names_coefficients_as_r_does(bcg_csv, capsys):
    code, out, _ = run(["meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--mods", "ablat", "alloc",
                        "--format", "json"], capsys)
    assert code == 0
    result = json.loads(out)
    names = [c["name"] for c in result["coefficients"]]
    assert names == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    assert set(result["coefficients"][0]) == {"name", "estimate", "se", "statistic", "p_value",
                                              "ci_lower", "ci_upper"}
    assert result["qm"] > 0 and 0 <= result["qm_p_value"] <= 1


def test_meta_prints_a_table_for_people(bcg_csv, capsys):
    code, out, _ = run(["meta", bcg_csv, "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 0
    assert "Random-effects model (k = 13" in out and "tau^2" in out


def test_a_missing_file_exits_2_with_one_line(tmp_path, capsys):
    code, out, err = run(["meta", tmp_path / "nope.csv", "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "nope.csv: no such file" in err


def test_a_missing_column_is_named(bcg_csv, capsys):
    code, _, err = run(["meta", bcg_csv, "--yi", "effect", "--vi", "vi"], capsys)
    assert code == 2
    assert "column 'effect'" in err and "the columns are yi, vi, ablat, alloc" in err


def test_text_in_a_number_column_names_file_row_and_column(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("yi,vi\n0.1,0.02\n0.3,oops\n0.2,0.05\n")
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 2
    assert f"{path}, row 2, column 'vi': 'oops' is not a number" in err
    assert err.count("\n") == 1


def test_a_negative_variance_names_file_row_and_column(tmp_path, capsys):
    path = tmp_path / "neg.csv"
    path.write_text("yi,vi\n0.1,0.02\n0.3,0.01\n0.2,-0.05\n")
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 2
    assert f"{path}, row 3, column 'vi'" in err and "negative" in err


def test_rows_with_missing_values_are_left_out_with_a_warning(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("yi,vi\n0.1,0.02\n,0.01\n0.2,0.05\n0.5,NA\n0.4,0.03\n")
    code, out, err = run(["meta", path, "--yi", "yi", "--vi", "vi", "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["k"] == 3
    assert "2 studies with missing values were left out" in err


def test_an_unknown_method_is_refused_with_the_choices(bcg_csv, capsys):
    code, _, err = run(["meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--method", "XYZ"], capsys)
    assert code == 2
    assert "method='XYZ' is not allowed" in err and "REML" in err


def test_mantel_haenszel_from_the_command_line(tmp_path, capsys):
    # the BCG trials' counts (metadat dat.bcg)
    counts = pd.DataFrame({"tpos": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
                           "tneg": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699,
                                    50448, 2493, 16886],
                           "cpos": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
                           "cneg": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600,
                                    27197, 2338, 17825]})
    path = tmp_path / "counts.csv"
    counts.to_csv(path, index=False)
    code, out, err = run(["meta", path, "--measure", "OR", "--method", "MH", "--ai", "tpos",
                          "--bi", "tneg", "--ci", "cpos", "--di", "cneg", "--format", "json"],
                         capsys)
    assert code == 0, err
    result = json.loads(out)
    mh = next(c for c in load_reference("mh.json")["cases"]
              if c["dataset"] == "bcg" and c["measure"] == "OR" and c["method"] == "MH"
              and c["args"]["correct"])
    assert result["estimate"] == pytest.approx(mh["result"]["estimate"], rel=1e-8)
    assert np.isfinite(result["q"])


@pytest.mark.parametrize("case_id", ["bcg_OR", "normand1999_SMD_LS"])
def test_effects_appends_yi_and_vi_as_metafor_escalc(case_id, tmp_path, capsys):
    cases = {c["id"]: c for c in load_reference("effects.json")["cases"]}
    if case_id not in cases:  # pick any SMD case from the same dataset
        case_id = next(i for i in cases if i.startswith("normand1999_SMD"))
    case = cases[case_id]
    frame = pd.DataFrame({k: vec(v) for k, v in case["args"].items()})
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    options = [x for name in case["args"] for x in (f"--{name}", name)]
    code, out, err = run(["effects", path, "--measure", case["measure"], *options,
                          "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["yi"] for r in rows] == pytest.approx(list(vec(case["yi"])), rel=1e-10)
    assert [r["vi"] for r in rows] == pytest.approx(list(vec(case["vi"])), rel=1e-10)
    assert set(frame.columns) < set(rows[0])


def test_effects_names_the_row_of_an_impossible_count(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,n1,c,n2\n3,20,4,20\n30,20,4,20\n")
    code, _, err = run(["effects", path, "--measure", "RR", "--ai", "a", "--n1i", "n1",
                        "--ci", "c", "--n2i", "n2"], capsys)
    assert code == 2
    assert str(path) in err and "row 2" in err and err.count("\n") == 1


def test_effects_writes_csv_by_default(tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text("ri,ni\n0.3,50\n0.1,120\n")
    code, out, _ = run(["effects", path, "--measure", "ZCOR", "--ri", "ri", "--ni", "ni"], capsys)
    assert code == 0
    header, first, *_ = out.splitlines()
    assert header == "ri,ni,yi,vi"
    assert float(first.split(",")[3]) == pytest.approx(1 / 47)


@pytest.fixture
def konstantopoulos_csv(tmp_path):
    data = load_reference("dependent.json")["data"]["konstantopoulos2011"]
    path = tmp_path / "k2011.csv"
    pd.DataFrame({k: (vec(v) if k in ("yi", "vi", "year") else np.atleast_1d(v))
                  for k, v in data.items()}).to_csv(path, index=False)
    return path


def test_multilevel_json_reports_sigma2_top_level_first(konstantopoulos_csv, capsys):
    ref = load_reference("dependent.json")
    fit = ref["multilevel"]["konstantopoulos2011_REML_z"]
    code, out, err = run(["meta", konstantopoulos_csv, "--yi", "yi", "--vi", "vi", "--random",
                          "district/school", "--robust", "district", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["sigma2"] == pytest.approx(list(vec(fit["sigma2"])), rel=1e-5)
    assert result["estimate"] == pytest.approx(fit["beta"], rel=1e-5)
    robust = ref["robust"].values() if isinstance(ref["robust"], dict) else ref["robust"]
    cr2 = next(r for r in robust if r["model"] == "konstantopoulos2011_REML_z"
               and r["cluster"] == "district")["metafor_CR2"]
    assert {"se", "df", "p_value", "ci_lower", "ci_upper"} <= result["robust"].keys()
    assert result["robust"]["se"] == pytest.approx(cr2["se"], rel=1e-5)
    assert result["robust"]["df"] == pytest.approx(cr2["df"], rel=1e-5)


def test_random_names_a_missing_level_column(konstantopoulos_csv, capsys):
    code, _, err = run(["meta", konstantopoulos_csv, "--yi", "yi", "--vi", "vi", "--random",
                        "district/classroom"], capsys)
    assert code == 2 and "column 'classroom'" in err


@pytest.fixture
def bcg_bias_csv(tmp_path):
    data = load_reference("bias_sensitivity.json")["data"]["bcg"]
    path = tmp_path / "bcg_bias.csv"
    pd.DataFrame({"yi": vec(data["yi"]), "vi": vec(data["vi"]),
                  "group": np.atleast_1d(data["group"])}).to_csv(path, index=False)
    return path


def _ref(section, **where):
    return next(x for x in load_reference("bias_sensitivity.json")[section]
                if all(x[k] == v for k, v in where.items()))


def test_bias_and_leave_one_out_json_match_metafor(bcg_bias_csv, capsys):
    code, out, err = run(["meta", bcg_bias_csv, "--yi", "yi", "--vi", "vi", "--bias",
                          "--leave-one-out", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    ref = _ref("bias", dataset="bcg", method="REML", test="z")
    bias = result["bias"]
    assert set(bias) == {"egger", "begg", "trim_and_fill"}
    assert bias["egger"]["statistic"] == pytest.approx(ref["egger_rma"]["zval"], rel=1e-5)
    assert bias["egger"]["p_value"] == pytest.approx(ref["egger_rma"]["pval"], rel=1e-5)
    assert bias["begg"]["tau"] == pytest.approx(ref["ranktest"]["tau"], rel=1e-8)
    tf = ref["trimfill"]["L0"]
    assert bias["trim_and_fill"]["k0"] == tf["k0"] and bias["trim_and_fill"]["side"] == tf["side"]
    assert bias["trim_and_fill"]["estimate"] == pytest.approx(tf["beta"], rel=1e-5)
    loo = result["leave_one_out"]
    expected = _ref("sensitivity", dataset="bcg", method="REML", test="z")["leave1out"]
    assert isinstance(loo, list) and len(loo) == 13
    assert {"estimate", "se", "tau2", "i2"} <= loo[0].keys()
    assert [r["estimate"] for r in loo] == pytest.approx(expected["estimate"], rel=1e-5)


def test_subgroups_and_influence_from_the_command_line(bcg_bias_csv, capsys):
    code, out, err = run(["meta", bcg_bias_csv, "--yi", "yi", "--vi", "vi", "--subgroup", "group",
                          "--influence", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert "influence" in result and "subgroups" in result
    ref = _ref("subgroups", dataset="bcg", method="REML", test="z")
    assert result["subgroups"]["q_between"] == pytest.approx(ref["Qb"], rel=1e-5)
    assert result["subgroups"]["q_between_p_value"] == pytest.approx(ref["Qb_p"], rel=1e-5)
    ref_inf = _ref("sensitivity", dataset="bcg", method="REML", test="z")["influence"]
    assert len(result["influence"]["rstudent"]) == 13
    assert result["influence"]["rstudent"] == pytest.approx(ref_inf["rstudent"], rel=1e-5)
    assert result["influence"]["cook_d"] == pytest.approx(ref_inf["cook_d"], rel=1e-5)


def test_permutations_are_seeded_recorded_and_quiet_when_piped(bcg_csv, capsys):
    args = ["meta", bcg_csv, "--yi", "yi", "--vi", "vi", "--mods", "ablat", "--permutations", "200",
            "--seed", "7", "--format", "json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    first = json.loads(out)["permutation"]
    assert first["seed"] == 7 and first["n_permutations"] == 200
    assert "permutations" not in err  # no progress bar when stderr is not a terminal
    code, out, _ = run(args, capsys)
    assert json.loads(out)["permutation"]["p_value"] == first["p_value"]


def test_python_dash_m_whatworks_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "whatworks", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"whatworks {__version__}"
