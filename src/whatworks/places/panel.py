"""The authority x year panel: counts, populations aged 0-17, rates per 10,000, region, IMD 2019.

``load_panel`` reads the DfE files (the shipped copies by default), maps every authority to one
code across the years (:mod:`~whatworks.places.boundaries`), joins IMD 2019, and returns one row
per authority and year. ``load_areas`` gives England and the regions the same way;
``national_series`` the revised national counts of DfE's 1994-2023 time series.

Populations: the files give the ONS mid-year estimate of children aged 0-17 for 2010 (mid-2009)
and 2019-2023 only. Rates are computed only where a population is published, unless
``interpolate_population=True``, which fills the years between two published populations of the
same area by linear interpolation in the year and marks them ``population_source="interpolated"``
(an approximation: the 2010 figure predates ONS's post-2011-census revision).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from .boundaries import (
    BOUNDARY_CHANGES,
    REGIONS,
    boundary_notes,
    consistent_units,
    current_code,
    imd_code,
)
from .io import MEASURES, read_cla, read_imd

PER = 10_000  # rates are per 10,000 children aged 0-17
TIDY_FILE = "cla_number_and_rate_per_10k_children.csv"
SERIES_FILE = "cla_time_series_1994_2023.csv"
IMD_FILE = "imd2019_utla_summary.csv"
WIDE_DIR = "raw_counts_2010_2017"
GEOGRAPHIES = ("reported", "consistent")
LONDON = "E12000007"

PANEL_COLUMNS = ["code", "name", "region_code", "region", "year", "measure", "count", "population",
                 "rate", "rate_published", "count_symbol", "population_symbol", "population_source",
                 "imd_score", "imd_rank", "imd_code", "imd_proxy", "old_code", "code_published",
                 "boundary_note", "source"]


def data_dir() -> Path:
    """The folder of the shipped DfE and IMD files (see its README.md for source and licence)."""
    return Path(str(resources.files("whatworks.data").joinpath("places")))


def default_files() -> list[Path]:
    """The shipped DfE files: the 2019-2023 tidy file and the 2010-2017 tables."""
    root = data_dir()
    return [root / TIDY_FILE] + sorted((root / WIDE_DIR).glob("*.csv"))


@functools.lru_cache(maxsize=64)  # more than the 9 shipped files: 8 made every load re-read all
def _read_cached(path: str, mtime: float) -> pd.DataFrame:
    frame = read_cla(path)
    frame["source"] = Path(path).name
    return frame


def read_files(files: Sequence[str | Path] | None = None) -> pd.DataFrame:
    """All rows of the given DfE files as one long frame (newest release first on overlaps)."""
    paths = [Path(p) for p in (files if files is not None else default_files())]
    if not paths:
        raise InputError("no files given; pass DfE children-looked-after CSV files")
    frames = []
    for p in paths:
        if not p.exists():
            raise InputError("no such file; check the path", file=str(p))
        frames.append(_read_cached(str(p), p.stat().st_mtime).copy())
    # on a duplicate (same area, year and measure in two files) keep the newest release
    frames.sort(key=lambda f: -int(f["year"].max()) if len(f) else 0)
    long = pd.concat(frames, ignore_index=True)
    long = long.drop_duplicates(["level", "code_published", "old_code", "year", "measure"])
    return long.reset_index(drop=True)


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ParameterError("measure", measure, ", ".join(MEASURES))


def _register(long: pd.DataFrame) -> pd.DataFrame:
    """DfE 3-digit code -> newest 9-character code, name and region (from the latest rows)."""
    la = long[(long["level"] == "local authority") & (long["region_code"] != "")
              & (long["code_published"] != "")]
    la = la.sort_values("year").drop_duplicates("old_code", keep="last")
    # London boroughs are filed under Inner (E13000001) or Outer (E13000002) London
    region = [LONDON if r in ("E13000001", "E13000002") else r for r in la["region_code"]]
    reg = pd.DataFrame({"old_code": la["old_code"].to_numpy(),
                        "code": [current_code(c) for c in la["code_published"]],
                        "name": la["name"].to_numpy(), "region_code": region})
    renamed = {a.code: a.name for c in BOUNDARY_CHANGES if c.kind != "code change"
               for a in c.predecessors}
    reg["name"] = [renamed.get(c, n) for c, n in zip(reg["code"], reg["name"], strict=True)]
    return reg.set_index("old_code")


def _authorities(long: pd.DataFrame, measure: str) -> pd.DataFrame:
    la = long[(long["level"] == "local authority") & (long["measure"] == measure)].copy()
    # 'z' in both cells: the authority did not exist that year (before or after a change)
    absent = (la["count_symbol"] == "z") & (la["population_symbol"].isin(["z", ""]))
    la = la[~absent]
    reg = _register(long)
    known = la["old_code"].isin(reg.index)
    code = np.where(known, reg["code"].reindex(la["old_code"]).to_numpy(),
                    [current_code(c) or "" for c in la["code_published"]])
    missing = [i for i, c in enumerate(code) if not c]
    if missing:
        row = la.iloc[missing[0]]
        raise InputError(f"authority '{row['name']}' ({row['old_code']}) has no 9-character code "
                         "and is not in the 2019+ files; add a file that lists it",
                         file=row["source"], column="geog_c")
    la["code"] = code
    la["name"] = np.where(known, reg["name"].reindex(la["old_code"]).to_numpy(), la["name"])
    la["region_code"] = np.where(known, reg["region_code"].reindex(la["old_code"]).to_numpy(),
                                 la["region_code"])
    la["region"] = [REGIONS.get(r, "") for r in la["region_code"]]
    dup = la.duplicated(["code", "year"], keep=False)
    if dup.any():
        row = la[dup].iloc[0]
        raise InputError(f"{row['name']} ({row['code']}) appears twice for {row['year']}; give each "
                         "year once", file=row["source"])
    return la


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    pop = frame["population"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["rate"] = np.where(pop > 0, frame["count"].to_numpy(float) / pop * PER, np.nan)
    return frame


def _interpolate(frame: pd.DataFrame, key: str = "code") -> pd.DataFrame:
    """Fill populations between two published ones of the same area, linearly in the year."""
    frame = frame.sort_values([key, "year"]).copy()
    out = []
    for _, g in frame.groupby(key, sort=False):
        pub = g["population"].notna()
        pop = g["population"].to_numpy(float).copy()
        years = g["year"].to_numpy(float)
        if pub.sum() >= 2:
            yp, pp = years[pub.to_numpy()], pop[pub.to_numpy()]
            inside = (~pub.to_numpy()) & (years > yp.min()) & (years < yp.max())
            pop[inside] = np.interp(years[inside], yp, pp)
            g = g.assign(population=pop)
            src = g["population_source"].to_numpy(object)
            src[inside] = "interpolated"
            g = g.assign(population_source=src)
        out.append(g)
    return pd.concat(out) if out else frame


def _join_imd(frame: pd.DataFrame, imd: pd.DataFrame) -> pd.DataFrame:
    table = imd.set_index("imd_code")
    codes, proxies = zip(*(imd_code(c) for c in frame["code"]), strict=True) if len(frame) else ((), ())
    frame["imd_code"] = list(codes)
    frame["imd_proxy"] = list(proxies)
    frame["imd_score"] = table["imd_score"].reindex(list(codes)).to_numpy()
    frame["imd_rank"] = table["imd_rank"].reindex(list(codes)).to_numpy()
    return frame


def _consistent(frame: pd.DataFrame, imd: pd.DataFrame) -> pd.DataFrame:
    """Sum merger and split authorities into units stable over the whole period."""
    units = consistent_units()
    hit = frame["code"].isin(units)
    rest, parts = frame[~hit], frame[hit].copy()
    parts["unit"] = [units[c][0] for c in parts["code"]]
    rows = []
    for (unit, year), g in parts.groupby(["unit", "year"], sort=True):
        first = g.iloc[0]
        rows.append({
            "code": unit, "name": units[first["code"]][1], "region_code": first["region_code"],
            "region": first["region"], "year": year, "measure": first["measure"],
            "count": g["count"].sum() if g["count"].notna().all() else np.nan,
            "population": (g["population"].sum() if g["population"].notna().all() else np.nan),
            "rate_published": np.nan,
            "count_symbol": "+".join(sorted({s for s in g["count_symbol"] if s})),
            "population_symbol": "+".join(sorted({s for s in g["population_symbol"] if s})),
            "old_code": "+".join(sorted(g["old_code"])),
            "code_published": "+".join(sorted(g["code_published"])),
            "boundary_note": "summed: " + ", ".join(g.sort_values("code")["name"]),
            "source": g["source"].iloc[0], "population_source": first["population_source"]})
    agg = pd.DataFrame(rows)
    out = pd.concat([rest.drop(columns=[c for c in rest.columns if c.startswith("imd")]), agg],
                    ignore_index=True)
    out = _join_imd(out, imd)
    # a unit spanning two 2019 authorities: population-weighted mean of their IMD average scores
    for change in BOUNDARY_CHANGES:
        unit = change.unit[0]
        if "+" not in unit:
            continue
        members = unit.split("+")
        table = imd.set_index("imd_code")
        if not set(members) <= set(table.index):
            continue
        pops = frame[frame["code"].isin(members)].groupby("code")["population"].mean()
        if pops.reindex(members).isna().any():
            continue
        weights = pops.reindex(members).to_numpy(float)
        score = float(np.average(table.loc[members, "imd_score"].to_numpy(float), weights=weights))
        sel = out["code"] == unit
        out.loc[sel, "imd_score"] = score
        out.loc[sel, "imd_rank"] = np.nan
        out.loc[sel, "imd_code"] = unit
        out.loc[sel, "imd_proxy"] = True
    return out


def load_panel(*, measure: str = "cla_31_march", geography: str = "reported",
               interpolate_population: bool = False, files: Sequence[str | Path] | None = None,
               imd: str | Path | None = None) -> pd.DataFrame:
    """One row per local authority and year: count, population 0-17, rate per 10,000, IMD 2019.

    Parameters
    ----------
    measure : a key of :data:`~whatworks.places.io.MEASURES` ("cla_31_march", "cla_started",
        "cla_ceased"; the 2010-2017 tables give only "cla_31_march").
    geography : "reported" (authorities as published; series break at mergers and splits, noted in
        ``boundary_note``) or "consistent" (mergers and splits summed into units stable over the
        years; see :mod:`~whatworks.places.boundaries`).
    interpolate_population : fill populations between two published ones (see the module note).
    files, imd : DfE CSV files (either layout) and an IMD 2019 upper-tier file; the shipped copies
        by default.

    Suppressed or unavailable cells (``c``, ``x``, ``k``, ``..``) are NaN, never zero; the symbol
    is kept in ``count_symbol`` / ``population_symbol``. Rows that are ``z`` (not applicable) in
    both cells are authorities that did not exist that year and are left out.
    """
    _check_measure(measure)
    if geography not in GEOGRAPHIES:
        raise ParameterError("geography", geography, " or ".join(GEOGRAPHIES))
    long = read_files(files)
    if not (long["measure"] == measure).any():
        raise InputError(f"the files have no rows for the measure '{measure}'")
    frame = _authorities(long, measure)
    frame["population_source"] = np.where(frame["population"].notna(), "published", "")
    notes = boundary_notes()
    frame["boundary_note"] = [notes.get(c, "") for c in frame["code"]]
    imd_table = read_imd(imd if imd is not None else data_dir() / IMD_FILE)
    frame = _join_imd(frame, imd_table)
    if geography == "consistent":
        frame = _consistent(frame, imd_table)
    if interpolate_population:
        frame = _interpolate(frame)
    frame = _rates(frame)
    frame["region"] = [REGIONS.get(r, "") for r in frame["region_code"]]
    frame = frame[PANEL_COLUMNS].sort_values(["code", "year"]).reset_index(drop=True)
    frame["year"] = frame["year"].astype(int)
    return frame


def load_areas(*, level: str = "national", measure: str = "cla_31_march",
               interpolate_population: bool = False,
               files: Sequence[str | Path] | None = None) -> pd.DataFrame:
    """England ("national") or the nine regions ("regional") by year, as published.

    National and regional counts are rounded by DfE to the nearest 10 (2010: nearest 100).
    Columns: code, name, year, count, population, rate, rate_published, population_source, source.
    """
    _check_measure(measure)
    if level not in ("national", "regional"):
        raise ParameterError("level", level, "national or regional")
    long = read_files(files)
    frame = long[(long["level"] == level) & (long["measure"] == measure)].copy()
    frame = frame.rename(columns={"code_published": "code"})
    if level == "regional":  # the nine regions (not Inner and Outer London)
        frame = frame[frame["code"].isin(REGIONS)]
    frame["population_source"] = np.where(frame["population"].notna(), "published", "")
    if interpolate_population:
        frame = _interpolate(frame)
    frame = _rates(frame)
    cols = ["code", "name", "year", "count", "population", "rate", "rate_published",
            "population_source", "source"]
    return frame[cols].sort_values(["code", "year"]).reset_index(drop=True)


def national_series(file: str | Path | None = None) -> pd.DataFrame:
    """DfE's national time series 1994-2023 (revised figures): year, measure, count."""
    path = Path(file) if file is not None else data_dir() / SERIES_FILE
    frame = read_cla(path)
    frame = frame[frame["level"] == "national"]
    return frame[["year", "measure", "count"]].sort_values(["measure", "year"]).reset_index(
        drop=True)


def resolve_code(panel: pd.DataFrame, code: str) -> str:
    """The panel's code for ``code``: a current or old 9-character code, a DfE 3-digit code, or a
    name; in a consistent panel, the unit containing the authority."""
    text = str(code).strip()
    codes = set(panel["code"])
    named = {a.name.lower(): a.code for c in BOUNDARY_CHANGES
             for a in c.predecessors + c.successors}
    candidates = [text, current_code(text) or text]
    if text.lower() in named:
        candidates.append(current_code(named[text.lower()]))
    units = consistent_units()
    candidates += [units[c][0] for c in list(candidates) if c in units]
    for c in candidates:
        if c in codes:
            return c
    for column in ("old_code", "code_published"):
        hit = panel.loc[panel[column].str.split("+").apply(lambda parts: text in parts), "code"]
        if len(hit):
            return str(hit.iloc[-1])
    hit = panel.loc[panel["name"].str.lower() == text.lower(), "code"]
    if len(hit):
        return str(hit.iloc[-1])
    raise ParameterError("code", code, "a local-authority code (e.g. E08000025 or 330) or name "
                         "present in the panel")
