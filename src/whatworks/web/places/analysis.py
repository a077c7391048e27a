"""The places pages' calls into ``whatworks.places``, computed once per process.

The data are shipped files that change only with a new release, so everything the pages need that
does not depend on the authority (the panels, England and the regions, the funnel and the
deprivation model of the latest year, matplotlib itself) is computed by :func:`warm` when the
server starts (``whatworks.web.wsgi`` calls it, before gunicorn forks its workers) and kept for the
life of the process; an authority's own trend (about 20 ms) is computed on its first view and
kept. Nothing here is per request but the template.
"""

from __future__ import annotations

import io
from functools import lru_cache

import pandas as pd
from django.http import Http404

from whatworks.errors import WhatWorksError
from whatworks.places import (
    expected_rates,
    funnel,
    load_areas,
    load_panel,
    resolve_code,
    trend,
)

MEASURE = "cla_31_march"
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


@lru_cache(maxsize=1)
def panel() -> pd.DataFrame:
    """Authorities as reported (the funnel and the model compare the authorities of a year)."""
    return load_panel(measure=MEASURE)


@lru_cache(maxsize=1)
def trend_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The consistent-geography panel, England and the regions, 2011-2017 populations
    interpolated (DfE publishes none; the rows are marked)."""
    return (load_panel(measure=MEASURE, geography="consistent", interpolate_population=True),
            load_areas(level="national", measure=MEASURE, interpolate_population=True),
            load_areas(level="regional", measure=MEASURE, interpolate_population=True))


@lru_cache(maxsize=1)
def latest_year() -> int:
    p = panel()
    return int(p.loc[p["population"].notna(), "year"].max())


def authorities(year: int | None = None) -> pd.DataFrame:
    """Authorities in a year (default the latest), by region then name."""
    p = panel()
    rows = p[p["year"] == (year or latest_year())]
    return rows.sort_values(["region", "name"])


@lru_cache(maxsize=1024)
def resolve(code: str) -> str:
    try:
        return resolve_code(panel(), code)
    except WhatWorksError:
        raise Http404("No such local authority") from None


@lru_cache(maxsize=512)
def authority_trend(code: str):
    """Rates 2010-2023 against England, the region and the similar authorities."""
    p, england, regions = trend_inputs()
    return trend(code, panel=p, england=england, regions=regions)


@lru_cache(maxsize=4)
def year_funnel(year: int, overdispersion: str = "additive"):
    return funnel(panel(), year=year, overdispersion=overdispersion)


@lru_cache(maxsize=4)
def funnel_rows(year: int) -> dict:
    """Each authority's funnel row (rate, count, flag) by code."""
    return {r["code"]: r for r in year_funnel(year).to_frame().to_dict(orient="records")}


@lru_cache(maxsize=4)
def year_expected(year: int):
    return expected_rates(panel(), year=year)


@lru_cache(maxsize=4)
def expected_rows(year: int) -> dict:
    return {r["code"]: r for r in year_expected(year).to_frame().to_dict(orient="records")}


def warm() -> None:
    """Compute everything that does not depend on the authority (see the module note)."""
    from django.template.loader import get_template
    from matplotlib.backends import backend_agg, backend_svg  # noqa: F401  (imported once, here)

    for name in ("places/index.html", "places/authority.html"):
        get_template(name)  # compiled once (Django's cached loader keeps it)
    trend_inputs()
    year = latest_year()
    funnel_rows(year)
    expected_rows(year)
    chart("funnel", None, year, "svg")  # matplotlib's fonts and renderers, loaded once


def chart(kind: str, code: str | None, year: int, fmt: str) -> bytes:
    """One chart of an authority as SVG (text kept as text) or PNG bytes."""
    import matplotlib

    from whatworks.synthesis.plots import _SAVE_LOCK

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
    # rcParams are global: the lock keeps concurrent saves from restoring each other's settings
    with _SAVE_LOCK, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "whatworks"}):
        fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight",
                    pad_inches=0.08, facecolor="white",
                    metadata={"Date": None} if fmt == "svg" else {"Software": "whatworks"})
    return buf.getvalue()


def authority_data(code: str) -> pd.DataFrame:
    """The authority's rates by year, one column per area and quantity, named after the areas
    (missing years as rows with a note; the similar authorities and the source at the end)."""
    return authority_trend(code).to_named_frame()


def funnel_data(year: int) -> pd.DataFrame:
    frame = year_funnel(year).to_frame()
    frame["year"] = year
    frame["source"] = year_funnel(year).source
    return frame
