"""Effect sizes for a quantitative outcome compared between two independent groups.

Mean difference (MD), standardised mean difference (SMD, Hedges' g), SMD with heteroscedastic
variances (SMDH) and log ratio of means (ROM). All functions are vectorised over studies and
return ``(yi, vi)`` float arrays; ``NaN`` inputs give ``NaN`` outputs.

Tested against metafor 3.8 ``escalc`` (Viechtbauer 2010) on ``dat.normand1999`` and constructed
data: ``tests/reference/make_effects.R``.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def hedges_correction(df: np.ndarray | float) -> np.ndarray:
    """The exact small-sample bias correction c(m) = Γ(m/2) / (sqrt(m/2) Γ((m-1)/2)).

    Multiplying Cohen's d by c(m), with m the degrees of freedom of the pooled SD, gives
    the unbiased Hedges' g. Computed as a Pochhammer ratio so that it stays accurate for very
    large m (where c(m) ≈ 1 - 3/(4m - 1)).

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. *Journal of Educational Statistics*, 6(2), 107-128.
    """
    m = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return special.poch((m - 1) / 2, 0.5) / np.sqrt(m / 2)


def _pooled_variance(sd1i, sd2i, n1i, n2i):
    return ((n1i - 1) * sd1i**2 + (n2i - 1) * sd2i**2) / (n1i + n2i - 2)


def mean_difference(m1i, m2i, sd1i, sd2i, n1i, n2i, *, vtype: str = "LS"):
    """Raw mean difference m1 - m2 and its sampling variance.

    ``vtype="LS"`` allows unequal variances (sd1²/n1 + sd2²/n2); ``"HO"`` assumes equal
    variances (pooled variance × (1/n1 + 1/n2)).

    References
    ----------
    Borenstein, M. (2009). Effect sizes for continuous data. In H. Cooper, L. V. Hedges, &
    J. C. Valentine (Eds.), *The handbook of research synthesis and meta-analysis* (2nd ed.,
    pp. 221-235), equations 12.3 and 12.5. Tested against metafor 3.8 ``escalc(measure="MD")``.
    """
    yi = m1i - m2i
    if vtype == "HO":
        vi = _pooled_variance(sd1i, sd2i, n1i, n2i) * (1 / n1i + 1 / n2i)
    else:
        vi = sd1i**2 / n1i + sd2i**2 / n2i
    return yi, vi


def t_from_p(pi, n1i, n2i, *, sign=None):
    """The t statistic of a two-sample t-test with the given two-sided p-value.

    The direction comes from ``sign`` where given, otherwise from the sign of ``pi`` (a
    negative p-value marks an effect favouring group 2, as in metafor 4).
    """
    direction = np.sign(pi) if sign is None else np.where(np.isnan(sign), np.sign(pi),
                                                          np.sign(sign))
    from scipy import stats  # here: importing scipy.stats costs every command ~0.3 s

    return direction * stats.t.isf(np.abs(pi) / 2, n1i + n2i - 2)


def cohens_d(n1i, n2i, *, m1i=None, m2i=None, sd1i=None, sd2i=None, di=None, ti=None,
             fi=None, pi=None, sign=None):
    """Cohen's d per study from whichever statistics each study reports.

    Precedence per row follows metafor 3.8 for its own arguments (``di`` over ``ti`` over the
    means); our additions fill rows that are still empty, F before p:
    di > ti > means and SDs > fi (with ``sign``) > pi.
    From a t statistic d = t·sqrt(1/n1 + 1/n2); from F with 1 numerator df, t = ±sqrt(F); from
    a two-sided p-value t is the matching quantile of Student's t with n1 + n2 - 2 df.
    """
    shape = np.broadcast(n1i, n2i).shape
    d = np.full(shape, np.nan)
    scale = np.sqrt(1 / n1i + 1 / n2i)
    if m1i is not None:
        d = (m1i - m2i) / np.sqrt(_pooled_variance(sd1i, sd2i, n1i, n2i))
    if fi is not None and sign is not None:
        d = np.where(np.isnan(d), np.sign(sign) * np.sqrt(fi) * scale, d)
    if pi is not None:
        d = np.where(np.isnan(d), t_from_p(pi, n1i, n2i, sign=sign) * scale, d)
    if ti is not None:
        d = np.where(np.isnan(ti), d, ti * scale)
    if di is not None:
        d = np.where(np.isnan(di), d, di)
    return d


def standardized_mean_difference(n1i, n2i, *, vtype: str = "LS", correct: bool = True,
                                 **statistics):
    """Hedges' g (or Cohen's d with ``correct=False``) and its sampling variance.

    ``statistics`` are the keyword arguments of :func:`cohens_d`. With m = n1 + n2 - 2,
    g = c(m)·d (:func:`hedges_correction`) and, with ñ⁻¹ = 1/n1 + 1/n2:

    - ``"LS"`` (default): v = ñ⁻¹ + g²/(2(n1+n2)) (Hedges 1982, eq. 8);
    - ``"UB"``: v = ñ⁻¹ + (1 - (m-2)/(m·c(m)²))·g², unbiased (Hedges 1983, eq. 9);
    - ``"LS2"``: v = c(m)²·(ñ⁻¹ + d²/(2(n1+n2))) (Borenstein 2009, eq. 12.17);
    - ``"AV"``: as LS with the sample-size weighted mean of g over studies in place of g.

    With ``correct=False`` the estimate is d and the variance ñ⁻¹ + d²/(2(n1+n2)).

    References
    ----------
    Hedges, L. V. (1981). *Journal of Educational Statistics*, 6(2), 107-128.
    Hedges, L. V. (1982). Estimation of effect size from a series of independent experiments.
    *Psychological Bulletin*, 92(2), 490-499.
    Hedges, L. V. (1983). A random effects model for effect sizes. *Psychological Bulletin*,
    93(2), 388-395.
    Tested against metafor 3.8 ``escalc(measure="SMD")`` (and its ``di``/``ti`` arguments).
    """
    d = cohens_d(n1i, n2i, **statistics)
    inv_n = 1 / n1i + 1 / n2i
    total = n1i + n2i
    if not correct:
        return d, inv_n + d**2 / (2 * total)
    m = total - 2
    cm = hedges_correction(m)
    g = cm * d
    if vtype == "UB":
        vi = inv_n + (1 - (m - 2) / (m * cm**2)) * g**2
    elif vtype == "LS2":
        vi = cm**2 * (inv_n + d**2 / (2 * total))
    elif vtype == "AV":
        ok = np.isfinite(g)
        g_bar = np.sum(total[ok] * g[ok]) / np.sum(total[ok]) if ok.any() else np.nan
        vi = inv_n + g_bar**2 / (2 * total)
    else:
        vi = inv_n + g**2 / (2 * total)
    return g, vi


def standardized_mean_difference_heteroscedastic(m1i, m2i, sd1i, sd2i, n1i, n2i, *,
                                                 correct: bool = True):
    """Bonett's standardised mean difference, standardised by sqrt((sd1² + sd2²)/2).

    d = (m1 - m2)/s with s² = (sd1² + sd2²)/2, g = c(n1+n2-2)·d and, as metafor 3.8 computes
    it, v = c² · [g²·(sd1⁴/(n1-1) + sd2⁴/(n2-1))/(8 s⁴) + (sd1²/(n1-1) + sd2²/(n2-1))/s²].
    ``correct=False`` returns d with the same variance expression at c = 1.

    References
    ----------
    Bonett, D. G. (2008). Confidence intervals for standardized linear contrasts of means.
    *Psychological Methods*, 13(2), 99-109.
    Bonett, D. G. (2009). Meta-analytic interval estimation for standardized and
    unstandardized mean differences. *Psychological Methods*, 14(3), 225-238.
    Tested against metafor 3.8 ``escalc(measure="SMDH")``.
    """
    s2 = (sd1i**2 + sd2i**2) / 2
    cm = hedges_correction(n1i + n2i - 2) if correct else 1.0
    yi = cm * (m1i - m2i) / np.sqrt(s2)
    vi = cm**2 * (yi**2 * (sd1i**4 / (n1i - 1) + sd2i**4 / (n2i - 1)) / (8 * s2**2)
                  + (sd1i**2 / (n1i - 1) + sd2i**2 / (n2i - 1)) / s2)
    return yi, vi


def log_ratio_of_means(m1i, m2i, sd1i, sd2i, n1i, n2i, *, vtype: str = "LS"):
    """Log ratio of means (log response ratio) log(m1/m2) and its sampling variance.

    ``"LS"``: v = sd1²/(n1 m1²) + sd2²/(n2 m2²) (Hedges et al. 1999, eq. 1); ``"HO"``: the
    same with the pooled variance in place of both sd² (the equation after eq. 1).

    References
    ----------
    Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of response ratios
    in experimental ecology. *Ecology*, 80(4), 1150-1156.
    Tested against metafor 3.8 ``escalc(measure="ROM")``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        yi = np.log(m1i / m2i)
        if vtype == "HO":
            s2 = _pooled_variance(sd1i, sd2i, n1i, n2i)
            vi = s2 / (n1i * m1i**2) + s2 / (n2i * m2i**2)
        else:
            vi = sd1i**2 / (n1i * m1i**2) + sd2i**2 / (n2i * m2i**2)
    return yi, vi


# --- one group measured twice (pre-post), and correlations from two groups ------------------

def standardized_mean_change(m1i, m2i, sd1i, sd2i, ni, ri, *, standardiser: str = "change"):
    """Standardised mean change of one group measured twice (m1 at the second occasion, m2 at
    the first), with Hedges' exact correction c(n - 1).

    ``standardiser="change"`` (SMCC, Gibbons et al. 1993) divides by the SD of the change
    scores, sqrt(sd1² + sd2² - 2 r sd1 sd2), with variance 1/n + y²/(2n);
    ``"raw"`` (SMCR, Becker 1988) divides by sd1 (the SD at one occasion; ``sd2i`` is unused),
    with variance 2(1 - r)/n + y²/(2n).

    References
    ----------
    Gibbons, R. D., Hedeker, D. R., & Davis, J. M. (1993). Estimation of effect size from a
    series of experiments involving paired comparisons. *Journal of Educational Statistics*,
    18(3), 271-279.
    Becker, B. J. (1988). Synthesizing standardized mean-change measures. *British Journal of
    Mathematical and Statistical Psychology*, 41(2), 257-278.
    Tested against metafor 3.8 ``escalc(measure="SMCC")`` and ``"SMCR"``.
    """
    correction = hedges_correction(ni - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if standardiser == "raw":
            yi = correction * (m1i - m2i) / sd1i
            vi = 2 * (1 - ri) / ni + yi**2 / (2 * ni)
        else:
            sd_change = np.sqrt(sd1i**2 + sd2i**2 - 2 * ri * sd1i * sd2i)
            yi = correction * (m1i - m2i) / sd_change
            vi = 1 / ni + yi**2 / (2 * ni)
    return yi, vi


def point_biserial_correlation(m1i, m2i, sd1i, sd2i, n1i, n2i, *, vtype: str = "LS"):
    """Point-biserial correlation from two groups' means and SDs: with Cohen's d (pooled SD)
    and h = m/n1 + m/n2, m = n1 + n2 - 2, r = d/sqrt(d² + h).

    ``vtype="ST"`` (and the default ``"LS"``; groups of fixed size) is the delta-method variance
    h²/(d² + h)³ · (1/n1 + 1/n2 + d²/(2(n1 + n2))); ``"CS"`` (cross-sectional sampling, the
    group sizes random) is Tate's (1954) (1 - r²)²(1 - 3r²/2 + r²/(4pq))/n, p = n1/n.

    References
    ----------
    Tate, R. F. (1954). Correlation between a discrete and a continuous variable. Point-biserial
    correlation. *The Annals of Mathematical Statistics*, 25(3), 603-607.
    Jacobs, P., & Viechtbauer, W. (2017). Estimation of the biserial correlation and its
    sampling variance for use in meta-analysis. *Research Synthesis Methods*, 8(2), 161-180.
    Tested against metafor 3.8 ``escalc(measure="RPB")`` with each vtype.
    """
    df = n1i + n2i - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (m1i - m2i) / np.sqrt(_pooled_variance(sd1i, sd2i, n1i, n2i))
        h = df / n1i + df / n2i
        yi = d / np.sqrt(d**2 + h)
        n = n1i + n2i
        if vtype == "CS":
            p, q = n1i / n, n2i / n
            vi = (1 - yi**2) ** 2 * (1 - 1.5 * yi**2 + yi**2 / (4 * p * q)) / n
        else:
            vi = h**2 / (d**2 + h) ** 3 * (1 / n1i + 1 / n2i + d**2 / (2 * n))
    return yi, vi


#: ln(OR) per unit of d: π/√3 assuming logistic responses (Hasselblad & Hedges 1995; Chinn
#: 2000), 1.65 assuming normal responses (Cox & Snell 1989; as metafor's D2ORN).
D2OR_FACTORS = {"logistic": np.pi / np.sqrt(3), "normal": 1.65}


def smd_to_log_odds_ratio(m1i, m2i, sd1i, sd2i, n1i, n2i, *, distribution: str = "logistic"):
    """Cohen's d from two groups' means and SDs (pooled SD, no small-sample correction; its
    variance 1/n1 + 1/n2 + d²/(2(n1 + n2))), as a log odds ratio: both scaled by the factor of
    :data:`D2OR_FACTORS` (the variance by its square).

    References
    ----------
    Hasselblad, V., & Hedges, L. V. (1995). Meta-analysis of screening and diagnostic tests.
    *Psychological Bulletin*, 117(1), 167-178. Cox, D. R., & Snell, E. J. (1989). *Analysis of
    binary data* (2nd ed.). Chapman & Hall. Sánchez-Meca, J., Marín-Martínez, F., &
    Chacón-Moscoso, S. (2003). Effect-size indices for dichotomized outcomes in meta-analysis.
    *Psychological Methods*, 8(4), 448-467. Tested against metafor 3.8
    ``escalc(measure="D2ORL")`` and ``"D2ORN"``.
    """
    factor = D2OR_FACTORS[distribution]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (m1i - m2i) / np.sqrt(_pooled_variance(sd1i, sd2i, n1i, n2i))
        v = 1 / n1i + 1 / n2i + d**2 / (2 * (n1i + n2i))
    return factor * d, factor**2 * v
