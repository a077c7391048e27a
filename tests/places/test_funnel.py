"""Funnel plots (whatworks.places.funnel) against closed forms computed in R
(tests/reference/make_places.R -> places.json), properties, and drawing."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from tests.places.svg import svg_text
from whatworks.errors import InputError, ParameterError
from whatworks.places import load_panel
from whatworks.places.funnel import (
    dispersion,
    exact_limit,
    funnel,
    funnel_from_counts,
    normal_limit,
    winsorize,
)

# Closed forms from the same distribution functions (R's qpois/pbinom vs scipy's): agreement to
# 1e-9 relative; atol 1e-12 for limits floored at 0.
RTOL, ATOL = 1e-9, 1e-12
CASES = load_reference("places.json")["funnels"]
IDS = [f"{c['name']}-{c['model']}-{'target' if c.get('target') else 'pooled'}-w{c['winsorize']}"
       for c in CASES]
PROBS = ("0.001", "0.025", "0.975", "0.999")


@pytest.fixture(scope="module")
def panel():
    return load_panel()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exact_and_normal_limits_match_r(case):
    n, theta = vec(case["population"]), case["theta"]
    for p in PROBS:
        np.testing.assert_allclose(exact_limit(theta, n, float(p), model=case["model"]),
                                   vec(case["exact"][p]), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(normal_limit(theta, n, float(p), model=case["model"]),
                                   vec(case["normal"][p]), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_winsorised_dispersion_matches_r(case):
    d = dispersion(vec(case["count"]), vec(case["population"]), case["theta"],
                   model=case["model"], winsorize_fraction=case["winsorize"],
                   target_estimated=case.get("target") is None)
    assert d.phi == pytest.approx(case["phi"], rel=RTOL)
    assert d.statistic == pytest.approx(case["statistic"], rel=RTOL)
    assert d.df == case["df"]
    assert d.p_value == pytest.approx(case["p_value"], rel=1e-7, abs=1e-300)
    assert d.tau2 == pytest.approx(case["tau2"], rel=RTOL, abs=1e-15)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("adjust", ["none", "multiplicative", "additive"])
def test_funnel_limits_and_z_scores_match_r(case, adjust):
    res = funnel_from_counts(vec(case["count"]), vec(case["population"]), model=case["model"],
                             overdispersion=adjust, target=case.get("target"),
                             winsorize=case["winsorize"])
    key = {"none": "exact", "multiplicative": "multiplicative", "additive": "additive"}[adjust]
    ref = {p: vec(case[key][p]) * 1e4 for p in PROBS}
    np.testing.assert_allclose(res.lower_99_8, ref["0.001"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.lower_95, ref["0.025"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.upper_95, ref["0.975"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.upper_99_8, ref["0.999"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.z, vec(case["z"]), rtol=RTOL, atol=ATOL)
    assert res.target == pytest.approx(case["theta"] * 1e4, rel=1e-12)
    assert res.tau2 == pytest.approx(case["tau2"] * 1e8, rel=RTOL, abs=1e-12)


def test_the_2023_funnel_lists_every_authority_with_limits_and_a_flag(panel):
    res = funnel(panel, year=2023, overdispersion="additive", highlight="Gateshead")
    frame = res.to_frame()
    assert len(frame) == (panel["year"] == 2023).sum() == 152
    assert {"code", "name", "count", "population", "rate", "expected", "lower_95", "upper_95",
            "lower_99_8", "upper_99_8", "flag"} <= set(frame.columns)
    assert set(frame["flag"]) <= {"above", "below", "within"}
    assert res.highlight == "E08000037"
    above = frame[frame["flag"] == "above"]
    assert (above["rate"] > above["upper_99_8"]).all() and res.n_above == len(above)
    assert frame["expected"].sum() == pytest.approx(frame["count"].sum())  # pooled target
    assert res.to_dict()["authorities"][0]["code"] == frame["code"].iloc[0]


def test_overdispersion_widens_the_limits_and_flags_fewer(panel):
    plain = funnel(panel, year=2023)
    wide = funnel(panel, year=2023, overdispersion="multiplicative")
    assert plain.phi > 1
    assert (wide.upper_99_8 >= plain.upper_99_8 - 1e-9).all()
    assert wide.n_above + wide.n_below < plain.n_above + plain.n_below


def test_an_authority_without_a_count_is_listed_as_missing(panel):
    res = funnel(panel, year=2020)
    frame = res.to_frame().set_index("code")
    assert frame.loc["E06000053", "flag"] == "missing"  # Isles of Scilly, 'c' in 2020
    assert res.k == len(frame) - 1


def test_a_year_without_populations_says_how_to_get_them(panel):
    with pytest.raises(InputError, match="--interpolate-population"):
        funnel(panel, year=2014)


@pytest.mark.parametrize("kwargs, name", [({"model": "normal"}, "model"),
                                          ({"limits": "wilson"}, "limits"),
                                          ({"overdispersion": "both"}, "overdispersion"),
                                          ({"flag_level": 90}, "flag_level"),
                                          ({"winsorize": 0.5}, "winsorize")])
def test_bad_options_are_named(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        funnel_from_counts([1, 2, 3, 4], [100, 200, 300, 400], **kwargs)


def test_a_binomial_funnel_refuses_counts_above_the_population():
    with pytest.raises(InputError, match="count <= population"):
        funnel_from_counts([1, 2, 30], [100, 20, 10], model="binomial")


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(1e-4, 0.3), model=st.sampled_from(["poisson", "binomial"]),
       p=st.sampled_from([0.001, 0.025, 0.975, 0.999]))
def test_exact_limits_narrow_towards_the_target_as_populations_grow(theta, model, p):
    n = np.geomspace(10, 1e6, 60).round()
    lim = exact_limit(theta, n, p, model=model)
    assert np.all(np.isfinite(lim)) and np.all(lim >= 0)
    big = lim[-1]
    assert abs(big - theta) < abs(normal_limit(theta, np.array([1e4]), p, model=model)[0] - theta)
    # for large populations exact and normal limits meet
    assert big == pytest.approx(normal_limit(theta, n[-1:], p, model=model)[0], rel=0.02)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=5, max_size=40),
       st.sampled_from([0.0, 0.05, 0.1, 0.2]))
def test_winsorising_keeps_order_and_clips_only_the_tails(z, fraction):
    z = np.array(z)
    w = winsorize(z, fraction)
    assert np.all(np.diff(w[np.argsort(z)]) >= -1e-12)
    lo, hi = np.quantile(z, [fraction, 1 - fraction])
    inside = (z >= lo) & (z <= hi)
    np.testing.assert_array_equal(w[inside], z[inside])


def test_the_funnel_plot_draws_limits_points_and_the_highlight(panel, tmp_path):
    from whatworks.synthesis.plots import save_figure

    res = funnel(panel, year=2023, highlight="E08000037")
    fig = res.plot_funnel()
    ax = fig.axes[0]
    assert len(ax.lines) == 5  # two limits each side at two levels, and the target
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "Gateshead" and texts[1].startswith("Source: Department for Education")
    assert "Open Government Licence" in texts[1].replace("\n", " ") and len(texts) == 2
    assert ax.get_title().replace("\n", " ") == (
        "Children looked after at 31 March each year per 10,000 children, 2023: funnel plot of "
        "152 authorities")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Gateshead" in legend and any(t.startswith("above the 99.8% limits") for t in legend)
    drawn = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert np.isin(res.rate[np.isfinite(res.rate)], drawn).all()  # every authority is a point
    svg = save_figure(fig, tmp_path / "funnel.svg")
    text = svg_text(svg.read_bytes())  # well-formed, text kept as text: title, year, legend, source
    assert "funnel plot of" in text and "2023" in text and "Gateshead" in text
    assert "Source: Department for Education" in text


def test_a_funnel_of_the_users_own_counts_names_no_source_it_cannot_know():
    res = funnel_from_counts([5, 9, 12, 30], [1000, 2000, 2500, 6000])
    ax = res.plot_funnel().axes[0]
    assert not any(t.get_text().startswith("Source") for t in ax.texts)


def test_the_funnel_plot_draws_into_a_given_axes(panel):
    from whatworks.places.funnel import new_axes

    ax = new_axes(4, 3)
    assert funnel(panel, year=2023).plot_funnel(ax) is ax.figure


def test_highlighting_an_authority_not_in_the_funnel_is_refused(panel):
    with pytest.raises(ParameterError, match="highlight='Narnia'"):
        funnel(panel, year=2023, highlight="Narnia")
