"""An authority's rate over time with confidence intervals, against England, its region and
similar authorities (our match on deprivation and size).

Confidence intervals treat the count as Poisson: *exact* (Garwood 1936: chi-square quantiles,
``[chi2(a/2, 2x) / 2, chi2(1 - a/2, 2x + 2) / 2]``) or *Byar's* approximation (Breslow and Day
1987, p. 69), divided by the population.

Similar authorities (our match on deprivation and size; *not* DfE's published "statistical
neighbours", which are not in the data and use other variables): by default the ``k`` (10)
authorities nearest in deprivation and size: Euclidean distance on z-scored IMD 2019 average score
and log population aged 0-17 in a reference year (the latest with populations). The outcome rate
is left out of the distance by default so the comparison is not circular; pass ``on=`` to change
the variables or ``neighbours=`` to give a list. (The code keeps the name
``statistical_neighbours`` for the function; everything a reader sees says "similar authorities".)

Years with no data (2018: neither the shipped 2019-2023 release nor the 2010-2017 tables carry
local-authority figures for it) are kept as gaps: :attr:`TrendResult.missing_years` lists them,
charts break their lines there and say so, and :meth:`TrendResult.to_named_frame` has a row for
each with the note.

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
from .charts import finish, missing_years_text, source_line, years_text

PER = 10_000
CI_METHODS = ("exact", "byar")
NEIGHBOUR_VARIABLES = ("imd_score", "log_population", "rate")
SIMILAR = "similar authorities (our match on deprivation and size)"
SIMILAR_EXPLAINED = (
    "Similar authorities are our own match, not the Department for Education's statistical "
    "neighbours: the authorities nearest on deprivation (IMD 2019 average score) and size "
    "(log of the population aged 0-17), each variable scaled to standard deviation 1; their "
    "counts and populations are pooled.")


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


similar_authorities = statistical_neighbours  # the name readers see; the old one is kept


@dataclass(frozen=True, repr=False)
class TrendResult(Result):
    """Rates by year for an authority and its comparators, with confidence intervals.

    ``series`` is one of "authority", "England", "region", "neighbours" (the similar authorities
    pooled: their counts summed over their populations, ``n_areas`` of them contributing that
    year). ``source`` is the line charts and downloads carry.
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
    region_code: str = ""
    source: str = ""
    neighbours_given: bool = False

    _skip_in_dict = ("series", "years", "count", "population", "rate", "ci_lower", "ci_upper",
                     "n_areas", "population_source")

    def labels(self) -> dict[str, tuple[str, str]]:
        """Each series' (code, name) as a reader should see it."""
        return {"authority": (self.code, self.name), "England": ("E92000001", "England"),
                "region": (self.region_code, self.region),
                "neighbours": ("+".join(self.neighbours),
                               f"{len(self.neighbours)} comparison authorities chosen by the user, "
                               "pooled" if self.neighbours_given else
                               f"{len(self.neighbours)} {SIMILAR} to {self.name}, pooled")}

    @property
    def missing_years(self) -> tuple[int, ...]:
        """Years inside the span of the data for which the authority has no count (2018 in the
        shipped files): shown as gaps, never bridged."""
        return _missing(self.years, self.count, np.array(self.series) == "authority")

    @property
    def unpopulated_years(self) -> tuple[int, ...]:
        """Years with a count but no population (so no rate): gaps too, named differently."""
        own = np.array(self.series) == "authority"
        return tuple(int(y) for y, c, r in zip(self.years[own], self.count[own], self.rate[own],
                                              strict=True) if np.isfinite(c) and not np.isfinite(r))

    def to_frame(self) -> pd.DataFrame:
        """Long: one row per series and year (``area_code`` and ``area_name`` name the area)."""
        labels = self.labels()
        return pd.DataFrame({"series": list(self.series), "year": self.years.astype(int),
                             "count": self.count, "population": self.population,
                             "rate": self.rate, "ci_lower": self.ci_lower,
                             "ci_upper": self.ci_upper, "n_areas": self.n_areas.astype(int),
                             "population_source": list(self.population_source),
                             "area_code": [labels[s][0] for s in self.series],
                             "area_name": [labels[s][1] for s in self.series]})

    def to_named_frame(self) -> pd.DataFrame:
        """Wide: one row per year from the first to the last (missing years included, with a
        note), columns named after the areas: "<name> (<code>): rate per 10,000", ...

        The last columns give the members of the similar-authority group and the source.
        """
        frame = self.to_frame()
        years = range(int(frame["year"].min()), int(frame["year"].max()) + 1) if len(frame) \
            else range(0)
        out = pd.DataFrame({"year": list(years)})
        pct = f"{self.level:g}%"
        for series, (code, name) in self.labels().items():
            g = frame[frame["series"] == series].set_index("year").reindex(out["year"])
            if series == "neighbours" and not self.neighbours:
                continue
            head = name if series == "neighbours" else f"{name} ({code})"
            out[f"{head}: rate per 10,000"] = g["rate"].to_numpy()
            out[f"{head}: {pct} CI lower"] = g["ci_lower"].to_numpy()
            out[f"{head}: {pct} CI upper"] = g["ci_upper"].to_numpy()
            out[f"{head}: children looked after"] = g["count"].to_numpy()
            out[f"{head}: population aged 0-17"] = g["population"].to_numpy()
            if series == "neighbours":
                out[f"{head}: authorities contributing"] = g["n_areas"].to_numpy()
            out[f"{head}: population source"] = g["population_source"].fillna("").to_numpy()
        gaps, unpopulated = set(self.missing_years), set(self.unpopulated_years)
        out["note"] = [missing_years_text([y]) if y in gaps else
                       "no published population, so no rate" if y in unpopulated else ""
                       for y in out["year"]]
        out["similar authorities (codes and names)"] = "; ".join(
            f"{c} {n}" for c, n in zip(self.neighbours, self.neighbour_names, strict=True))
        out["source"] = self.source
        return out

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
                 f"  {'comparison authorities' if self.neighbours_given else SIMILAR}: "
                 f"{', '.join(self.neighbour_names) or 'none'}"]
        if self.missing_years:
            lines.append(f"  {missing_years_text(self.missing_years)}")
        for _, r in own.iterrows():
            lines.append(f"  {int(r['year'])}: {fmt(r['rate'], 1)} "
                         f"({fmt(r['ci_lower'], 1)} to {fmt(r['ci_upper'], 1)})")
        return "\n".join(lines)

    def plot_trend(self, ax=None):
        """Rates over time with interval bands for the authority and its comparators; returns the
        Figure. A year with no data is a gap in every line and band (never bridged) and is named
        in the title."""
        from .funnel import new_axes

        if ax is None:
            ax = new_axes(7.5, 4.8)
        frame = self.to_frame()
        span = np.arange(int(frame["year"].min()), int(frame["year"].max()) + 1) if len(frame) \
            else np.arange(0)
        labels = self.labels()
        styles = {"authority": ("black", "o", f"{self.name} ({self.code})"),
                  "England": ("#5d6d7e", "s", "England"),
                  "region": ("#2471a3", "^", self.region),
                  "neighbours": ("#c0392b", "D", labels["neighbours"][1])}
        for series, (colour, marker, label) in styles.items():
            g = frame[frame["series"] == series].set_index("year").reindex(span)
            if g["rate"].notna().sum() == 0:
                continue
            # NaN for a missing year: matplotlib breaks the line and the band there
            ax.fill_between(span, g["ci_lower"].to_numpy(float), g["ci_upper"].to_numpy(float),
                            color=colour, alpha=0.12, lw=0)
            ax.plot(span, g["rate"].to_numpy(float), marker=marker, color=colour, ms=4, lw=1.2,
                    label=label)
        missing = self.missing_years
        for y in missing:
            ax.axvspan(y - 0.5, y + 0.5, color="0.92", lw=0, zorder=0,
                       label="no data published in our source" if y == missing[0] else None)
        ax.set_xlabel("Year (at 31 March)")
        ax.set_ylabel(f"Rate per 10,000 children ({self.level:g}% CI bands)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        notes = []
        if missing:
            notes.append(missing_years_text(missing))
        if self.unpopulated_years:
            notes.append(f"no published population for {years_text(self.unpopulated_years)}, "
                         "so no rate")
        if "interpolated" in self.population_source:
            notes.append("populations between published years interpolated")
        title = (f"{self.name}: children looked after per 10,000 children, "
                 f"{years_text(frame.dropna(subset=['rate'])['year'])}"
                 + (f" ({'; '.join(notes)})" if notes else ""))
        finish(ax.figure, ax, title=title, source=self.source, legend_below=True)
        return ax.figure


def _missing(years, values, mask) -> tuple[int, ...]:
    years = np.asarray(years, dtype=int)
    have = set(years[mask & np.isfinite(np.asarray(values, dtype=float))].tolist())
    if not len(years):
        return ()
    return tuple(y for y in range(int(years.min()), int(years.max()) + 1) if y not in have)


def trend(code: str, *, panel: pd.DataFrame | None = None, england: pd.DataFrame | None = None,
          regions: pd.DataFrame | None = None, neighbours: Sequence[str] | None = None,
          k: int = 10, level: float = 95.0, method: str = "exact",
          interpolate_population: bool = False) -> TrendResult:
    """An authority's rate by year against England, its region and similar authorities.

    By default reads the shipped data in the consistent geography (mergers and splits summed, so
    series do not break); ``panel``, ``england`` and ``regions`` override (from
    :func:`~whatworks.places.load_panel` and :func:`~whatworks.places.load_areas`).
    ``neighbours`` is a list of codes; default :func:`statistical_neighbours` with ``k`` (our
    match on deprivation and size, not DfE's statistical neighbours).
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
        population_source=tuple(str(s) for s in frame["population_source"].fillna("")),
        region_code=str(region_code), neighbours_given=neighbours is not None,
        source=source_line(_sources(own, england, regions), imd=True))


def _sources(*frames: pd.DataFrame) -> list[str]:
    return [str(s) for f in frames if "source" in f for s in f["source"].dropna().unique()]


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
