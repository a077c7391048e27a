"""The authority x year panel on the shipped real files: published national totals, missing cells
kept missing, and agreement with an independent reader in R (tests/reference/make_places.R)."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError
from whatworks.places import load_areas, load_panel, national_series
from whatworks.places.boundaries import current_code
from whatworks.places.panel import PANEL_COLUMNS, resolve_code


@pytest.fixture(scope="module")
def panel():
    return load_panel()


@pytest.fixture(scope="module")
def england():
    return load_areas(level="national").set_index("year")


def test_the_panel_has_one_row_per_authority_and_year(panel):
    assert panel.columns.tolist() == PANEL_COLUMNS
    assert not panel.duplicated(["code", "year"]).any()
    assert sorted(panel["year"].unique()) == [*range(2010, 2018), *range(2019, 2024)]
    assert panel["code"].str.fullmatch(r"E(06|08|09|10)\d{6}").all()
    assert set(panel["region"]) == {"North East", "North West", "Yorkshire and The Humber",
                                    "East Midlands", "West Midlands", "East of England", "London",
                                    "South East", "South West"}


def test_2023_matches_the_published_83840_children_and_71_per_10000(england):
    row = england.loc[2023]
    assert row["count"] == 83840
    assert round(row["rate"]) == 71 and row["rate_published"] == 71


def test_2023_authorities_add_up_to_the_published_total(panel):
    # national figures are rounded to the nearest 10; authorities' are not
    la = panel[panel["year"] == 2023]
    assert la["count"].notna().all()
    assert round(la["count"].sum(), -1) == 83840
    assert round(la["count"].sum() / la["population"].sum() * 1e4) == 71


def test_2010_matches_the_published_64460_children_and_58_per_10000(england):
    # 64,460 is DfE's revised figure (the national time series); the 2010 release itself said
    # 64,400 (rounded to the nearest 100) and 58 per 10,000 with its mid-2009 population
    series = national_series().query("measure == 'cla_31_march'").set_index("year")
    assert series.loc[2010, "count"] == 64460
    assert series.loc[2023, "count"] == 83840
    assert england.loc[2010, "count"] == 64400
    assert round(england.loc[2010, "rate"]) == 58


def test_2010_authorities_add_up_to_the_first_published_total(panel):
    la = panel[panel["year"] == 2010]
    assert len(la) == 152 and la["population"].notna().all()
    assert round(la["count"].sum(), -2) == 64400
    assert round(la["count"].sum() / la["population"].sum() * 1e4) == 58


@pytest.mark.parametrize("year", [2011, 2012, 2013, 2014, 2015, 2016, 2017, 2019, 2020, 2021,
                                  2022])
def test_each_years_authorities_add_up_to_its_national_row(panel, england, year):
    la = panel[panel["year"] == year]
    assert abs(la["count"].sum() - england.loc[year, "count"]) <= 10


def test_suppressed_cells_are_missing_not_zero(panel):
    scilly = panel[(panel["code"] == "E06000053")].set_index("year")
    assert np.isnan(scilly.loc[2020, "count"]) and scilly.loc[2020, "count_symbol"] == "c"
    assert np.isnan(scilly.loc[2020, "rate"])
    assert scilly.loc[2021, "count"] == 0  # a published zero stays zero
    bournemouth = panel[(panel["code"] == "E06000028") & (panel["year"] == 2019)].iloc[0]
    assert bournemouth["count"] == 248
    assert np.isnan(bournemouth["population"]) and bournemouth["population_symbol"] == "x"
    assert np.isnan(bournemouth["rate"])


def test_populations_are_only_where_published(panel):
    has = panel.groupby("year")["population"].apply(lambda s: s.notna().any())
    assert has[2010] and not has[[2011, 2012, 2013, 2014, 2015, 2016, 2017]].any()
    assert has[[2019, 2020, 2021, 2022, 2023]].all()
    assert set(panel.loc[panel["population"].notna(), "population_source"]) == {"published"}


def test_interpolated_populations_are_marked_and_lie_between_published_ones():
    filled = load_panel(interpolate_population=True)
    leeds = filled[filled["name"] == "Leeds"].set_index("year")
    assert (leeds.loc[2011:2017, "population_source"] == "interpolated").all()
    assert leeds.loc[2010, "population_source"] == "published"
    step = (leeds.loc[2019, "population"] - leeds.loc[2010, "population"]) / 9
    assert leeds.loc[2013, "population"] == pytest.approx(leeds.loc[2010, "population"] + 3 * step)
    # never extrapolated: Bournemouth has no population after 2010
    bournemouth = filled[filled["code"] == "E06000028"]
    assert bournemouth["population"].notna().sum() == 1


def test_the_2023_panel_matches_an_independent_reader_in_r(panel):
    ref = load_reference("places.json")["la2023"]
    r = pd.DataFrame({"code": [current_code(c) for c in ref["code"]], "count": vec(ref["count"]),
                      "population": vec(ref["population"]), "region": ref["region"],
                      "imd_score": vec(ref["imd_score"])}).set_index("code")
    ours = panel[panel["year"] == 2023].set_index("code").loc[r.index]
    assert (ours["count"] == r["count"]).all()
    assert (ours["population"] == r["population"]).all()
    assert (ours["region"] == r["region"]).all()
    np.testing.assert_array_equal(ours["imd_score"], r["imd_score"])


def test_imd_joins_every_authority_and_marks_proxies(panel):
    assert panel["imd_score"].notna().all()
    proxied = set(panel.loc[panel["imd_proxy"], "code"])
    assert proxied == {"E06000028", "E06000029", "E10000009", "E06000061", "E06000062"}


def test_regions_are_the_nine_with_london_whole():
    regions = load_areas(level="regional")
    assert regions.groupby("year")["code"].nunique().eq(9).all()
    london = regions[(regions["code"] == "E12000007") & (regions["year"] == 2023)]
    assert london["name"].tolist() == ["London"]


def test_other_measures_come_from_the_2019_onwards_file():
    started = load_panel(measure="cla_started")
    assert sorted(started["year"].unique()) == [2019, 2020, 2021, 2022, 2023]


def test_an_unknown_measure_names_the_choices():
    with pytest.raises(ParameterError, match="measure='cla' is not allowed; expected cla_31_march"):
        load_panel(measure="cla")


def test_an_unknown_geography_names_the_choices():
    with pytest.raises(ParameterError, match="reported or consistent"):
        load_panel(geography="current")


def test_a_bad_user_file_names_itself(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("time_period,geographic_level,country_code,country_name,population_count,"
                    "number\n2024,National,E92000001,England,Children looked after at 31 March,"
                    "lots\n")
    with pytest.raises(InputError, match=r"mine.csv, row 1, column 'number'"):
        load_panel(files=[path])


@pytest.mark.parametrize("given, expected", [
    ("E08000037", "E08000037"), ("E08000020", "E08000037"), ("390", "E08000037"),
    ("gateshead", "E08000037"), ("E10000023", "E06000065"), ("E10000002", "E06000060")])
def test_codes_and_names_resolve_to_the_panel_code(panel, given, expected):
    assert resolve_code(panel, given) == expected


def test_an_unknown_code_is_refused(panel):
    with pytest.raises(ParameterError, match="code='Atlantis'"):
        resolve_code(panel, "Atlantis")
