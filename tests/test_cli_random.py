"""whatworks meta --random (metafor's meaning), --rho (the CHE model) and --robust, against the
metafor 3.8 / clubSandwich fixtures of tests/reference/make_random.R."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference
from whatworks.cli import main

REF = load_reference("random.json")


def csv(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    pd.DataFrame(REF["data"][name]).to_csv(path, index=False)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_one_random_column_fits_one_variance_component(tmp_path, capsys):
    case = REF["cases"]["lopez_single_REML"]
    code, out, err = run(["meta", csv(tmp_path, "lopez2019"), "--yi", "yi", "--vi", "vi",
                          "--random", "study", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["random"] == ["study"]
    # tolerances as in tests/synthesis/test_random.py (metafor's optimiser stops ~3e-5 short)
    assert result["sigma2"] == pytest.approx([case["sigma2"]], rel=1e-4)
    assert result["estimate"] == pytest.approx(case["beta"], rel=1e-4)


def test_repeated_random_terms_are_crossed_in_the_order_given(tmp_path, capsys):
    case = REF["cases"]["moura_crossed_ML"]
    code, out, err = run(["meta", csv(tmp_path, "moura2021"), "--yi", "yi", "--vi", "vi",
                          "--random", "study", "--random", "species", "--random", "esid",
                          "--method", "ML", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["random"] == ["study", "species", "esid"]
    assert result["sigma2"] == pytest.approx(case["sigma2"], rel=1e-4)


def test_rho_fits_the_che_model_and_robust_gives_cr2_and_htz(tmp_path, capsys):
    case = REF["cases"]["tanner_che08_mods_REML"]
    code, out, err = run(["meta", csv(tmp_path, "tannersmith2016"), "--yi", "yi", "--vi", "vi",
                          "--random", "studyid/esid", "--rho", "0.8", "--mods", "propmale",
                          "aget1", "--robust", "studyid", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["rho"] == 0.8 and result["sampling_covariance"] == "block"
    assert result["sigma2"] == pytest.approx(case["sigma2"], rel=1e-4)
    assert result["robust"]["se"] == pytest.approx(case["CR2"]["se"][0], rel=1e-4)
    assert result["robust"]["df"] == pytest.approx(case["CR2"]["df"][0], rel=1e-4)
    assert result["robust"]["moderators"]["p_value"] == pytest.approx(case["HTZ"]["pval"],
                                                                     rel=1e-4)


def test_rows_with_missing_values_leave_with_their_labels(tmp_path, capsys):
    frame = pd.DataFrame(REF["data"]["tannersmith2016"])
    frame.loc[[0, 5], "yi"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    code, out, err = run(["meta", path, "--yi", "yi", "--vi", "vi", "--random", "studyid/esid",
                          "--rho", "0.6", "--robust", "studyid", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["k"] == len(frame) - 2
    assert "2 rows with missing values were left out" in err


@pytest.mark.parametrize("argv, message", [
    (["--rho", "0.6"], "--rho (the CHE model) needs --random"),
    (["--random", "studyid", "--method", "DL"], "use REML or ML"),
    (["--random", "studyid", "--test", "knha"], "use z or t"),
    (["--random", "studyid//esid"], "separated by '/'"),
    (["--random", "studyid/nope"], "column 'nope'"),
    (["--random", "studyid/esid", "--rho", "1"], "rho=1.0"),
    (["--random", "studyid/esid", "--robust", "esid"], "more than one cluster"),
])
def test_it_refuses_what_it_cannot_fit_with_one_line(tmp_path, capsys, argv, message):
    path = csv(tmp_path, "tannersmith2016")
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi", *argv], capsys)
    assert code == 2
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
