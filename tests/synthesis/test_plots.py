"""Forest, funnel and Baujat plots (whatworks.synthesis.plots).

No pixel comparisons: the tests find drawn artists by their gid and check their geometry against the
model's numbers, check files are valid in each format, and check no two pieces of text overlap.
Subgroup subtotals and the test of subgroup differences are compared with separate metafor 3.8 fits
(tests/reference/make_plots.R -> plots.json).
"""

import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_reference
from whatworks.errors import InputError, ParameterError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.plots import (
    _nice_log_ticks,
    baujat_plot,
    forest_plot,
    funnel_plot,
    save_figure,
    subgroup_fits,
)

REF = load_reference("plots.json")
DATA = REF["data"]
LABELS = [f"{a}, {int(y)}" for a, y in zip(DATA["author"], DATA["year"], strict=True)]


@pytest.fixture(scope="module")
def bcg():
    return meta_analysis(DATA["yi"], DATA["vi"], labels=LABELS)


def simulated(k, seed=0, method="REML"):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, k)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05))
    return meta_analysis(yi, vi, method=method)


def by_gid(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def diamond_extent(patch):
    xy = patch.get_xy()
    return xy[:, 0].min(), xy[:, 0].max()


def all_text(fig):
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


# ------------------------------------------------------------------------------------ forest plot

@pytest.mark.parametrize("k", [1, 2, 13, 200])
def test_it_draws_one_marker_and_one_interval_per_study(k):
    fit = simulated(k)
    fig = forest_plot(fit)
    (markers,) = by_gid(fig, "study-markers")
    (whiskers,) = by_gid(fig, "study-ci")
    assert len(markers.get_offsets()) == k
    assert len(whiskers.get_segments()) == k


def test_the_markers_sit_at_the_study_estimates_with_area_proportional_to_weight(bcg):
    fig = forest_plot(bcg)
    (markers,) = by_gid(fig, "study-markers")
    np.testing.assert_allclose(markers.get_offsets()[:, 0], bcg.yi)
    sizes = markers.get_sizes()  # marker area in points²
    big = sizes > 2.5 ** 2  # the smallest squares are enlarged to stay visible
    ratio = sizes[big] / bcg.weights[big]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)


def test_the_study_intervals_are_the_normal_theory_confidence_limits(bcg):
    fig = forest_plot(bcg)
    (whiskers,) = by_gid(fig, "study-ci")
    frame = bcg.studies_frame()
    segs = np.array(whiskers.get_segments())
    np.testing.assert_allclose(segs[:, 0, 0], frame.ci_lower)
    np.testing.assert_allclose(segs[:, 1, 0], frame.ci_upper)


@pytest.mark.parametrize("transform", [None, np.exp])
def test_the_pooled_diamond_spans_the_confidence_interval(bcg, transform):
    fig = forest_plot(bcg, transform=transform)
    (diamond,) = by_gid(fig, "pooled-diamond")
    tf = transform or (lambda v: v)
    np.testing.assert_allclose(diamond_extent(diamond), (tf(bcg.ci_lower), tf(bcg.ci_upper)),
                               rtol=1e-12)
    xy = diamond.get_xy()
    assert np.isclose(xy[np.argmax(xy[:, 1]), 0], tf(bcg.estimate))


def test_the_prediction_interval_bar_spans_the_prediction_interval(bcg):
    (bar,) = by_gid(forest_plot(bcg), "prediction-interval")
    assert np.isclose(bar.get_x(), bcg.pi_lower)
    assert np.isclose(bar.get_x() + bar.get_width(), bcg.pi_upper)
    assert by_gid(forest_plot(bcg, show_prediction_interval=False), "prediction-interval") == []


def test_a_common_effect_model_has_no_prediction_interval():
    fig = forest_plot(simulated(10, method="FE"))
    assert by_gid(fig, "prediction-interval") == []
    assert "Common-effect model" in all_text(fig)


def test_ratio_measures_use_a_log_axis_with_the_null_line_at_one(bcg):
    fig = forest_plot(bcg, transform=np.exp)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    (null,) = by_gid(fig, "null-line")
    assert set(null.get_xdata()) == {1.0}
    (markers,) = by_gid(fig, "study-markers")
    np.testing.assert_allclose(markers.get_offsets()[:, 0], np.exp(bcg.yi))
    text = all_text(fig)  # estimates and limits are printed on the ratio scale
    assert "0.49" in text and "[0.34," in text and "0.70]" in text


def test_the_right_hand_columns_print_estimates_intervals_and_weights(bcg):
    text = all_text(forest_plot(bcg, digits=3))
    assert "\u22120.889" in text  # Aronson's log risk ratio, with a typographic minus
    assert f"{bcg.weights[0]:.1f}%" in text and "100.0%" in text
    assert "Weight" not in all_text(forest_plot(bcg, show_weights=False))
    bare = all_text(forest_plot(bcg, annotate=False))
    assert "Heterogeneity" not in bare and "[" not in bare


def test_the_heterogeneity_line_reports_tau2_i2_q_and_p(bcg):
    text = all_text(forest_plot(bcg))
    assert f"I\u00b2 = {bcg.i2:.1f}%" in text
    assert f"Q(12) = {bcg.q:.2f}" in text
    assert f"\u03c4\u00b2 = {bcg.tau2:.3f} (REML)" in text
    assert "Test for overall effect: z = \u22123.97, p < 0.001" in text


def test_knapp_hartung_fits_report_a_t_test():
    fit = meta_analysis(DATA["yi"], DATA["vi"], test="knha")
    assert "Test for overall effect: t(12) = " in all_text(forest_plot(fit))


def test_sorting_by_estimate_puts_the_smallest_at_the_top(bcg):
    (markers,) = by_gid(forest_plot(bcg, sort="estimate"), "study-markers")
    xy = markers.get_offsets()
    order = np.argsort(-xy[:, 1])  # top to bottom
    assert np.all(np.diff(xy[order, 0]) >= 0)
    (markers,) = by_gid(forest_plot(bcg, sort="weight"), "study-markers")
    top = np.argmax(markers.get_offsets()[:, 1])
    assert np.isclose(markers.get_offsets()[top, 0], bcg.yi[np.argmax(bcg.weights)])


def test_intervals_beyond_xlim_end_in_arrows(bcg):
    fig = forest_plot(bcg, transform=np.exp, xlim=(0.2, 2))
    arrows = by_gid(fig, "clipped-ci")
    frame = bcg.studies_frame()
    clipped = int((np.exp(frame.ci_lower) < 0.2).sum() + (np.exp(frame.ci_upper) > 2).sum())
    assert clipped > 0
    assert sum(len(a.get_offsets()) for a in arrows) == clipped
    assert fig.axes[0].get_xlim() == pytest.approx((0.2, 2))


def test_the_figure_grows_with_the_number_of_studies():
    small = forest_plot(simulated(10)).get_size_inches()
    large = forest_plot(simulated(100)).get_size_inches()
    assert large[1] > small[1] + 90 * 0.19
    assert large[1] / 103 < 0.25  # rows stay compact, so k = 100 is one readable page-long plot


@pytest.mark.parametrize("kwargs", [{}, {"subgroups": DATA["alloc"]},
                                    {"transform": np.exp, "favours": ("Favours BCG",
                                                                      "Favours control")}])
def test_no_two_pieces_of_text_overlap(bcg, kwargs):
    fig = forest_plot(bcg, **kwargs)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.findobj(
        lambda a: hasattr(a, "get_text") and a.get_text() and a.get_visible())]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b) or a.width * b.width == 0
    # and everything fits inside the figure
    width, height = fig.bbox.width, fig.bbox.height
    assert all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= width and b.y1 <= height for b in boxes)


def test_it_draws_into_a_given_axes_and_returns_its_figure(bcg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6))
    ax = fig.add_axes((0.3, 0.3, 0.4, 0.6))
    assert forest_plot(bcg, ax=ax) is fig
    assert len(by_gid(fig, "study-markers")) == 1 and fig.get_size_inches()[0] == 9


# ------------------------------------------------------------------------------------- subgroups

@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: f"{c['method']}-{c['test']}")
def test_subgroup_diamonds_match_separate_metafor_fits(bcg, case):
    fit = meta_analysis(DATA["yi"], DATA["vi"], method=case["method"], test=case["test"])
    # iterative tau² estimators (REML) agree to the convergence tolerance; closed forms to rounding
    rtol = 1e-5 if case["method"] == "REML" else 1e-6
    groups, (q, df, p) = subgroup_fits(fit, DATA["alloc"])
    assert [g.name for g in groups] == case["groups"]
    np.testing.assert_allclose([g.estimate for g in groups], case["estimate"], rtol=rtol)
    np.testing.assert_allclose([g.se for g in groups], case["se"], rtol=rtol)
    np.testing.assert_allclose(q, case["Q_between"], rtol=rtol)
    assert df == case["Q_between_df"]
    np.testing.assert_allclose(p, case["Q_between_p"], rtol=rtol)
    fig = forest_plot(fit, subgroups=DATA["alloc"])
    diamonds = by_gid(fig, "subgroup-diamond")
    extents = np.array([diamond_extent(d) for d in diamonds])
    np.testing.assert_allclose(extents[:, 0], case["ci_lb"], rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(extents[:, 1], case["ci_ub"], rtol=rtol, atol=1e-10)
    (overall,) = by_gid(fig, "pooled-diamond")
    np.testing.assert_allclose(diamond_extent(overall),
                               (case["overall"]["ci_lb"], case["overall"]["ci_ub"]), rtol=rtol)
    assert f"Test for subgroup differences: Q(2) = {case['Q_between']:.2f}" in all_text(fig)


def test_subgroups_keep_every_study_and_show_group_headings(bcg):
    fig = forest_plot(bcg, subgroups=DATA["alloc"], transform=np.exp, sort="estimate")
    (markers,) = by_gid(fig, "study-markers")
    assert len(markers.get_offsets()) == bcg.k
    text = all_text(fig)
    for name in ("random", "alternate", "systematic", "Subtotal (k = 7)"):
        assert name in text


def test_a_subgroup_of_one_study_gets_no_diamond_but_enters_the_test(bcg):
    groups = ["a"] * 6 + ["b"] * 6 + ["c"]
    subs, (q, df, p) = subgroup_fits(bcg, groups)
    assert subs[2].fit is None and subs[2].estimate == bcg.yi[12]
    assert df == 2
    assert len(by_gid(forest_plot(bcg, subgroups=groups), "subgroup-diamond")) == 2


# ------------------------------------------------------------------------------------ funnel plot

def test_the_funnel_has_one_shaded_region_per_contour_on_each_side(bcg):
    fig = funnel_plot(bcg)
    for level in (0.9, 0.95, 0.99):
        assert len(by_gid(fig, f"funnel-contour-{level:g}")) == 2
    (points,) = by_gid(fig, "funnel-studies")
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([bcg.yi, np.sqrt(bcg.vi)]))
    ax = fig.axes[0]
    assert ax.yaxis_inverted() and ax.get_ylim()[1] == 0
    text = all_text(fig)
    assert "0.05 < p \u2264 0.10" in text and "p \u2264 0.01" in text and "p > 0.10" in text


def test_the_contours_are_centred_on_zero_at_their_significance_levels(bcg):
    (right, left) = by_gid(funnel_plot(bcg, contours=(0.95,), legend=False), "funnel-contour-0.95")
    path = right.get_paths()[0].vertices
    inner = path[(path[:, 1] > 0.2) & (path[:, 1] < 0.5) & (path[:, 0] > 0)]
    # the inner boundary of the p < 0.05 region is x = 1.96 * SE
    on_edge = np.isclose(inner[:, 0], 1.959963984540054 * inner[:, 1], rtol=1e-9)
    assert on_edge.any()


def test_the_funnel_lines_are_the_pooled_estimate_and_its_pseudo_confidence_region(bcg):
    fig = funnel_plot(bcg)
    (line,) = by_gid(fig, "pooled-line")
    assert set(line.get_xdata()) == {bcg.estimate}
    (ci,) = by_gid(fig, "pseudo-ci")
    x, y = ci.get_xdata(), ci.get_ydata()
    np.testing.assert_allclose(x, bcg.estimate - 1.959963984540054 * y)


def test_trim_and_fill_studies_are_open_circles_with_an_adjusted_line(bcg):
    tf = types.SimpleNamespace(k0=2, side="left", estimate=-0.9, se=0.2,
                               filled_yi=np.array([-2.0, -2.4]), filled_vi=np.array([0.2, 0.3]),
                               fit=None)
    fig = funnel_plot(bcg, trim_fill=tf)
    (filled,) = by_gid(fig, "funnel-filled")
    assert len(filled.get_offsets()) == 2
    assert np.all(filled.get_facecolors()[:, :3] == 1)  # white inside: open circles
    (adjusted,) = by_gid(fig, "adjusted-line")
    assert set(adjusted.get_xdata()) == {-0.9}


def test_trim_and_fill_with_nothing_filled_draws_no_open_circles(bcg):
    tf = types.SimpleNamespace(k0=0, estimate=bcg.estimate, filled_yi=np.array([]),
                               filled_vi=np.array([]))
    assert by_gid(funnel_plot(bcg, trim_fill=tf), "funnel-filled") == []


@pytest.mark.parametrize("yaxis", ["sei", "vi", "seinv", "vinv"])
def test_the_funnel_draws_on_each_y_axis(bcg, yaxis):
    fig = funnel_plot(bcg, yaxis=yaxis, transform=np.exp)
    (points,) = by_gid(fig, "funnel-studies")
    se = np.sqrt(bcg.vi)
    expected = {"sei": se, "vi": se ** 2, "seinv": 1 / se, "vinv": 1 / se ** 2}[yaxis]
    np.testing.assert_allclose(points.get_offsets()[:, 1], expected)
    assert fig.axes[0].yaxis_inverted() == (yaxis in ("sei", "vi"))


@pytest.mark.parametrize("k", [1, 200])
def test_the_funnel_works_for_one_and_for_many_studies(k):
    fig = funnel_plot(simulated(k))
    assert len(by_gid(fig, "funnel-studies")[0].get_offsets()) == k


# ------------------------------------------------------------------------------------ Baujat plot

def test_the_baujat_plot_draws_and_labels_every_study():
    rng = np.random.default_rng(3)
    res = types.SimpleNamespace(x=rng.uniform(0, 30, 13), y=rng.uniform(0, 1, 13), labels=LABELS)
    fig = baujat_plot(res)
    (points,) = by_gid(fig, "baujat-points")
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([res.x, res.y]))
    text = all_text(fig)
    assert all(label in text for label in LABELS)
    unlabelled = types.SimpleNamespace(x=res.x, y=res.y, labels=None)
    assert "13" in all_text(baujat_plot(unlabelled))


# ------------------------------------------------------------------------------------ saving

def test_figures_are_written_as_valid_png_svg_and_pdf(bcg, tmp_path):
    fig = forest_plot(bcg, subgroups=DATA["alloc"], transform=np.exp)
    png = save_figure(fig, tmp_path / "forest.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = save_figure(fig, tmp_path / "forest.PDF")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    svg = save_figure(fig, tmp_path / "forest.svg")
    root = ET.parse(svg).getroot()
    texts = " ".join("".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text"))
    assert all(label in texts for label in LABELS)


def test_png_is_written_at_300_dpi(bcg, tmp_path):
    import struct

    data = save_figure(funnel_plot(bcg), tmp_path / "f.png").read_bytes()
    at = data.index(b"pHYs")
    ppm = struct.unpack(">I", data[at + 4:at + 8])[0]
    assert round(ppm * 0.0254) == 300


def test_svg_and_pdf_output_is_reproducible(bcg, tmp_path):
    fig = funnel_plot(bcg)
    for ext in ("svg", "pdf"):
        a = save_figure(fig, tmp_path / f"a.{ext}").read_bytes()
        b = save_figure(fig, tmp_path / f"b.{ext}").read_bytes()
        assert a == b


def test_save_figure_accepts_an_axes(bcg, tmp_path):
    fig = baujat_plot(types.SimpleNamespace(x=[1.0, 2.0], y=[0.1, 0.3], labels=None))
    assert save_figure(fig.axes[0], tmp_path / "b.png").stat().st_size > 0


def test_save_figure_refuses_other_formats_and_missing_folders(bcg, tmp_path):
    fig = funnel_plot(bcg)
    with pytest.raises(ParameterError, match=r"\.png, \.svg or \.pdf"):
        save_figure(fig, tmp_path / "funnel.jpg")
    with pytest.raises(ParameterError):
        save_figure(fig, tmp_path / "funnel")
    with pytest.raises(InputError, match="folder does not exist"):
        save_figure(fig, tmp_path / "nowhere" / "funnel.png")


def test_plots_build_and_save_in_parallel_threads(bcg, tmp_path):
    def work(i):
        fig = forest_plot(simulated(20, seed=i)) if i % 2 else funnel_plot(simulated(20, seed=i))
        return save_figure(fig, tmp_path / f"{i}.{('png', 'svg', 'pdf')[i % 3]}").stat().st_size

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(size > 0 for size in pool.map(work, range(6)))


def test_importing_the_module_does_not_import_matplotlib():
    code = ("import sys, whatworks.synthesis.plots; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ------------------------------------------------------------------------------------ bad input

def test_it_refuses_what_it_cannot_draw(bcg):
    mods = meta_analysis(DATA["yi"], DATA["vi"], mods=np.array(DATA["year"], dtype=float))
    with pytest.raises(InputError, match="intercept-only"):
        forest_plot(mods)
    with pytest.raises(InputError, match="intercept-only"):
        funnel_plot(mods)
    with pytest.raises(ParameterError, match="sort"):
        forest_plot(bcg, sort="year")
    with pytest.raises(InputError, match="labels"):
        forest_plot(bcg, labels=["a", "b"])
    with pytest.raises(InputError, match="subgroup"):
        forest_plot(bcg, subgroups=["a", "b"])
    with pytest.raises(ParameterError, match="log_scale"):
        forest_plot(bcg, log_scale=True)
    with pytest.raises(ParameterError, match="favours"):
        forest_plot(bcg, favours="Favours BCG")
    with pytest.raises(ParameterError, match="xlim"):
        forest_plot(bcg, xlim=(1, 0))
    with pytest.raises(ParameterError, match="yaxis"):
        funnel_plot(bcg, yaxis="ni")
    with pytest.raises(ParameterError, match="contours"):
        funnel_plot(bcg, contours=(90, 95))
    with pytest.raises(InputError):
        baujat_plot(types.SimpleNamespace(x=[1.0, 2.0], y=[1.0], labels=None))


# ------------------------------------------------------------------------------------ properties

@given(st.floats(1e-4, 1e3), st.floats(1.05, 1e5))
def test_log_ticks_are_few_increasing_and_inside_the_range(lo, factor):
    hi = lo * factor
    ticks = _nice_log_ticks(lo, hi)
    assert len(ticks) <= 7
    assert all(lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9) for t in ticks)
    assert ticks == sorted(set(ticks))


def test_the_fixture_is_the_bcg_data():
    # guards against a regenerated fixture silently changing the data the plots are tested on
    assert len(DATA["yi"]) == 13 and DATA["alloc"].count("random") == 7
    assert REF["metafor_version"].startswith("3.8")


def test_a_narrow_ratio_axis_gets_plain_round_ticks():
    from whatworks.synthesis.plots import _narrow_log_ticks, _nice_log_ticks

    assert len(_nice_log_ticks(0.55, 1.1)) < 3
    ticks = _narrow_log_ticks(0.55, 1.1)
    assert len(ticks) >= 2 and all(0.55 <= t <= 1.1 for t in ticks)
    assert all(f"{t:g}" in ("0.6", "0.8", "1", "0.7", "0.9") for t in ticks)
