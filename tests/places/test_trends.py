"""Trends with confidence intervals and statistical neighbours (whatworks.places.trends)."""

import numpy as np
import pytest

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
    assert labels == ["Gateshead", "England", "North East", "statistical neighbours"]
