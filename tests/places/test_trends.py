"""Trends with confidence intervals and similar authorities (whatworks.places.trends)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError
from whatworks.places import load_panel
from whatworks.places.trends import poisson_rate_ci, statistical_neighbours, trend

CIS = load_reference("places.json")["cis"]


@pytest.fixture(scope="module")
def consistent():
    return load_panel(geography="consistent")


@pytest.mark.parametrize("key, level, method", [("exact95", 95, "exact"), ("exact90", 90, "exact"),
                                                ("byar95", 95, "byar")])
def test_rate_intervals_match_r(key, level, method):
    # chi-square quantiles (R's poisson.test) and a closed form: 1e-9 relative
    lo, hi = poisson_rate_ci(vec(CIS["count"]), vec(CIS["population"]), level=level,
                             method=method)
    np.testing.assert_allclose(lo, vec(CIS[key]["lower"]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hi, vec(CIS[key]["upper"]), rtol=1e-9)


def test_missing_counts_or_populations_give_missing_intervals():
    lo, hi = poisson_rate_ci([np.nan, 5, 5], [100, np.nan, 0])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_neighbours_are_the_nearest_on_deprivation_and_size(consistent):
    nb = statistical_neighbours(consistent, "E08000037", k=10)
    assert len(nb) == 10 and "E08000037" not in set(nb["code"])
    assert nb["distance"].is_monotonic_increasing
    everyone = statistical_neighbours(consistent, "E08000037", k=500)
    assert everyone["code"].tolist()[:10] == nb["code"].tolist()


def test_neighbours_can_include_the_rate(consistent):
    a = statistical_neighbours(consistent, "Kent", k=5)
    b = statistical_neighbours(consistent, "Kent", k=5, on=("imd_score", "log_population",
                                                             "rate"))
    assert a["code"].tolist() != b["code"].tolist()


def test_a_bad_neighbour_variable_is_named(consistent):
    with pytest.raises(ParameterError, match="on='ofsted'"):
        statistical_neighbours(consistent, "Kent", on=("ofsted",))


def test_the_trend_compares_the_authority_with_england_its_region_and_neighbours():
    res = trend("Gateshead", interpolate_population=True)
    frame = res.to_frame()
    assert set(frame["series"]) == {"authority", "England", "region", "neighbours"}
    assert res.region == "North East" and len(res.neighbours) == 10
    own = frame[frame["series"] == "authority"].set_index("year")
    assert own.loc[2023, "rate"] == pytest.approx(528 / 39319 * 1e4)
    assert (own["ci_lower"] < own["rate"]).all() and (own["rate"] < own["ci_upper"]).all()
    assert own.loc[2015, "population_source"] == "interpolated"
    eng = frame[frame["series"] == "England"].set_index("year")
    assert eng.loc[2023, "count"] == 83840


def test_the_trend_follows_a_split_authority_through_its_consistent_unit():
    res = trend("North Northamptonshire", neighbours=["E10000024", "E10000031"])
    assert res.code == "E10000021" and res.neighbours == ("E10000024", "E10000031")
    nb = res.to_frame().query("series == 'neighbours'").set_index("year")
    assert (nb.loc[[2019, 2023], "n_areas"] == 2).all()
    assert res.to_dict()["rows"][0]["series"] == "authority"


def test_an_authority_cannot_be_its_own_neighbour():
    with pytest.raises(ParameterError, match="neighbours="):
        trend("E08000037", neighbours=["E08000037"])


def test_neighbours_need_a_year_with_the_variables(consistent):
    with pytest.raises(InputError, match="lacks"):
        statistical_neighbours(consistent, "E08000037", year=2014)


def test_the_trend_chart_draws_each_series():
    ax = trend("Gateshead").plot_trend().axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["Gateshead (E08000037)", "England", "North East",
                      "10 similar authorities (our match on deprivation and size) to Gateshead, "
                      "pooled"]
    # without interpolation 2011-2017 have counts but no population: named, not called missing
    title = ax.get_title().replace("\n", " ")
    assert "no published population for 2011-2017, so no rate" in title
    assert "no data published in our source for 2018" in title


@pytest.fixture(scope="module")
def interpolated():
    from whatworks.places import load_areas

    return (load_panel(geography="consistent", interpolate_population=True),
            load_areas(level="national", interpolate_population=True),
            load_areas(level="regional", interpolate_population=True))


def test_2018_is_a_gap_not_a_bridge(interpolated, tmp_path):
    # the shipped files have no local-authority figures for 2018 (2010-2017 tables and the
    # 2019-2023 release): the year is named and every line is broken there
    from tests.places.svg import svg_text
    from whatworks.synthesis.plots import save_figure

    panel, england, regions = interpolated
    res = trend("E06000001", panel=panel, england=england, regions=regions)
    assert res.missing_years == (2018,) and res.unpopulated_years == ()
    fig = res.plot_trend()
    ax = fig.axes[0]
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), dtype=float)
        assert 2018 in x and np.isnan(y[x == 2018]).all()  # NaN: matplotlib draws no segment
    named = res.to_named_frame()
    assert named.loc[named["year"] == 2018, "note"].item() == "no data published in our source for 2018"
    assert named.loc[named["year"] == 2018, "Hartlepool (E06000001): rate per 10,000"].isna().all()
    text = svg_text(save_figure(fig, tmp_path / "trend.svg").read_bytes())
    for words in ("Hartlepool: children looked after per 10,000 children, 2010-2017, 2019-2023",
                  "no data published in our source for 2018", "Hartlepool (E06000001)", "England",
                  "North East", "similar authorities (our match on deprivation and size)",
                  "Source: Department for Education", "Open Government Licence"):
        assert words in text, words


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.integers(2011, 2022), max_size=5))
def test_no_line_ever_bridges_a_missing_year(interpolated, dropped):
    panel, england, regions = interpolated
    keep = ~((panel["code"] == "E08000037") & panel["year"].isin(dropped))
    res = trend("E08000037", panel=panel[keep], england=england, regions=regions)
    assert set(res.missing_years) == set(dropped) | {2018}
    line = res.plot_trend().axes[0].lines[0]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), dtype=float)
    assert set(x[np.isnan(y)].tolist()) == set(dropped) | {2018}
    assert list(x) == list(range(int(x.min()), int(x.max()) + 1))  # every year has a place


def test_downloads_name_every_area(interpolated):
    panel, england, regions = interpolated
    res = trend("E06000001", panel=panel, england=england, regions=regions)
    long = res.to_frame()
    names = dict(zip(long["series"], long["area_name"], strict=False))
    assert names["authority"] == "Hartlepool" and names["region"] == "North East"
    assert names["England"] == "England"
    assert names["neighbours"].startswith("10 similar authorities (our match on deprivation")
    assert set(long.loc[long["series"] == "region", "area_code"]) == {"E12000001"}
    wide = res.to_named_frame()
    assert "North East (E12000001): rate per 10,000" in wide.columns
    assert "England (E92000001): 95% CI upper" in wide.columns
    members = wide["similar authorities (codes and names)"].iloc[0].split("; ")
    assert len(members) == 10 and all(m.split(" ", 1)[0] in res.neighbours for m in members)
    assert not any(c in ("authority", "region", "neighbours") for c in wide.columns)
    chosen = trend("E06000001", panel=panel, england=england, regions=regions,
                   neighbours=["E06000002", "E06000003"])
    label = chosen.labels()["neighbours"][1]
    assert label == "2 comparison authorities chosen by the user, pooled"
