"""The page cache's invalidation is scoped to what changed, and never stale.

For every cached view (the check below fails if a cached view has no URL here) and every kind of
change to the store, the first read after the change commits equals a page rendered afresh, on the
host that made the change and on another one (two cache clients: two Redis clients, or two
processes' memories sharing the data directory's generation files). A change to one intervention
leaves the other interventions' pages in the cache. Every test runs on both backends."""

import uuid
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.test import Client, RequestFactory, override_settings
from django.urls import get_resolver, resolve
from rest_framework.test import APIClient

from whatworks.web.store import changes, drafts, services
from whatworks.web.store import page_cache as pc
from whatworks.web.store.models import (
    Finding,
    Intervention,
    Outcome,
    Rating,
    Review,
    SlugRedirect,
    Study,
    Synthesis,
)

from .test_cache import REDIS_URL, redis_cache_settings

pytestmark = pytest.mark.django_db

FGC, SWIS, SR = "family-group-conferences", "social-workers-in-schools", "schwartz-rounds"


@pytest.fixture(params=["memory", "redis"])
def hosts(request, monkeypatch, settings):
    """Two hosts' page caches (A and B) on one backend; ``pc.PAGES`` is A's unless ``on(B)``."""
    monkeypatch.setattr(pc, "_in_transaction", lambda: False)
    settings.WHATWORKS_API_RATES = {"anon": None, "user": None}  # throttling has its own test
    prefix = f"whatworks-test-{uuid.uuid4().hex}"
    if request.param == "redis":
        settings = redis_cache_settings()
        made = [pc.PageCache(cache=RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})) for _ in "ab"]
    else:
        settings = None
        made = [pc.PageCache(cache=LocMemCache(f"{h}-{prefix}", {})) for h in "ab"]
    monkeypatch.setattr(pc, "PAGES", made[0])
    with override_settings(**({"CACHES": {"default": settings}} if settings else {})):
        made[0].clear()
        yield made
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


@contextmanager
def on(host):
    """Serve (and renew) through ``host``'s page cache."""
    before = pc.PAGES
    pc.PAGES = host
    try:
        yield
    finally:
        pc.PAGES = before


def ids() -> dict:
    fgc = Intervention.objects.get(slug=FGC)
    return {"finding": Finding.objects.filter(intervention=fgc).order_by("pk").first().pk,
            "synthesis": Synthesis.objects.filter(intervention=fgc).first().pk,
            "rating": Rating.objects.filter(intervention=fgc).first().pk}


#: One URL (at least) of every cached view; ``{finding}`` etc. filled in from ``ids()``.
URLS = [
    "/", "/interventions/", "/interventions/?q=family", "/interventions/?outcome=entry-to-care",
    "/interventions/?sort=-name", "/interventions/?sort=cost", "/interventions/?sort=updated",
    "/interventions/?uk=1&sort=cost", "/interventions/?design=qed",
    "/interventions/?outcome=section-47-enquiries", "/interventions/?population=children",
    "/interventions/?outcome=entry-to-care&sort=rating", "/interventions/?cost_band=5",
    "/interventions/?design=cohort", "/interventions/?outcome=family-functioning",
    f"/interventions/{FGC}/", f"/interventions/{SWIS}/",
    f"/interventions/{SR}/", "/outcomes/", "/methods/", "/compare/", f"/compare/?i={FGC}&i={SWIS}",
    f"/compare/?i={SR}", "/api/interventions", "/api/interventions?q=school",
    "/api/interventions?page_size=1&page=2", "/api/interventions?page_size=500",
    "/api/interventions?cost_band=1", "/api/interventions?outcome=entry-to-care&strength=2",
    "/api/interventions?sort=updated", "/api/interventions?setting=school",
    "/api/interventions?cost_band=5", "/api/interventions?outcome=family-functioning",
    "/api/interventions?uk=1&page_size=1&page=2",
    f"/api/interventions/{FGC}", f"/api/interventions/{SWIS}", "/api/outcomes",
    "/api/outcomes/entry-to-care", "/api/studies", "/api/studies/fgc-trial-2023",
    f"/api/studies?intervention={FGC}", "/api/findings", f"/api/findings?intervention={FGC}",
    "/api/findings/{finding}", "/api/syntheses", "/api/syntheses/{synthesis}", "/api/ratings",
    "/api/ratings?outcome=entry-to-care", "/api/ratings/{rating}",
]


def urls() -> list[str]:
    known = ids()
    return [u.format(**known) for u in URLS]


def _cached_views(resolver=None, seen=None) -> set:
    """Every view in the URL configuration that the page cache serves."""
    resolver = resolver or get_resolver()
    found = set() if seen is None else seen
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            _cached_views(pattern, found)
        elif hasattr(pattern.callback, "page_dependencies"):
            found.add(pattern.callback)
    return found


#: Pages of lists that a change can bring an intervention onto without it being there before
#: (what ``order`` is for; the rows a list shows renew it when they change).
JOINED = {"change_cost": "/api/interventions?cost_band=5", "change_design": "/interventions/?design=cohort",
          "add_finding": "/interventions/?outcome=family-functioning",
          "change_uk_evidence": "/api/interventions?uk=1&page_size=1&page=2"}


def test_every_cached_view_is_in_the_check():
    checked = {resolve(u.split("?")[0].format(finding=1, synthesis=1, rating=1)).func for u in URLS}
    missing = _cached_views() - checked
    assert not missing, f"cached views with no URL in URLS: {sorted(v.__name__ for v in missing)}"


def fresh(url: str) -> bytes:
    with override_settings(WHATWORKS_PAGE_CACHE_SECONDS=0):
        response = Client().get(url)
    return response.status_code, response.content


def cached(host, url: str) -> bool:
    request = RequestFactory().get(url)
    match = resolve(request.path_info)
    generation = host.generation(pc.tags_of(match.func, request, match.kwargs))
    return host.get(request.get_full_path(), generation) is not None


# -- the changes ------------------------------------------------------------------------------

def edit_summary(admin):
    fgc = Intervention.objects.get(slug=FGC)
    fgc.summary = "A new summary, edited."
    changes.save_intervention(fgc, user=admin)


def rename(admin):
    fgc = Intervention.objects.get(slug=FGC)
    fgc.name, fgc.slug = "Family group decision making", "family-group-decision-making"
    fgc.save()
    SlugRedirect.objects.create(old_slug=FGC, intervention=fgc)


def rename_without_a_redirect(admin):
    """(The old URL becomes a 404: its cached page must go.)"""
    fgc = Intervention.objects.get(slug=FGC)
    fgc.slug = "fgc"
    changes.save_intervention(fgc, user=admin)


def add_finding(admin):
    finding = Finding(study=Study.objects.get(key="fgc-trial-2023"),
                      intervention=Intervention.objects.get(slug=FGC),
                      outcome=Outcome.objects.get(slug="family-functioning"), measure="SMD",
                      timepoint_months=12, reported={"m1i": 52, "sd1i": 10, "n1i": 700,
                                                     "m2i": 50, "sd2i": 10, "n2i": 700})
    services.save_finding(finding, reason="finding added by an editor", user=admin)


def delete_study(admin):
    changes.delete_study(Study.objects.get(key="fgc-study-c"), user=admin)


def move_study(admin):
    rounds = Intervention.objects.get(slug=SR)
    rounds.evidence_gap = False  # a published evidence gap takes no finding with an effect
    changes.save_intervention(rounds, user=admin)
    study = Study.objects.get(key="fgc-study-b")
    study.intervention = rounds
    changes.save_study(study, user=admin)


def change_cost(admin):
    swis = Intervention.objects.get(slug=SWIS)
    swis.unit_cost_gbp = 5000  # band 1 -> 5
    changes.save_intervention(swis, user=admin)


def change_uk_evidence(admin):
    fgc = Intervention.objects.get(slug=FGC)
    fgc.uk_evidence = False
    changes.save_intervention(fgc, user=admin)


def change_design(admin):
    study = Study.objects.get(key="fgc-study-c")
    study.design = "cohort"
    changes.save_study(study, user=admin)


def change_population(admin):
    fgc = Intervention.objects.get(slug=FGC)
    fgc.population = ["children in care"]
    changes.save_intervention(fgc, user=admin)


def unpublish(admin):
    changes.set_status(Intervention.objects.get(slug=SWIS), Intervention.DRAFT, user=admin)


def delete_intervention(admin):
    changes.delete_intervention(Intervention.objects.get(slug=SWIS), user=admin)


def new_intervention(admin):
    Intervention.objects.create(slug="new-one", name="A new one", summary="Newly published.",
                                status=Intervention.PUBLISHED)


def rename_outcome(admin):
    outcome = Outcome.objects.get(slug="entry-to-care")
    outcome.name = "Entering care (renamed)"
    outcome.save()


def edit_review(admin):
    review = Review.objects.get(key="fgc-review")
    review.citation = "A corrected citation of the review."
    review.save()


def publish_through_the_api(admin):
    """The benchmark's edit: an administrator's PATCH (into the draft) and publish."""
    api = APIClient()
    api.force_authenticate(admin)
    assert api.patch(f"/api/interventions/{FGC}", {"summary": "Published through the API."},
                     format="json").status_code == 200
    assert api.post(f"/api/interventions/{FGC}/publish").status_code == 200


def publish_a_draft_rename(admin):
    fgc = Intervention.objects.get(slug=FGC)
    drafts.put_fields(fgc, {"name": "FGC renamed in a draft", "slug": "fgc-renamed"}, user=admin)
    drafts.publish(Intervention.objects.get(slug=FGC), user=admin)


CHANGES = [edit_summary, rename, rename_without_a_redirect, add_finding, change_cost,
           change_uk_evidence, change_design, change_population, delete_study, move_study, unpublish,
           delete_intervention, new_intervention, rename_outcome, edit_review,
           publish_through_the_api, publish_a_draft_rename]


#: (every change read on the other host; a few on the host that made them too)
READS = [(c, "other host") for c in CHANGES] + [
    (c, "same host") for c in (edit_summary, rename, add_finding, change_cost)]


@pytest.mark.parametrize(("change", "reader"), READS,
                         ids=[f"{c.__name__}-{r.split()[0]}" for c, r in READS])
def test_the_first_read_after_a_change_commits_is_never_stale(hosts, admin, change, reader,
                                                              django_capture_on_commit_callbacks):
    writer, other = hosts
    host = writer if reader == "same host" else other
    pages = urls()
    before = {}
    with on(host):
        for url in pages:  # warm: every page kept
            first = Client().get(url)
            assert first.status_code == 200, url
            assert cached(host, url), url
            before[url] = (first.status_code, first.content)
    with on(writer), django_capture_on_commit_callbacks(execute=True):
        change(admin)
    if change.__name__ in JOINED:  # the check covers a list the change adds a row to
        url = JOINED[change.__name__]
        assert fresh(url) != before[url], f"{change.__name__} does not change {url}"
    with on(host):
        for url in pages:
            seen = Client().get(url)
            assert (seen.status_code, seen.content) == fresh(url), f"{url} stale after {change.__name__}"


@pytest.mark.parametrize("change", [edit_summary, add_finding, publish_through_the_api],
                         ids=lambda c: c.__name__)
def test_a_change_to_one_intervention_keeps_the_others_pages(hosts, admin, change,
                                                             django_capture_on_commit_callbacks):
    writer, other = hosts
    kept = [f"/interventions/{SWIS}/", f"/interventions/{SR}/", f"/api/interventions/{SWIS}",
            "/outcomes/", "/methods/", "/api/outcomes", f"/compare/?i={SR}"]
    renewed = [f"/interventions/{FGC}/", f"/api/interventions/{FGC}", "/", "/interventions/",
               "/api/interventions", "/api/findings", f"/compare/?i={FGC}&i={SWIS}",
               "/interventions/?q=family", "/interventions/?sort=updated"]
    if change is edit_summary or change is publish_through_the_api:  # text only: lists that
        # do not show it and cannot gain it by a text change stay (they show other rows)
        kept += ["/interventions/?outcome=section-47-enquiries", "/api/interventions?cost_band=1",
                 "/api/interventions?page_size=1&page=3"]
    else:  # a new finding: ratings, which lists filter on
        renewed += ["/interventions/?outcome=section-47-enquiries", "/api/interventions?cost_band=1"]
    with on(other):
        for url in kept + renewed:
            Client().get(url)
    with on(writer), django_capture_on_commit_callbacks(execute=True):
        change(admin)
    assert [u for u in kept if not cached(other, u)] == []
    assert [u for u in renewed if cached(other, u)] == []


def test_nothing_is_renewed_before_the_commit_nor_by_a_rollback(hosts, admin,
                                                                django_capture_on_commit_callbacks):
    from django.db import transaction

    writer, _ = hosts
    page = f"/interventions/{FGC}/"
    with on(writer):
        Client().get(page)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            edit_summary(admin)
            assert cached(writer, page)  # not committed: readers keep the old page
            with pytest.raises(RuntimeError), transaction.atomic():  # a rolled-back savepoint
                edit = Intervention.objects.get(slug=SWIS)
                edit.summary = "Never committed."
                edit.save()
                raise RuntimeError
        assert callbacks and cached(writer, page)
        Client().get(f"/interventions/{SWIS}/")
        for callback in callbacks:
            callback()
        assert not cached(writer, page)
        assert cached(writer, f"/interventions/{SWIS}/")  # its change was rolled back


def test_a_rolled_back_transaction_renews_nothing(hosts, admin, django_capture_on_commit_callbacks):
    from django.db import transaction

    writer, _ = hosts
    page = f"/interventions/{FGC}/"
    with on(writer):
        Client().get(page)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                edit_summary(admin)
                raise RuntimeError
        assert callbacks == [] and cached(writer, page)


def test_one_commit_renews_each_tag_once(hosts, admin, django_capture_on_commit_callbacks,
                                         monkeypatch):
    """Many saves in one transaction (publishing a draft): each tag renewed once."""
    writer, _ = hosts
    renewals = []
    monkeypatch.setattr(writer, "bump", lambda tags=None: renewals.extend(tags))
    with on(writer), django_capture_on_commit_callbacks(execute=True) as callbacks:
        publish_through_the_api(admin)
    assert len(callbacks) > 1
    assert sorted(renewals) == sorted(set(renewals))
    assert set(renewals) == {pc.LISTS, pc.intervention_tag(FGC)}  # a text edit: no order


def test_an_import_renews_every_page(hosts, editor, django_capture_on_commit_callbacks):
    from whatworks.web.store import imports

    writer, _ = hosts
    with on(writer):
        Client().get("/methods/")
        rows = imports.validate_findings_csv(
            b"study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n"
            b"swis-2023,entry-to-care,RR,12,10,100,20,100\n")
        with django_capture_on_commit_callbacks(execute=True):
            imports.write_findings(rows, filename="f.csv", user=editor)
        assert not cached(writer, "/methods/")


def test_a_list_rendered_while_a_change_commits_is_not_kept(hosts):
    """A list page depending on the rows it shows reads their generations after rendering: if a
    renewal happened meanwhile (so a row may be newer than the page), the page is not kept."""
    from django.http import HttpResponse

    writer, _ = hosts

    def view(request):
        pc.shows(request, ["some-intervention"])
        if request.GET.get("edit"):
            pc.PAGES.bump([pc.intervention_tag("some-intervention")])  # committed meanwhile
        return HttpResponse(b"a list")

    wrapped = pc.cached_for_readers(view, depends=lambda request, **kw: [pc.ORDER])
    factory = RequestFactory()
    with on(writer):
        for url, kept in (("/list?edit=1", False), ("/list", True)):
            request = factory.get(url)
            request.user = AnonymousUser()
            request.COOKIES = {}
            assert wrapped(request).content == b"a list"
            request = factory.get(url)
            request.user = AnonymousUser()
            wrapped(request)
            assert (request.page_cache == "hit") is kept, url
        pc.PAGES.bump([pc.intervention_tag("other")])
        request = factory.get("/list")
        request.user = AnonymousUser()
        wrapped(request)
        assert request.page_cache == "hit"  # another row's change: kept
        pc.PAGES.bump([pc.intervention_tag("some-intervention")])
        request = factory.get("/list")
        request.user = AnonymousUser()
        wrapped(request)
        assert request.page_cache == "miss"  # its row's change: renewed


def test_a_list_page_that_names_no_rows_is_not_kept(hosts):
    from django.http import HttpResponse

    writer, _ = hosts
    wrapped = pc.cached_for_readers(lambda request: HttpResponse(b"x"),
                                    depends=lambda request, **kw: [pc.ORDER])
    with on(writer):
        for expected in ("miss", "miss"):
            request = RequestFactory().get("/unnamed")
            request.user = AnonymousUser()
            wrapped(request)
            assert request.page_cache == expected
