"""Public pages of the Evidence Store: short views that query and render (no statistics here).

Pages for readers who are not signed in are kept in a page cache (``PageCache``), each filed under
what it shows (``page_cache``'s tags): a change to one intervention empties its own pages and the
lists, not the other interventions' pages.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from . import page_cache, services
from .models import Rating, RatingChange, Synthesis
from .page_cache import cached_for_readers
from .queries import (
    LISTED_FIELDS,
    SORT_LABELS,
    Filters,
    facet_choices,
    framework,
    get_intervention,
    search_interventions,
    visible_interventions,
    with_rating_badges,
    with_ratings,
)
from .scales import EFFECTIVENESS_LEVELS, STRENGTH_LEVELS


@require_GET
@cached_for_readers
def home(request):
    published = visible_interventions(None)
    return render(request, "store/home.html", {
        "count": published.count(),
        "recent": published.only(*LISTED_FIELDS).order_by("-updated")[:6],
        "domains": framework(),
    })


@require_GET
@cached_for_readers(depends=page_cache.listing)
def intervention_index(request):
    filters = Filters.from_query(request.GET)
    qs, found = search_interventions(visible_interventions(request.user), filters)
    page = Paginator(with_rating_badges(qs), 25).get_page(request.GET.get("page"))
    page_cache.shows(request, [i.slug for i in page])
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "store/index.html", {
        "page": page, "filters": filters, "facets": facet_choices(), "query": query.urlencode(),
        "effectiveness_levels": EFFECTIVENESS_LEVELS, "strength_levels": STRENGTH_LEVELS,
        "sort_labels": SORT_LABELS, "found": found, "other_filters": filters.narrowed,
        "corrections": sorted({typed: used for typed, used in found.query.corrections}.items())
        if found else [],
    })


@require_GET
@cached_for_readers(depends=page_cache.one_intervention)
def intervention_detail(request, slug):
    intervention, new_slug = get_intervention(request.user, slug)
    if new_slug:
        return redirect("store:intervention", slug=new_slug, permanent=True)
    ratings = Rating.objects.filter(intervention=intervention).select_related(
        "outcome", "outcome__domain").defer("inputs")
    syntheses = {s.outcome_id: s for s in Synthesis.objects.filter(intervention=intervention)
                 .only("intervention_id", "outcome_id", "measure", "k", "participants", "method",
                       "result")}
    studies = intervention.studies.all()
    crosswalk = []
    if request.GET.get("crosswalk") == "1":  # opt-in, and for the programme as a whole only
        from whatworks.ratings.crosswalk import PROGRAMME_CAVEAT, programme_crosswalk

        crosswalk = programme_crosswalk({r.outcome.name: r.crosswalk for r in ratings})
    return render(request, "store/intervention.html", {
        "intervention": intervention, "crosswalk": crosswalk,
        "crosswalk_caveat": PROGRAMME_CAVEAT if crosswalk else "",
        "rows": [(r, s, services.forest_table(s) if services.has_forest(s) else None)
                 for r in ratings for s in [syntheses.get(r.outcome_id)]],
        "studies": studies,
        "illustrative": any(s.illustrative for s in studies),
        "history": RatingChange.objects.filter(intervention=intervention).select_related(
            "outcome")[:50],
    })


@require_GET
def forest_svg(request, slug, outcome):
    intervention, new_slug = get_intervention(request.user, slug)
    if new_slug:
        return redirect("store:forest", slug=new_slug, outcome=outcome, permanent=True)
    synthesis = Synthesis.objects.filter(intervention=intervention, outcome__slug=outcome) \
        .select_related("outcome").first()
    svg = services.forest_svg(synthesis) if synthesis is not None else ""
    if not svg:
        raise Http404("No forest plot for this outcome")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@cached_for_readers(depends=page_cache.shared_only)
def outcomes(request):
    return render(request, "store/outcomes.html", {"domains": framework()})


def _compared(request) -> list[str]:
    return [s for s in request.GET.getlist("i") if s][:3]


def _compare_depends(request, **kwargs) -> list[str]:
    """The compared interventions' pages, and the choice of every intervention's name."""
    return [page_cache.NAMES, *map(page_cache.intervention_tag, _compared(request))]


@require_GET
@cached_for_readers(depends=_compare_depends)
def compare(request):
    slugs = _compared(request)
    chosen = list(with_ratings(visible_interventions(request.user).filter(slug__in=slugs)))
    chosen.sort(key=lambda i: slugs.index(i.slug))
    outcome_set = {}
    for intervention in chosen:
        for rating in intervention.ratings.all():
            outcome_set[rating.outcome_id] = rating.outcome
    table = [(o, [next((r for r in i.ratings.all() if r.outcome_id == o.id), None)
                  for i in chosen]) for o in outcome_set.values()]
    choices = _compare_choices(request.user)
    return render(request, "store/compare.html", {
        "chosen": chosen, "table": table, "any_gap": any(i.evidence_gap for i in chosen),
        "slots": [(n + 1, _options(choices, slugs[n] if n < len(slugs) else ""))
                  for n in range(3)],
    })


def _compare_choices(user) -> list[tuple[str, str, str]]:
    """Every visible intervention as the two halves of its escaped ``<option>``, in name order."""
    return [(slug, f'<option value="{escape(slug)}"', f">{escape(name)}</option>")
            for slug, name in visible_interventions(user).order_by("name").values_list("slug", "name")]


def _options(choices, selected: str) -> str:
    """The compare form's options for one slot, as the template rendered them (three slots of
    1,000 interventions cost the template ~30 ms of CPU; this is a join)."""
    return mark_safe("".join(  # noqa: S308 - every value escaped in _compare_choices
        f"{head}{' selected' if slug == selected else ''}{tail}" for slug, head, tail in choices))


@require_GET
@cached_for_readers(depends=page_cache.shared_only)
def methods(request):
    from whatworks.ratings.crosswalk import CAVEAT
    from whatworks.ratings.schemes import get_scheme, list_schemes

    scheme = get_scheme()
    earlier = [s for s in list_schemes() if s.scheme_id == scheme.scheme_id and s is not scheme]
    return render(request, "store/methods.html", {
        "scheme": scheme, "rules": scheme.describe_rules(), "crosswalk_caveat": CAVEAT,
        "parameters": scheme.parameter_rows(earlier[-1] if earlier else None),
        "earlier": earlier[-1] if earlier else None})

