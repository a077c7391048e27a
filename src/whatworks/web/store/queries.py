"""Read-side queries shared by the public pages and the API (one place decides what is public)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.http import Http404

from ..accounts.roles import is_editor
from .models import Domain, Intervention, Outcome, Rating, SlugRedirect, Study

# Orders of the index. "relevance" needs a search (``q``); "rating" needs an outcome (the rating on
# that outcome, best effectiveness first, then strongest evidence). Names sort case-insensitively.
SORTS = {
    "relevance": (),
    "name": (Lower("name"), "slug"),
    "-name": (Lower("name").desc(), "-slug"),
    "updated": ("-updated", Lower("name"), "slug"),
    "cost": ("cost_band", Lower("name"), "slug"),
    "rating": (),
}
# The page's choices: the first ("") is the default, best match with a search and name without.
SORT_LABELS = [("", "Best match (A to Z without a search)"), ("name", "Name (A to Z)"),
               ("-name", "Name (Z to A)"), ("updated", "Recently updated"),
               ("cost", "Cost (lowest first)"), ("rating", "Rating on the chosen outcome")]


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
    sort_problem: str = ""      # why the sort asked for could not be used (said to the reader)
    sort_asked: str = ""        # the sort as asked for ("" for the default), to redisplay it

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
        q = (params.get("q") or "").strip()[:200]
        outcome = (params.get("outcome") or "")[:80]
        asked = params.get("sort") or ""
        sort = asked or ("relevance" if q else "name")
        problem = ""
        if sort not in SORTS:
            problem = f"unknown sort '{sort[:40]}': use one of {', '.join(SORTS)}"
        elif sort == "relevance" and not q:
            problem = "sort=relevance needs a search (q)"
        elif sort == "rating" and not outcome:
            problem = "sort=rating needs an outcome (outcome=<slug>) to rate on"
        if problem:
            sort = "relevance" if q else "name"
        return cls(q=q, outcome=outcome,
                   domain=(params.get("domain") or "")[:80],
                   effectiveness=effectiveness,
                   strength=as_int("strength", 0, 4),
                   cost_band=as_int("cost_band", 1, 5),
                   population=(params.get("population") or "")[:80],
                   setting=(params.get("setting") or "")[:80],
                   design=(params.get("design") or "")[:20],
                   uk=params.get("uk") in ("1", "on", "true"),
                   sort=sort, sort_problem=problem, sort_asked="" if problem else asked)

    @property
    def active(self) -> bool:
        return bool(self.q) or self.narrowed

    @property
    def narrowed(self) -> bool:
        """Whether a filter other than the search is set (only then is "try fewer filters" advice)."""
        return self.narrowed_count > 0

    @property
    def narrowed_count(self) -> int:
        """How many filters other than the search are set (the "Filters (n active)" button)."""
        return sum(map(bool, [self.outcome, self.domain, self.effectiveness,
                              self.strength is not None, self.cost_band, self.population,
                              self.setting, self.design, self.uk]))


def filter_interventions(qs: QuerySet[Intervention], f: Filters) -> QuerySet[Intervention]:
    """The interventions matching the filters and search, in the order asked for."""
    return search_interventions(qs, f)[0]


def search_interventions(qs: QuerySet[Intervention], f: Filters):
    """Apply index filters with ORM lookups only (parameterised SQL; no text is interpolated), then
    the search (``whatworks.web.store.search``), then the order; also returns the search result
    (None without ``q``) for "did you mean" and partial-match notices.

    Filters on ratings and studies are ``EXISTS`` subqueries (one rating must match all the rating
    filters together), so no join multiplies rows and no ``DISTINCT`` over wide rows is needed.
    """
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
    result = None
    if f.q:
        from .search import search

        result = search(qs.values_list("pk", flat=True), f.q)
        ranked = result.keys
        qs = qs.filter(pk__in=ranked)
        if f.sort == "relevance":
            return qs.order_by(_position(ranked), "slug"), result
    if f.sort == "rating":
        from .scales import EFFECTIVENESS_LEVELS

        mine = Rating.objects.filter(intervention=OuterRef("pk"), outcome__slug=f.outcome)
        levels = [code for code, _ in EFFECTIVENESS_LEVELS]
        best_first = Case(*[When(rated_state=code, then=Value(i)) for i, code in enumerate(levels)],
                          default=Value(len(EFFECTIVENESS_LEVELS)), output_field=IntegerField())
        qs = qs.annotate(rated_state=Subquery(mine.values("effectiveness_state")[:1]),
                         rated_strength=Subquery(mine.values("strength")[:1]))
        return qs.order_by(best_first, F("rated_strength").desc(nulls_last=True), Lower("name"),
                           "slug"), result
    return qs.order_by(*SORTS[f.sort] or SORTS["name"]), result


def _position(ranked: list) -> RawSQL | Value:
    """An ORDER BY expression: each intervention's place in ``ranked``. One SQL ``CASE`` written
    directly: Django's ``Case(When(...))`` costs ~0.3 ms per branch to compile (100 ms for 334
    results). The values are primary keys read from the database and cast with ``int``, so no text
    from a request reaches the SQL."""
    if not ranked:
        return Value(0)
    ops = connection.ops
    column = f"{ops.quote_name(Intervention._meta.db_table)}.{ops.quote_name(Intervention._meta.pk.column)}"
    whens = " ".join(f"WHEN {int(pk)} THEN {i}" for i, pk in enumerate(ranked))
    return RawSQL(f"CASE {column} {whens} ELSE {len(ranked)} END", [], output_field=IntegerField())


def with_ratings(qs: QuerySet[Intervention]) -> QuerySet[Intervention]:
    return qs.prefetch_related(
        Prefetch("ratings", queryset=Rating.objects.select_related("outcome", "outcome__domain")))


# What a result in the index shows: the intervention's name, summary and cost, and per rating the
# outcome and the two badges (not the explanation, inputs or cross-walk, which are large).
LISTED_FIELDS = ("slug", "name", "status", "summary", "cost_band", "updated", "evidence_gap")
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
