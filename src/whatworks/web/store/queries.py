"""Read-side queries shared by the public pages and the API (one place decides what is public)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404

from ..accounts.roles import is_editor
from .models import Domain, Intervention, Outcome, Rating, SlugRedirect, Study

SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "updated": ("-updated", "name"),
    "cost": ("cost_band", "name"),
}


def visible_interventions(user) -> QuerySet[Intervention]:
    """Published interventions for everyone; drafts too for editors."""
    qs = Intervention.objects.all()
    if not (user is not None and is_editor(user)):
        qs = qs.filter(status=Intervention.PUBLISHED)
    return qs


def get_intervention(user, slug: str) -> tuple[Intervention | None, str | None]:
    """The intervention for a slug, or (None, new_slug) when the slug is an old one; 404 otherwise.

    One access helper decides 404: drafts are invisible (404, not 403) to the public.
    """
    qs = visible_interventions(user)
    found = qs.filter(slug=slug).select_related("review").first()
    if found is not None:
        return found, None
    redirect = SlugRedirect.objects.filter(old_slug=slug).select_related("intervention").first()
    if redirect is not None and qs.filter(pk=redirect.intervention_id).exists():
        return None, redirect.intervention.slug
    raise Http404("No such intervention")


@dataclass(frozen=True)
class Filters:
    """Validated index filters (unknown values are ignored, never passed to SQL as text)."""

    q: str = ""
    outcome: str = ""
    domain: str = ""
    effectiveness: str = ""
    strength: int | None = None
    cost_band: int | None = None
    population: str = ""
    setting: str = ""
    design: str = ""
    uk: bool = False
    sort: str = "name"

    @classmethod
    def from_query(cls, params) -> Filters:
        # NUL bytes cannot be stored or searched in PostgreSQL text; they are never meaningful
        params = {k: str(v).replace("\x00", "") for k, v in params.items()}

        def as_int(name, lo, hi):
            try:
                value = int(params.get(name, ""))
            except (TypeError, ValueError):
                return None
            return value if lo <= value <= hi else None

        from .scales import EFFECTIVENESS_CODES

        effectiveness = (params.get("effectiveness") or "").strip()
        if effectiveness not in EFFECTIVENESS_CODES:
            value = as_int("effectiveness", -2, 2)
            effectiveness = str(value) if value is not None else ""
        sort = params.get("sort", "name")
        return cls(q=(params.get("q") or "").strip()[:200],
                   outcome=(params.get("outcome") or "")[:80],
                   domain=(params.get("domain") or "")[:80],
                   effectiveness=effectiveness,
                   strength=as_int("strength", 0, 4),
                   cost_band=as_int("cost_band", 1, 5),
                   population=(params.get("population") or "")[:80],
                   setting=(params.get("setting") or "")[:80],
                   design=(params.get("design") or "")[:20],
                   uk=params.get("uk") in ("1", "on", "true"),
                   sort=sort if sort in SORTS else "name")

    @property
    def active(self) -> bool:
        return any([self.q, self.outcome, self.domain, self.effectiveness,
                    self.strength is not None, self.cost_band, self.population, self.setting,
                    self.design, self.uk])


def filter_interventions(qs: QuerySet[Intervention], f: Filters) -> QuerySet[Intervention]:
    """Apply index filters with ORM lookups only (parameterised SQL; no text is interpolated).

    Filters on ratings and studies are ``EXISTS`` subqueries (one rating must match all the rating
    filters together), so no join multiplies rows and no ``DISTINCT`` over wide rows is needed.
    """
    if f.q:
        for word in f.q.lower().split()[:8]:
            qs = qs.filter(search_text__contains=word)
    rating = {}
    if f.outcome:
        rating["outcome__slug"] = f.outcome
    if f.domain:
        rating["outcome__domain__slug"] = f.domain
    if f.effectiveness.lstrip("-").isdigit():
        rating["effectiveness"] = int(f.effectiveness)
    elif f.effectiveness:
        rating["effectiveness_state"] = f.effectiveness
    if f.strength is not None:
        rating["strength"] = f.strength
    if rating:
        qs = qs.filter(Exists(Rating.objects.filter(intervention=OuterRef("pk"), **rating)))
    if f.cost_band:
        qs = qs.filter(cost_band=f.cost_band)
    if f.population:
        qs = qs.filter(search_text__contains=f.population.lower())
    if f.setting:
        qs = qs.filter(search_text__contains=f.setting.lower())
    if f.design:
        qs = qs.filter(Exists(Study.objects.filter(intervention=OuterRef("pk"), design=f.design)))
    if f.uk:
        qs = qs.filter(uk_evidence=True)
    return qs.order_by(*SORTS[f.sort])


def with_ratings(qs: QuerySet[Intervention]) -> QuerySet[Intervention]:
    return qs.prefetch_related(
        Prefetch("ratings", queryset=Rating.objects.select_related("outcome", "outcome__domain")))


# What a result in the index shows: the intervention's name, summary and cost, and per rating the
# outcome and the two badges (not the explanation, inputs or cross-walk, which are large).
LISTED_FIELDS = ("slug", "name", "status", "summary", "cost_band", "updated")
BADGE_FIELDS = ("intervention", "outcome", "outcome__slug", "outcome__name", "effectiveness",
                "effectiveness_label", "effectiveness_state", "strength", "strength_label", "statement",
                "outcome__direction")


def with_rating_badges(qs: QuerySet[Intervention]) -> QuerySet[Intervention]:
    """Interventions as the index lists them: the fields shown, and their ratings' badges."""
    return qs.only(*LISTED_FIELDS).prefetch_related(Prefetch(
        "ratings", queryset=Rating.objects.select_related("outcome").only(*BADGE_FIELDS)))


def framework() -> QuerySet[Domain]:
    return Domain.objects.prefetch_related(Prefetch("outcomes", queryset=Outcome.objects.all()))


def facet_choices() -> dict:
    """Values offered in the index filters."""
    return {
        "outcomes": Outcome.objects.select_related("domain"),
        "domains": Domain.objects.all(),
        "designs": Study.DESIGNS,
        "cost_bands": Intervention.COST_BANDS,
    }
