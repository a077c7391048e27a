"""The places pages' calls into ``whatworks.places``, cached (the data are shipped files that change
only with a new release, so results are cached for the life of the process)."""

from __future__ import annotations

import io
from functools import lru_cache

import pandas as pd
from django.http import Http404

from whatworks.errors import WhatWorksError
from whatworks.places import expected_rates, funnel, load_panel, resolve_code, trend

MEASURE = "cla_31_march"
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


@lru_cache(maxsize=1)
def panel() -> pd.DataFrame:
    return load_panel(measure=MEASURE)


def latest_year() -> int:
    p = panel()
    return int(p.loc[p["population"].notna(), "year"].max())


def authorities(year: int | None = None) -> pd.DataFrame:
    """Authorities in a year (default the latest), by region then name."""
    p = panel()
    rows = p[p["year"] == (year or latest_year())]
    return rows.sort_values(["region", "name"])


def resolve(code: str) -> str:
    try:
        return resolve_code(panel(), code)
    except WhatWorksError:
        raise Http404("No such local authority") from None


@lru_cache(maxsize=256)
def authority_trend(code: str):
    """Rates 2010-2023; 2011-2017 populations are interpolated (DfE publishes none) and marked."""
    return trend(code, interpolate_population=True)


@lru_cache(maxsize=4)
def year_funnel(year: int, overdispersion: str = "additive"):
    return funnel(panel(), year=year, overdispersion=overdispersion)


@lru_cache(maxsize=4)
def year_expected(year: int):
    return expected_rates(panel(), year=year)


def chart(kind: str, code: str | None, year: int, fmt: str) -> bytes:
    """One chart of an authority as SVG or PNG bytes."""
    if fmt not in FORMATS:
        raise Http404("Charts come as .svg or .png")
    if kind == "trend":
        fig = authority_trend(code).plot_trend()
    elif kind == "funnel":
        fig = year_funnel(year).plot_funnel(highlight=code)
    elif kind == "deprivation":
        fig = year_expected(year).plot_deprivation(highlight=code)
    else:
        raise Http404("No such chart")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight",
                metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def authority_data(code: str) -> pd.DataFrame:
    """The authority's trend table with England, region and neighbours, as a data frame."""
    return authority_trend(code).to_frame()
