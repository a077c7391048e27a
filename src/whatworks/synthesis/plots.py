"""Publication-quality plots of a meta-analysis: forest, contour-enhanced funnel and Baujat plots.

Convention: every plot function takes an optional ``ax``. Without one it makes its own
``matplotlib.figure.Figure`` sized to its content (no pyplot state, so it works headless and in
threads); with one it draws into that Axes and leaves the figure's size to the caller. Either way it
returns the **Figure** (``ax.figure`` when ``ax`` was given), so ``save_figure(forest_plot(fit),
"forest.png")`` always works. matplotlib is imported inside the functions only.

Drawn artists carry ids (``Artist.get_gid()``) so programs and tests can find them:
``study-markers``, ``study-ci``, ``pooled-diamond``, ``subgroup-diamond``, ``prediction-interval``,
``null-line``, ``funnel-studies``, ``funnel-filled``, ``funnel-contour-<level>``, ``baujat-points``.

References
----------
Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ 322:1479-1480.
Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced meta-analysis funnel
    plots help distinguish publication bias from other causes of asymmetry. J Clin Epidemiol
    61:991-996.
Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring heterogeneity in
    meta-analyses: application to a meta-analysis of 65 trials. Stat Med 21:2641-2652.
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis. Wiley,
    ch. 19 (test of subgroup differences between separately pooled subgroups).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..errors import InputError, ParameterError

FONT_SIZE = 9.0
ROW_HEIGHT = 0.2  # inches per forest-plot row
INK = "#1a1a1a"
GREY = "#6e6e6e"
_PAD = 0.15  # inches around the content of a figure we size ourselves
_GAP = 0.2  # inches between table columns
#: How a risk-of-bias judgement is drawn (robvis's colours, McGuinness & Higgins 2021): fill,
#: symbol and the symbol's colour, so that colour is never the only cue.
RISK_OF_BIAS_STYLE = {"low": ("#02C100", "+", INK), "some concerns": ("#E2DF07", "!", INK),
                      "high": ("#BF0000", "\u2212", "white")}
_ROB_COLUMN = 0.22  # inches per risk-of-bias column of a forest plot
_SORTS = ("estimate", "weight", "precision", "label")
_YAXES = {"sei": "Standard error", "vi": "Sampling variance",
          "seinv": "Inverse standard error (precision)", "vinv": "Inverse sampling variance"}
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_SAVE_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------- helpers

def _new_figure(width: float, height: float):
    """A Figure with its own Agg canvas: no pyplot, no global figure manager."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def new_figure(width: float, height: float):
    """A blank Figure of ``width`` x ``height`` inches with its own canvas (no pyplot): the one way
    the project's plots start, so that a server drawing many keeps none of them."""
    return _new_figure(width, height)


def inch_canvas(width: float, height: float):
    """A blank Figure of ``width`` x ``height`` inches (its own canvas: no pyplot, so nothing is
    kept between calls) and one axes over all of it whose data units are inches from the bottom
    left, with no frame: for diagrams drawn box by box (flow diagrams, tables of symbols)."""
    fig = _new_figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _text_width(strings, *, size: float = FONT_SIZE, weight: str = "normal",
                style: str = "normal") -> float:
    """Width in inches of the widest string, as matplotlib's Agg renderer sets it."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(1, 1, 72)
    prop = FontProperties(size=size, weight=weight, style=style)
    widest = 0.0
    for s in strings:
        for line in str(s).split("\n"):
            if line:
                widest = max(widest, renderer.get_text_width_height_descent(line, prop, False)[0])
    return widest / 72


def _num(x: float, digits: int) -> str:
    """A number with a typographic minus sign ('NA' when missing)."""
    if x is None or not math.isfinite(x):
        return "NA"
    s = f"{x:.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s) == 0 else "\u2212" + s[1:]
    return s


def _p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "p = NA"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _nice_log_ticks(lo: float, hi: float) -> list[float]:
    """Round ticks (1, 2, 5 × 10^n, thinned when the range is wide) for a log axis."""
    if not (lo > 0 and hi > lo):
        return []
    lo_e, hi_e = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for subs in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0 ** e for e in range(lo_e, hi_e + 1) for m in subs
                 if lo * (1 - 1e-9) <= m * 10.0 ** e <= hi * (1 + 1e-9)]
        if len(ticks) <= 7:
            return ticks
    step = max(1, math.ceil((hi_e - lo_e) / 6))
    return [10.0 ** e for e in range(lo_e, hi_e + 1, step) if lo <= 10.0 ** e <= hi]


def _narrow_log_ticks(lo: float, hi: float) -> list[float]:
    """Evenly stepped round ticks for a log axis spanning less than a factor of about 5."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    return [float(t) for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9) and t > 0]


def _set_log_ticks(axis, lo: float, hi: float, position=lambda t: t) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ticks = _nice_log_ticks(lo, hi)
    if len(ticks) < 3:
        ticks = _narrow_log_ticks(lo, hi)
    if len(ticks) < 2:
        return
    axis.set_major_locator(FixedLocator([position(t) for t in ticks]))
    axis.set_minor_locator(NullLocator())
    axis.set_ticklabels([f"{t:g}" for t in ticks])


def _check_intercept_only(fit, what: str) -> None:
    if getattr(fit, "p", 1) != 1:
        raise InputError(f"{what} draws intercept-only models, but this model has {fit.p} "
                         "coefficients; draw a plot of the model without moderators (or use "
                         "subgroups=... on the forest plot)", column="mods")


def _is_exp(transform) -> bool:
    return transform is np.exp or transform is math.exp


# ------------------------------------------------------------------------------------ forest plot

@dataclass
class _Row:
    kind: str  # study, heading, subtotal, note, blank, pooled, pi
    label: str = ""
    index: int = -1  # the study, for kind == "study"
    estimate: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    weight: float = math.nan


@dataclass
class _Subgroup:
    name: str
    index: np.ndarray
    fit: object | None  # a MetaAnalysis, or None for a subgroup of one study
    estimate: float
    se: float


def subgroup_fits(fit, subgroups):
    """Fit each subgroup separately (same tau² estimator, test and level as ``fit``).

    Returns the subgroups in order of first appearance and the test of subgroup differences
    ``(Q, df, p)``: Cochran's Q of a common-effect model fitted to the subgroup estimates with their
    standard errors (Borenstein et al. 2009, ch. 19). Tested against separate metafor 3.8 ``rma``
    fits (tests/reference/make_plots.R).
    """
    from .model import meta_analysis

    groups = np.asarray([str(g) for g in subgroups], dtype=object)
    if groups.size != fit.k:
        raise InputError(f"{groups.size} subgroup labels for {fit.k} studies; give one per study",
                         column="subgroups")
    names = list(dict.fromkeys(groups.tolist()))
    out = []
    for name in names:
        idx = np.flatnonzero(groups == name)
        if idx.size == 1:
            i = idx[0]
            out.append(_Subgroup(name, idx, None, float(fit.yi[i]), float(np.sqrt(fit.vi[i]))))
            continue
        sub = meta_analysis(fit.yi[idx], fit.vi[idx], method=fit.method, test=fit.test,
                            level=fit.level, control=getattr(fit, "control", None))
        out.append(_Subgroup(name, idx, sub, sub.estimate, sub.se))
    between = (math.nan, 0, math.nan)
    if len(out) > 1:
        b = meta_analysis([g.estimate for g in out], sei=[g.se for g in out], method="FE")
        between = (b.q, b.q_df, b.q_p_value)
    return out, between


def _order(fit, idx: np.ndarray, sort, labels) -> np.ndarray:
    if sort is None:
        return idx
    if sort == "estimate":
        key = fit.yi[idx]
    elif sort in ("weight", "precision"):
        key = -fit.weights[idx] if sort == "weight" else fit.vi[idx]
    else:
        key = np.asarray([labels[i] for i in idx], dtype=object)
    return idx[np.argsort(key, kind="stable")]


def _heterogeneity(f, *, short: bool) -> str:
    if f.q_df < 1:
        return "not applicable (one study)"
    parts = []
    if f.is_random:
        parts.append(f"\u03c4\u00b2 = {_num(f.tau2, 3 if f.tau2 < 10 else 2)}"
                     + ("" if short else f" ({f.method})"))
    parts.append(f"I\u00b2 = {f.i2:.1f}%")
    parts.append(f"Q({f.q_df}) = {_num(f.q, 2)}")
    parts.append(_p(f.q_p_value))
    return ", ".join(parts)


BETTER = ("increase", "decrease")


def favours_labels(better: str, *, intervention: str = "intervention",
                   comparison: str = "comparison") -> tuple[str, str]:
    """The (left, right) labels under a forest plot's axis for an outcome whose ``better``
    direction is "increase" or "decrease".

    Effects compare the intervention group with the comparison group (a ratio intervention /
    comparison, or a difference intervention - comparison), so a value right of the line of no
    effect means more of the outcome with the intervention. When more is better that favours the
    intervention; when less is better (entry to care, with a risk ratio below 1) the left side does.
    """
    if better not in BETTER:
        raise ParameterError("better", better, "'increase' or 'decrease' (the direction of the "
                             "outcome that counts as better)")
    worse_side, better_side = f"Favours {comparison}", f"Favours {intervention}"
    return (worse_side, better_side) if better == "increase" else (better_side, worse_side)


def wrap_label(text: str, width: float, *, size: float = FONT_SIZE,
               weight: str = "normal") -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` inches when drawn.

    Words are never cut: a word wider than ``width`` keeps a line to itself, whole. Joining the
    lines with single spaces gives back the words of ``text`` in order.
    """
    lines: list[str] = []
    for word in str(text).split():
        if lines and _text_width([f"{lines[-1]} {word}"], size=size, weight=weight) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def draws_prediction_interval(fit, *, show: bool = True, min_k: int = 2) -> bool:
    """Whether :func:`forest_plot` draws the prediction interval of ``fit``: only for a
    random-effects model of at least ``min_k`` (and at least 2) studies with a finite interval.

    A common-effect model has no between-study variance to predict from, and one study has none to
    estimate; with fewer than about three studies the interval is too wide to inform (Riley, Higgins
    & Deeks 2011, BMJ 342:d549).
    """
    if int(min_k) != min_k or min_k < 1:
        raise ParameterError("pi_min_k", min_k, "a whole number of studies >= 1, such as 3")
    return bool(show and fit.is_random and fit.k > 1 and fit.k >= min_k
                and math.isfinite(fit.pi_lower))


def forest_caption(fit, *, has_pi: bool) -> str:
    """What a forest plot of ``fit`` shows, in words: its caption. It mentions a prediction
    interval if and only if ``has_pi`` (one is drawn)."""
    level = f"{fit.level:g}%"
    if fit.k == 1:
        return (f"One study: the square is its estimate and the line its {level} confidence "
                "interval. With one study there is nothing to pool: the diamond repeats its "
                "estimate.")
    model = "random-effects" if fit.is_random else "common-effect"
    text = (f"Each row is a study: the square is its estimate (its size shows the study's weight) "
            f"and the line its {level} confidence interval. The diamond is the pooled estimate "
            f"({model} model); its width is the {level} confidence interval.")
    if has_pi:
        text += (f" The grey bar below it is the {level} prediction interval: where the effect in a "
                 "new setting like these studies' would be expected to lie.")
    return text


def forest_table(fit, *, transform=None, labels=None, show_prediction_interval: bool = True,
                 pi_min_k: int = 2) -> dict:
    """The numbers of :func:`forest_plot`'s rows as a JSON-ready table, for readers who cannot
    see the plot (and for a page's accessible table beside it).

    Returns ``{"level", "model", "studies": [{"label", "estimate", "ci_lower", "ci_upper",
    "weight"}], "pooled": {...}, "prediction_interval": {"lower", "upper"} or None, "caption"}``
    with estimates and limits on the drawn scale (``transform`` applied, e.g. ``np.exp`` for log
    ratios), weights in percent, studies in the fit's order. With the same arguments the
    prediction interval is present exactly when the plot draws it, and the caption says so.
    """
    _check_intercept_only(fit, "forest_table")
    tf = transform or (lambda v: v)
    t = lambda v: float(tf(float(v)))  # noqa: E731 - a local shorthand
    labels = list(fit.study_labels if labels is None else [str(x) for x in labels])
    if len(labels) != fit.k:
        raise InputError(f"{len(labels)} labels for {fit.k} studies; give one per study",
                         column="labels")
    frame = fit.studies_frame()
    weights = np.asarray(fit.weights, dtype=float)
    has_pi = draws_prediction_interval(fit, show=show_prediction_interval, min_k=pi_min_k)
    return {
        "level": float(fit.level),
        "model": "random-effects" if fit.is_random else "common-effect",
        "studies": [{"label": labels[i], "estimate": t(fit.yi[i]), "ci_lower": t(frame.ci_lower[i]),
                     "ci_upper": t(frame.ci_upper[i]), "weight": float(weights[i])}
                    for i in range(fit.k)],
        "pooled": {"label": "Random-effects model" if fit.is_random else "Common-effect model",
                   "estimate": t(fit.estimate), "ci_lower": t(fit.ci_lower),
                   "ci_upper": t(fit.ci_upper), "weight": 100.0},
        "prediction_interval": ({"lower": t(fit.pi_lower), "upper": t(fit.pi_upper)}
                                if has_pi else None),
        "caption": forest_caption(fit, has_pi=has_pi),
    }


def forest_plot(fit, *, labels=None, transform=None, xlabel: str | None = None,
                show_weights: bool = True, show_prediction_interval: bool = True,
                subgroups=None, sort: str | None = None, annotate: bool = True,
                favours: tuple[str, str] | None = None, xlim: tuple[float, float] | None = None,
                null_value: float | None = None, log_scale: bool | None = None, digits: int = 2,
                plot_width: float = 3.2, better: str | None = None,
                label_width: float | None = None, pi_min_k: int = 2, risk_of_bias=None,
                risk_of_bias_columns=("D1", "D2", "D3", "D4", "D5", "O"), ax=None):
    """Forest plot of an intercept-only meta-analysis.

    Each study is a square (area proportional to its weight in the model) with its confidence
    interval; the pooled estimate is a diamond whose width is its confidence interval; the
    prediction interval is a bar on the row beneath it. Right-hand columns give "estimate [CI]" and
    the weight; heterogeneity and the test for the overall effect are printed under the axis.

    Parameters
    ----------
    fit : a ``MetaAnalysis`` (intercept only).
    labels : study labels (default ``fit.study_labels``).
    transform : applied to estimates and limits before drawing, such as ``np.exp`` for log ratios
        (then the x-axis is logarithmic and the line of no effect is at 1).
    subgroups : one group label per study: studies are drawn by group, each group with its own
        diamond (separate fits with the same tau² estimator), and a test of subgroup differences.
    sort : None (input order), "estimate", "weight" (largest first), "precision" or "label";
        within subgroups when they are given.
    annotate : print the right-hand columns and the statistics under the axis.
    favours : labels for the left and right of the null line, e.g. ("Favours care as usual",
        "Favours intervention").
    xlim : x-axis limits on the drawn (transformed) scale; intervals beyond them end in arrows.
    null_value : where the line of no effect goes (default ``transform(0)``).
    log_scale : logarithmic x-axis (default: when ``transform`` is ``np.exp``).
    better : the outcome's direction that counts as better for the intervention, "increase" or
        "decrease": when ``favours`` is not given, "Favours intervention" and "Favours comparison"
        are printed under the axis on the sides this implies (see :func:`favours_labels`).
    label_width : wrap study labels at word boundaries to lines of at most this many inches (a
        word longer than that keeps a line to itself, whole); None draws each label on one line.
        A wrapped study's row grows to hold its lines.
    pi_min_k : the fewest studies for which the prediction interval is drawn (default 2, every
        random-effects fit with more than one study); see :func:`draws_prediction_interval`.
    risk_of_bias : per study (in the fit's order), its risk-of-bias judgements ("low", "some
        concerns", "high"), one per ``risk_of_bias_columns`` (RoB 2's five domains and the overall
        judgement by default), drawn as robvis draws them beside the study's row; None for a study
        draws nothing on its row.

    Returns the Figure. Conventions follow Lewis & Clarke (2001); see docs/methods/plots.md.
    """
    from matplotlib.patches import Polygon, Rectangle

    _check_intercept_only(fit, "forest_plot")
    if sort is not None and sort not in _SORTS:
        raise ParameterError("sort", sort, "None or one of " + ", ".join(_SORTS))
    if digits < 0 or int(digits) != digits:
        raise ParameterError("digits", digits, "a whole number of decimal places, such as 2")
    if favours is not None and (isinstance(favours, str) or len(favours) != 2):
        raise ParameterError("favours", favours, "two labels, (left of the null, right of it)")
    if favours is None and better is not None:
        favours = favours_labels(better)
    if label_width is not None and not label_width > 0:
        raise ParameterError("label_width", label_width, "a width in inches > 0, or None")
    if risk_of_bias is not None:
        risk_of_bias = [None if r is None else list(r) for r in risk_of_bias]
        bad = [r for r in risk_of_bias if r is not None and (
            len(r) != len(risk_of_bias_columns) or any(j not in RISK_OF_BIAS_STYLE for j in r))]
        if len(risk_of_bias) != fit.k or bad:
            raise ParameterError("risk_of_bias", bad[0] if bad else len(risk_of_bias),
                                 f"one entry per study ({fit.k}), each None or "
                                 f"{len(risk_of_bias_columns)} of low, some concerns, high")
    tf = transform or (lambda v: v)
    log_scale = _is_exp(transform) if log_scale is None else bool(log_scale)
    labels = list(fit.study_labels if labels is None else [str(x) for x in labels])
    if len(labels) != fit.k:
        raise InputError(f"{len(labels)} labels for {fit.k} studies; give one per study",
                         column="labels")
    t = lambda v: float(tf(float(v)))  # noqa: E731 - a local shorthand
    frame = fit.studies_frame()
    weights = np.asarray(fit.weights, dtype=float)
    ci = f"{fit.level:g}% CI"

    rows: list[_Row] = []

    def study_rows(idx):
        for i in _order(fit, np.asarray(idx), sort, labels):
            rows.append(_Row("study", labels[i], int(i), t(fit.yi[i]), t(frame.ci_lower[i]),
                             t(frame.ci_upper[i]), weights[i]))

    footer = []
    if subgroups is not None:
        groups, (qb, qb_df, qb_p) = subgroup_fits(fit, subgroups)
        for g in groups:
            rows.append(_Row("heading", g.name))
            study_rows(g.index)
            if g.fit is not None:
                rows.append(_Row("subtotal", f"Subtotal (k = {g.fit.k})", -1, t(g.fit.estimate),
                                 t(g.fit.ci_lower), t(g.fit.ci_upper), weights[g.index].sum()))
                rows.append(_Row("note", _heterogeneity(g.fit, short=True)))
            rows.append(_Row("blank"))
        between = f"Test for subgroup differences: Q({qb_df}) = {_num(qb, 2)}, {_p(qb_p)}"
    else:
        study_rows(range(fit.k))
        rows.append(_Row("blank"))
        between = None
    model = "Random-effects model" if fit.is_random else "Common-effect model"
    rows.append(_Row("pooled", f"Overall ({model[:-6].lower()})" if subgroups is not None
                     else model, -1,
                     t(fit.estimate), t(fit.ci_lower), t(fit.ci_upper), 100.0))
    has_pi = draws_prediction_interval(fit, show=show_prediction_interval, min_k=pi_min_k)
    if has_pi:
        rows.append(_Row("pi", "Prediction interval", -1, math.nan, t(fit.pi_lower),
                         t(fit.pi_upper)))
    if annotate:
        stat = "z" if fit.test == "z" else f"t({_num(fit.df, 0)})"
        footer = [("Heterogeneity (all studies): " if subgroups is not None else
                   "Heterogeneity: ") + _heterogeneity(fit, short=False),
                  f"Test for overall effect: {stat} = {_num(fit.statistic, 2)}, "
                  f"{_p(fit.p_value)}"]
        if between is not None:
            footer.append(between)

    null = t(0.0) if null_value is None else float(null_value)
    values = [v for r in rows for v in (r.lower, r.upper, r.estimate) if math.isfinite(v)]
    if log_scale and (min(values, default=1.0) <= 0 or null <= 0):
        raise ParameterError("log_scale", log_scale,
                             "False for effects that are not positive (a log axis needs ratios; "
                             "use transform=np.exp with log ratios)")
    if xlim is None:
        xlim = _pad_limits(min(values + [null]), max(values + [null]), log_scale)
    elif not (len(xlim) == 2 and xlim[0] < xlim[1] and (not log_scale or xlim[0] > 0)):
        raise ParameterError("xlim", xlim, "(lower, upper) with lower < upper (> 0 on a log axis)")
    xmin, xmax = float(xlim[0]), float(xlim[1])

    # text of the right-hand columns: estimate, "[lower," and "upper]", weight
    def cells(r: _Row):
        if r.kind in ("study", "subtotal", "pooled"):
            return (_num(r.estimate, digits), f"[{_num(r.lower, digits)},",
                    f"{_num(r.upper, digits)}]", f"{r.weight:.1f}%")
        if r.kind == "pi":
            return ("", f"[{_num(r.lower, digits)},", f"{_num(r.upper, digits)}]", "")
        return ("", "", "", "")

    table = [cells(r) for r in rows]
    if label_width is not None:  # whole words on each line, never a word cut
        for r in rows:
            if r.kind in ("study", "pi", "heading"):
                r.label = "\n".join(wrap_label(
                    r.label, label_width, weight="bold" if r.kind == "heading" else "normal"))
    bold = [r.label for r in rows if r.kind in ("heading", "pooled", "subtotal")] + ["Study"]
    label_w = max(_text_width([r.label for r in rows if r.kind in ("study", "pi")]),
                  _text_width(bold, weight="bold"),
                  _text_width([r.label for r in rows if r.kind == "note"], size=FONT_SIZE - 1,
                              style="italic"))
    header_est = f"Estimate [{ci}]"
    space = 1.5 * (_text_width(["0 0"]) - _text_width(["00"]))
    col_w = [max(_text_width([c[j] for c in table]),  # bold rows set wider
                 _text_width([c[j] for c, r in zip(table, rows, strict=True)
                              if r.kind in ("pooled", "subtotal")], weight="bold"))
             for j in range(4)]
    est_w = col_w[0] + space + col_w[1] + space + col_w[2]
    head_w = _text_width([header_est], weight="bold")
    block_w = max(est_w, head_w)
    shift = (block_w - est_w) / 2
    x_est = _GAP + shift + col_w[0]
    x_lo = x_est + space + col_w[1]
    x_hi = x_lo + space + col_w[2]
    weight_w = max(_text_width(["Weight"], weight="bold"), col_w[3])
    x_weight = _GAP + block_w + _GAP + weight_w
    right_w = (x_weight if show_weights else _GAP + block_w) if annotate else 0.0
    x_rob = right_w + _GAP  # the risk-of-bias columns start here
    if risk_of_bias is not None:
        right_w = x_rob + _ROB_COLUMN * len(risk_of_bias_columns)

    # each row is one unit high, plus 0.75 of a unit (about 1.2 lines of text) per wrapped line
    heights = [1.0 + 0.75 * r.label.count("\n") for r in rows]
    n = float(sum(heights))
    ys = n + 0.5 - (np.cumsum(heights) - np.asarray(heights) / 2)  # first row at the top
    fs = FONT_SIZE
    bottom_pts = 7 + 1.3 * fs + (1.4 * fs if favours else 0) + 4 + 1.3 * fs + 6 \
        + 1.45 * fs * len(footer)
    if ax is None:
        left_in = _PAD + label_w + _GAP
        width = max(left_in + plot_width + right_w + _PAD,
                    _PAD + _text_width(footer) + _PAD)
        top_in = _PAD + 1.6 * ROW_HEIGHT
        bottom_in = bottom_pts / 72 + _PAD
        height = top_in + n * ROW_HEIGHT + bottom_in
        fig = _new_figure(width, height)
        ax = fig.add_axes((left_in / width, bottom_in / height, plot_width / width,
                           n * ROW_HEIGHT / height))
    fig = ax.figure

    left_col = _column_transform(ax, -(label_w + _GAP))
    right_col = lambda dx: _column_transform(ax, dx)  # noqa: E731 - x = 1 is the axes right
    top = n + 0.5
    head_y = top + 0.9
    common = dict(fontsize=fs, va="center", color=INK, parse_math=False, clip_on=False)
    ax.text(0, head_y, "Study", transform=left_col, ha="left", fontweight="bold", **common)
    if annotate:
        ax.text(1, head_y, header_est, transform=right_col(_GAP + block_w / 2), ha="center",
                fontweight="bold", **common)
        if show_weights:
            ax.text(1, head_y, "Weight", transform=right_col(x_weight), ha="right",
                    fontweight="bold", **common)

    is_study = np.array([r.kind == "study" for r in rows])
    # study squares: area proportional to weight; the largest fills ~70% of a row
    study = [r for r in rows if r.kind == "study"]
    w_max = max((r.weight for r in study), default=1.0)
    side = np.array([max(2.5, 0.7 * ROW_HEIGHT * 72 * math.sqrt(r.weight / w_max))
                     for r in study])
    sx = np.array([r.estimate for r in study])
    sy = ys[is_study]
    ax.scatter(sx, sy, s=side ** 2, marker="s", color=INK, linewidths=0, zorder=3,
               gid="study-markers")
    from matplotlib.collections import LineCollection

    lo = np.array([r.lower for r in study])
    hi = np.array([r.upper for r in study])
    segs = [((max(a, xmin), y), (min(b, xmax), y)) for a, b, y in zip(lo, hi, sy, strict=True)]
    ax.add_collection(LineCollection(segs, colors=INK, linewidths=0.9, zorder=2, gid="study-ci"))
    for side_x, mask, marker in ((xmin, lo < xmin, "<"), (xmax, hi > xmax, ">")):
        if mask.any():
            ax.scatter(np.full(mask.sum(), side_x), sy[mask], marker=marker, s=22, color=INK,
                       linewidths=0, zorder=3, clip_on=False, gid="clipped-ci")

    for r, y in zip(rows, ys, strict=True):
        style = dict(common)
        if r.kind in ("heading", "pooled", "subtotal"):
            style["fontweight"] = "bold"
        if r.kind == "note":
            style.update(fontsize=fs - 1, fontstyle="italic", color=GREY)
        if r.label:
            ax.text(0, y, r.label, transform=left_col, ha="left", **style)
        if r.kind in ("subtotal", "pooled"):
            h = 0.32
            ax.add_patch(Polygon([(r.lower, y), (r.estimate, y + h), (r.upper, y),
                                  (r.estimate, y - h)], closed=True, zorder=3,
                                 facecolor=INK if r.kind == "pooled" else "#8c8c8c",
                                 edgecolor=INK, linewidth=0.8,
                                 gid="pooled-diamond" if r.kind == "pooled" else
                                 "subgroup-diamond"))
        if r.kind == "pi":
            ax.add_patch(Rectangle((r.lower, y - 0.09), r.upper - r.lower, 0.18, zorder=3,
                                   facecolor="#b3b3b3", edgecolor=INK, linewidth=0.8,
                                   gid="prediction-interval"))
    if annotate:
        for cell, r, y in zip(table, rows, ys, strict=True):
            style = dict(common, fontweight="bold" if r.kind in ("pooled", "subtotal") else
                         "normal")
            for text, x in zip(cell[:3], (x_est, x_lo, x_hi), strict=True):
                if text:
                    ax.text(1, y, text, transform=right_col(x), ha="right", **style)
            if show_weights and cell[3]:
                ax.text(1, y, cell[3], transform=right_col(x_weight), ha="right", **style)

    if risk_of_bias is not None:
        for j, name in enumerate(risk_of_bias_columns):
            ax.text(1, head_y, name, transform=right_col(x_rob + _ROB_COLUMN * (j + 0.5)),
                    ha="center", fontweight="bold", **dict(common, fontsize=fs - 1))
        for r, y in zip(rows, ys, strict=True):
            judged = risk_of_bias[r.index] if r.kind == "study" else None
            for j, judgement in enumerate(judged or ()):
                fill, symbol, colour = RISK_OF_BIAS_STYLE[judgement]
                where = right_col(x_rob + _ROB_COLUMN * (j + 0.5))
                ax.scatter([1], [y], transform=where, s=(0.8 * ROW_HEIGHT * 72) ** 2, marker="o",
                           color=fill, edgecolors=INK, linewidths=0.5, clip_on=False, zorder=3,
                           gid="risk-of-bias")
                ax.text(1, y, symbol, transform=where, ha="center", fontweight="bold",
                        **dict(common, fontsize=fs - 1.5, color=colour))

    # the line of no effect and a dotted line at the pooled estimate
    ax.plot([null, null], [0.5, top], color=INK, linewidth=0.8, zorder=1, gid="null-line")
    est = t(fit.estimate)
    if xmin <= est <= xmax:
        ax.plot([est, est], [0.5, top], color=GREY, linewidth=0.7, linestyle=(0, (3, 3)),
                zorder=1, gid="estimate-line")

    if log_scale:
        ax.set_xscale("log")
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(0.4, top)
    if log_scale:
        _set_log_ticks(ax.xaxis, xmin, xmax)
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.spines["bottom"].set_color(INK)
    ax.tick_params(axis="x", labelsize=fs, colors=INK, length=3.5, width=0.8)
    ax.set_facecolor("none")
    if xlabel is None:
        xlabel = "Effect size" + (" (log scale)" if log_scale else "")
    ax.set_xlabel(xlabel, fontsize=fs, color=INK, labelpad=4 + (1.4 * fs if favours else 0))
    if favours:
        below = -(7 + 1.3 * fs + 1)
        for text, dx, ha in ((favours[0], -5, "right"), (favours[1], 5, "left")):
            ax.annotate(text, xy=(null, 0), xycoords=("data", "axes fraction"),
                        xytext=(dx, below), textcoords="offset points", ha=ha, va="top",
                        fontsize=fs - 0.5, fontstyle="italic", color=INK, annotation_clip=False)
    if footer:
        ax.annotate("\n".join(footer), xy=(0, 0), xycoords=(left_col, ax.xaxis.label),
                    xytext=(0, -6), textcoords="offset points", ha="left", va="top",
                    fontsize=fs, color=INK, linespacing=1.45, annotation_clip=False,
                    parse_math=False)
    return fig


def _pad_limits(lo: float, hi: float, log_scale: bool, frac: float = 0.05):
    if log_scale:
        a, b = math.log(lo), math.log(hi)
        pad = (b - a) * frac or 0.1
        return math.exp(a - pad), math.exp(b + pad)
    pad = (hi - lo) * frac or max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def _column_transform(ax, dx_inches: float):
    """x in axes fraction shifted by ``dx_inches``; y in data units (one table column)."""
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    base = blended_transform_factory(ax.transAxes, ax.transData)
    return base + ScaledTranslation(dx_inches, 0, ax.figure.dpi_scale_trans)


# ------------------------------------------------------------------------------------ funnel plot

def funnel_plot(fit, *, contours=(0.90, 0.95, 0.99), trim_fill=None, yaxis: str = "sei",
                transform=None, xlabel: str = "Effect size", legend: bool = True, ax=None):
    """Contour-enhanced funnel plot (Peters et al. 2008).

    Studies are plotted by effect against standard error (0 at the top). Shaded regions centred on
    0 mark where a study would be statistically significant at the ``contours`` levels (two-sided
    p < 1 - level), darker for smaller p; the vertical line is the pooled estimate and the dashed
    lines its pseudo confidence region, estimate ± z·SE. A ``trim_fill`` result (anything with
    ``filled_yi``, ``filled_vi`` and ``estimate``) adds the filled studies as open circles and the
    adjusted estimate as a dashed line.

    yaxis : "sei" (standard error, inverted), "vi" (variance, inverted), "seinv" or "vinv"
        (their inverses, precision upwards).
    transform : labels the x-axis ticks on the transformed scale (``np.exp`` for log ratios:
        ticks at round ratios) while points stay on the analysis scale, keeping the funnel symmetric.

    Returns the Figure.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    _check_intercept_only(fit, "funnel_plot")
    if yaxis not in _YAXES:
        raise ParameterError("yaxis", yaxis, ", ".join(_YAXES))
    levels = sorted({float(c) for c in (contours or ())})
    if any(not 0 < c < 1 for c in levels):
        raise ParameterError("contours", contours,
                             "confidence levels between 0 and 1, such as (0.90, 0.95, 0.99)")
    yi = np.asarray(fit.yi, dtype=float)
    se = np.sqrt(np.asarray(fit.vi, dtype=float))
    fill_y = fill_se = np.empty(0)
    if trim_fill is not None and len(np.atleast_1d(trim_fill.filled_yi)):
        fill_y = np.atleast_1d(np.asarray(trim_fill.filled_yi, dtype=float))
        fill_se = np.sqrt(np.atleast_1d(np.asarray(trim_fill.filled_vi, dtype=float)))
    all_se = np.concatenate([se, fill_se])
    if yaxis in ("seinv", "vinv") and np.any(all_se <= 0):
        raise InputError(f"yaxis='{yaxis}' needs positive sampling variances", column="vi")
    to_y = {"sei": lambda s: s, "vi": lambda s: s ** 2, "seinv": lambda s: 1 / s,
            "vinv": lambda s: 1 / s ** 2}[yaxis]
    to_se = {"sei": lambda y: y, "vi": np.sqrt, "seinv": lambda y: 1 / y,
             "vinv": lambda y: 1 / np.sqrt(y)}[yaxis]
    inverted = yaxis in ("sei", "vi")
    se_max = float(all_se.max()) if all_se.max() > 0 else 1.0
    if inverted:
        y_lo, y_hi = 0.0, float(to_y(se_max)) * 1.05
    else:
        ys_ = to_y(all_se)
        y_lo, y_hi = float(ys_.min()) * 0.9, float(ys_.max()) * 1.05
    y_grid = np.linspace(y_lo, y_hi, 300)
    se_grid = to_se(y_grid)

    z = stats.norm.ppf(1 - (1 - fit.level / 100) / 2)
    est = float(fit.estimate)
    se_far = float(np.max(se_grid))
    xs = np.concatenate([yi, fill_y, [est - z * se_far, est + z * se_far, 0.0]])
    if trim_fill is not None:
        xs = np.append(xs, float(trim_fill.estimate))
    xmin, xmax = _pad_limits(float(xs.min()), float(xs.max()), False, 0.08)

    if ax is None:
        fig = _new_figure(6.4 if legend else 4.8, 4.4)
        ax = fig.add_axes((0.13, 0.12, 0.55 if legend else 0.8, 0.83))
    fig = ax.figure
    handles = []
    greys = np.linspace(0.91, 0.70, len(levels)) if levels else []
    zs = [stats.norm.ppf(1 - (1 - c) / 2) for c in levels]
    if levels:
        handles.append(Patch(facecolor="white", edgecolor="#bdbdbd", linewidth=0.6,
                             label=f"p > {_level(1 - levels[0])}"))
    for j, (c, zc) in enumerate(zip(levels, zs, strict=True)):
        outer = zs[j + 1] * se_grid if j + 1 < len(zs) else np.full_like(se_grid, np.inf)
        inner = zc * se_grid
        colour = str(round(float(greys[j]), 3))
        for sign in (1, -1):
            a = np.clip(sign * inner, xmin, xmax)
            b = np.clip(sign * outer, xmin, xmax)
            ax.fill_betweenx(y_grid, a, b, facecolor=colour, edgecolor="none", zorder=0,
                             gid=f"funnel-contour-{c:g}")
        p_hi = 1 - c
        p_lo = 1 - levels[j + 1] if j + 1 < len(levels) else None
        label = (f"{_level(p_lo)} < p \u2264 {_level(p_hi)}" if p_lo is not None
                 else f"p \u2264 {_level(p_hi)}")
        handles.append(Patch(facecolor=colour, edgecolor="none", label=label))

    ax.plot([est, est], [y_lo, y_hi], color=INK, linewidth=1.0, zorder=2, gid="pooled-line")
    ax.plot(est - z * se_grid, y_grid, color=INK, linewidth=0.8, linestyle=(0, (4, 3)), zorder=2,
            gid="pseudo-ci")
    ax.plot(est + z * se_grid, y_grid, color=INK, linewidth=0.8, linestyle=(0, (4, 3)), zorder=2)
    handles += [Line2D([], [], color=INK, linewidth=1.0, label="Pooled estimate"),
                Line2D([], [], color=INK, linewidth=0.8, linestyle=(0, (4, 3)),
                       label=f"Pseudo {fit.level:g}% CI")]
    ax.scatter(yi, to_y(se), s=22, color=INK, edgecolors="white", linewidths=0.5, zorder=4,
               gid="funnel-studies")
    handles.append(Line2D([], [], marker="o", linestyle="none", color=INK, markersize=5,
                          label="Studies"))
    if fill_y.size:
        ax.scatter(fill_y, to_y(fill_se), s=22, facecolors="white", edgecolors=INK,
                   linewidths=0.9, zorder=4, gid="funnel-filled")
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                              markeredgecolor=INK, markersize=5, label="Filled (trim and fill)"))
    if trim_fill is not None:
        adj = float(trim_fill.estimate)
        ax.plot([adj, adj], [y_lo, y_hi], color="#b2182b", linewidth=1.0,
                linestyle=(0, (1.5, 1.5)), zorder=2, gid="adjusted-line")
        handles.append(Line2D([], [], color="#b2182b", linewidth=1.0, linestyle=(0, (1.5, 1.5)),
                              label="Adjusted estimate"))

    ax.set_xlim(xmin, xmax)
    ax.set_ylim((y_hi, y_lo) if inverted else (y_lo, y_hi))
    if transform is not None:
        if _is_exp(transform):
            _set_log_ticks(ax.xaxis, math.exp(xmin), math.exp(xmax), position=math.log)
        else:
            from matplotlib.ticker import FuncFormatter

            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{float(transform(v)):.3g}"))
    _tidy_axes(ax, xlabel, _YAXES[yaxis])
    if legend:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), frameon=False,
                  fontsize=FONT_SIZE - 0.5, handlelength=1.8, borderaxespad=0)
    return fig


def _level(p: float) -> str:
    """A significance level as journals print it: 0.10, 0.05, 0.01, 0.001."""
    p = round(p, 6)
    return f"{p:.2f}" if round(p, 2) == p else f"{p:g}"


def _tidy_axes(ax, xlabel: str, ylabel: str) -> None:
    for s in ("right", "top"):
        ax.spines[s].set_visible(False)
    for s in ("left", "bottom"):
        ax.spines[s].set_color(INK)
        ax.spines[s].set_linewidth(0.8)
    ax.tick_params(labelsize=FONT_SIZE, colors=INK, length=3.5, width=0.8)
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE, color=INK)
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE, color=INK)


# ------------------------------------------------------------------------------------ Baujat plot

def baujat_plot(result, *, label_points: bool = True,
                xlabel: str = "Contribution to overall heterogeneity",
                ylabel: str = "Influence on overall result", ax=None):
    """Baujat plot (Baujat et al. 2002): each study's contribution to Cochran's Q (x) against its
    influence on the pooled estimate (y), with study labels.

    ``result`` is anything with arrays ``x`` and ``y`` and ``labels`` (None for 1, 2, ...), such as
    the result of ``whatworks.synthesis.sensitivity.baujat``. Studies at the top right both add
    heterogeneity and move the result. Returns the Figure.
    """
    x = np.atleast_1d(np.asarray(result.x, dtype=float))
    y = np.atleast_1d(np.asarray(result.y, dtype=float))
    if x.shape != y.shape:
        raise InputError(f"x has {x.size} values but y has {y.size}", column="y")
    labels = getattr(result, "labels", None)
    labels = [str(i + 1) for i in range(x.size)] if labels is None else [str(s) for s in labels]
    if len(labels) != x.size:
        raise InputError(f"{len(labels)} labels for {x.size} studies", column="labels")
    if ax is None:
        fig = _new_figure(5.2, 4.2)
        ax = fig.add_axes((0.14, 0.13, 0.8, 0.82))
    fig = ax.figure
    ax.scatter(x, y, s=20, color=INK, edgecolors="white", linewidths=0.5, zorder=3,
               gid="baujat-points")
    xmin, xmax = _pad_limits(float(min(x.min(), 0)), float(x.max()), False, 0.06)
    ymin, ymax = _pad_limits(float(min(y.min(), 0)), float(y.max()), False, 0.08)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    _tidy_axes(ax, xlabel, ylabel)
    if label_points:
        _place_labels(ax, x, y, labels, FONT_SIZE - 1)
    return fig


# spots around a point, tried in turn: offset (points), horizontal and vertical alignment
_SPOTS = ((5, 3, "left", "bottom"), (-5, 3, "right", "bottom"), (5, -3, "left", "top"),
          (-5, -3, "right", "top"), (7, 0, "left", "center"), (-7, 0, "right", "center"),
          (0, 6, "center", "bottom"), (0, -6, "center", "top"))


def _place_labels(ax, x, y, labels, size: float) -> None:
    """Label points, each at the first spot around it that overlaps no earlier label, no point and
    stays inside the axes (the least-overlapping spot when none is free)."""
    scale = ax.figure.dpi / 72  # pixels per point
    xy = ax.transData.transform(np.column_stack([x, y]))
    box = ax.get_window_extent()
    r = 3.5 * scale
    taken = [(px - r, py - r, px + r, py + r) for px, py in xy]
    height = 1.2 * size * scale

    def overlap(a, b):
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    for i in np.argsort(-(np.asarray(x) + np.asarray(y)), kind="stable"):
        width = _text_width([labels[i]], size=size) * 72 * scale
        best = None
        for dx, dy, ha, va in _SPOTS:
            x0 = xy[i, 0] + dx * scale - {"left": 0, "right": width, "center": width / 2}[ha]
            y0 = xy[i, 1] + dy * scale - {"bottom": 0, "top": height, "center": height / 2}[va]
            rect = (x0, y0, x0 + width, y0 + height)
            outside = width * height - overlap(rect, (box.x0, box.y0, box.x1, box.y1))
            score = sum(overlap(rect, t) for j, t in enumerate(taken) if j != i) + 2 * outside
            if best is None or score < best[0]:
                best = (score, rect, dx, dy, ha, va)
            if score == 0:
                break
        _, rect, dx, dy, ha, va = best
        taken.append(rect)
        ax.annotate(labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                    va=va, fontsize=size, color=INK, parse_math=False)


# ---------------------------------------------------------------------------------------- saving

def save_figure(fig, path, *, dpi: int = 300) -> Path:
    """Write a figure as PNG (``dpi``, default 300), SVG (text kept as text) or PDF (TrueType
    fonts embedded), chosen by the file extension. Returns the path written.

    ``fig`` may be a Figure or an Axes. SVG and PDF carry no creation date, so the same figure gives
    the same file.
    """
    import matplotlib
    from matplotlib.axes import Axes

    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ParameterError("path", str(path), "a file name ending in .png, .svg or .pdf")
    if not path.parent.is_dir():
        raise InputError("the folder does not exist; create it first", file=str(path.parent))
    if isinstance(fig, Axes):
        fig = fig.figure
    metadata = {"png": {"Software": "whatworks"}, "svg": {"Date": None},
                "pdf": {"CreationDate": None}}[fmt]
    # rcParams are global: the lock keeps concurrent saves from restoring each other's settings
    with _SAVE_LOCK, matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42,
                                            "svg.hashsalt": "whatworks"}):
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.08,
                    metadata=metadata, facecolor="white")
    return path
