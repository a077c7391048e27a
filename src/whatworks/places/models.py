"""Models of authorities' counts: Poisson and negative binomial GLMs with a log-population offset.

``log E[count_i] = log(population_i) + b0 + b1 * imd_i / 10 + region effects``, so
``exp(b)`` is a rate ratio: per 10 points of the IMD 2019 average score, or a region against the
reference region (default the first in alphabetical order, as R's default contrasts). Confidence
intervals are Wald intervals on the log scale (R's ``confint.default``).

The negative binomial (NB2, variance ``mu + mu^2 / theta``) has ``theta`` estimated by maximum
likelihood jointly with the coefficients (the profile likelihood in ``theta`` maximised, the GLM
refitted at each ``theta``), which is the estimate of ``MASS::glm.nb``; coefficient standard errors
are those of the GLM at the estimated ``theta`` (as ``glm.nb`` reports them), and ``theta_se`` is
from the observed information for ``theta``.

``expected_rates`` fits deprivation alone and sets each authority's observed count against the
count expected for its deprivation, with a prediction interval from the fitted count
distribution (parameter uncertainty ignored).

References
----------
McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed. Chapman and Hall.
Lawless JF (1987). Negative binomial and mixed Poisson regression. Can J Stat 15:209-225.
Venables WN, Ripley BD (2002). Modern Applied Statistics with S, 4th ed. Springer, section 7.4.
Reference implementation tested against: R 4.2 ``glm(family = poisson)`` and ``MASS::glm.nb``
(tests/reference/make_places.R).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .._results import Result, fmt, fmt_p, jsonable
from ..errors import ConvergenceError, InputError, ParameterError
from .charts import finish, source_line

FAMILIES = ("poisson", "negbin")
COVARIATES = ("deprivation", "region")
PER = 10_000
IMD_TERM = "imd_score_per_10"


def model_frame(panel: pd.DataFrame, *, year: int) -> pd.DataFrame:
    """One year's authorities with a count, a positive population, an IMD score and a region."""
    rows = panel[panel["year"] == int(year)]
    if rows.empty:
        years = ", ".join(str(y) for y in sorted(panel["year"].unique()))
        raise ParameterError("year", year, f"one of {years}")
    ok = (rows["count"].notna() & rows["population"].notna() & (rows["population"] > 0)
          & rows["imd_score"].notna() & (rows["region"] != ""))
    rows = rows[ok].reset_index(drop=True)
    if len(rows) < 10:
        raise InputError(f"only {len(rows)} authorities in {year} have a count, a population and "
                         "an IMD score; a model needs at least 10 (populations exist for 2010 and "
                         "2019 onwards unless interpolated)")
    return rows


def design(rows: pd.DataFrame, *, covariates: Sequence[str] = COVARIATES,
           reference_region: str | None = None) -> tuple[np.ndarray, list[str], str | None]:
    """Design matrix (intercept, IMD score / 10, region indicators) and its column names."""
    for c in covariates:
        if c not in COVARIATES:
            raise ParameterError("covariates", c, ", ".join(COVARIATES))
    cols, names = [np.ones(len(rows))], ["intercept"]
    if "deprivation" in covariates:
        cols.append(rows["imd_score"].to_numpy(float) / 10)
        names.append(IMD_TERM)
    ref = None
    if "region" in covariates:
        levels = sorted(rows["region"].unique())
        ref = reference_region if reference_region is not None else levels[0]
        if ref not in levels:
            raise ParameterError("reference_region", ref, ", ".join(levels))
        for level in levels:
            if level != ref:
                cols.append((rows["region"] == level).to_numpy(float))
                names.append(f"region: {level}")
    return np.column_stack(cols), names, ref


@dataclass(frozen=True)
class _GLMFit:
    beta: np.ndarray
    cov: np.ndarray
    mu: np.ndarray


def _glm(y, X, offset, family: str, theta: float | None = None, *, start=None,
         tol: float = 1e-12, maxiter: int = 100) -> _GLMFit:
    """IRLS for a log-link Poisson or NB2 (fixed ``theta``) GLM with an offset.

    Converges when the relative change in deviance is below ``tol`` (R's ``glm.control``
    criterion); the covariance is the inverse Fisher information ``(X' W X)^-1``.
    """
    eta = np.log(y + 0.5) if start is None else X @ start + offset
    mu = np.exp(eta)
    beta_old, dev_old = None, np.inf
    for _ in range(maxiter):
        w = mu if family == "poisson" else mu / (1 + mu / theta)
        z = eta - offset + (y - mu) / mu
        xtw = X.T * w
        beta = np.linalg.solve(xtw @ X, xtw @ z)
        mu = np.exp(X @ beta + offset)
        dev = _deviance(y, mu, family, theta)
        halvings = 0
        while beta_old is not None and (not np.isfinite(dev) or dev > dev_old) and halvings < 30:
            beta = (beta + beta_old) / 2  # step halving
            mu = np.exp(X @ beta + offset)
            dev = _deviance(y, mu, family, theta)
            halvings += 1
        eta = X @ beta + offset
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            w = mu if family == "poisson" else mu / (1 + mu / theta)
            return _GLMFit(beta, np.linalg.inv((X.T * w) @ X), mu)
        beta_old, dev_old = beta, dev
    raise ConvergenceError(f"the {family} GLM did not converge in {maxiter} iterations; check for "
                           "authorities with extreme rates")


def nb_loglik(y, mu, theta: float) -> float:
    """Negative binomial (NB2) log-likelihood."""
    y, mu = np.asarray(y, float), np.asarray(mu, float)
    return float(np.sum(special.gammaln(y + theta) - special.gammaln(theta)
                        - special.gammaln(y + 1) + theta * np.log(theta / (theta + mu))
                        + special.xlogy(y, mu / (theta + mu))))


def _theta_information(y, mu, theta: float) -> float:
    """Observed information for theta (minus the second derivative of the log-likelihood)."""
    d2 = (special.polygamma(1, y + theta) - special.polygamma(1, theta) + 1 / theta
          - 2 / (mu + theta) + (y + theta) / (mu + theta) ** 2)
    return float(-np.sum(d2))


def _fit_theta(y, X, offset) -> float:
    """Maximise the profile log-likelihood in log(theta), the GLM refitted at each theta."""
    pois = _glm(y, X, offset, "poisson")
    # moment estimate as a centre: var = mu + mu^2 / theta
    excess = np.sum((y - pois.mu) ** 2 - y) / np.sum(pois.mu ** 2)
    centre = np.log(1 / excess) if excess > 0 else np.log(1e4)
    start = pois.beta

    def negll(log_theta):
        theta = float(np.exp(log_theta))
        try:
            fit = _glm(y, X, offset, "negbin", theta, start=start)
        except (ConvergenceError, np.linalg.LinAlgError):
            return np.inf
        return -nb_loglik(y, fit.mu, theta)

    lo, hi = centre - 6, min(centre + 6, np.log(1e8))
    res = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10, "maxiter": 500})
    if not res.success or res.x > hi - 1e-3 or res.x < lo + 1e-3:
        raise ConvergenceError("the negative binomial theta did not converge (the data may not be "
                               "overdispersed; use the Poisson model)")
    return float(np.exp(res.x))


def _deviance(y, mu, family: str, theta: float | None) -> float:
    y, mu = np.asarray(y, float), np.asarray(mu, float)
    if family == "poisson":
        return float(2 * np.sum(special.xlogy(y, y / mu) - (y - mu)))
    return float(2 * np.sum(special.xlogy(y, y / mu)
                            - (y + theta) * np.log((y + theta) / (mu + theta))))


@dataclass(frozen=True, repr=False)
class RateModel(Result):
    """A fitted Poisson or negative binomial GLM of counts with a log-population offset."""

    family: str
    year: int | None
    n: int
    level: float
    reference_region: str | None
    terms: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    theta: float | None
    theta_se: float | None
    loglik: float
    aic: float
    deviance: float
    df_resid: int
    pearson_dispersion: float
    codes: tuple[str, ...]
    names: tuple[str, ...]
    count: np.ndarray
    population: np.ndarray
    fitted: np.ndarray

    _skip_in_dict = ("terms", "estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper",
                     "codes", "names", "count", "population", "fitted")

    def to_frame(self) -> pd.DataFrame:
        """Coefficients (log scale) with rate ratios and their confidence limits."""
        return pd.DataFrame({
            "term": list(self.terms), "estimate": self.estimate, "se": self.se,
            "statistic": self.statistic, "p_value": self.p_value, "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper, "rate_ratio": np.exp(self.estimate),
            "rr_ci_lower": np.exp(self.ci_lower), "rr_ci_upper": np.exp(self.ci_upper)})

    def authorities(self) -> pd.DataFrame:
        """Observed and fitted counts and rates, with observed / fitted."""
        return pd.DataFrame({
            "code": list(self.codes), "name": list(self.names), "count": self.count,
            "population": self.population, "fitted": self.fitted,
            "rate": self.count / self.population * PER,
            "fitted_rate": self.fitted / self.population * PER,
            "ratio": self.count / self.fitted})

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["coefficients"] = jsonable(self.to_frame().to_dict(orient="records"))
        return out

    def summary_text(self) -> str:
        name = {"poisson": "Poisson", "negbin": "Negative binomial (NB2)"}[self.family]
        lines = [f"{name} GLM of counts, offset log(population)"
                 f"{'' if self.year is None else f', {self.year}'} (n = {self.n} authorities)",
                 f"  {'term':<34}{'rate ratio':>11}  {self.level:g}% CI{'':>12}{'p':>8}"]
        for _, r in self.to_frame().iterrows():
            if r["term"] == "intercept":  # a baseline rate, shown per 10,000
                lines.append(f"  {'baseline rate per 10,000 (IMD 0)':<34}"
                             f"{fmt(r['rate_ratio'] * PER, 2):>11}  "
                             f"[{fmt(r['rr_ci_lower'] * PER, 2)}, {fmt(r['rr_ci_upper'] * PER, 2)}]")
                continue
            lines.append(f"  {r['term']:<34}{fmt(r['rate_ratio'], 3):>11}  "
                         f"[{fmt(r['rr_ci_lower'], 3)}, {fmt(r['rr_ci_upper'], 3)}]"
                         f"{fmt_p(r['p_value']):>10}")
        extra = (f"theta = {fmt(self.theta)} (SE {fmt(self.theta_se)}); "
                 if self.theta is not None else "")
        lines.append(f"  {extra}log-likelihood {fmt(self.loglik, 2)}, AIC {fmt(self.aic, 2)}, "
                     f"deviance {fmt(self.deviance, 2)} on {self.df_resid} df, Pearson dispersion "
                     f"{fmt(self.pearson_dispersion, 2)}")
        if self.reference_region:
            lines.append(f"  reference region: {self.reference_region}; IMD per 10 points of the "
                         "average score")
        return "\n".join(lines)


def fit_counts(count, population, X, names: Sequence[str], *, family: str = "poisson",
               level: float = 95.0, year: int | None = None, reference_region: str | None = None,
               codes=None, labels=None) -> RateModel:
    """Fit ``count ~ X`` with offset ``log(population)``; the maths behind :func:`rate_model`."""
    if family not in FAMILIES:
        raise ParameterError("family", family, " or ".join(FAMILIES))
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100")
    y = np.asarray(count, float)
    n = np.asarray(population, float)
    X = np.asarray(X, float)
    offset = np.log(n)
    theta = theta_se = None
    if family == "negbin":
        theta = _fit_theta(y, X, offset)
    fit = _glm(y, X, offset, family, theta)
    mu, beta = fit.mu, fit.beta
    se = np.sqrt(np.diag(fit.cov))
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    p = X.shape[1]
    if family == "poisson":
        loglik = float(np.sum(stats.poisson.logpmf(y, mu)))
        var = mu
        aic = -2 * loglik + 2 * p
    else:
        loglik = nb_loglik(y, mu, theta)
        theta_se = 1 / np.sqrt(_theta_information(y, mu, theta))
        var = mu + mu ** 2 / theta
        aic = -2 * loglik + 2 * (p + 1)
    df_resid = len(y) - p
    codes = tuple(str(c) for c in (codes if codes is not None else range(1, len(y) + 1)))
    return RateModel(
        family=family, year=year, n=len(y), level=level, reference_region=reference_region,
        terms=tuple(names), estimate=beta, se=se, statistic=beta / se,
        p_value=2 * stats.norm.sf(np.abs(beta / se)), ci_lower=beta - z * se,
        ci_upper=beta + z * se, theta=theta, theta_se=theta_se, loglik=loglik, aic=aic,
        deviance=_deviance(y, mu, family, theta), df_resid=df_resid,
        pearson_dispersion=float(np.sum((y - mu) ** 2 / var) / df_resid), codes=codes,
        names=tuple(str(c) for c in (labels if labels is not None else codes)), count=y,
        population=n, fitted=mu)


def rate_model(panel: pd.DataFrame, *, year: int, family: str = "negbin",
               covariates: Sequence[str] = COVARIATES, reference_region: str | None = None,
               level: float = 95.0) -> RateModel:
    """Poisson or negative binomial GLM of one year's counts on deprivation and region."""
    rows = model_frame(panel, year=year)
    X, names, ref = design(rows, covariates=covariates, reference_region=reference_region)
    return fit_counts(rows["count"], rows["population"], X, names, family=family, level=level,
                      year=int(year), reference_region=ref, codes=rows["code"].tolist(),
                      labels=rows["name"].tolist())


@dataclass(frozen=True, repr=False)
class ExpectedRates(Result):
    """Each authority's observed count against the count expected for its deprivation."""

    year: int | None
    family: str
    level: float
    model: RateModel
    codes: tuple[str, ...]
    names: tuple[str, ...]
    regions: tuple[str, ...]
    imd_score: np.ndarray
    count: np.ndarray
    population: np.ndarray
    expected: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    flag: tuple[str, ...]
    source: str = ""

    _skip_in_dict = ("codes", "names", "regions", "imd_score", "count", "population", "expected",
                     "pi_lower", "pi_upper", "flag")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "code": list(self.codes), "name": list(self.names), "region": list(self.regions),
            "imd_score": self.imd_score, "count": self.count, "population": self.population,
            "rate": self.count / self.population * PER, "expected": self.expected,
            "expected_rate": self.expected / self.population * PER,
            "ratio": self.count / self.expected, "pi_lower": self.pi_lower,
            "pi_upper": self.pi_upper, "flag": list(self.flag)})

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["authorities"] = jsonable(self.to_frame().to_dict(orient="records"))
        return out

    def summary_text(self) -> str:
        flags = list(self.flag)
        return (f"Observed against expected given deprivation ({self.family}, "
                f"{'' if self.year is None else f'{self.year}, '}{len(flags)} authorities): "
                f"{flags.count('above')} above and {flags.count('below')} below the "
                f"{self.level:g}% prediction interval")

    def plot_deprivation(self, ax=None, *, highlight: str | None = None):
        """Rate against IMD score with the expected rate curve; returns the Figure."""
        from .funnel import new_axes

        if ax is None:
            ax = new_axes(7.0, 4.8)
        frame = self.to_frame()
        colours = {"above": "#c0392b", "below": "#2471a3", "within": "0.55"}
        words = {"above": "more than expected", "below": "fewer than expected",
                 "within": "as expected"}
        for flag, colour in colours.items():
            sel = (frame["flag"] == flag).to_numpy()
            if sel.any():
                ax.scatter(frame["imd_score"][sel], frame["rate"][sel], s=16, color=colour,
                           edgecolor="none", zorder=3,
                           label=f"{words[flag]} ({self.level:g}% prediction interval; "
                                 f"{int(sel.sum())} authorities)")
        order = np.argsort(frame["imd_score"].to_numpy())
        ax.plot(frame["imd_score"].to_numpy()[order], frame["expected_rate"].to_numpy()[order],
                color="black", lw=1.2, label="expected given deprivation")
        if highlight is not None:
            if highlight not in self.codes:
                raise ParameterError("highlight", highlight, "a code in the model")
            r = frame.iloc[self.codes.index(highlight)]
            ax.scatter([r["imd_score"]], [r["rate"]], s=70, facecolor="none", edgecolor="black",
                       zorder=4, label=r["name"])
            ax.annotate(r["name"], (r["imd_score"], r["rate"]), xytext=(6, 6),
                        textcoords="offset points", fontsize=9, weight="bold")
        ax.set_xlabel("IMD 2019 average score (higher = more deprived)")
        ax.set_ylabel("Rate per 10,000 children")
        year = "" if self.year is None else f", {self.year}"
        finish(ax.figure, ax, title=f"Children looked after per 10,000 children against "
               f"deprivation{year} ({len(frame)} authorities)", source=self.source,
               legend_loc="upper left")
        return ax.figure


def expected_rates(panel: pd.DataFrame, *, year: int, family: str = "negbin",
                   level: float = 95.0) -> ExpectedRates:
    """Observed counts against those expected from deprivation alone, with prediction intervals.

    The interval is the central ``level`` % of the fitted count distribution (Poisson, or NB2 with
    the fitted ``theta``) at the authority's expected count; uncertainty in the fitted
    coefficients is ignored.
    """
    rows = model_frame(panel, year=year)
    fit = rate_model(panel, year=year, family=family, covariates=("deprivation",), level=level)
    mu = fit.fitted
    a = (1 - level / 100) / 2
    if family == "poisson":
        dist = stats.poisson(mu)
    else:
        dist = stats.nbinom(fit.theta, fit.theta / (fit.theta + mu))
    lo, hi = dist.ppf(a), dist.ppf(1 - a)
    y = fit.count
    flag = tuple("above" if c > h else "below" if c < lo_ else "within"
                 for c, lo_, h in zip(y, lo, hi, strict=True))
    return ExpectedRates(
        year=int(year), family=family, level=level, model=fit, codes=fit.codes, names=fit.names,
        regions=tuple(rows["region"]), imd_score=rows["imd_score"].to_numpy(float), count=y,
        population=fit.population, expected=mu, pi_lower=lo, pi_upper=hi, flag=flag,
        source=source_line(rows["source"].dropna().unique() if "source" in rows else (),
                           imd=True))
