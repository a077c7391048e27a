"""What a forest plot's words promise (whatworks.synthesis.plots): "Favours intervention" stands on
the side where the intervention is better by the outcome's direction; study labels wrap at word
boundaries and are never cut mid-word; a prediction interval is captioned if and only if it is drawn;
and the per-study table holds the very numbers the plot draws.

Hypothesis draws the fits, labels and directions; each example renders a real figure, so the
example counts are kept small."""

import html
import io
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.errors import ParameterError
from whatworks.ratings.store_export import study_label
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.plots import (
    _text_width,
    draws_prediction_interval,
    favours_labels,
    forest_plot,
    forest_table,
    wrap_label,
)

FEW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_gid(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def texts(fig):
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
            if t.get_text()]


@st.composite
def fits(draw, k_min=1, k_max=6, methods=("REML", "DL", "FE")):
    k = draw(st.integers(k_min, k_max))
    yi = draw(st.lists(st.floats(-1.5, 1.5), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(0.01, 0.5), min_size=k, max_size=k))
    method = draw(st.sampled_from(methods))
    return meta_analysis(np.array(yi), np.array(vi), method=method)


# ------------------------------------------------------------------------------------ favours

def test_favours_labels_put_the_intervention_on_the_better_side():
    assert favours_labels("increase") == ("Favours comparison", "Favours intervention")
    assert favours_labels("decrease") == ("Favours intervention", "Favours comparison")


def test_it_refuses_a_direction_that_is_not_increase_or_decrease():
    with pytest.raises(ParameterError, match="'increase' or 'decrease'"):
        favours_labels("up")
    with pytest.raises(ParameterError, match="better"):
        forest_plot(meta_analysis([0.1, 0.2], [0.1, 0.1]), better="lower")


@FEW
@given(fit=fits(), better=st.sampled_from(["increase", "decrease"]), ratio=st.booleans())
def test_favours_intervention_is_always_on_the_side_where_the_intervention_is_better(fit, better,
                                                                                    ratio):
    transform = np.exp if ratio else None
    fig = forest_plot(fit, better=better, transform=transform)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    (null_line,) = by_gid(fig, "null-line")
    null = null_line.get_xdata()[0]
    null_x = ax.transData.transform((null, 1))[0]
    # an effect of +1 on the analysis scale means more of the outcome with the intervention;
    # that is better when the outcome should increase, worse when it should decrease
    better_value = (null * math.e if ratio else null + 1) if better == "increase" else \
        (null / math.e if ratio else null - 1)
    better_x = ax.transData.transform((better_value, 1))[0]
    (fav_i,) = [t for t in texts(fig) if t.get_text() == "Favours intervention"]
    (fav_c,) = [t for t in texts(fig) if t.get_text() == "Favours comparison"]
    box_i, box_c = fav_i.get_window_extent(renderer), fav_c.get_window_extent(renderer)
    if better_x > null_x:
        assert box_i.x0 >= null_x and box_c.x1 <= null_x
    else:
        assert box_i.x1 <= null_x and box_c.x0 >= null_x


# ------------------------------------------------------------------------------------ labels

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,()&'",
               min_size=1, max_size=18)
LABEL = st.lists(WORD, min_size=1, max_size=14).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(label=LABEL, width=st.floats(0.3, 3.0))
def test_wrapping_keeps_every_word_whole_and_in_order(label, width):
    lines = wrap_label(label, width)
    assert " ".join(lines).split() == label.split()
    for line in lines:  # a line is over the width only when it is one word too long to fit
        assert _text_width([line]) <= width + 1e-9 or len(line.split()) == 1


@FEW
@given(labels=st.lists(LABEL, min_size=1, max_size=5), width=st.floats(0.6, 3.0),
       method=st.sampled_from(["REML", "FE"]))
def test_no_study_label_is_ever_cut_mid_word_in_the_svg(labels, width, method):
    k = len(labels)
    fit = meta_analysis(np.linspace(-0.5, 0.5, k), np.full(k, 0.05), method=method, labels=labels)
    fig = forest_plot(fit, label_width=width)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg_words = html.unescape(" ".join(re.findall(r"<!-- (.*?) -->", buf.getvalue(),
                                                  flags=re.S))).split()
    drawn = [t.get_text() for t in texts(fig)]
    for label in labels:
        # the label is drawn as one text, its lines holding exactly the label's words
        assert any(d.split() == label.split() for d in drawn)
        for word in label.split():
            assert word in svg_words


def test_wrapped_labels_get_taller_rows_and_nothing_overlaps():
    labels = ["A very long study label that needs several lines to fit in the column", "Short",
              "Another rather long label, with commas, and (brackets) 2019"]
    fit = meta_analysis([0.1, 0.3, -0.2], [0.04, 0.05, 0.06], labels=labels)
    fig = forest_plot(fit, label_width=1.5, better="increase")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts(fig) if t.get_visible()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b) or a.width * b.width == 0
    assert fig.get_size_inches()[1] > forest_plot(meta_analysis(
        [0.1, 0.3, -0.2], [0.04, 0.05, 0.06], labels=["a", "b", "c"])).get_size_inches()[1]


@settings(max_examples=80, deadline=None)
@given(words=st.lists(WORD.filter(lambda w: "." not in w), min_size=1, max_size=30),
       year=st.one_of(st.none(), st.integers(1950, 2030)))
def test_a_store_study_label_never_cuts_a_word(words, year):
    citation = " ".join(words) + ". A title."
    label = study_label(citation, year)
    if year is not None and str(year) not in citation:
        assert label.endswith(f" ({year})")
        label = label[: -len(f" ({year})")]
    kept = label.removesuffix("\u2026").split()
    shortened = label.endswith("\u2026")
    assert shortened == (len(kept) < len(words))
    if shortened:  # the last word kept may lose a comma, semicolon or colon, and nothing more
        assert kept[-1] in (words[len(kept) - 1], words[len(kept) - 1].rstrip(",;:"))
        kept, words = kept[:-1], words[: len(kept) - 1]
    assert kept == words[: len(kept)]


# ------------------------------------------------------------------------------------ prediction interval

@FEW
@given(fit=fits(), min_k=st.integers(1, 4), ratio=st.booleans())
def test_the_caption_mentions_a_prediction_interval_if_and_only_if_one_is_drawn(fit, min_k, ratio):
    transform = np.exp if ratio else None
    fig = forest_plot(fit, pi_min_k=min_k, transform=transform)
    table = forest_table(fit, pi_min_k=min_k, transform=transform)
    drawn = bool(by_gid(fig, "prediction-interval"))
    assert drawn == draws_prediction_interval(fit, min_k=min_k)
    assert ("prediction interval" in table["caption"].lower()) == drawn
    assert (table["prediction_interval"] is not None) == drawn
    assert any(t.get_text() == "Prediction interval" for t in texts(fig)) == drawn
    if fit.k < 2 or not fit.is_random or fit.k < min_k:
        assert not drawn


def test_single_studies_two_studies_and_common_effect_models_get_no_prediction_interval():
    one = meta_analysis([0.2], [0.04], method="FE")
    two = meta_analysis([0.2, 0.5], [0.04, 0.05])
    fe = meta_analysis([0.2, 0.5, 0.1], [0.04, 0.05, 0.06], method="FE")
    three = meta_analysis([0.2, 0.5, 0.1], [0.04, 0.05, 0.06])
    for fit in (one, two, fe):
        assert forest_table(fit, pi_min_k=3)["prediction_interval"] is None
        assert "prediction" not in forest_table(fit, pi_min_k=3)["caption"]
    assert forest_table(three, pi_min_k=3)["prediction_interval"] is not None
    assert "nothing to pool" in forest_table(one)["caption"]


# ------------------------------------------------------------------------------------ the table

@FEW
@given(fit=fits(k_min=2), ratio=st.booleans())
def test_the_table_holds_the_numbers_the_plot_draws(fit, ratio):
    transform = np.exp if ratio else None
    fig = forest_plot(fit, transform=transform)
    table = forest_table(fit, transform=transform)
    (markers,) = by_gid(fig, "study-markers")
    (whiskers,) = by_gid(fig, "study-ci")
    np.testing.assert_allclose(markers.get_offsets()[:, 0], [r["estimate"] for r in table["studies"]])
    segs = whiskers.get_segments()
    xmin, xmax = fig.axes[0].get_xlim()
    for seg, row in zip(segs, table["studies"], strict=True):
        assert seg[0][0] == pytest.approx(max(row["ci_lower"], xmin))
        assert seg[1][0] == pytest.approx(min(row["ci_upper"], xmax))
    (diamond,) = by_gid(fig, "pooled-diamond")
    xy = diamond.get_xy()
    assert xy[:, 0].min() == pytest.approx(table["pooled"]["ci_lower"])
    assert xy[:, 0].max() == pytest.approx(table["pooled"]["ci_upper"])
    assert sum(r["weight"] for r in table["studies"]) == pytest.approx(100)
    f = (lambda v: math.exp(v)) if ratio else (lambda v: v)
    assert table["pooled"]["estimate"] == pytest.approx(f(fit.estimate))
