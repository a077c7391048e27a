"""Funnel plots for comparing local authorities' rates (Spiegelhalter 2005).

Each authority's rate ``y = count / population`` is plotted against its population aged 0-17,
with control limits around a target rate ``theta`` (by default the pooled rate of the authorities
plotted). Under the null the count is Poisson(``theta * n``) or Binomial(``n``, ``theta``).

* **Exact limits** (default): the ``p``-quantile ``r_p`` of the count distribution, smoothed by
  Spiegelhalter's interpolation ``alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1))``, limit
  ``(r_p - alpha) / n`` (Spiegelhalter 2005a, appendix A.1.1); a lower limit below zero is set to 0.
* **Normal limits**: ``theta +/- z_p * sqrt(g(theta) / n)``, ``g = theta`` (Poisson) or
  ``theta (1 - theta)`` (binomial).
* **Overdispersion**: z-scores ``z_i = (y_i - theta) / sqrt(g(theta) / n_i)`` are Winsorised (the
  lowest and highest ``winsorize`` fraction set to the 10th and 90th percentiles, R's quantile
  type 7); ``phi = mean(z_w^2)``, tested as ``k * phi ~ chi2(k - 1)`` (``k`` if the target is
  given). *Multiplicative*: limits ``theta +/- z_p * sqrt(max(phi, 1) * g / n)`` (never narrower
  than the unadjusted normal limits). *Additive* (random effects):
  ``tau2 = max(0, (k * phi - (k - 1)) / (sum w - sum w^2 / sum w))``, ``w_i = n_i / g``, limits
  ``theta +/- z_p * sqrt(g / n + tau2)`` (Spiegelhalter 2005a section 6; 2005b). Adjusted limits use
  the normal approximation, as in those papers.

References
----------
Spiegelhalter DJ (2005a). Funnel plots for comparing institutional performance. Stat Med
    24:1185-1202.
Spiegelhalter DJ (2005b). Handling over-dispersion of performance indicators. Qual Saf Health
    Care 14:347-351.
Reference implementation tested against: closed forms computed with R 4.2 base ``qpois``,
``qbinom``, ``quantile(type = 7)`` (tests/reference/make_places.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt, fmt_p, jsonable
from ..errors import InputError, ParameterError
from .charts import finish, source_line
from .io import MEASURES

MODELS = ("poisson", "binomial")
LIMITS = ("exact", "normal")
OVERDISPERSION = ("none", "multiplicative", "additive")
LEVELS = (95.0, 99.8)
PER = 10_000


def new_axes(width: float, height: float):
    """Axes on a Figure with its own Agg canvas (no pyplot: safe on servers and in threads)."""
    from whatworks.synthesis.plots import new_figure  # the project's one way to start a figure

    return new_figure(width, height).add_subplot()


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ParameterError(name, value, " or ".join(allowed))


def _variance_factor(theta: float, model: str) -> float:
    return theta if model == "poisson" else theta * (1.0 - theta)


def _dist(theta: float, n: np.ndarray, model: str):
    if model == "poisson":
        return stats.poisson(theta * n)
    return stats.binom(np.round(n).astype(int), theta)


def exact_limit(theta: float, n, p: float, *, model: str = "poisson") -> np.ndarray:
    """Spiegelhalter's interpolated exact limit for probability ``p`` (rate per person).

    ``r_p`` is the smallest count with ``F(r_p) >= p``; ``alpha = (F(r_p) - p) / (F(r_p) -
    F(r_p - 1))``; the limit is ``(r_p - alpha) / n``, floored at 0 (Spiegelhalter 2005a, A.1.1).
    """
    _check("model", model, MODELS)
    n = np.asarray(n, dtype=float)
    dist = _dist(theta, n, model)
    r = np.asarray(dist.ppf(p), dtype=float)
    # guard the quantile against rounding in ppf: smallest r with F(r) >= p
    r = np.where(dist.cdf(r - 1) >= p, r - 1, r)
    r = np.where(dist.cdf(r) < p, r + 1, r)
    f_r, f_below = dist.cdf(r), dist.cdf(r - 1)
    alpha = (f_r - p) / (f_r - f_below)
    nn = np.round(n) if model == "binomial" else n
    return np.maximum((r - alpha) / nn, 0.0)


def normal_limit(theta: float, n, p: float, *, model: str = "poisson", phi: float = 1.0,
                 tau2: float = 0.0) -> np.ndarray:
    """``theta + z_p * sqrt(phi * g(theta) / n + tau2)`` (rate per person), floored at 0."""
    _check("model", model, MODELS)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(p)
    return np.maximum(theta + z * np.sqrt(phi * _variance_factor(theta, model) / n + tau2), 0.0)


def winsorize(z, fraction: float = 0.1) -> np.ndarray:
    """Set values below the ``fraction`` and above the ``1 - fraction`` quantiles (R type 7) to
    those quantiles."""
    z = np.asarray(z, dtype=float)
    if not 0 <= fraction < 0.5:
        raise ParameterError("winsorize", fraction, "a fraction from 0 up to (not including) 0.5")
    if fraction == 0:
        return z.copy()
    lo, hi = np.quantile(z, [fraction, 1 - fraction])
    return np.clip(z, lo, hi)


@dataclass(frozen=True)
class Dispersion:
    """Winsorised overdispersion estimates: ``phi`` (multiplicative) and ``tau2`` (additive)."""

    phi: float
    statistic: float
    df: int
    p_value: float
    tau2: float


def dispersion(count, n, theta: float, *, model: str = "poisson", winsorize_fraction: float = 0.1,
               target_estimated: bool = True) -> Dispersion:
    """Spiegelhalter's (2005a, section 6) overdispersion factor ``phi`` and between-unit variance
    ``tau2`` (rate per person, squared) from Winsorised z-scores."""
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    g = _variance_factor(theta, model)
    z = (count / n - theta) / np.sqrt(g / n)
    zw = winsorize(z, winsorize_fraction)
    k = len(z)
    phi = float(np.mean(zw ** 2))
    df = k - 1 if target_estimated else k
    stat = k * phi
    w = n / g
    tau2 = max(0.0, (stat - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    return Dispersion(phi, stat, df, float(stats.chi2.sf(stat, df)), float(tau2))


def _limits(theta, n, level, model, limits, overdispersion, disp):
    p_lo, p_hi = (1 - level / 100) / 2, 1 - (1 - level / 100) / 2
    if overdispersion == "multiplicative":
        phi = max(disp.phi, 1.0)
        return (normal_limit(theta, n, p_lo, model=model, phi=phi),
                normal_limit(theta, n, p_hi, model=model, phi=phi))
    if overdispersion == "additive":
        return (normal_limit(theta, n, p_lo, model=model, tau2=disp.tau2),
                normal_limit(theta, n, p_hi, model=model, tau2=disp.tau2))
    f = exact_limit if limits == "exact" else normal_limit
    return f(theta, n, p_lo, model=model), f(theta, n, p_hi, model=model)


def _suffix(level: float) -> str:
    return f"{level:g}".replace(".", "_")


@dataclass(frozen=True, repr=False)
class FunnelResult(Result):
    """A funnel plot: target, dispersion and, per authority, rate, expected count, limits, flag.

    Rates, limits and the target are per 10,000 children; ``tau2`` is in (per 10,000)^2.
    """

    year: int | None
    measure: str
    model: str
    limits: str
    overdispersion: str
    target: float
    target_given: bool
    flag_level: float
    winsorize: float
    phi: float
    phi_statistic: float
    phi_df: int
    phi_p_value: float
    tau2: float
    k: int
    n_above: int
    n_below: int
    highlight: str | None
    codes: tuple[str, ...]
    names: tuple[str, ...]
    regions: tuple[str, ...]
    count: np.ndarray
    population: np.ndarray
    rate: np.ndarray
    expected: np.ndarray
    z: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    lower_99_8: np.ndarray
    upper_99_8: np.ndarray
    flag: tuple[str, ...]
    source: str = ""

    _skip_in_dict = ("codes", "names", "regions", "count", "population", "rate", "expected", "z",
                     "lower_95", "upper_95", "lower_99_8", "upper_99_8", "flag")

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    def to_frame(self) -> pd.DataFrame:
        """One row per authority: code, name, region, count, population, rate, expected, z,
        limits at 95% and 99.8%, and the flag at ``flag_level`` (above, below, within, missing)."""
        frame = pd.DataFrame({
            "code": list(self.codes), "name": list(self.names), "region": list(self.regions),
            "count": self.count, "population": self.population, "rate": self.rate,
            "expected": self.expected, "z": self.z, "lower_95": self.lower_95,
            "upper_95": self.upper_95, "lower_99_8": self.lower_99_8,
            "upper_99_8": self.upper_99_8, "flag": list(self.flag)})
        frame["flag_95"] = _flags(self.rate, self.lower_95, self.upper_95)
        frame["flag_99_8"] = _flags(self.rate, self.lower_99_8, self.upper_99_8)
        return frame

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["tau"] = self.tau
        out["authorities"] = jsonable(self.to_frame().to_dict(orient="records"))
        return out

    def curve(self, population=None) -> pd.DataFrame:
        """The control limits over a grid of populations (for drawing the funnel)."""
        n = self.population[np.isfinite(self.population) & (self.population > 0)]
        if population is None:
            population = np.geomspace(max(n.min() * 0.8, 1.0), n.max() * 1.25, 400)
        population = np.asarray(population, dtype=float)
        theta = self.target / PER
        disp = Dispersion(self.phi, self.phi_statistic, self.phi_df, self.phi_p_value,
                          self.tau2 / PER ** 2)
        out = {"population": population}
        for level in LEVELS:
            lo, hi = _limits(theta, population, level, self.model, self.limits,
                             self.overdispersion, disp)
            out[f"lower_{_suffix(level)}"] = lo * PER
            out[f"upper_{_suffix(level)}"] = hi * PER
        return pd.DataFrame(out)

    def summary_text(self) -> str:
        adj = {"none": "no overdispersion adjustment",
               "multiplicative": f"multiplicative overdispersion (phi = {fmt(self.phi)})",
               "additive": f"additive overdispersion (tau = {fmt(self.tau)} per 10,000)"}
        lines = [
            f"Funnel plot: {self.measure}{'' if self.year is None else f', {self.year}'} "
            f"(k = {self.k} authorities; {self.model} {self.limits} limits; "
            f"{adj[self.overdispersion]})",
            f"  target rate {fmt(self.target, 2)} per 10,000 "
            f"({'given' if self.target_given else 'pooled'})",
            f"  Winsorised ({self.winsorize:g}) dispersion phi = {fmt(self.phi)}, "
            f"chi2({self.phi_df}) = {fmt(self.phi_statistic, 2)}, p = {fmt_p(self.phi_p_value)}; "
            f"tau = {fmt(self.tau)} per 10,000",
            f"  at {self.flag_level:g}%: {self.n_above} above, {self.n_below} below, "
            f"{self.k - self.n_above - self.n_below} within"]
        return "\n".join(lines)

    def plot_funnel(self, ax=None, *, highlight: str | None = None, log_x: bool = True):
        """Draw the funnel (rate per 10,000 against population 0-17); returns the Figure.

        Authorities outside the ``flag_level`` limits are drawn in colour; ``highlight`` (a code,
        default the one given when the funnel was made) is marked and labelled.
        """
        if ax is None:
            ax = new_axes(7.5, 5.0)
        curve = self.curve()
        x = curve["population"]
        adjusted = {"none": "", "multiplicative": ", overdispersion allowed for",
                    "additive": ", variation between authorities allowed for"}[self.overdispersion]
        for level, style in zip(LEVELS, ("--", "-"), strict=True):
            s = _suffix(level)
            ax.plot(x, curve[f"lower_{s}"], style, color="0.35", lw=0.9,
                    label=f"{level:g}% limits{adjusted}")
            ax.plot(x, curve[f"upper_{s}"], style, color="0.35", lw=0.9)
        ax.axhline(self.target, color="black", lw=1.0, ls=":",
                   label=f"{'target' if self.target_given else 'pooled rate of the authorities'} "
                         f"{self.target:.1f} per 10,000")
        colours = {"above": "#c0392b", "below": "#2471a3", "within": "0.55"}
        flags = np.array(self.flag)
        for flag, colour in colours.items():
            sel = flags == flag
            if sel.any():
                what = "within" if flag == "within" else f"{flag}"
                ax.scatter(self.population[sel], self.rate[sel], s=16, color=colour,
                           edgecolor="none", zorder=3,
                           label=f"{what} the {self.flag_level:g}% limits ({sel.sum()} authorities)")
        code = highlight or self.highlight
        if code is not None:
            if code not in self.codes:
                raise ParameterError("highlight", code, "a code of an authority in the funnel")
            i = self.codes.index(code)
            ax.scatter([self.population[i]], [self.rate[i]], s=70, facecolor="none",
                       edgecolor="black", linewidth=1.5, zorder=4, label=self.names[i])
            ax.annotate(self.names[i], (self.population[i], self.rate[i]), xytext=(6, 6),
                        textcoords="offset points", fontsize=9, weight="bold")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel("Children aged 0-17 (population)")
        ax.set_ylabel("Rate per 10,000 children")
        label = MEASURES.get(self.measure, (self.measure,))[0]
        title = (f"{label} per 10,000 children{'' if self.year is None else f', {self.year}'}: "
                 f"funnel plot of {self.k} authorities")
        finish(ax.figure, ax, title=title, source=self.source, legend_loc="upper right")
        return ax.figure


def _flags(rate, lower, upper) -> list[str]:
    out = []
    for r, lo, hi in zip(rate, lower, upper, strict=True):
        if not np.isfinite(r) or not np.isfinite(lo):
            out.append("missing")
        elif r > hi:
            out.append("above")
        elif r < lo:
            out.append("below")
        else:
            out.append("within")
    return out


def funnel_from_counts(count, population, *, codes=None, names=None, regions=None,
                       model: str = "poisson", limits: str = "exact",
                       overdispersion: str = "none", target: float | None = None,
                       flag_level: float = 99.8, winsorize: float = 0.1, year: int | None = None,
                       measure: str = "rate", highlight: str | None = None,
                       source: str = "") -> FunnelResult:
    """Funnel-plot limits and flags for counts and populations (arrays of equal length).

    ``target`` is a rate per 10,000 (default: the pooled rate ``sum(count) / sum(population)``
    of the units with both). Units with a missing count or population are kept with the flag
    "missing" and left out of the target and the dispersion estimates. ``source`` is the line
    the chart carries (where the counts come from).
    """
    _check("model", model, MODELS)
    _check("limits", limits, LIMITS)
    _check("overdispersion", overdispersion, OVERDISPERSION)
    if flag_level not in LEVELS:
        raise ParameterError("flag_level", flag_level, "95 or 99.8")
    count = np.asarray(count, dtype=float)
    n = np.asarray(population, dtype=float)
    if count.shape != n.shape or count.ndim != 1:
        raise InputError("count and population must be 1-d arrays of the same length")
    k_all = len(count)
    codes = tuple(str(c) for c in (codes if codes is not None else range(1, k_all + 1)))
    names = tuple(str(c) for c in (names if names is not None else codes))
    regions = tuple(str(c) for c in (regions if regions is not None else [""] * k_all))
    ok = np.isfinite(count) & np.isfinite(n) & (n > 0)
    if (count[ok] < 0).any():
        raise InputError("counts must be >= 0")
    if model == "binomial" and (count[ok] > n[ok]).any():
        raise InputError("a binomial funnel needs count <= population")
    if ok.sum() < 3:
        raise InputError(f"a funnel needs at least 3 authorities with a count and a population; "
                         f"{ok.sum()} have both")
    given = target is not None
    theta = float(target) / PER if given else count[ok].sum() / n[ok].sum()
    if not 0 < theta < (1 if model == "binomial" else np.inf):
        raise ParameterError("target", target, "a rate per 10,000 above 0 (below 10,000 for "
                             "binomial)")
    disp = dispersion(count[ok], n[ok], theta, model=model, winsorize_fraction=winsorize,
                      target_estimated=not given)
    rate = np.where(ok, count / np.where(ok, n, 1.0), np.nan)
    lim = {}
    for level in LEVELS:
        lo, hi = np.full(k_all, np.nan), np.full(k_all, np.nan)
        lo[ok], hi[ok] = _limits(theta, n[ok], level, model, limits, overdispersion, disp)
        lim[level] = (lo * PER, hi * PER)
    z = np.full(k_all, np.nan)
    z[ok] = (rate[ok] - theta) / np.sqrt(_variance_factor(theta, model) / n[ok])
    rate = rate * PER
    flag = _flags(rate, *lim[flag_level])
    if highlight is not None and highlight not in codes:
        raise ParameterError("highlight", highlight, "a code of an authority in the funnel")
    return FunnelResult(
        year=year, measure=measure, model=model, limits=limits, overdispersion=overdispersion,
        target=theta * PER, target_given=given, flag_level=flag_level, winsorize=winsorize,
        phi=disp.phi, phi_statistic=disp.statistic, phi_df=disp.df, phi_p_value=disp.p_value,
        tau2=disp.tau2 * PER ** 2, k=int(ok.sum()), n_above=flag.count("above"),
        n_below=flag.count("below"), highlight=highlight, codes=codes, names=names,
        regions=regions, count=_frozen(count), population=_frozen(n), rate=_frozen(rate),
        expected=_frozen(np.where(np.isfinite(n), theta * n, np.nan)), z=_frozen(z),
        lower_95=_frozen(lim[95.0][0]), upper_95=_frozen(lim[95.0][1]),
        lower_99_8=_frozen(lim[99.8][0]), upper_99_8=_frozen(lim[99.8][1]), flag=tuple(flag),
        source=source)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def funnel(panel: pd.DataFrame, *, year: int, model: str = "poisson", limits: str = "exact",
           overdispersion: str = "none", target: float | None = None, flag_level: float = 99.8,
           winsorize: float = 0.1, highlight: str | None = None) -> FunnelResult:
    """A funnel plot of one year of a panel from :func:`~whatworks.places.load_panel`.

    Every authority in that year is listed; those without a count or population are flagged
    "missing" and take no part in the target or the dispersion estimates. ``highlight`` accepts
    any code or name :func:`~whatworks.places.panel.resolve_code` understands.
    """
    from .panel import resolve_code

    rows = panel[panel["year"] == int(year)]
    if rows.empty:
        years = ", ".join(str(y) for y in sorted(panel["year"].unique()))
        raise ParameterError("year", year, f"one of {years}")
    if rows["population"].notna().sum() == 0:
        raise InputError(f"no populations for {year}: DfE files give them for 2010 and 2019 "
                         "onwards; interpolate_population=True (--interpolate-population) fills "
                         "the years between")
    code = None
    if highlight is not None:
        try:
            code = resolve_code(rows, highlight)
        except ParameterError:
            raise ParameterError("highlight", highlight, f"a code or name of an authority in "
                                 f"the {year} funnel") from None
    measure = str(rows["measure"].iloc[0]) if "measure" in rows else "rate"
    return funnel_from_counts(
        rows["count"].to_numpy(float), rows["population"].to_numpy(float),
        codes=rows["code"].tolist(), names=rows["name"].tolist(), regions=rows["region"].tolist(),
        model=model, limits=limits, overdispersion=overdispersion, target=target,
        flag_level=flag_level, winsorize=winsorize, year=int(year), measure=measure,
        highlight=code, source=source_line(rows["source"].dropna().unique() if "source" in rows
                                           else (), imd=False))
