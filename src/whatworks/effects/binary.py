"""Effect sizes for a binary outcome compared between two groups (2x2 tables).

Log odds ratio (OR), log risk ratio (RR), risk difference (RD) and Peto's log odds ratio
(PETO), from the cells ``ai bi / ci di`` (group 1 events / non-events, group 2 events /
non-events).

Zero cells follow metafor 3.8: ``add`` (default 1/2) is added to every cell of a table
according to ``to``: ``"only0"`` (tables with a zero cell; the default), ``"all"`` (every table),
``"if0all"`` (every table, if any table has a zero cell) or ``"none"``. In metafor 3.8 this
applies to all four measures, including RD and PETO. ``drop00=True`` sets tables with no events
(ai = ci = 0) or only events (bi = di = 0) to ``NaN``.

Tested against metafor 3.8 ``escalc`` on ``dat.bcg`` and constructed tables with zero cells:
``tests/reference/make_effects.R``.
"""

from __future__ import annotations

import numpy as np

TO_OPTIONS = ("only0", "all", "if0all", "none")


def continuity_correction(cells, *, add: float, to: str):
    """Add ``add`` to every cell of the rows chosen by ``to``; returns the adjusted cells.

    A row "has a zero" when any of its cells is 0. Used for 2x2 tables, event counts and
    proportions alike (the cells are whatever counts the measure uses).
    """
    cells = [np.asarray(c, dtype=float) for c in cells]
    has_zero = np.zeros(cells[0].shape, dtype=bool)
    for c in cells:
        has_zero |= c == 0
    if to == "all":
        rows = np.ones_like(has_zero)
    elif to == "if0all":
        rows = np.full_like(has_zero, has_zero.any())
    elif to == "only0":
        rows = has_zero
    else:
        rows = np.zeros_like(has_zero)
    return tuple(c + add * rows for c in cells)


def double_zero(ai, bi, ci, di):
    """Rows of 2x2 tables with no events (ai = ci = 0) or no non-events (bi = di = 0)."""
    return ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))


def _prepare(ai, bi, ci, di, add, to, drop00):
    drop = double_zero(ai, bi, ci, di) if drop00 else np.zeros(np.shape(ai), dtype=bool)
    a, b, c, d = continuity_correction((ai, bi, ci, di), add=add, to=to)
    return a, b, c, d, drop


def _finish(yi, vi, drop):
    yi, vi = np.where(drop, np.nan, yi), np.where(drop, np.nan, vi)
    return yi, vi


def log_odds_ratio(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0",
                   drop00: bool = False):
    """Log odds ratio log(ad/bc) with variance 1/a + 1/b + 1/c + 1/d (Woolf's method).

    References
    ----------
    Fleiss, J. L., & Berlin, J. A. (2009). Effect sizes for dichotomous data. In H. Cooper,
    L. V. Hedges, & J. C. Valentine (Eds.), *The handbook of research synthesis and
    meta-analysis* (2nd ed., pp. 237-253). Tested against metafor 3.8 ``escalc(measure="OR")``.
    """
    a, b, c, d, drop = _prepare(ai, bi, ci, di, add, to, drop00)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a * d / (b * c))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    return _finish(yi, vi, drop)


def log_risk_ratio(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0",
                   drop00: bool = False):
    """Log risk ratio log((a/n1)/(c/n2)) with variance 1/a - 1/n1 + 1/c - 1/n2.

    References
    ----------
    Fleiss & Berlin (2009), as for :func:`log_odds_ratio`. Tested against metafor 3.8
    ``escalc(measure="RR")``.
    """
    a, b, c, d, drop = _prepare(ai, bi, ci, di, add, to, drop00)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log((a / n1) / (c / n2))
        vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return _finish(yi, vi, drop)


def risk_difference(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0",
                    drop00: bool = False):
    """Risk difference p1 - p2 with variance p1(1-p1)/n1 + p2(1-p2)/n2.

    References
    ----------
    Fleiss & Berlin (2009), as for :func:`log_odds_ratio`. Tested against metafor 3.8
    ``escalc(measure="RD")``.
    """
    a, b, c, d, drop = _prepare(ai, bi, ci, di, add, to, drop00)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a / n1, c / n2
        yi = p1 - p2
        vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return _finish(yi, vi, drop)


def peto_log_odds_ratio(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0",
                        drop00: bool = False):
    """Peto's one-step log odds ratio (O - E)/V with variance 1/V.

    O = a, E = n1(a+c)/N, V = n1 n2 (a+c)(b+d) / (N²(N-1)): the observed events in group 1,
    their expectation and hypergeometric variance given the margins.

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
    after myocardial infarction: An overview of the randomized trials. *Progress in
    Cardiovascular Diseases*, 27(5), 335-371. Tested against metafor 3.8
    ``escalc(measure="PETO")``.
    """
    a, b, c, d, drop = _prepare(ai, bi, ci, di, add, to, drop00)
    n1, n2 = a + b, c + d
    total = n1 + n2
    events, non_events = a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = n1 * events / total
        v = n1 * n2 * events * non_events / (total**2 * (total - 1))
        yi = (a - expected) / v
        vi = 1 / v
    return _finish(yi, vi, drop)


# --- measures of association for 2x2 tables (metafor 3.8's PHI, YUQ, YUY and AS) ------------

def phi_coefficient(ai, bi, ci, di, *, add: float = 0.0, to: str = "only0",
                    vtype: str = "LS"):
    """The phi coefficient (ad - bc)/sqrt(n1 n2 m1 m2) of a 2x2 table.

    ``vtype="CS"`` (and the default ``"LS"``) assumes cross-sectional (multinomial) sampling:
    the variance of Bishop, Fienberg & Holland (1975, eq. 11.4-14); ``"ST"`` assumes the two
    groups were sampled with fixed sizes (stratified): the delta-method variance of
    phi = (p1 - p2)·sqrt(r1 r2 / (q(1 - q))), with r_g = n_g/n fixed and q = r1 p1 + r2 p2,
    from the binomial variances of p1 and p2. No continuity correction by default (metafor).

    References
    ----------
    Bishop, Y. M. M., Fienberg, S. E., & Holland, P. W. (1975). *Discrete multivariate
    analysis*. MIT Press. Fleiss & Berlin (2009), as for :func:`log_odds_ratio`.
    Tested against metafor 3.8 ``escalc(measure="PHI")`` with each vtype.
    """
    a, b, c, d = continuity_correction((ai, bi, ci, di), add=add, to=to)
    n1, n2 = a + b, c + d
    m1, m2 = a + c, b + d
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = (a * d - b * c) / np.sqrt(n1 * n2 * m1 * m2)
        r1, r2 = n1 / n, n2 / n
        if vtype == "ST":
            p1, p2 = a / n1, c / n2
            q = m1 / n
            s = q * (1 - q)
            k = np.sqrt(r1 * r2 / s)
            g1 = k * (1 - (p1 - p2) * (1 - 2 * q) * r1 / (2 * s))
            g2 = -k * (1 + (p1 - p2) * (1 - 2 * q) * r2 / (2 * s))
            vi = g1**2 * p1 * (1 - p1) / n1 + g2**2 * p2 * (1 - p2) / n2
        else:
            q1, q2 = m1 / n, m2 / n
            vi = (1 - yi**2 + yi * (1 + yi**2 / 2) * (r1 - r2) * (q1 - q2)
                  / np.sqrt(r1 * r2 * q1 * q2)
                  - 0.75 * yi**2 * ((r1 - r2) ** 2 / (r1 * r2) + (q1 - q2) ** 2 / (q1 * q2))) / n
    return yi, vi


def yules_q(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0"):
    """Yule's Q = (OR - 1)/(OR + 1) with variance (1 - Q²)²/4 · (1/a + 1/b + 1/c + 1/d).

    References
    ----------
    Yule, G. U. (1912). On the methods of measuring association between two attributes.
    *Journal of the Royal Statistical Society*, 75(6), 579-652. Bishop, Fienberg & Holland
    (1975). Tested against metafor 3.8 ``escalc(measure="YUQ")``.
    """
    a, b, c, d = continuity_correction((ai, bi, ci, di), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = a * d / (b * c)
        yi = (odds - 1) / (odds + 1)
        vi = 0.25 * (1 - yi**2) ** 2 * (1 / a + 1 / b + 1 / c + 1 / d)
    return yi, vi


def yules_y(ai, bi, ci, di, *, add: float = 0.5, to: str = "only0"):
    """Yule's Y = (√OR - 1)/(√OR + 1) with variance (1 - Y²)²/16 · (1/a + 1/b + 1/c + 1/d).

    References
    ----------
    Yule (1912); Bishop, Fienberg & Holland (1975), as for :func:`yules_q`. Tested against
    metafor 3.8 ``escalc(measure="YUY")``.
    """
    a, b, c, d = continuity_correction((ai, bi, ci, di), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(a * d / (b * c))
        yi = (root - 1) / (root + 1)
        vi = (1 - yi**2) ** 2 / 16 * (1 / a + 1 / b + 1 / c + 1 / d)
    return yi, vi


def arcsine_risk_difference(ai, bi, ci, di, *, add: float = 0.0, to: str = "only0"):
    """Arcsine square root transformed risk difference asin√p1 - asin√p2 with variance
    1/(4 n1) + 1/(4 n2). No continuity correction by default (metafor).

    References
    ----------
    Rücker, G., Schwarzer, G., Carpenter, J., & Olkin, I. (2009). Why add anything to nothing?
    The arcsine difference as a measure of treatment effect in meta-analysis with zero cells.
    *Statistics in Medicine*, 28(5), 721-738. Tested against metafor 3.8
    ``escalc(measure="AS")``.
    """
    a, b, c, d = continuity_correction((ai, bi, ci, di), add=add, to=to)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.arcsin(np.sqrt(a / n1)) - np.arcsin(np.sqrt(c / n2))
        vi = 1 / (4 * n1) + 1 / (4 * n2)
    return yi, vi
