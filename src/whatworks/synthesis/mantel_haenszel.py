"""Mantel–Haenszel and Peto pooling of 2×2 tables under an equal-effects model.

Both methods pool the counts of the tables directly, so zero cells need no continuity
correction. The per-study outcomes ``yi``/``vi`` (used only for the heterogeneity statistic
``Q``, ``I²`` and ``H²`` and for plots) follow the ``add``/``to``/``drop00`` rules of
metafor's ``escalc``.

Tested against metafor 3.8 ``rma.mh`` and ``rma.peto`` (``tests/reference/make_mh.R``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from whatworks._results import FrozenResult, fmt, fmt_p
from whatworks.errors import InputError, ParameterError

MEASURES = ("OR", "RR", "RD")
ADD_TO = ("only0", "all", "if0all", "none")
_RATIO_LABEL = {"OR": "odds ratio", "RR": "risk ratio", "RD": "risk difference"}


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tables:
    """Cell counts of the complete tables and where they sit among the input rows."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    rows: np.ndarray  # positions of the complete tables in the input
    n_input: int


MAX_COUNT, MIN_COUNT = 1e12, 1e-6


def _column(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"'{name}' must hold numbers (counts): {exc}", column=name) from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"'{name}' must be one-dimensional, got shape {arr.shape}", column=name)
    return arr


def _tables(ai, bi, ci, di, n1i, n2i) -> _Tables:
    """Validate the counts and return complete tables (rows with a missing count are left out)."""
    if ai is None or ci is None:
        raise ParameterError("ai/ci", None, "the event counts ai and ci of both groups")
    cells_given = bi is not None and di is not None
    sizes_given = n1i is not None and n2i is not None
    if cells_given == sizes_given or (not cells_given and (bi is not None or di is not None)):
        raise ParameterError("bi, di / n1i, n2i", "both or neither",
                             "either bi and di (non-events) or n1i and n2i (group sizes)")
    names = ("ai", "bi", "ci", "di") if cells_given else ("ai", "n1i", "ci", "n2i")
    cols = [_column(v, n) for v, n in zip((ai, bi if cells_given else n1i, ci,
                                           di if cells_given else n2i), names, strict=True)]
    n = len(cols[0])
    for col, name in zip(cols, names, strict=True):
        if len(col) != n:
            raise InputError(f"'{name}' has {len(col)} values but 'ai' has {n}; give one value "
                             "per study", column=name)
    a, second, c, fourth = cols
    b, d = (second, fourth) if cells_given else (second - a, fourth - c)
    complete = ~(np.isnan(a) | np.isnan(b) | np.isnan(c) | np.isnan(d))
    for col, name in zip(cols, names, strict=True):
        bad = complete & (~np.isfinite(col) | (col < 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"counts must be finite and non-negative, got {col[i]}",
                             row=i + 1, column=name)
        # beyond these bounds the products of counts overflow or underflow in double precision;
        # no group of people is larger than 1e12 and no (weighted) count is a positive 1e-6
        bad = complete & ((col > MAX_COUNT) | ((col > 0) & (col < MIN_COUNT)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"count {col[i]:g} is outside what a count of people can be (0, or "
                             f"{MIN_COUNT:g} to {MAX_COUNT:g}); check the cell", row=i + 1,
                             column=name)
    if not cells_given:
        for cells, size, name, event in ((b, second, "n1i", "ai"), (d, fourth, "n2i", "ci")):
            bad = complete & (cells < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"group size {size[i]} is smaller than the {event} events",
                                 row=i + 1, column=name)
    # A table with no one in one group is kept, as metafor keeps it: it adds nothing to the
    # Mantel-Haenszel and Peto sums, and its per-study yi (after the zero-cell rule) enters Q.
    # A table with no one at all has no outcome to estimate (metafor returns NaN): refused.
    bad = complete & (a + b + c + d <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError("the table has no participants in either group; remove the study or "
                         "correct its counts", row=i + 1)
    rows = np.flatnonzero(complete)
    if rows.size == 0:
        raise InputError("no study has all four counts; supply at least one complete 2x2 table")
    return _Tables(a[rows], b[rows], c[rows], d[rows], rows, n)


def _two(value: Any, name: str, default_second: Any) -> tuple[Any, Any]:
    """Split a metafor-style argument into (value for yi/vi, value for the pooling method)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != 2:
            raise ParameterError(name, value, "one value, or two (for yi/vi, for the pooling)")
        return value[0], value[1]
    return value, default_second


def _check_zero_rules(add: Any, to: Any, drop00: Any) -> None:
    try:
        ok = math.isfinite(float(add)) and float(add) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError("add", add, "a non-negative number")
    if to not in ADD_TO:
        raise ParameterError("to", to, " or ".join(repr(t) for t in ADD_TO))
    if not isinstance(drop00, (bool, np.bool_)):
        raise ParameterError("drop00", drop00, "True or False")


def _alpha(level: Any) -> float:
    try:
        ok = 0 < float(level) < 100
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError("level", level, "a confidence level in percent, between 0 and 100")
    return 1 - float(level) / 100


# ---------------------------------------------------------------------------------------------
# Zero cells and per-study outcomes
# ---------------------------------------------------------------------------------------------

def _apply_zero_rules(t: _Tables, add: float, to: str, drop00: bool):
    """Counts after the add/to/drop00 rules, with a mask of the studies kept.

    ``drop00`` drops studies with no events (ai = ci = 0) or only events (bi = di = 0) in both
    groups; ``to`` says where ``add`` goes: "only0" tables with a zero cell, "all" every table,
    "if0all" every table when any kept table has a zero cell, "none" nowhere.
    """
    keep = np.ones(t.a.size, dtype=bool)
    if drop00:
        keep = ~(((t.a == 0) & (t.c == 0)) | ((t.b == 0) & (t.d == 0)))
    has0 = (t.a == 0) | (t.b == 0) | (t.c == 0) | (t.d == 0)
    if to == "all":
        where = np.ones_like(keep)
    elif to == "only0":
        where = has0
    elif to == "if0all":
        where = np.full_like(keep, bool(np.any(has0 & keep)))
    else:
        where = np.zeros_like(keep)
    plus = np.where(where & keep, float(add), 0.0)
    return t.a + plus, t.b + plus, t.c + plus, t.d + plus, keep


def _study_outcomes(t: _Tables, measure: str, add: float, to: str, drop00: bool):
    """Per-study yi and vi (log OR, log RR, RD or Peto log OR), NaN where not defined.

    The formulas are the usual large-sample ones (e.g. Borenstein et al., 2009, ch. 5);
    the risk-difference variance is the plug-in p1(1-p1)/n1 + p2(1-p2)/n2.
    """
    a, b, c, d, keep = _apply_zero_rules(t, add, to, drop00)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            yi = np.log(a * d / (b * c))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RR":
            yi = np.log(a / n1) - np.log(c / n2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "RD":
            p1, p2 = a / n1, c / n2
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:  # PETO
            oe, v = _peto_parts(a, b, c, d)
            yi, vi = oe / v, 1 / v
    bad = ~keep | ~np.isfinite(yi) | ~np.isfinite(vi)
    yi, vi = np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)
    full_yi = np.full(t.n_input, np.nan)
    full_vi = np.full(t.n_input, np.nan)
    full_yi[t.rows], full_vi[t.rows] = yi, vi
    return yi, vi, full_yi, full_vi


def _peto_parts(a, b, c, d):
    """Observed minus expected events in group 1 and its hypergeometric variance, per table."""
    n = a + b + c + d
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        oe = a - n1 * m1 / n
        v = np.where((m1 > 0) & (m2 > 0), m1 * m2 * n1 * n2 / (n * n * (n - 1)), 0.0)
    return oe, v


def _heterogeneity(yi, vi, centre: float):
    """Cochran's Q about ``centre`` over the studies with a defined yi, with I² and H²."""
    ok = np.isfinite(yi)
    k_yi = int(ok.sum())
    q = float(np.sum((yi[ok] - centre) ** 2 / vi[ok]))
    return _q_summary(q, k_yi - 1) + (k_yi,)


def _q_summary(q: float, df: int):
    if df <= 0:  # one study: nothing to be heterogeneous (metafor reports Q = 0, p = 1)
        return 0.0, max(df, 0), 1.0, 0.0, 1.0
    p = float(stats.chi2.sf(q, df))
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    return q, df, p, i2, q / df


def _wald(estimate: float, se: float, alpha: float):
    z = estimate / se
    p = float(2 * stats.norm.sf(abs(z)))
    crit = float(stats.norm.ppf(1 - alpha / 2))
    return z, p, estimate - crit * se, estimate + crit * se


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

def _frame(result, label: str):
    import pandas as pd

    rows = {f"log {label}" if result.measure in ("OR", "RR") else label: {
        "estimate": result.estimate, "se": result.se, "statistic": result.statistic,
        "p_value": result.p_value, "ci_lower": result.ci_lower, "ci_upper": result.ci_upper}}
    if result.measure in ("OR", "RR"):
        rows[label] = {"estimate": result.estimate_exp, "se": math.nan, "statistic": math.nan,
                       "p_value": math.nan, "ci_lower": result.ci_lower_exp,
                       "ci_upper": result.ci_upper_exp}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.attrs["level"] = result.level
    return frame


def _summary_lines(result, title: str) -> list[str]:
    lines = [f"{title} (k = {result.k})", ""]
    if result.q_df > 0:
        lines += [f"I^2 (total heterogeneity / total variability):  {result.i2:.2f}%",
                  f"H^2 (total variability / sampling variability): {result.h2:.2f}", "",
                  "Test for Heterogeneity:",
                  f"Q(df = {result.q_df}) = {fmt(result.q)}, p-val {_p_text(result.q_p_value)}",
                  ""]
    scale = " (log scale)" if result.measure in ("OR", "RR") else ""
    lines += [f"Model Results{scale}:", "",
              f"{'estimate':>10} {'se':>8} {'zval':>9} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}",
              f"{fmt(result.estimate):>10} {fmt(result.se):>8} {fmt(result.statistic):>9} "
              f"{fmt_p(result.p_value):>8} {fmt(result.ci_lower):>9} {fmt(result.ci_upper):>9}"]
    if result.measure in ("OR", "RR"):
        lines += ["", f"Model Results ({result.measure} scale):", "",
                  f"{'estimate':>10} {'ci.lb':>9} {'ci.ub':>9}",
                  f"{fmt(result.estimate_exp):>10} {fmt(result.ci_lower_exp):>9} "
                  f"{fmt(result.ci_upper_exp):>9}"]
    return lines


def _p_text(p: float) -> str:
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


@dataclass(frozen=True, repr=False)
class MantelHaenszelResult(FrozenResult):
    """A Mantel–Haenszel pooled log odds ratio, log risk ratio or risk difference.

    ``estimate``, ``ci_lower`` and ``ci_upper`` are on the log scale for OR and RR (the
    ``*_exp`` fields give the ratio scale) and on the raw scale for RD (``*_exp`` are NaN).
    ``k`` counts the complete tables; ``k_yi`` those with a defined per-study outcome, which
    enter ``q`` (about the MH estimate, ``q_df = k_yi - 1``), ``i2`` (%) and ``h2``. ``cmh`` and
    ``tarone`` are NaN unless ``measure == "OR"``. ``yi``/``vi`` line up with the input rows.
    """

    measure: str
    method: str
    k: int
    k_yi: int
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    estimate_exp: float
    ci_lower_exp: float
    ci_upper_exp: float
    level: float
    q: float
    q_df: int
    q_p_value: float
    i2: float
    h2: float
    cmh: float
    cmh_p_value: float
    correct: bool
    tarone: float
    tarone_df: int | None
    tarone_p_value: float
    yi: tuple[float, ...]
    vi: tuple[float, ...]

    def to_frame(self):
        """Pooled estimate as a table: one row per scale (log and ratio for OR and RR)."""
        return _frame(self, self.measure)

    def summary_text(self) -> str:
        lines = _summary_lines(self, f"Equal-Effects Model, Mantel-Haenszel {self.measure}")
        if self.measure == "OR":
            lines += ["", f"Cochran-Mantel-Haenszel Test:    CMH = {fmt(self.cmh)}, df = 1, "
                          f"p-val {_p_text(self.cmh_p_value)}"
                          f"{'' if self.correct else ' (no continuity correction)'}",
                      f"Tarone's Test for Heterogeneity: X^2 = {fmt(self.tarone)}, "
                      f"df = {self.tarone_df}, p-val {_p_text(self.tarone_p_value)}"]
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class PetoResult(FrozenResult):
    """A Peto (one-step) pooled log odds ratio with its ratio-scale version and Q, I², H²."""

    measure: str
    method: str
    k: int
    k_yi: int
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    estimate_exp: float
    ci_lower_exp: float
    ci_upper_exp: float
    level: float
    q: float
    q_df: int
    q_p_value: float
    i2: float
    h2: float
    yi: tuple[float, ...]
    vi: tuple[float, ...]

    def to_frame(self):
        """Pooled estimate as a table: log odds ratio and odds ratio rows."""
        return _frame(self, "OR")

    def summary_text(self) -> str:
        return "\n".join(_summary_lines(self, "Equal-Effects Model, Peto's method"))


# ---------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------

def _mh_estimate(measure: str, a, b, c, d):
    """Mantel–Haenszel estimate and its standard error from (possibly adjusted) counts."""
    n = a + b + c + d
    n1, n2 = a + b, c + d
    if measure == "OR":
        r, s = a * d / n, b * c / n
        big_r, big_s = r.sum(), s.sum()
        if big_r == 0 or big_s == 0:
            cells = "ai*di" if big_r == 0 else "bi*ci"
            raise InputError(f"the Mantel-Haenszel odds ratio is not defined: {cells} = 0 in "
                             "every table")
        p, q = (a + d) / n, (b + c) / n
        var = (np.sum(p * r) / (2 * big_r**2) + np.sum(p * s + q * r) / (2 * big_r * big_s)
               + np.sum(q * s) / (2 * big_s**2))
        return math.log(big_r / big_s), _sqrt_variance(var)
    if measure == "RR":
        r, s = a * n2 / n, c * n1 / n
        big_r, big_s = r.sum(), s.sum()
        if big_r == 0 or big_s == 0:
            group = "1 (ai)" if big_r == 0 else "2 (ci)"
            raise InputError("the Mantel-Haenszel risk ratio is not defined: no events in "
                             f"group {group} in any study")
        var = np.sum((n1 * n2 * (a + c) - a * c * n) / n**2) / (big_r * big_s)
        return math.log(big_r / big_s), _sqrt_variance(var)
    w = n1 * n2 / n
    big_w = w.sum()
    rd = np.sum((a * n2 - c * n1) / n) / big_w
    p = np.sum((n1**2 * c - n2**2 * a + n1 * n2 * (n2 - n1) / 2) / n**2)
    q = np.sum((a * (n2 - c) + c * (n1 - a)) / (2 * n))
    return float(rd), _sqrt_variance((rd * p + q) / big_w**2)


def _sqrt_variance(var: float) -> float:
    """The standard error, refusing counts so extreme that the variance is not positive."""
    if not (math.isfinite(var) and var > 0):
        raise InputError("the variance of the pooled estimate is not positive for these counts "
                         "(they are too extreme: events or non-events next to zero in every "
                         "table); check the counts")
    return math.sqrt(var)


def _exp(x: float) -> float:
    """exp(x), infinite (not an OverflowError) beyond double precision."""
    return math.exp(x) if x < 709.0 else math.inf


def _cmh_test(a, b, c, d, correct: bool):
    """Cochran–Mantel–Haenszel chi-square (1 df), optionally with the 0.5 continuity correction."""
    n = a + b + c + d
    n1, m1, m2 = a + b, a + c, b + d
    if m1.sum() == 0 or m2.sum() == 0:
        return math.nan, math.nan
    _, v = _peto_parts(a, b, c, d)
    diff = abs(a.sum() - np.sum(n1 * m1 / n))
    stat = float((diff - (0.5 if correct else 0.0)) ** 2 / v.sum())
    return stat, float(stats.chi2.sf(stat, 1))


def _tarone_test(a, b, c, d, log_or: float):
    """Breslow–Day statistic with Tarone's correction, over tables with events and non-events."""
    use = ((a + c) > 0) & ((b + d) > 0) & ((a + b) > 0) & ((c + d) > 0)  # an empty arm: no test
    a, b, c, d = a[use], b[use], c[use], d[use]
    k_pos = int(use.sum())
    n, n1, m1 = a + b + c + d, a + b, a + c
    psi = math.exp(log_or)
    # Expected ai under the common odds ratio psi: the root in (max(0, n1+m1-n), min(n1, m1)) of
    # (1 - psi) A^2 + (n - n1 - m1 + psi (n1 + m1)) A - psi n1 m1 = 0.
    q2, q1, q0 = 1 - psi, n - n1 - m1 + psi * (n1 + m1), -psi * n1 * m1
    root = np.sqrt(q1**2 - 4 * q2 * q0)
    half = -0.5 * (q1 + np.where(q1 >= 0, root, -root))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = half / q2, q0 / half
    lo, hi = np.maximum(0, n1 + m1 - n), np.minimum(n1, m1)
    expected = np.where((r2 >= lo) & (r2 <= hi), r2, r1)
    var = 1 / (1 / expected + 1 / (n1 - expected) + 1 / (m1 - expected)
               + 1 / (n - n1 - m1 + expected))
    breslow_day = np.sum((a - expected) ** 2 / var)
    stat = float(breslow_day - (a.sum() - expected.sum()) ** 2 / var.sum())
    df = k_pos - 1
    if df <= 0:  # a single informative table fits any common odds ratio exactly: no test
        return 0.0, df, math.nan
    return stat, df, float(stats.chi2.sf(stat, df))


def _setup(ai, bi, ci, di, n1i, n2i, add, to, drop00, level):
    t = _tables(ai, bi, ci, di, n1i, n2i)
    add_yi, add_pool = _two(add, "add", 0.0)
    to_yi, to_pool = _two(to, "to", "none")
    drop_yi, drop_pool = _two(drop00, "drop00", False)
    _check_zero_rules(add_yi, to_yi, drop_yi)
    _check_zero_rules(add_pool, to_pool, drop_pool)
    alpha = _alpha(level)
    a, b, c, d, keep = _apply_zero_rules(t, float(add_pool), to_pool, bool(drop_pool))
    pooled = (a[keep], b[keep], c[keep], d[keep])
    return t, (float(add_yi), to_yi, bool(drop_yi)), pooled, alpha


def mantel_haenszel(ai, bi=None, ci=None, di=None, *, measure: str = "OR", n1i=None, n2i=None,
                    add: float | tuple = 0.5, to: str | tuple = "only0",
                    drop00: bool | tuple = True, correct: bool = True,
                    level: float = 95) -> MantelHaenszelResult:
    """Pool 2×2 tables with the Mantel–Haenszel method (equal-effects model).

    Parameters
    ----------
    ai, bi, ci, di : array-like
        Events and non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``).
        Instead of ``bi`` and ``di`` the group sizes ``n1i`` and ``n2i`` may be given.
        Tables with a missing count are left out.
    measure : {"OR", "RR", "RD"}
        Log odds ratio, log risk ratio or risk difference.
    add, to, drop00 :
        Zero-cell rules for the per-study outcomes behind Q, I² and H² (as metafor's
        ``escalc``). The pooled estimate uses the raw counts, unless a pair is given, e.g.
        ``add=(0.5, 0.5), to=("only0", "only0"), drop00=(True, True)``, whose second values
        apply to the counts the Mantel–Haenszel method pools.
    correct : bool
        Continuity correction of 0.5 in the Cochran–Mantel–Haenszel test (OR only).
    level : float
        Confidence level in percent.

    Notes
    -----
    OR: MH estimator with the Robins–Breslow–Greenland variance; RR: Greenland–Robins
    estimator and variance; RD: MH weights ``n1 n2 / n`` with the Sato–Greenland–Robins
    variance. For OR, the CMH test and Tarone's heterogeneity test are also given.
    Tested against metafor 3.8 ``rma.mh`` (agreement to about 1e-12 relative).

    References
    ----------
    Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
    retrospective studies of disease. JNCI, 22(4), 719-748.
    Cochran, W. G. (1954). Some methods for strengthening the common chi-square tests.
    Biometrics, 10(4), 417-451.
    Greenland, S., & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
    follow-up data. Biometrics, 41(1), 55-68.
    Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel variance
    consistent in both sparse data and large-strata limiting models. Biometrics, 42(2), 311-323.
    Sato, T., Greenland, S., & Robins, J. M. (1989). On the variance estimator for the
    Mantel-Haenszel risk difference. Biometrics, 45(4), 1323-1324.
    Tarone, R. E. (1985). On heterogeneity tests based on efficient scores. Biometrika, 72(1),
    91-95.
    """
    if measure not in MEASURES:
        raise ParameterError("measure", measure, " or ".join(repr(m) for m in MEASURES))
    if not isinstance(correct, (bool, np.bool_)):
        raise ParameterError("correct", correct, "True or False")
    t, yi_rules, pooled, alpha = _setup(ai, bi, ci, di, n1i, n2i, add, to, drop00, level)
    if pooled[0].size == 0:
        raise InputError("every study was dropped (drop00); there is nothing to pool")
    estimate, se = _mh_estimate(measure, *pooled)
    z, p, lo, hi = _wald(estimate, se, alpha)
    yi, vi, full_yi, full_vi = _study_outcomes(t, measure, *yi_rules)
    q, q_df, q_p, i2, h2, k_yi = _heterogeneity(yi, vi, estimate)
    cmh = cmh_p = tarone = tarone_p = math.nan
    tarone_df = None
    if measure == "OR":
        cmh, cmh_p = _cmh_test(*pooled, bool(correct))
        tarone, tarone_df, tarone_p = _tarone_test(*pooled, estimate)
    ratio = measure in ("OR", "RR")
    return MantelHaenszelResult(
        measure=measure, method="MH", k=int(pooled[0].size), k_yi=k_yi,
        estimate=estimate, se=se, statistic=z, p_value=p, ci_lower=lo, ci_upper=hi,
        estimate_exp=_exp(estimate) if ratio else math.nan,
        ci_lower_exp=_exp(lo) if ratio else math.nan,
        ci_upper_exp=_exp(hi) if ratio else math.nan,
        level=float(level), q=q, q_df=q_df, q_p_value=q_p, i2=i2, h2=h2,
        cmh=cmh, cmh_p_value=cmh_p, correct=bool(correct), tarone=tarone,
        tarone_df=tarone_df, tarone_p_value=tarone_p,
        yi=tuple(full_yi.tolist()), vi=tuple(full_vi.tolist()))


def peto(ai, bi=None, ci=None, di=None, *, n1i=None, n2i=None, add: float | tuple = 0.5,
         to: str | tuple = "only0", drop00: bool | tuple = True,
         level: float = 95) -> PetoResult:
    """Pool 2×2 tables with Peto's one-step log odds ratio (equal-effects model).

    The estimate is ``sum(O - E) / sum(V)`` with ``O - E`` the observed minus expected events
    in group 1 and ``V`` its hypergeometric variance; ``se = 1 / sqrt(sum(V))``. ``q`` is
    ``sum((O - E)^2 / V) - sum(O - E)^2 / sum(V)`` over tables with ``V > 0``, on ``k_yi - 1``
    degrees of freedom. Arguments as in :func:`mantel_haenszel`; ``add``/``to``/``drop00``
    only shape the per-study ``yi``/``vi`` unless given as pairs.
    Tested against metafor 3.8 ``rma.peto`` (agreement to about 1e-12 relative).

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
    after myocardial infarction: an overview of the randomized trials. Progress in
    Cardiovascular Diseases, 27(5), 335-371.
    """
    t, yi_rules, pooled, alpha = _setup(ai, bi, ci, di, n1i, n2i, add, to, drop00, level)
    oe, v = _peto_parts(*pooled)
    ok = v > 0
    if not ok.any():
        raise InputError("Peto's odds ratio is not defined: no table has both events and "
                         "non-events")
    oe, v = oe[ok], v[ok]
    estimate, se = float(oe.sum() / v.sum()), float(1 / _sqrt_variance(float(v.sum())))
    z, p, lo, hi = _wald(estimate, se, alpha)
    yi, _, full_yi, full_vi = _study_outcomes(t, "PETO", *yi_rules)
    k_yi = int(np.isfinite(yi).sum())
    q_value = float(np.sum(oe**2 / v) - oe.sum() ** 2 / v.sum())
    q, q_df, q_p, i2, h2 = _q_summary(q_value, k_yi - 1)
    return PetoResult(
        measure="OR", method="Peto", k=int(pooled[0].size), k_yi=k_yi,
        estimate=estimate, se=se, statistic=z, p_value=p, ci_lower=lo, ci_upper=hi,
        estimate_exp=_exp(estimate), ci_lower_exp=_exp(lo), ci_upper_exp=_exp(hi),
        level=float(level), q=q, q_df=q_df, q_p_value=q_p, i2=i2, h2=h2,
        yi=tuple(full_yi.tolist()), vi=tuple(full_vi.tolist()))
