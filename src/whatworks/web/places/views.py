"""Places pages: pick an authority; its rate over time against England, its region and statistical
neighbours; the funnel plot with it highlighted; where it sits against deprivation; downloads."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from . import analysis


@require_GET
def index(request):
    code = request.GET.get("authority")
    if code:
        return redirect("places:authority", code=analysis.resolve(code))
    year = analysis.latest_year()
    rows = analysis.authorities(year)
    funnel = analysis.year_funnel(year)
    flags = funnel.to_frame().set_index("code")["flag"].to_dict()
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
    funnel_row = analysis.year_funnel(year).to_frame().set_index("code").loc[code] \
        if code in set(analysis.year_funnel(year).to_frame()["code"]) else None
    expected = analysis.year_expected(year).to_frame().set_index("code")
    return render(request, "places/authority.html", {
        "code": code, "trend": t, "year": year, "funnel_row": funnel_row,
        "expected_row": expected.loc[code] if code in expected.index else None,
        "table": _by_year(t.to_frame()),
        "neighbours": list(zip(t.neighbours, t.neighbour_names, strict=True)),
    })


SERIES = ("authority", "England", "region", "neighbours")


def _by_year(frame):
    """One row per year: the rate and 95% CI of the authority and each comparator."""
    rows = []
    for year, group in frame.groupby("year"):
        cells = {r.series: r for r in group.itertuples()}
        rows.append({"year": year, "cells": [cells.get(s) for s in SERIES]})
    return rows


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
    response = HttpResponse(analysis.year_funnel(year).to_frame().to_csv(index=False),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="funnel-{year}.csv"'
    return response
