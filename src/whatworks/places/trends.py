"""An authority's rate over time with confidence intervals, against England, its region and its
statistical neighbours.

Confidence intervals treat the count as Poisson: *exact* (Garwood 1936: chi-square quantiles,
``[chi2(a/2, 2x) / 2, chi2(1 - a/2, 2x + 2) / 2]``) or *Byar's* approximation (Breslow and Day
1987, p. 69), divided by the population.

Statistical neighbours: DfE's published lists are not in the data, so by default the ``k`` (10)
authorities nearest in deprivation and size: Euclidean distance on z-scored IMD 2019 average score
and log population aged 0-17 in a reference year (the latest with populations). The outcome rate
is left out of the distance by default so the comparison is not circular; pass ``on=`` to change
the variables or ``neighbours=`` to give a list.

References
----------
Garwood F (1936). Fiducial limits for the Poisson distribution. Biometrika 28:437-442.
Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, vol. II. IARC, p. 69.
Reference implementation tested against: R 4.2 ``poisson.test`` (exact) and Byar's closed form
(tests/reference/make_places.R).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt
from ..errors import InputError, ParameterError

PER = 10_000
CI_METHODS = ("exact", "byar")
NEIGHBOUR_VARIABLES = ("imd_score", "log_population", "rate")


def poisson_rate_ci(count, population, *, level: float = 95.0, method: str = "exact",
                    per: float = PER) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits for ``count / population * per`` with the count Poisson.

    ``method="exact"``: Garwood's chi-square limits (R's ``poisson.test``); ``"byar"``: Byar's
    approximation. Missing counts or populations give NaN.
    """
    if method not in CI_METHODS:
        raise ParameterError("method", method, " or ".join(CI_METHODS))
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100")
    x = np.asarray(count, dtype=float)
    n = np.asarray(population, dtype=float)
    a = 1 - level / 100
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "exact":
            lo = np.where(x > 0, stats.chi2.ppf(a / 2, 2 * x) / 2, 0.0)
            hi = stats.chi2.ppf(1 - a / 2, 2 * x + 2) / 2
        else:
            z = stats.norm.ppf(1 - a / 2)
            lo = np.where(x > 0, x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3, 0.0)
            x1 = x + 1
            hi = x1 * (1 - 1 / (9 * x1) + z / (3 * np.sqrt(x1))) ** 3
        bad = ~(np.isfinite(x) & np.isfinite(n) & (n > 0))
        lo = np.where(bad, np.nan, lo / n * per)
        hi = np.where(bad, np.nan, hi / n * per)
    return lo, hi


def statistical_neighbours(panel: pd.DataFrame, code: str, *, k: int = 10, year: int | None = None,
                           on: Sequence[str] = ("imd_score", "log_population")) -> pd.DataFrame:
    """The ``k`` authorities nearest to ``code`` on z-scored ``on`` variables in ``year``.

    ``on`` takes "imd_score", "log_population" and "rate". ``year`` defaults to the latest year
    in which the authority has a population. Ties are broken by code. Returns code, name, region
    and distance, nearest first.
    """
    from .panel import resolve_code

    code = resolve_code(panel, code)
    for v in on:
        if v not in NEIGHBOUR_VARIABLES:
            raise ParameterError("on", v, ", ".join(NEIGHBOUR_VARIABLES))
    if k < 1:
        raise ParameterError("k", k, "a whole number of neighbours, 1 or more")
    if year is None:
        own = panel[(panel["code"] == code) & panel["population"].notna()]
        if own.empty:
            raise InputError(f"{code} has no population in any year; give year= or neighbours=")
        year = int(own["year"].max())
    rows = panel[panel["year"] == int(year)].copy()
    rows["log_population"] = np.log(rows["population"].where(rows["population"] > 0))
    cols = list(on)
    rows = rows.dropna(subset=cols)
    if code not in set(rows["code"]):
        raise InputError(f"{code} lacks {', '.join(cols)} in {year}; choose another year")
    values = rows[cols].to_numpy(float)
    sd = values.std(axis=0, ddof=1)
    sd[sd == 0] = 1.0
    zs = (values - values.mean(axis=0)) / sd
    me = zs[(rows["code"] == code).to_numpy()][0]
    rows["distance"] = np.sqrt(((zs - me) ** 2).sum(axis=1))
    rows = rows[rows["code"] != code].sort_values(["distance", "code"]).head(k)
    return rows[["code", "name", "region", "distance"]].reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class TrendResult(Result):
    """Rates by year for an authority and its comparators, with confidence intervals.

    ``series`` is one of "authority", "England", "region", "neighbours" (the neighbours pooled:
    their counts summed over their populations, ``n_areas`` of them contributing that year).
    """

    code: str
    name: str
    region: str
    neighbours: tuple[str, ...]
    neighbour_names: tuple[str, ...]
    level: float
    method: str
    series: tuple[str, ...]
    years: np.ndarray
    count: np.ndarray
    population: np.ndarray
    rate: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    n_areas: np.ndarray
    population_source: tuple[str, ...]

    _skip_in_dict = ("series", "years", "count", "population", "rate", "ci_lower", "ci_upper",
                     "n_areas", "population_source")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"series": list(self.series), "year": self.years.astype(int),
                             "count": self.count, "population": self.population,
                             "rate": self.rate, "ci_lower": self.ci_lower,
                             "ci_upper": self.ci_upper, "n_areas": self.n_areas.astype(int),
                             "population_source": list(self.population_source)})

    def to_dict(self) -> dict:
        from .._results import jsonable

        out = super().to_dict()
        out["rows"] = jsonable(self.to_frame().to_dict(orient="records"))
        return out

    def summary_text(self) -> str:
        frame = self.to_frame()
        own = frame[(frame["series"] == "authority") & frame["rate"].notna()]
        lines = [f"{self.name} ({self.code}), {self.region}: rate per 10,000 with {self.level:g}% "
                 f"{self.method} Poisson intervals",
                 f"  neighbours: {', '.join(self.neighbour_names) or 'none'}"]
        for _, r in own.iterrows():
            lines.append(f"  {int(r['year'])}: {fmt(r['rate'], 1)} "
                         f"({fmt(r['ci_lower'], 1)} to {fmt(r['ci_upper'], 1)})")
        return "\n".join(lines)

    def plot_trend(self, ax=None):
        """Rates over time with interval bands for the authority and its comparators; returns the
        Figure."""
        from .funnel import new_axes

        if ax is None:
            ax = new_axes(7.5, 4.5)
        frame = self.to_frame().dropna(subset=["rate"])
        styles = {"authority": ("black", "o", self.name), "England": ("#7f8c8d", "s", "England"),
                  "region": ("#2471a3", "^", self.region),
                  "neighbours": ("#c0392b", "D", "statistical neighbours")}
        for series, (colour, marker, label) in styles.items():
            g = frame[frame["series"] == series]
            if g.empty:
                continue
            ax.fill_between(g["year"], g["ci_lower"], g["ci_upper"], color=colour, alpha=0.12,
                            lw=0)
            ax.plot(g["year"], g["rate"], marker=marker, color=colour, ms=4, lw=1.2, label=label)
        ax.set_xlabel("Year (at 31 March)")
        ax.set_ylabel("Rate per 10,000 children")
        note = (" (populations between published years interpolated)"
                if "interpolated" in self.population_source else "")
        ax.set_title(f"{self.name}: children looked after{note}", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        return ax.figure


def trend(code: str, *, panel: pd.DataFrame | None = None, england: pd.DataFrame | None = None,
          regions: pd.DataFrame | None = None, neighbours: Sequence[str] | None = None,
          k: int = 10, level: float = 95.0, method: str = "exact",
          interpolate_population: bool = False) -> TrendResult:
    """An authority's rate by year against England, its region and its statistical neighbours.

    By default reads the shipped data in the consistent geography (mergers and splits summed, so
    series do not break); ``panel``, ``england`` and ``regions`` override (from
    :func:`~whatworks.places.load_panel` and :func:`~whatworks.places.load_areas`).
    ``neighbours`` is a list of codes; default :func:`statistical_neighbours` with ``k``.
    """
    from .panel import load_areas, load_panel, resolve_code

    if panel is None:
        panel = load_panel(geography="consistent", interpolate_population=interpolate_population)
    if england is None:
        england = load_areas(level="national", interpolate_population=interpolate_population)
    if regions is None:
        regions = load_areas(level="regional", interpolate_population=interpolate_population)
    code = resolve_code(panel, code)
    own = panel[panel["code"] == code].sort_values("year")
    region_code = own["region_code"].iloc[-1]
    if neighbours is None:
        nb = statistical_neighbours(panel, code, k=k)
        nb_codes = nb["code"].tolist()
    else:
        nb_codes = [resolve_code(panel, c) for c in neighbours]
        if code in nb_codes:
            raise ParameterError("neighbours", code, "codes of other authorities")
    names = panel.drop_duplicates("code", keep="last").set_index("code")["name"]
    pieces = [_series("authority", own, [1] * len(own)),
              _series("England", england, [1] * len(england)),
              _series("region", regions[regions["code"] == region_code],
                      [1] * int((regions["code"] == region_code).sum()))]
    if nb_codes:
        pieces.append(_pooled(panel[panel["code"].isin(nb_codes)]))
    frame = pd.concat(pieces, ignore_index=True)
    lo, hi = poisson_rate_ci(frame["count"], frame["population"], level=level, method=method)
    return TrendResult(
        code=code, name=str(own["name"].iloc[-1]), region=str(own["region"].iloc[-1]),
        neighbours=tuple(nb_codes), neighbour_names=tuple(str(names[c]) for c in nb_codes),
        level=level, method=method, series=tuple(frame["series"]),
        years=frame["year"].to_numpy(int), count=frame["count"].to_numpy(float),
        population=frame["population"].to_numpy(float),
        rate=(frame["count"] / frame["population"] * PER).to_numpy(float),
        ci_lower=lo, ci_upper=hi, n_areas=frame["n_areas"].to_numpy(int),
        population_source=tuple(str(s) for s in frame["population_source"].fillna("")))


def _series(name: str, rows: pd.DataFrame, n_areas) -> pd.DataFrame:
    return pd.DataFrame({"series": name, "year": rows["year"].to_numpy(int),
                         "count": rows["count"].to_numpy(float),
                         "population": rows["population"].to_numpy(float),
                         "n_areas": np.asarray(n_areas, dtype=int),
                         "population_source": rows["population_source"].to_numpy(object)})


def _pooled(rows: pd.DataFrame) -> pd.DataFrame:
    """Neighbours pooled by year over those with both a count and a population."""
    out = []
    for year, g in rows.groupby("year", sort=True):
        ok = g["count"].notna() & g["population"].notna()
        sources = set(g.loc[ok, "population_source"])
        out.append({"series": "neighbours", "year": int(year),
                    "count": g.loc[ok, "count"].sum() if ok.any() else np.nan,
                    "population": g.loc[ok, "population"].sum() if ok.any() else np.nan,
                    "n_areas": int(ok.sum()),
                    "population_source": "interpolated" if "interpolated" in sources
                    else ("published" if ok.any() else "")})
    return pd.DataFrame(out)
