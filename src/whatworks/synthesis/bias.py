"""Small-study effects and publication bias: regression and rank tests, trim and fill, PET-PEESE,
fail-safe N.

The functions take a fitted :class:`~whatworks.synthesis.MetaAnalysis` and refit its model (tau²
estimator, test, level, convergence control) where the method needs a refit. None of them tests for
publication bias as such: they test whether smaller (less precise) studies report different effects,
which publication bias is one reason for among several (heterogeneity, chance, study quality).

References
----------
Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a simple,
    graphical test. BMJ 315:629-634.
Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
    meta-analysis. In Rothstein, Sutton, Borenstein (eds), Publication Bias in Meta-Analysis. Wiley.
Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for publication
    bias. Biometrics 50:1088-1101.
Duval S, Tweedie R (2000a). Trim and fill. Biometrics 56:455-463.
Duval S, Tweedie R (2000b). A nonparametric "trim and fill" method of accounting for publication
    bias in meta-analysis. JASA 95:89-98.
Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce publication selection
    bias. Res Synth Methods 5:60-78.
Rosenthal R (1979). The "file drawer problem" and tolerance for null results. Psychol Bull
    86:638-641. Orwin RG (1983). A fail-safe N for effect size in meta-analysis. J Educ Stat 8:157-159.
    Rosenberg MS (2005). The file-drawer problem revisited. Evolution 59:464-468.
Reference implementation tested against: metafor 3.8 ``regtest``, ``ranktest``, ``trimfill``,
``fsn`` (tests/reference/make_bias_sensitivity.R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .._results import FrozenResult, fmt, fmt_p
from ..errors import ConvergenceError, InputError, ParameterError
from .model import Coefficient, MetaAnalysis
from .sensitivity import refit

PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")


def _quiet_refit(*args, **kwargs) -> MetaAnalysis:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return refit(*args, **kwargs)


# -- Egger's regression test -------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class EggerTest(FrozenResult):
    """A regression test for funnel-plot asymmetry and the limit estimate (effect as se -> 0)."""

    model: str
    predictor: str
    statistic: float
    p_value: float
    df: int | None
    slope: float
    slope_se: float
    limit_estimate: float | None
    limit_ci_lower: float | None
    limit_ci_upper: float | None
    fit: MetaAnalysis = field(repr=False, compare=False)

    _skip_in_dict = ("fit",)

    def summary_text(self) -> str:
        kind = "weighted regression (multiplicative dispersion)" if self.model == "lm" else (
            "meta-regression")
        name = "t" if self.df is not None else "z"
        df = f"({self.df})" if self.df is not None else ""
        lines = [f"Regression test for funnel plot asymmetry: {kind}, predictor {self.predictor}",
                 f"{name}{df} = {fmt(self.statistic)}, p = {fmt_p(self.p_value)}"]
        if self.limit_estimate is not None:
            lines.append(f"limit estimate = {fmt(self.limit_estimate)} "
                         f"(CI {fmt(self.limit_ci_lower)} to {fmt(self.limit_ci_upper)})")
        return "\n".join(lines)


def _predictor(fit: MetaAnalysis, predictor: str, ni) -> np.ndarray:
    if predictor not in PREDICTORS:
        raise ParameterError("predictor", predictor, ", ".join(PREDICTORS))
    if predictor == "sei":
        return np.sqrt(fit.vi)
    if predictor == "vi":
        return fit.vi.copy()
    if ni is None:
        raise InputError(f"predictor '{predictor}' needs the sample sizes: pass ni=", column="ni")
    n = np.asarray(ni, dtype=float).ravel()
    if n.size != fit.k:
        raise InputError(f"{n.size} sample sizes for {fit.k} studies", column="ni")
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


def egger_test(fit: MetaAnalysis, *, predictor: str = "sei", model: str = "rma",
               ni=None) -> EggerTest:
    """Egger's regression test: regress the effects on their standard errors (or ``predictor``).

    ``model="rma"`` (the default, as metafor ``regtest``) adds the predictor as a moderator to the
    fitted model, with its tau² estimator and test; ``model="lm"`` is the classical Egger test, a
    weighted least-squares regression with weights ``1/v_i`` and a multiplicative dispersion
    parameter (a t-test on ``k - p`` degrees of freedom). The test is of the predictor's slope; the
    intercept is the "limit estimate" (the effect of a study with infinite precision), reported for
    the predictors sei, vi, ninv and sqrtninv in models without other moderators.

    References
    ----------
    Egger M, et al. (1997). BMJ 315:629-634. Sterne JAC, Egger M (2005), in Publication Bias in
    Meta-Analysis, Wiley. Tested against metafor 3.8 ``regtest``.
    """
    if model not in ("rma", "lm"):
        raise ParameterError("model", model, "'rma' or 'lm'")
    x = _predictor(fit, predictor, ni)
    method, test = (fit.method, fit.test) if model == "rma" else ("FE", "knha")
    if fit.k <= fit.p + 1:
        raise InputError(f"the regression test needs more than {fit.p + 1} studies (k = {fit.k})")
    if np.ptp(np.asarray(x, dtype=float)) == 0:
        raise InputError(f"Egger's test regresses the effects on {predictor}, which is the same "
                         f"({float(np.asarray(x)[0]):g}) for every study, so it cannot be "
                         "estimated; it needs studies of different sizes", column="vi")
    res = _quiet_refit(fit, fit.yi, fit.vi, method=method, test=test, extra={predictor: x},
                       labels=fit.labels)
    slope = res.coefficients[-1]
    limit = None
    if fit.names == ("intrcpt",) and predictor in ("sei", "vi", "ninv", "sqrtninv"):
        limit = res.coefficients[0]
    return EggerTest(
        model=model, predictor=predictor, statistic=slope.statistic, p_value=slope.p_value,
        df=res.df if test != "z" else None, slope=slope.estimate, slope_se=slope.se,
        limit_estimate=None if limit is None else limit.estimate,
        limit_ci_lower=None if limit is None else limit.ci_lower,
        limit_ci_upper=None if limit is None else limit.ci_upper, fit=res)


# -- Begg and Mazumdar's rank correlation test -------------------------------------------------

@dataclass(frozen=True, repr=False)
class RankTest(FrozenResult):
    """Kendall's tau between standardised effects and their variances, with its p-value."""

    tau: float
    p_value: float
    exact: bool

    def summary_text(self) -> str:
        how = "exact" if self.exact else "normal approximation"
        return (f"Rank correlation test for funnel plot asymmetry: Kendall's tau = "
                f"{fmt(self.tau)}, p = {fmt_p(self.p_value)} ({how})")


def begg_test(fit: MetaAnalysis) -> RankTest:
    """Begg and Mazumdar's rank correlation test.

    Each effect is standardised against the common-effect estimate ``theta``:
    ``y*_i = (y_i - theta) / sqrt(v_i - 1/sum(1/v))``, and Kendall's tau-b between ``y*`` and
    ``v`` is tested. The p-value is exact (the permutation distribution of Kendall's statistic)
    when there are fewer than 50 studies and no ties, otherwise from the normal approximation with
    the tie-corrected variance and no continuity correction (as R's ``cor.test``).

    References
    ----------
    Begg CB, Mazumdar M (1994). Biometrics 50:1088-1101.
    Kendall MG (1970). Rank Correlation Methods, 4th ed. Griffin.
    Tested against metafor 3.8 ``ranktest``.
    """
    y, v = fit.yi, fit.vi
    k = y.size
    if k < 3:
        raise InputError(f"the rank correlation test needs at least 3 studies (k = {k})")
    w = 1 / v
    theta = np.sum(w * y) / np.sum(w)
    ystar = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    tau, p, exact = kendall_test(ystar, v)
    return RankTest(tau=tau, p_value=p, exact=exact)


def kendall_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """Kendall's tau-b and its two-sided p-value (exact for n < 50 without ties)."""
    n = x.size
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(n, 1)
    s = float(np.sum(sx[iu] * sy[iu]))
    _, tx = np.unique(x, return_counts=True)
    _, ty = np.unique(y, return_counts=True)
    n0 = n * (n - 1) / 2
    n1 = float(np.sum(tx * (tx - 1)) / 2)
    n2 = float(np.sum(ty * (ty - 1)) / 2)
    if n0 == n1 or n0 == n2:  # every value tied: tau is undefined (R's cor.test gives NA)
        return math.nan, math.nan, False
    tau = s / math.sqrt((n0 - n1) * (n0 - n2))
    ties = (tx > 1).any() or (ty > 1).any()
    if n < 50 and not ties:
        concordant = int(round((s + n0) / 2))
        return tau, _kendall_exact_p(concordant, n), True
    var = (n * (n - 1) * (2 * n + 5) - np.sum(tx * (tx - 1) * (2 * tx + 5))
           - np.sum(ty * (ty - 1) * (2 * ty + 5))) / 18
    var += np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1)) / (2 * n * (n - 1))
    var += (np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2))
            / (9 * n * (n - 1) * (n - 2)))
    z = s / math.sqrt(var)
    return tau, float(2 * stats.norm.sf(abs(z))), False


def _kendall_exact_p(concordant: int, n: int) -> float:
    """Two-sided exact p-value for the number of concordant pairs among ``n`` untied pairs.

    Under independence the number of discordant pairs of a random permutation follows the
    Mahonian distribution (permutations counted by inversions), built by the usual recursion.
    """
    counts = np.ones(1)
    for m in range(2, n + 1):  # inserting the m-th element adds 0..m-1 inversions
        new = np.zeros(counts.size + m - 1)
        for j in range(m):
            new[j:j + counts.size] += counts
        counts = new
    probs = counts / counts.sum()
    cdf = np.cumsum(probs)
    total = n * (n - 1) // 2
    if concordant > total / 2:
        one_sided = 1.0 - (cdf[concordant - 1] if concordant >= 1 else 0.0)
    else:
        one_sided = cdf[concordant]
    return float(min(1.0, 2 * one_sided))


# -- trim and fill -----------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class TrimAndFill(FrozenResult):
    """Trim-and-fill: the estimated number of missing studies, their mirror images, the refit."""

    estimator: str
    side: str
    k0: int
    se_k0: float
    p_k0: float | None
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    tau2: float
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    refit_test: str
    fit: MetaAnalysis = field(repr=False, compare=False)

    _skip_in_dict = ("fit",)

    def summary_text(self) -> str:
        test = f", p = {fmt_p(self.p_k0)}" if self.p_k0 is not None else ""
        studies = "study" if self.k0 == 1 else "studies"
        return (f"Trim and fill ({self.estimator}): {self.k0} {studies} imputed on the "
                f"{self.side} side (SE = {fmt(self.se_k0)}{test})\n"
                f"adjusted estimate = {fmt(self.estimate)} (SE = {fmt(self.se)}, "
                f"{self.fit.level:g}% CI {fmt(self.ci_lower)} to {fmt(self.ci_upper)}), "
                f"p = {fmt_p(self.p_value)}; augmented data refitted with a {self.refit_test} "
                "test")


def _trimmed_estimate(fit: MetaAnalysis, y: np.ndarray, v: np.ndarray) -> float:
    # the estimate does not depend on the test; "z" also allows a single remaining study
    return _quiet_refit(fit, y, v, np.ones((y.size, 1)), test="z").estimate


def trim_and_fill(fit: MetaAnalysis, *, estimator: str = "L0", side: str | None = None,
                  maxiter: int = 100, refit_test: str = "z") -> TrimAndFill:
    """Duval and Tweedie's trim-and-fill method for an intercept-only model.

    The missing studies are assumed to lie on ``side`` ("left" or "right"); by default the side
    opposite to the sign of the slope in Egger's regression test (the fit's model with the standard
    errors as moderator): a positive slope means small studies with small effects are missing,
    on the left. With the effects mirrored so that missing studies are on the left, the method
    iterates: remove the ``k0`` largest effects, re-estimate ``theta`` from the rest, rank
    ``|y_i - theta|`` over all ``k`` studies and let ``T`` be the sum of the ranks of positive
    deviations; then ``L0 = (4T - k(k+1)) / (2k - 1)`` or ``R0 = gamma - 1`` (``gamma`` the length
    of the run of positive deviations at the top of the ranking), rounded and floored at 0, until
    ``k0`` stops changing. The ``k0`` largest effects are mirrored about the final ``theta``
    (``2 theta - y_i``, same variance) and the model is refitted to the augmented data.

    ``se_k0``: ``sqrt(2 k0 + 2)`` for R0 and ``4 sqrt(var(T)) / (2k - 1)`` for L0 with Duval and
    Tweedie's ``var(T)``; ``p_k0`` (R0 only) ``= 0.5^(k0 + 1)`` tests no missing studies.

    ``refit_test``: the test of the refit to the augmented data. "z" (default) as metafor 3.8's
    ``trimfill``, which refits with a z test even after a Knapp-Hartung (or t) fit when it fills
    studies (and returns the fit itself, with its own test, when ``k0 = 0``); "model" keeps the
    fit's own test. The result's ``refit_test`` says which test was used.

    References
    ----------
    Duval S, Tweedie R (2000a). Biometrics 56:455-463; (2000b). JASA 95:89-98.
    Tested against metafor 3.8 ``trimfill``.
    """
    if fit.names != ("intrcpt",):
        raise InputError("trim and fill is for models without moderators", column="mods")
    if estimator not in ("L0", "R0"):
        raise ParameterError("estimator", estimator, "'L0' or 'R0'")
    if side is None:
        slope = egger_test(fit).slope
        side = "left" if slope >= 0 else "right"
    elif side not in ("left", "right"):
        raise ParameterError("side", side, "'left', 'right' or None (chosen from the data)")
    if fit.k < 3:
        raise InputError(f"trim and fill needs at least 3 studies (k = {fit.k})")
    if refit_test not in ("z", "model"):
        raise ParameterError("refit_test", refit_test, "'z' (as metafor 3.8) or 'model' (the "
                             "fit's own test)")
    sign = 1.0 if side == "left" else -1.0
    k = fit.k
    order = np.argsort(sign * fit.yi, kind="stable")
    y = sign * fit.yi[order]
    v = fit.vi[order]
    k0, k0_raw, theta = 0, 0.0, float("nan")
    for _ in range(maxiter):
        theta = _trimmed_estimate(fit, y[:k - k0], v[:k - k0])
        dev = y - theta
        ranks = stats.rankdata(np.abs(dev))
        if estimator == "L0":
            t = float(np.sum(ranks[dev > 0]))
            k0_raw = (4 * t - k * (k + 1)) / (2 * k - 1)
        else:
            by_rank = np.sign(dev[np.argsort(ranks, kind="stable")])[::-1]
            run = int(np.argmax(by_rank < 0)) if (by_rank < 0).any() else k
            k0_raw = run - 1.0
        new = min(max(0, int(np.round(k0_raw))), k - 1)  # at least one study stays
        if new == k0:
            break
        k0 = new
    else:
        raise ConvergenceError(f"trim and fill did not settle on a number of missing studies "
                               f"within {maxiter} iterations (last: {k0})")
    if estimator == "L0":
        g = k0_raw
        var_t = (k * (k + 1) * (2 * k + 1) + 10 * g**3 + 27 * g**2 + 17 * g - 18 * k * g**2
                 - 18 * k * g + 6 * k**2 * g) / 24
        # a strongly negative L0 can make the variance formula negative: no SE then (as metafor)
        se_k0 = 4 * math.sqrt(var_t) / (2 * k - 1) if var_t >= 0 else float("nan")
        p_k0 = None
    else:
        se_k0, p_k0 = math.sqrt(2 * k0 + 2), 0.5 ** (k0 + 1)
    # metafor 3.8 returns the original fit when nothing is filled, else a z-test refit
    test = "z" if refit_test == "z" and k0 > 0 else fit.test
    filled = sign * (2 * theta - y[k - k0:]) if k0 else np.empty(0)
    filled_v = v[k - k0:].copy() if k0 else np.empty(0)
    labels = list(fit.study_labels) + [f"Filled {i + 1}" for i in range(k0)]
    res = _quiet_refit(fit, np.concatenate([fit.yi, filled]), np.concatenate([fit.vi, filled_v]),
                       np.ones((k + k0, 1)), labels=labels, test=test)
    return TrimAndFill(
        estimator=estimator, side=side, k0=k0, se_k0=se_k0, p_k0=p_k0, estimate=res.estimate,
        se=res.se, statistic=res.statistic, p_value=res.p_value, ci_lower=res.ci_lower,
        ci_upper=res.ci_upper, tau2=res.tau2, filled_yi=filled, filled_vi=filled_v,
        refit_test=test, fit=res)


# -- PET-PEESE ---------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class PetPeese(FrozenResult):
    """PET and PEESE limit estimates and the conditional PET-PEESE choice."""

    pet: EggerTest
    peese: EggerTest
    pet_p_value: float
    one_sided: bool
    alpha: float
    chosen: str
    estimate: float
    ci_lower: float
    ci_upper: float

    def summary_text(self) -> str:
        return (f"PET estimate = {fmt(self.pet.limit_estimate)} (p = {fmt_p(self.pet_p_value)}"
                f"{', one-sided' if self.one_sided else ''}); PEESE estimate = "
                f"{fmt(self.peese.limit_estimate)}\nPET-PEESE uses {self.chosen}: "
                f"{fmt(self.estimate)} (CI {fmt(self.ci_lower)} to {fmt(self.ci_upper)})")


def pet_peese(fit: MetaAnalysis, *, alpha: float = 0.05, one_sided: bool = False) -> PetPeese:
    """Stanley and Doucouliagos's PET-PEESE for an intercept-only model.

    PET regresses the effects on their standard errors, PEESE on their variances, both by weighted
    least squares with weights ``1/v_i`` and a multiplicative dispersion parameter (t-tests on
    ``k - 2`` df). This is metafor's ``regtest(model="lm")``, and equals ``meta_analysis(yi, vi,
    mods=se, method="FE", test="knha")``. The intercepts estimate the effect at zero standard error.
    PET-PEESE reports PEESE when PET's intercept differs from zero (a genuine effect) and PET
    otherwise. Stanley and Doucouliagos state the rule as a test of H0: beta0 = 0 at 5%; applied
    work uses both a two-sided test (the default here) and a one-sided test in the direction of
    the PET estimate (``one_sided=True``).

    References
    ----------
    Stanley TD, Doucouliagos H (2014). Res Synth Methods 5:60-78.
    Stanley TD (2008). Meta-regression methods for detecting and estimating empirical effects in
    the presence of publication selection. Oxford Bull Econ Stat 70:103-127.
    Tested against metafor 3.8 ``regtest(model="lm", predictor="sei" / "vi")``.
    """
    if fit.names != ("intrcpt",):
        raise InputError("PET-PEESE is for models without moderators", column="mods")
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "a number between 0 and 1, such as 0.05")
    pet = egger_test(fit, model="lm", predictor="sei")
    peese = egger_test(fit, model="lm", predictor="vi")
    intercept = pet.fit.coefficients[0]
    p = intercept.p_value
    if one_sided:
        p = p / 2  # H1 in the direction of the estimate (t is symmetric)
    chosen, use = ("PEESE", peese) if p < alpha else ("PET", pet)
    return PetPeese(pet=pet, peese=peese, pet_p_value=p, one_sided=one_sided, alpha=alpha,
                    chosen=chosen, estimate=use.limit_estimate, ci_lower=use.limit_ci_lower,
                    ci_upper=use.limit_ci_upper)


# -- fail-safe N -------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class FailSafeN(FrozenResult):
    """A fail-safe N: how many null studies would overturn the result."""

    type: str
    n: float
    alpha: float | None
    p_value: float | None
    mean_effect: float | None
    target: float | None

    def summary_text(self) -> str:
        extra = (f"observed p = {fmt_p(self.p_value)}, alpha = {self.alpha}" if self.p_value
                 is not None else f"mean effect = {fmt(self.mean_effect)}, target = "
                 f"{fmt(self.target)}")
        return f"Fail-safe N ({self.type}): {self.n:g} ({extra})"


FSN_TYPES = ("Rosenthal", "Orwin", "Rosenberg")


def fail_safe_n(fit_or_yi, vi=None, *, type: str = "Rosenthal", target: float | None = None,
                alpha: float = 0.05, weighted: bool = False) -> FailSafeN:
    """The number of studies averaging a null result needed to overturn the finding.

    - Rosenthal (1979): Stouffer's combined ``Z = |sum(z_i)|/sqrt(k)`` with ``z_i = y_i/sqrt(v_i)``
      (one-sided p-value in the direction of the effects); N is the smallest whole number with
      ``|sum z_i|/sqrt(k + N)`` at or below ``z_(1-alpha)``: ``ceil((sum z_i / z_(1-alpha))² - k)``.
    - Orwin (1983): the number of null studies bringing the (unweighted, or ``weighted``
      inverse-variance) mean effect down to ``target`` (default: half the mean):
      ``ceil(k (mean - target) / target)``.
    - Rosenberg (2005): the number of studies of zero effect and average weight that make the
      common-effect estimate non-significant at two-sided ``alpha``: with ``w_i = 1/v_i``,
      ``sum(w y) / sqrt(sum(w) + N mean(w)) = z_(1-alpha/2)`` gives
      ``N = ceil(k (sum(w y))² / (z_(1-alpha/2)² sum(w)) - k)``.

    N is 0 when the result is already non-significant (or the mean below the target).

    References
    ----------
    Rosenthal R (1979). Psychol Bull 86:638-641. Orwin RG (1983). J Educ Stat 8:157-159.
    Rosenberg MS (2005). Evolution 59:464-468. Tested against metafor 3.8 ``fsn``.
    """
    if type not in FSN_TYPES:
        raise ParameterError("type", type, ", ".join(FSN_TYPES))
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "a number between 0 and 1, such as 0.05")
    if isinstance(fit_or_yi, MetaAnalysis):
        y, v = fit_or_yi.yi, fit_or_yi.vi
    else:
        y = np.asarray(fit_or_yi, dtype=float).ravel()
        if vi is None and not (type == "Orwin" and not weighted):
            raise InputError("give the sampling variances (vi)", column="vi")
        v = np.ones_like(y) if vi is None else np.asarray(vi, dtype=float).ravel()
        keep = np.isfinite(y) & np.isfinite(v)
        y, v = y[keep], v[keep]
    k = y.size
    if k == 0:
        raise InputError("no studies to compute a fail-safe N from")
    if type == "Rosenthal":
        zsum = abs(float(np.sum(y / np.sqrt(v))))
        p = float(stats.norm.sf(zsum / math.sqrt(k)))
        n = max(0, math.ceil((zsum / stats.norm.ppf(1 - alpha)) ** 2 - k))
        return FailSafeN(type=type, n=float(n), alpha=alpha, p_value=p, mean_effect=None,
                         target=None)
    w = 1 / v
    if type == "Orwin":
        mean = float(np.sum(w * y) / np.sum(w)) if weighted else float(np.mean(y))
        tgt = mean / 2 if target is None else float(target)
        if tgt == 0:
            raise ParameterError("target", target, "a non-zero effect size")
        if np.sign(tgt) != np.sign(mean):
            tgt = -tgt
        n = max(0.0, math.ceil(k * (mean - tgt) / tgt)) if abs(mean) > abs(tgt) else 0.0
        return FailSafeN(type=type, n=float(n), alpha=None, p_value=None, mean_effect=mean,
                         target=tgt)
    sw, swy = float(np.sum(w)), float(np.sum(w * y))
    mean = swy / sw
    z = mean * math.sqrt(sw)
    p = float(2 * stats.norm.sf(abs(z)))
    crit = stats.norm.ppf(1 - alpha / 2)
    n = max(0.0, math.ceil(k * swy**2 / (crit**2 * sw) - k)) if p < alpha else 0.0
    return FailSafeN(type=type, n=float(n), alpha=alpha, p_value=p, mean_effect=mean, target=None)


# -- the report the CLI prints -----------------------------------------------------------------

def small_study_tests(fit: MetaAnalysis) -> dict:
    """Egger's test, Begg's test and trim and fill in one JSON-ready dict (the CLI's contract).

    ``{"egger": {"statistic", "p_value"}, "begg": {"tau", "p_value"},
    "trim_and_fill": {"k0", "side", "estimate", "se"}}``; trim and fill is None for
    meta-regression models.
    """
    egger = egger_test(fit)
    begg = begg_test(fit)
    out = {"egger": {"statistic": egger.statistic, "p_value": egger.p_value},
           "begg": {"tau": begg.tau, "p_value": begg.p_value}, "trim_and_fill": None}
    if fit.names == ("intrcpt",):
        tf = trim_and_fill(fit)
        out["trim_and_fill"] = {"k0": tf.k0, "side": tf.side, "estimate": tf.estimate,
                                "se": tf.se}
    from .._results import jsonable

    return jsonable(out)


# -- step-function selection model (3PSM) ------------------------------------------------------

@dataclass(frozen=True, repr=False)
class SelectionModel(FrozenResult):
    """A step-function selection model fitted by maximum likelihood (Vevea & Hedges 1995)."""

    steps: tuple[float, ...]
    alternative: str
    k: int
    studies_per_interval: tuple[int, ...]
    coefficients: tuple[Coefficient, ...]
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    tau2: float
    tau2_se: float
    delta: np.ndarray
    delta_se: np.ndarray
    delta_statistic: np.ndarray
    delta_p_value: np.ndarray
    delta_ci_lower: np.ndarray
    delta_ci_upper: np.ndarray
    loglik: float
    lrt: float
    lrt_df: int
    lrt_p_value: float

    def summary_text(self) -> str:
        bounds = [0.0, *self.steps]
        rows = [f"  p in ({lo:g}, {hi:g}]: delta = {fmt(d)} (SE {fmt(se)}), "
                f"{n} studies" for lo, hi, d, se, n in zip(
                    bounds[:-1], bounds[1:], self.delta, self.delta_se,
                    self.studies_per_interval, strict=True)]
        return "\n".join([
            f"Step-function selection model (one-sided p-values: {self.alternative})",
            f"estimate = {fmt(self.estimate)} (SE {fmt(self.se)}, CI {fmt(self.ci_lower)} to "
            f"{fmt(self.ci_upper)}), tau^2 = {fmt(self.tau2)}", *rows,
            f"LRT for selection: {fmt(self.lrt)} on {self.lrt_df} df, "
            f"p = {fmt_p(self.lrt_p_value)}"])


def _p_values(y, sei, alternative):
    z = y / sei
    if alternative == "greater":
        return stats.norm.sf(z)
    if alternative == "less":
        return stats.norm.cdf(z)
    return 2 * stats.norm.sf(np.abs(z))


def _phi_terms(sei, cuts, alternative):
    """Edges ``e`` (k, c+1) and signs so that P(interval j) = sum of sign * Phi((e - mu)/s)."""
    alpha = np.concatenate([[0.0], cuts])
    if alternative == "greater":    # p <= a  <=>  y >= sei * z(1-a)
        e = sei[:, None] * stats.norm.isf(alpha)[None, :]
        return [(e[:, :-1], 1.0), (e[:, 1:], -1.0)]
    if alternative == "less":       # p <= a  <=>  y <= sei * z(a)
        e = sei[:, None] * stats.norm.ppf(alpha)[None, :]
        return [(e[:, 1:], 1.0), (e[:, :-1], -1.0)]
    c = sei[:, None] * stats.norm.isf(alpha / 2)[None, :]  # p <= a <=> |y| >= c(a)
    return [(-c[:, 1:], 1.0), (c[:, 1:], -1.0), (-c[:, :-1], -1.0), (c[:, :-1], 1.0)]


def _selection_loglik(theta, y, v, X, terms, interval, random, with_grad=True):
    """Log-likelihood of the step-function model and its gradient in (beta, tau2, delta)."""
    p = X.shape[1]
    beta = theta[:p]
    tau2 = theta[p] if random else 0.0
    delta = np.concatenate([[1.0], theta[p + int(random):]])
    mu = X @ beta
    s2 = v + tau2
    s = np.sqrt(s2)
    prob = np.zeros((y.size, delta.size))
    dmu = np.zeros_like(prob)
    ds2 = np.zeros_like(prob)
    for edges, sign in terms:
        a = (edges - mu[:, None]) / s[:, None]
        dens = np.where(np.isfinite(a), stats.norm.pdf(a), 0.0)
        prob += sign * stats.norm.cdf(a)
        dmu -= sign * dens / s[:, None]
        ds2 -= sign * dens * np.where(np.isfinite(a), a, 0.0) / (2 * s2[:, None])
    A = prob @ delta
    resid = y - mu
    ll = float(np.sum(-0.5 * np.log(2 * np.pi * s2) - resid**2 / (2 * s2)
                      + np.log(delta[interval]) - np.log(A)))
    if not with_grad:
        return ll
    g_beta = X.T @ (resid / s2 - (dmu @ delta) / A)
    grad = [g_beta]
    if random:
        grad.append([np.sum(-0.5 / s2 + resid**2 / (2 * s2**2) - (ds2 @ delta) / A)])
    counts = np.bincount(interval, minlength=delta.size)
    grad.append((counts / delta - (prob / A[:, None]).sum(axis=0))[1:])
    return ll, np.concatenate(grad)


def _hessian(grad, theta, lower, upper):
    """Hessian from central differences of the analytic gradient, Richardson-extrapolated."""
    n = theta.size
    H = np.zeros((n, n))
    for i in range(n):
        h = 1e-4 * max(abs(theta[i]), 1e-2)
        h = min(h, 0.5 * max(theta[i] - lower[i], 1e-12) if np.isfinite(lower[i]) else h)

        def diff(step, i=i):
            up, down = theta.copy(), theta.copy()
            up[i] += step
            down[i] -= step
            return (grad(up) - grad(down)) / (2 * step)

        H[i] = (4 * diff(h / 2) - diff(h)) / 3
    return (H + H.T) / 2


def _projected_newton(negll, theta, lower, upper, maxiter: int = 500):
    """Minimise ``negll`` (returning value and gradient) within bounds by damped Newton steps.

    The Hessian comes from differences of the analytic gradient; a Levenberg-Marquardt damping
    keeps each step a descent step, and parameters held at a bound by their gradient stay there.
    """
    f, g = negll(theta)
    if not np.isfinite(f):
        raise ConvergenceError("the selection model's likelihood cannot be evaluated at the "
                               "starting values")
    lam = 1e-6
    for _ in range(maxiter):
        H = _hessian(lambda t: negll(t)[1], theta, lower, upper)
        free = ~(((theta <= lower) & (g > 0)) | ((theta >= upper) & (g < 0)))
        Hf = H[np.ix_(free, free)]
        scale = np.maximum(np.abs(np.diag(Hf)), 1e-12)
        while True:
            try:
                step = np.linalg.solve(Hf + lam * np.diag(scale), -g[free])
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                new = theta.copy()
                new[free] += step
                new = np.clip(new, lower, upper)
                fn, gn = negll(new)
                if fn <= f + 1e-13 * (1 + abs(f)):
                    lam = max(lam / 10, 1e-12)
                    break
            lam *= 10
            if lam > 1e12:
                return theta
        small = np.all(np.abs(new - theta) <= 1e-11 * (1 + np.abs(theta)))
        theta, f, g = new, fn, gn
        if small:
            return theta
    raise ConvergenceError(f"the selection model did not converge within {maxiter} iterations")


def selection_model(fit: MetaAnalysis, *, steps=(0.025,), alternative: str = "greater"
                    ) -> SelectionModel:
    """Step-function selection model; with one cutpoint, the three-parameter selection model.

    Studies are selected with relative probability ``delta_j`` when their one-sided (or, with
    ``alternative="two.sided"``, two-sided) p-value falls in ``(alpha_(j-1), alpha_j]``, the
    intervals cut at ``steps`` (1 is added as the last cutpoint) with ``delta_1 = 1``. The density
    of an observed effect is the normal density of the fit's (mixed-effects) model times
    ``delta_j``, divided by the probability of selection ``sum_j delta_j P_ij``. The coefficients,
    tau² (for random-effects fits; estimated by ML whatever the fit's estimator) and the deltas
    (in [0, 100]) maximise the likelihood; standard errors come from the inverse Hessian,
    tests are z-tests (deltas against 1, Wald intervals truncated at 0), and the likelihood ratio
    test compares with the model without selection (all deltas 1: the ML fit).

    References
    ----------
    Vevea JL, Hedges LV (1995). A general linear model for estimating effect size in the presence
    of publication bias. Psychometrika 60:419-435.
    Iyengar S, Greenhouse JB (1988). Selection models and the file drawer problem. Stat Sci
    3:109-117. Hedges LV (1992). Modeling publication selection effects in meta-analysis.
    Stat Sci 7:246-255.
    Tested against metafor 3.8 ``selmodel(type = "stepfun")``.
    """


    if alternative not in ("greater", "less", "two.sided"):
        raise ParameterError("alternative", alternative, "'greater', 'less' or 'two.sided'")
    cuts = sorted(float(a) for a in np.atleast_1d(steps))
    if any(not 0 < a <= 1 for a in cuts) or len(set(cuts)) < len(cuts):
        raise ParameterError("steps", steps, "distinct p-value cutpoints in (0, 1]")
    if cuts[-1] < 1:
        cuts.append(1.0)
    y, v, X = fit.yi, fit.vi, fit.X
    sei = np.sqrt(v)
    pvals = _p_values(y, sei, alternative)
    interval = np.searchsorted(np.array(cuts), pvals, side="left")
    counts = np.bincount(interval, minlength=len(cuts))
    if (counts == 0).any():
        raise InputError("every p-value interval needs at least one study; studies per interval: "
                         f"{counts.tolist()} for cutpoints {cuts}", column="steps")
    random = fit.is_random
    ml = _quiet_refit(fit, y, v, method="ML" if random else "FE", test="z")
    p = X.shape[1]
    n_delta = len(cuts) - 1
    start = np.concatenate([[c.estimate for c in ml.coefficients], [ml.tau2] if random else [],
                            np.ones(n_delta)])
    lower = np.concatenate([np.full(p, -np.inf), [0.0] if random else [], np.zeros(n_delta)])
    upper = np.concatenate([np.full(p, np.inf), [np.inf] if random else [],
                            np.full(n_delta, 100.0)])
    terms = _phi_terms(sei, np.array(cuts), alternative)

    def negll(theta):
        with np.errstate(all="ignore"):
            ll, g = _selection_loglik(theta, y, v, X, terms, interval, random)
        return (-ll, -g) if np.isfinite(ll) and np.all(np.isfinite(g)) else (np.inf, g)

    theta = _projected_newton(negll, start, lower, upper)
    free = (theta > lower + 1e-10) & (theta < upper - 1e-10)

    def grad(t):
        return _selection_loglik(t, y, v, X, terms, interval, random)[1]

    H = -_hessian(grad, theta, lower, upper)
    cov = np.full_like(H, np.nan)
    with np.errstate(invalid="ignore"):
        cov[np.ix_(free, free)] = np.linalg.inv(H[np.ix_(free, free)])
        se_all = np.sqrt(np.diag(cov))
    ll = _selection_loglik(theta, y, v, X, terms, interval, random, with_grad=False)
    crit = stats.norm.ppf(1 - (1 - fit.level / 100) / 2)
    coefs = []
    for j, name in enumerate(fit.names):
        b, se = theta[j], se_all[j]
        coefs.append(Coefficient(name, b, se, b / se, 2 * stats.norm.sf(abs(b / se)),
                                 b - crit * se, b + crit * se))
    d = np.concatenate([[1.0], theta[p + int(random):]])
    d_se = np.concatenate([[np.nan], se_all[p + int(random):]])
    with np.errstate(invalid="ignore", divide="ignore"):
        d_z = (d - 1) / d_se
    lrt = max(0.0, 2 * (ll - ml.loglik))
    c0 = coefs[0]
    return SelectionModel(
        steps=tuple(cuts), alternative=alternative, k=fit.k,
        studies_per_interval=tuple(int(c) for c in counts), coefficients=tuple(coefs),
        estimate=c0.estimate, se=c0.se, statistic=c0.statistic, p_value=c0.p_value,
        ci_lower=c0.ci_lower, ci_upper=c0.ci_upper, tau2=float(theta[p]) if random else 0.0,
        tau2_se=float(se_all[p]) if random else float("nan"), delta=d, delta_se=d_se,
        delta_statistic=d_z, delta_p_value=2 * stats.norm.sf(np.abs(d_z)),
        delta_ci_lower=np.maximum(0.0, d - crit * d_se), delta_ci_upper=d + crit * d_se,
        loglik=ll, lrt=lrt, lrt_df=n_delta, lrt_p_value=float(stats.chi2.sf(lrt, n_delta)))
