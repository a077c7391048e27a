"""`whatworks places`: the sub-commands registered on a parser of our own, called through
``run`` as the main command does (errors are WhatWorksError; the main command exits 2)."""

import argparse
import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from whatworks.errors import InputError, ParameterError, WhatWorksError
from whatworks.places.cli import register, run


@pytest.fixture(scope="module")
def parser():
    p = argparse.ArgumentParser(prog="whatworks")
    register(p.add_subparsers(dest="command"))
    return p


def call(parser, argv, capsys):
    code = run(parser.parse_args(["places", *map(str, argv)]))
    out, err = capsys.readouterr()
    return code, out, err


def test_funnel_json_lists_every_authority_with_its_limits_and_flag(parser, capsys):
    code, out, _ = call(parser, ["funnel", "--year", 2023, "--measure", "cla_31_march",
                                 "--format", "json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["year"] == 2023 and result["k"] == 152
    rows = result["authorities"]
    assert len(rows) == 152
    keys = {"code", "name", "count", "population", "rate", "expected", "lower_95", "upper_95",
            "lower_99_8", "upper_99_8", "flag"}
    assert all(keys <= set(r) for r in rows)
    assert {r["flag"] for r in rows} <= {"above", "below", "within"}
    hartlepool = next(r for r in rows if r["code"] == "E06000001")
    assert hartlepool["count"] == 321 and hartlepool["population"] == 20116


def test_funnel_writes_an_svg_with_the_highlight(parser, capsys, tmp_path):
    path = tmp_path / "funnel.svg"
    code, out, _ = call(parser, ["funnel", "--year", 2023, "--plot", path, "--highlight",
                                 "E08000037", "--overdispersion", "additive"], capsys)
    assert code == 0 and "additive overdispersion" in out and "Gateshead" in out
    assert "Gateshead" in path.read_text() and ET.parse(path)


def test_funnel_csv_has_a_row_per_authority(parser, capsys, tmp_path):
    out_file = tmp_path / "funnel.csv"
    code, out, _ = call(parser, ["funnel", "--year", 2022, "--model", "binomial", "--format",
                                 "csv", "--output", out_file], capsys)
    assert code == 0 and out == ""
    frame = pd.read_csv(out_file)
    assert len(frame) == 152 and "flag" in frame.columns


def test_panel_csv_and_json(parser, capsys):
    code, out, _ = call(parser, ["panel", "--format", "csv", "--year", 2023], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("code,name,region_code,region,year,measure,count,population,rate")
    assert len(lines) == 153
    code, out, _ = call(parser, ["panel", "--format", "json", "--year", 2010,
                                 "--geography", "consistent"], capsys)
    rows = json.loads(out)
    assert len(rows) == 150 and {r["year"] for r in rows} == {2010}


def test_panel_table_is_for_people(parser, capsys):
    code, out, _ = call(parser, ["panel", "--year", 2023], capsys)
    assert code == 0 and "Hartlepool" in out and "imd_score" in out.splitlines()[0]


def test_model_json_has_each_model(parser, capsys):
    code, out, _ = call(parser, ["model", "--year", 2023, "--format", "json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"poisson", "negbin", "multilevel", "expected"}
    assert result["negbin"]["theta"] > 0
    assert result["multilevel"]["sd_region"] > 0
    assert len(result["expected"]["authorities"]) == 152


def test_model_table_and_csv(parser, capsys):
    code, out, _ = call(parser, ["model", "--year", 2023, "--kind", "poisson"], capsys)
    assert code == 0 and out.startswith("Poisson GLM")
    code, out, _ = call(parser, ["model", "--year", 2023, "--format", "csv"], capsys)
    frame = pd.read_csv(__import__("io").StringIO(out))
    assert set(frame["model"]) == {"poisson", "negbin", "multilevel"}


def test_trend_csv(parser, capsys):
    code, out, _ = call(parser, ["trend", "Gateshead", "--format", "csv", "--k", 5], capsys)
    assert code == 0
    frame = pd.read_csv(__import__("io").StringIO(out))
    assert set(frame["series"]) == {"authority", "England", "region", "neighbours"}


def test_without_a_sub_command_it_prints_help(parser, capsys):
    code, out, _ = call(parser, [], capsys)
    assert code == 0 and "funnel" in out and "panel" in out


def test_a_year_without_populations_is_a_user_error(parser, capsys):
    with pytest.raises(InputError, match="no populations for 2013"):
        call(parser, ["funnel", "--year", 2013], capsys)


def test_an_unknown_authority_is_a_user_error(parser, capsys):
    with pytest.raises(ParameterError, match="highlight='Atlantis'"):
        call(parser, ["funnel", "--year", 2023, "--highlight", "Atlantis"], capsys)


def test_a_plot_file_of_an_unknown_kind_is_refused_before_any_work(parser, capsys):
    with pytest.raises(ParameterError, match="--plot='funnel.gif'"):
        call(parser, ["funnel", "--year", 2023, "--plot", "funnel.gif"], capsys)


def test_a_bad_file_names_file_row_and_column(parser, capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2012\n"
                   "E06000001,LA,805,Hartlepool,two hundred\n")
    with pytest.raises(WhatWorksError) as err:
        call(parser, ["panel", "--file", bad], capsys)
    assert str(err.value) == (f"{bad}, row 1, column 'CLA_Mar2012': 'two hundred' is not a number;"
                              " expected a number, an empty cell or a DfE symbol ('c', 'x', 'z',"
                              " 'k', 'u', '..', ':')")


def test_interpolated_populations_allow_a_funnel_between_published_years(parser, capsys):
    code, out, _ = call(parser, ["funnel", "--year", 2014, "--interpolate-population",
                                 "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["k"] > 140


def test_the_funnel_adjusts_for_overdispersion_by_default():
    import argparse

    from whatworks.places import cli as places_cli

    parser = argparse.ArgumentParser()
    places_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["places", "funnel", "--year", "2023", "--measure", "cla_31_march"])
    assert args.overdispersion == "additive"
