"""Public pages of the Evidence Store: short views that query and render (no statistics here).

Pages for readers who are not signed in are kept in a page cache (``PageCache``) that any change
to the store's content empties.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from functools import wraps
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from . import services
from .models import Intervention, Rating, RatingChange, Synthesis
from .queries import (
    LISTED_FIELDS,
    Filters,
    facet_choices,
    filter_interventions,
    framework,
    get_intervention,
    visible_interventions,
    with_rating_badges,
    with_ratings,
)
from .scales import EFFECTIVENESS_LEVELS, STRENGTH_LEVELS

log = logging.getLogger(__name__)


class PageCache:
    """Rendered public pages, in this process's memory, tagged with the store's content generation.

    The generation is a token in a file in the data directory. Every save or delete of store
    content replaces it once its transaction commits (in any process on this host that has loaded
    these views), so every process sees the change on its next request and renders afresh. Pages
    also expire after ``WHATWORKS_PAGE_CACHE_SECONDS`` (default 60; 0 turns the cache off): the
    bound on staleness after a change made by a process that never loaded these views.
    """

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple[float, bytes, bytes, str]] = OrderedDict()
        self._size = 0
        self._generation = b""
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return Path(settings.DATA_DIR) / "page-cache-generation"

    def generation(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""

    def bump(self) -> None:
        """Start a new generation: every process renders its pages afresh."""
        path = self.path
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            tmp.write_bytes(uuid.uuid4().hex.encode())
            os.replace(tmp, path)
        except OSError as exc:  # other processes keep their pages until they expire
            log.error("could not renew the page cache generation in %s: %s", path, exc)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._size = 0

    def get(self, key: str, generation: bytes) -> tuple[bytes, str] | None:
        with self._lock:
            if generation != self._generation:  # the content changed: drop every page
                self._pages.clear()
                self._size = 0
                self._generation = generation
                return None
            entry = self._pages.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic() or entry[1] != generation:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return entry[2], entry[3]

    def put(self, key: str, generation: bytes, content: bytes, content_type: str,
            seconds: float) -> None:
        size = len(key) + len(content)
        if size > self.max_bytes // 16:
            return
        with self._lock:
            if generation != self._generation:  # rendered before a change: not kept
                return
            self._drop(key)
            self._pages[key] = (time.monotonic() + seconds, generation, content, content_type)
            self._size += size
            while self._size > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: str) -> None:
        entry = self._pages.pop(key, None)
        if entry is not None:
            self._size -= len(key) + len(entry[2])


PAGES = PageCache()


def _content_changed(sender, using=None, **kwargs):
    transaction.on_commit(PAGES.bump, using=using)


for _model in apps.get_app_config("store").get_models():
    post_save.connect(_content_changed, sender=_model, dispatch_uid=f"pages-save-{_model.__name__}")
    post_delete.connect(_content_changed, sender=_model,
                        dispatch_uid=f"pages-delete-{_model.__name__}")


def _in_transaction() -> bool:
    return connection.in_atomic_block


def _reader(request) -> bool:
    """A reader whose page does not depend on who they are: not signed in, no session, no
    pending messages."""
    return (request.method == "GET" and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and "messages" not in request.COOKIES and not request.user.is_authenticated)


def cached_for_readers(view):
    """Serve the page from the page cache to readers who are not signed in (see PageCache)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        seconds = getattr(settings, "WHATWORKS_PAGE_CACHE_SECONDS", 60)
        if not seconds or _in_transaction() or not _reader(request):
            return view(request, *args, **kwargs)
        key = request.get_full_path()
        generation = PAGES.generation()
        hit = PAGES.get(key, generation)
        if hit is not None:
            return HttpResponse(hit[0], content_type=hit[1])
        response = view(request, *args, **kwargs)
        if (response.status_code == 200 and not response.streaming and not response.cookies
                and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
                and "private" not in response.get("Cache-Control", "")
                and "no-store" not in response.get("Cache-Control", "")
                and not _in_transaction()):
            PAGES.put(key, generation, response.content, response["Content-Type"], seconds)
        return response
    return wrapper


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
@cached_for_readers
def intervention_index(request):
    filters = Filters.from_query(request.GET)
    qs = with_rating_badges(filter_interventions(visible_interventions(request.user), filters))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "store/index.html", {
        "page": page, "filters": filters, "facets": facet_choices(), "query": query.urlencode(),
        "effectiveness_levels": EFFECTIVENESS_LEVELS, "strength_levels": STRENGTH_LEVELS,
    })


@require_GET
@cached_for_readers
def intervention_detail(request, slug):
    intervention, new_slug = get_intervention(request.user, slug)
    if new_slug:
        return redirect("store:intervention", slug=new_slug, permanent=True)
    ratings = Rating.objects.filter(intervention=intervention).select_related(
        "outcome", "outcome__domain").defer("inputs")
    syntheses = {s.outcome_id: s for s in Synthesis.objects.filter(intervention=intervention)
                 .only("outcome_id", "measure", "k")}
    studies = intervention.studies.all()
    return render(request, "store/intervention.html", {
        "intervention": intervention,
        "rows": [(r, syntheses.get(r.outcome_id)) for r in ratings],
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
@cached_for_readers
def outcomes(request):
    return render(request, "store/outcomes.html", {"domains": framework()})


@require_GET
@cached_for_readers
def compare(request):
    slugs = [s for s in request.GET.getlist("i") if s][:3]
    chosen = list(with_ratings(visible_interventions(request.user).filter(slug__in=slugs)))
    chosen.sort(key=lambda i: slugs.index(i.slug))
    outcome_set = {}
    for intervention in chosen:
        for rating in intervention.ratings.all():
            outcome_set[rating.outcome_id] = rating.outcome
    table = [(o, [next((r for r in i.ratings.all() if r.outcome_id == o.id), None)
                  for i in chosen]) for o in outcome_set.values()]
    return render(request, "store/compare.html", {
        "chosen": chosen, "table": table,
        "all": visible_interventions(request.user).only("slug", "name").order_by("name"),
        "slots": [(n + 1, slugs[n] if n < len(slugs) else "") for n in range(3)],
    })


@require_GET
@cached_for_readers
def methods(request):
    from whatworks.ratings.crosswalk import CAVEAT
    from whatworks.ratings.schemes import get_scheme

    scheme = get_scheme()
    return render(request, "store/methods.html", {
        "scheme": scheme, "rules": scheme.describe_rules(), "crosswalk_caveat": CAVEAT})


def published_count() -> int:
    return Intervention.objects.filter(status=Intervention.PUBLISHED).count()
