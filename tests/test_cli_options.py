"""The whatworks command refuses what it cannot honour, reads names in any case, and turns every bad
cell or file into exit 2 with one line naming the file, row and column."""

import json

import numpy as np
import pytest

from whatworks.cli import EFFECT_COLUMNS, main
from whatworks.effects import EFFECT_ARGUMENTS
from whatworks.synthesis import TAU2_ESTIMATORS


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def effects_csv(tmp_path):
    path = tmp_path / "effects.csv"
    path.write_text("study,yi,vi,cl,x\ns1,0.10,0.010,a,1\ns2,0.30,0.020,a,2\ns3,0.25,0.015,b,3\n"
                    "s4,-0.05,0.030,c,4\ns5,0.40,0.025,c,5\n")
    return path


@pytest.fixture
def tables_csv(tmp_path):
    path = tmp_path / "tables.csv"
    path.write_text("ai,bi,ci,di,m1i\n4,119,11,128,1\n6,300,29,274,1\n3,228,11,209,1\n")
    return path


def test_the_parser_knows_every_escalc_argument():
    assert EFFECT_COLUMNS == EFFECT_ARGUMENTS


MH = ["--ai", "ai", "--bi", "bi", "--ci", "ci", "--di", "di"]
UNHONOURED = [
    (MH + ["--method", "MH", "--plot", "x.svg", "--bias", "--leave-one-out"], "--bias"),
    (MH + ["--method", "MH", "--plot", "x.svg"], "--plot"),
    (MH + ["--method", "mh", "--leave-one-out"], "--leave-one-out"),
    (MH + ["--method", "MH", "--influence"], "--influence"),
    (MH + ["--method", "MH", "--test", "knha"], "--test"),
    (MH + ["--method", "PETO", "--robust", "ai"], "--robust"),
    (MH + ["--method", "MH", "--mods", "ai"], "--mods"),
    (MH + ["--method", "MH", "--random", "ai"], "--random"),
    (MH + ["--method", "MH", "--subgroup", "ai"], "--subgroup"),
    (MH + ["--method", "MH", "--permutations", "10"], "--permutations"),
    (MH + ["--method", "MH", "--slab", "ai"], "--slab"),
    (MH + ["--method", "MH", "--m1i", "m1i"], "--m1i"),
    (MH + ["--method", "MH", "--yi", "ai"], "--yi"),
    (MH + ["--method", "PETO", "--measure", "RR"], "--measure"),
    (MH + ["--method", "MH", "--measure", "SMD"], "--measure"),
    (["--yi", "ai", "--vi", "bi", "--measure", "OR"], "--measure"),
    (["--yi", "ai", "--vi", "bi", "--m1i", "m1i"], "--m1i"),
    (["--yi", "ai", "--vi", "bi", "--sei", "ci"], "--sei"),
    (["--m1i", "m1i"], "--m1i"),
    (["--yi", "ai", "--vi", "bi", "--seed", "1"], "--seed"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--bias"], "--bias"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--plot", "x.svg"], "--plot"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--leave-one-out"], "--leave-one-out"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--influence"], "--influence"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--subgroup", "ci"], "--subgroup"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--permutations", "9"], "--permutations"),
    (["--yi", "ai", "--vi", "bi", "--random", "ai", "--slab", "ci"], "--slab"),
    (["--yi", "ai", "--vi", "bi", "--method", "nonsense"], "--method"),
    (["--yi", "ai", "--vi", "bi", "--mods", "ci", "--plot", "x.svg"], "--plot"),
    (["--yi", "ai", "--vi", "bi", "--mods", "ci", "--leave-one-out"], "--leave-one-out"),
]


@pytest.mark.parametrize(("options", "named"), UNHONOURED)
def test_every_option_it_cannot_honour_exits_2_naming_it(tables_csv, tmp_path, capsys, options,
                                                          named):
    code, out, err = run(["meta", tables_csv, *options], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("whatworks: error: ") and named in err
    assert not (tmp_path / "x.svg").exists()


def test_method_names_are_read_in_any_case(effects_csv, tables_csv, capsys):
    for method in [*TAU2_ESTIMATORS, "MH", "PETO"]:
        for spelt in (method.lower(), method.upper()):
            cols = MH if method in ("MH", "PETO") else ["--yi", "yi", "--vi", "vi"]
            data = tables_csv if method in ("MH", "PETO") else effects_csv
            code, out, err = run(["meta", data, *cols, "--method", spelt, "--format", "json"],
                                 capsys)
            assert code == 0, err
            assert json.loads(out)["method"].upper() == method.upper()


def test_measures_tests_and_formats_are_read_in_any_case(effects_csv, tables_csv, capsys):
    code, out, err = run(["meta", effects_csv, "--yi", "yi", "--vi", "vi", "--test", "KNHA",
                          "--format", "JSON"], capsys)
    assert code == 0, err and json.loads(out)["test"] == "knha"
    code, out, err = run(["effects", tables_csv, "--measure", "or", "--ai", "ai", "--bi", "bi",
                          "--ci", "ci", "--di", "di", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)[0]["yi"] == pytest.approx(-0.93869, abs=1e-5)


def test_leave_one_out_and_influence_are_printed_in_the_table(effects_csv, capsys):
    code, out, _ = run(["meta", effects_csv, "--yi", "yi", "--vi", "vi", "--leave-one-out",
                        "--influence"], capsys)
    assert code == 0
    # as tables for people, one row per study omitted (the JSON keeps every digit)
    assert "\nLeave-one-out analysis (" in out and "\nInfluence diagnostics (" in out
    assert "{" not in out
    code, out_json, _ = run(["meta", effects_csv, "--yi", "yi", "--vi", "vi", "--leave-one-out",
                             "--format", "json"], capsys)
    table = out.split("Influence diagnostics")[0]
    for row in json.loads(out_json)["leave_one_out"]:
        assert f"{row['omitted']} {row['estimate']:9.4f}" in table


@pytest.mark.parametrize("cell", ["١٢", "１２", "1_000", "1e309", "inf", "-Infinity", "0x10"])
def test_cells_that_are_not_finite_ascii_numbers_are_refused(tmp_path, capsys, cell):
    path = tmp_path / "cells.csv"
    path.write_text(f"yi,vi\n0.1,0.02\n0.2,0.03\n{cell},0.01\n0.3,0.04\n", encoding="utf-8")
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and f"{path}, row 3, column 'yi': '{cell}'" in err


@pytest.mark.parametrize("rows", ["s1,0.10,0.010,5\ns2,0.2,0.02\n", "s1,0.10,0.010,\ns2,0.2,0.02\n",
                                  "s1,0.10,0.010\ns2,0.2,0.02,7\n"])
def test_rows_with_more_fields_than_the_header_are_refused(tmp_path, capsys, rows):
    path = tmp_path / "extra.csv"
    path.write_text("study,yi,vi\n" + rows)
    code, out, err = run(["meta", path, "--yi", "yi", "--vi", "vi", "--format", "json"], capsys)
    row = 1 if rows.startswith("s1,0.10,0.010,") else 2
    assert code == 2 and out == ""
    assert err == (f"whatworks: error: {path}, row {row}: has 4 fields but the header has 3; "
                   "remove the extra fields, or quote values that contain ','\n")


def test_a_tokenizer_error_is_one_line(tmp_path, capsys):
    path = tmp_path / "quote.csv"
    path.write_text('yi,vi\n0.1,0.1\n"0.2,0.02\n')
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(path) in err


@pytest.mark.parametrize(("rows", "options", "message"), [
    ("0.1,0.1\n", ["--influence"], "influence diagnostics need more studies"),
    ("0.1,0\n", [], "row 1, column 'vi': sampling variance 0 gives this study infinite weight"),
    ("0.1,0.1\n0.1,0.1\n0.1,0.1\n", ["--test", "knha"], "test='knha' scales the variance"),
    ("0.1,0\n0.2,0\n0.3,0\n", ["--bias"], "Egger's test regresses the effects on sei"),
    ("0.1,0.1\n", ["--leave-one-out"], "leave-one-out needs at least 2 studies"),
])
def test_degenerate_data_exit_2_naming_the_file(tmp_path, capsys, rows, options, message):
    path = tmp_path / "small.csv"
    path.write_text("yi,vi\n" + rows)
    code, _, err = run(["meta", path, "--yi", "yi", "--vi", "vi", *options], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"whatworks: error: {path}") and message in err


@pytest.mark.parametrize("cells", [("1e308", "1", "2", "3"), ("1e-300", "1", "2", "3"),
                                   ("1e15", "1e15", "3", "1e200")])
def test_mantel_haenszel_refuses_counts_no_group_of_people_has(tmp_path, capsys, cells):
    path = tmp_path / "mh.csv"
    path.write_text("ai,bi,ci,di\n" + ",".join(cells) + "\n1,2,3,4\n")
    for method in ("MH", "PETO"):
        code, _, err = run(["meta", path, *MH, "--method", method], capsys)
        assert code == 2 and err.count("\n") == 1
        assert f"{path}, row 1, column '" in err and "outside what a count of people can be" in err


def test_robust_drops_cluster_labels_with_the_rows_left_out(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("yi,vi,cl\n0.1,0.1,a\n,0.1,a\n0.3,0.02,b\n0.2,0.05,b\n0.5,0.01,c\n0.4,0.02,c\n")
    code, out, err = run(["meta", path, "--yi", "yi", "--vi", "vi", "--robust", "cl",
                          "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["k"] == 5 and "1 studies with missing values were left out" in err
    assert result["robust"]


def test_an_output_folder_that_does_not_exist_is_one_line(tables_csv, tmp_path, capsys):
    target = tmp_path / "nowhere" / "x.csv"
    code, _, err = run(["effects", tables_csv, "--measure", "OR", *MH, "-o", target], capsys)
    assert code == 2 and err.count("\n") == 1 and f"--output {target}" in err


def test_a_duplicated_authority_code_in_the_imd_file_is_named(tmp_path, capsys):
    from whatworks.places.io import IMD_COLUMNS

    header = ",".join(f'"{c}"' for c in IMD_COLUMNS)
    row = "E06000001,Hartlepool," + ",".join(["1"] * (len(IMD_COLUMNS) - 2))
    path = tmp_path / "imd.csv"
    path.write_text(f"{header}\n{row}\n{row.replace('E06000001', 'E06000002')}\n{row}\n")
    code, _, err = run(["places", "funnel", "--year", "2023", "--imd", path], capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{path}, row 3" in err and "'E06000001' appears again (first in row 1)" in err


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["meta", "x.csv", "--test", "bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "--test" in err


def test_effects_adjusts_cluster_trials_with_each_arms_cluster_sizes(tmp_path, capsys):
    path = tmp_path / "cluster.csv"
    path.write_text("m1i,m2i,sd1i,sd2i,n1i,n2i,cs,icc\n10,9,3,3.2,160,160,20,0.1\n"
                    "10,9,3,3.2,160,160,5;35;5;35;5;35;5;35|5;35;5;35;5;35;5;35,0.2\n")
    means = ["--m1i", "m1i", "--m2i", "m2i", "--sd1i", "sd1i", "--sd2i", "sd2i", "--n1i", "n1i",
             "--n2i", "n2i"]
    code, out, err = run(["effects", path, "--measure", "SMD", *means, "--cluster-sizes", "cs",
                          "--icc", "icc", "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    from whatworks.effects import escalc, hedges2007_smd

    g = escalc("SMD", m1i=[10, 10], m2i=[9, 9], sd1i=[3, 3], sd2i=[3.2, 3.2], n1i=[160, 160],
               n2i=[160, 160])["yi"]
    equal = hedges2007_smd(g[0], n1i=160, n2i=160, cluster_size=20, icc=0.1)
    unequal = hedges2007_smd(g[1], sizes1=[5, 35] * 4, sizes2=[5, 35] * 4, icc=0.2)
    assert [rows[0]["yi"], rows[0]["vi"]] == pytest.approx([equal.yi, equal.vi], rel=1e-12)
    assert [rows[1]["yi"], rows[1]["vi"]] == pytest.approx([unequal.yi, unequal.vi], rel=1e-12)
    code, out, err = run(["effects", path, "--measure", "MD", *means, "--cluster-sizes", "cs",
                          "--icc", "0.05", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)[0]["vi"] == pytest.approx((9 / 160 + 3.2**2 / 160) * 1.95)


@pytest.mark.parametrize(("options", "message"), [
    (["--icc", "0.1"], "--icc needs --cluster-sizes"),
    (["--cluster-sizes", "n1i"], "--cluster-sizes needs --icc"),
    (["--cluster-sizes", "m1i", "--icc", "nope"], "--icc 'nope' is neither a number nor a column"),
    (["--cluster-sizes", "none", "--icc", "0.1"], "no such column (given as --cluster-sizes)"),
])
def test_cluster_options_without_what_they_need_exit_2(tables_csv, capsys, options, message):
    code, _, err = run(["effects", tables_csv, "--measure", "OR", *MH[:4], "--ci", "ci", "--di",
                        "di", *options], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_generic_inverse_variance_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "adjusted.csv"
    path.write_text("study,aor,lo,hi\nA,1.45,1.10,1.91\nB,0.82,0.61,1.10\nC,2.10,1.31,3.37\n")
    gen = ["--measure", "gen", "--estimate", "aor", "--ci-lower", "lo", "--ci-upper", "hi",
           "--scale", "log"]
    code, out, err = run(["effects", path, *gen, "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert rows[0]["yi"] == pytest.approx(np.log(1.45), rel=1e-12)
    assert rows[0]["vi"] == pytest.approx(((np.log(1.91) - np.log(1.10)) / (2 * 1.959963984540054))
                                          ** 2, rel=1e-12)
    code, out, err = run(["meta", path, *gen, "--method", "DL", "--format", "json"], capsys)
    assert code == 0, err and json.loads(out)["k"] == 3
    code, _, err = run(["effects", path, "--measure", "OR", "--scale", "log", "--ai", "aor"],
                       capsys)
    assert code == 2 and "--scale is only used by --measure GEN" in err


def test_small_study_tests_and_the_permutation_test_are_printed_for_people(effects_csv, capsys):
    code, out, _ = run(["meta", effects_csv, "--yi", "yi", "--vi", "vi", "--bias", "--permutations",
                        "50", "--seed", "3"], capsys)
    assert code == 0 and "{" not in out
    code, js, _ = run(["meta", effects_csv, "--yi", "yi", "--vi", "vi", "--bias", "--format",
                       "json"], capsys)
    egger = json.loads(js)["bias"]["egger"]
    assert f"Egger's regression test: z = {egger['statistic']:.3f}" in out
    assert "Begg's rank correlation: Kendall's tau = " in out and "Trim and fill: " in out
    assert "Permutation test" in out
