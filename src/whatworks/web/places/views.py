"""Places pages: pick an authority; its rate over time against England, its region and similar
authorities (our match on deprivation and size); the funnel plot with it highlighted; where it
sits against deprivation; downloads. Everything but the template is computed once per process
(:mod:`.analysis`)."""

from __future__ import annotations

from functools import lru_cache

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from whatworks.places.charts import missing_years_text, years_text
from whatworks.places.trends import SIMILAR_EXPLAINED

from . import analysis


@require_GET
def index(request):
    code = request.GET.get("authority")
    if code:
        return redirect("places:authority", code=analysis.resolve(code))
    year = analysis.latest_year()
    rows = analysis.authorities(year)
    funnel = analysis.year_funnel(year)
    flags = {c: r["flag"] for c, r in analysis.funnel_rows(year).items()}
    regions = {}
    for row in rows.itertuples():
        regions.setdefault(row.region or "Other", []).append(
            (row.code, row.name, row.rate, flags.get(row.code, "")))
    return render(request, "places/index.html", {"year": year, "regions": regions,
                                                 "funnel": funnel})


@require_GET
def authority(request, code):
    resolved = analysis.resolve(code)
    if resolved != code:
        return redirect("places:authority", code=resolved, permanent=True)
    year = analysis.latest_year()
    t = analysis.authority_trend(code)
    return render(request, "places/authority.html", {
        "code": code, "trend": t, "year": year,
        "funnel_row": analysis.funnel_rows(year).get(code),
        "expected_row": analysis.expected_rows(year).get(code),
        "table": _by_year(code), "missing_note": missing_years_text(t.missing_years),
        "years": years_text(t.to_frame().dropna(subset=["rate"])["year"]),
        "neighbours": list(zip(t.neighbours, t.neighbour_names, strict=True)),
        "similar_explained": SIMILAR_EXPLAINED,
    })


SERIES = ("authority", "England", "region", "neighbours")


@lru_cache(maxsize=512)
def _by_year(code):
    """One row per year from the first to the last, missing years included with their note:
    the rate and 95% CI of the authority and each comparator."""
    t = analysis.authority_trend(code)
    frame = t.to_frame()
    cells = {(r.series, r.year): r for r in frame.itertuples()}
    gaps = set(t.missing_years)
    return [{"year": year, "missing": missing_years_text([year]) if year in gaps else "",
             "cells": [cells.get((s, year)) for s in SERIES]}
            for year in range(int(frame["year"].min()), int(frame["year"].max()) + 1)]


@require_GET
def funnel_chart(request, fmt):
    return _chart_response(request, "funnel", None, fmt)


@require_GET
def chart(request, code, kind, fmt):
    return _chart_response(request, kind, analysis.resolve(code), fmt)


def _chart_response(request, kind, code, fmt):
    year = analysis.latest_year()
    key = f"places-chart:{kind}:{code}:{year}:{fmt}"
    body = cache.get(key)
    if body is None:
        body = analysis.chart(kind, code, year, fmt)
        cache.set(key, body, 3600)
    response = HttpResponse(body, content_type=analysis.FORMATS[fmt])
    response["Cache-Control"] = "public, max-age=3600"
    if request.GET.get("download"):
        name = f"{code}-{kind}" if code else f"{kind}-{year}"
        response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@require_GET
def data_csv(request, code):
    code = analysis.resolve(code)
    response = HttpResponse(analysis.authority_data(code).to_csv(index=False),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{code}-children-looked-after.csv"'
    return response


@require_GET
def funnel_csv(request):
    year = analysis.latest_year()
    response = HttpResponse(analysis.funnel_data(year).to_csv(index=False),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="funnel-{year}.csv"'
    return response
