"""The page cache of the public pages: readers who are not signed in get pages from the cache; a
committed change to the store's content shows on the next page they load, whichever process (or,
with Redis, whichever host) made it; signed-in users never get or leave cached pages; nothing else
is kept. Every test runs on both backends: this process's memory and Redis (WHATWORKS_CACHE_URL).
What each change renews, page by page: test_cache_scope.py."""

import time
import uuid

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from whatworks.web.store import page_cache as views
from whatworks.web.store import services
from whatworks.web.store.models import Finding, Intervention, Outcome, Study

pytestmark = pytest.mark.django_db

PAGE = "/interventions/family-group-conferences/"


#: The Redis the tests use (scripts/services.sh starts one on this machine); a database of its own.
REDIS_URL = "redis://127.0.0.1:6379/9"


def redis_cache_settings():
    """Django's cache settings for Redis, with a key prefix of this run's own; skips (a failure
    under CI, WHATWORKS_NO_SKIP=1) when no Redis server answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server at {REDIS_URL} (scripts/services.sh starts one): {exc}")
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"whatworks-test-{uuid.uuid4().hex}"}


@pytest.fixture(autouse=True, params=["memory", "redis"])
def pages(request, monkeypatch):
    """An empty cache per test, on each backend. pytest-django runs each test inside a transaction,
    which the cache rightly never uses; here it stands for the autocommit a real request runs in."""
    monkeypatch.setattr(views, "_in_transaction", lambda: False)
    caches = {"default": redis_cache_settings()} if request.param == "redis" else None
    with override_settings(**({"CACHES": caches} if caches else {})):
        assert views.PAGES.shared == (request.param == "redis")
        views.PAGES.clear()
        yield views.PAGES
        views.PAGES.clear()
        if views.PAGES.shared:  # this run's keys: generations expire in 30 days, pages within 61 s
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{caches['default']['KEY_PREFIX']}:*"):
                client.delete(key)


def cached(pages, url):
    """Whether the page at ``url`` is in the cache under the current generations of its tags."""
    request = RequestFactory().get(url)
    match = resolve(request.path_info)
    generation = pages.generation(views.tags_of(match.func, request, match.kwargs))
    return pages.get(request.get_full_path(), generation) is not None


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return response, len(captured)


@pytest.mark.parametrize("url", [PAGE, "/", "/interventions/", "/interventions/?q=schools",
                                 "/outcomes/", "/compare/?i=schwartz-rounds", "/methods/"])
def test_a_readers_second_visit_is_served_without_a_database_query(client, pages, url):
    first = client.get(url)
    assert first.status_code == 200 and cached(pages, url)
    second, n_second = queries_for(client, url)
    assert n_second == 0 and second.status_code == 200
    assert second.content == first.content


def test_a_cached_page_has_the_same_headers_as_a_fresh_one(client):
    first, second = client.get(PAGE), client.get(PAGE)
    assert dict(first.headers) == dict(second.headers)
    assert "Cookie" in second["Vary"] and second["Content-Security-Policy"]


def test_each_query_string_is_a_page_of_its_own(client):
    schools = client.get("/interventions/", {"q": "secondary schools"}).content.decode()
    families = client.get("/interventions/", {"q": "family network"}).content.decode()
    assert "Social workers in schools" in schools and "Social workers in schools" not in families


def test_a_saved_finding_shows_on_the_next_page_a_reader_loads(client,
                                                               django_capture_on_commit_callbacks):
    assert "Family functioning" not in client.get(PAGE).content.decode()
    finding = Finding(study=Study.objects.get(key="fgc-trial-2023"),
                      intervention=Intervention.objects.get(slug="family-group-conferences"),
                      outcome=Outcome.objects.get(slug="family-functioning"), measure="SMD",
                      timepoint_months=12, reported={"m1i": 52, "sd1i": 10, "n1i": 700,
                                                     "m2i": 50, "sd2i": 10, "n2i": 700})
    with django_capture_on_commit_callbacks(execute=True):
        services.save_finding(finding, reason="finding added by an editor")
    assert "Family functioning" in client.get(PAGE).content.decode()


def test_the_generation_is_renewed_only_once_the_change_commits(pages,
                                                                django_capture_on_commit_callbacks):
    tags = [views.intervention_tag("schwartz-rounds")]
    before, lists = pages.generation(tags), pages.generation([views.LISTS])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Intervention.objects.filter(slug="schwartz-rounds").get().save()
    assert pages.generation(tags) == before  # still uncommitted: readers keep the old pages
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()
    assert pages.generation(tags) != before and pages.generation([views.LISTS]) != lists


def test_a_change_committed_by_another_process_is_seen_at_once(client, pages):
    assert "A new summary" not in client.get(PAGE).content.decode()
    # another process: changes the row (no signal here) and renews the generation (the file on
    # this host, or the key in the shared cache)
    Intervention.objects.filter(slug="family-group-conferences").update(summary="A new summary.")
    if pages.shared:
        pages.cache.set(views.GENERATION_KEY, "renewed-by-another-process", timeout=None)
    else:
        pages.path.write_bytes(b"renewed-by-another-process")
    assert "A new summary" in client.get(PAGE).content.decode()


def test_an_edit_on_one_host_empties_every_hosts_pages_at_once(pages):
    """Two hosts (Redis) or two processes on one host (memory): two separate cache instances, as
    two servers would have, each with its own page cache; an edit on one empties the other's."""
    from django.core.cache.backends.locmem import LocMemCache
    from django.core.cache.backends.redis import RedisCache

    if pages.shared:
        params = {"KEY_PREFIX": pages.cache.key_prefix}
        host_a = views.PageCache(cache=RedisCache(REDIS_URL, params))
        host_b = views.PageCache(cache=RedisCache(REDIS_URL, params))
        assert host_a.cache._cache.get_client() is not host_b.cache._cache.get_client()
    else:
        host_a = views.PageCache(cache=LocMemCache(f"a-{uuid.uuid4().hex}", {}))
        host_b = views.PageCache(cache=LocMemCache(f"b-{uuid.uuid4().hex}", {}))
    generation = host_a.generation()
    assert host_b.generation() == generation
    host_a.put(PAGE, generation, b"<p>old</p>", "text/html", 60)
    assert host_a.get(PAGE, host_a.generation()) == (b"<p>old</p>", "text/html")
    if pages.shared:  # one cache for every host
        assert host_b.get(PAGE, host_b.generation()) == (b"<p>old</p>", "text/html")
    host_b.bump()  # an edit committed on host B
    assert host_a.generation() != generation
    assert host_a.get(PAGE, host_a.generation()) is None


def test_readers_never_get_a_page_rendered_for_an_editor(editor_client):
    reader = Client()
    Intervention.objects.create(slug="draft-idea", name="Draft idea", summary="Not yet public.")
    assert editor_client.get("/interventions/draft-idea/").status_code == 200
    assert "Draft idea" in editor_client.get("/interventions/").content.decode()
    assert reader.get("/interventions/draft-idea/").status_code == 404
    assert "Draft idea" not in reader.get("/interventions/").content.decode()


def test_editors_never_get_a_page_cached_for_readers(client, editor):
    Intervention.objects.create(slug="draft-idea", name="Draft idea", summary="Not yet public.")
    assert "Draft idea" not in client.get("/interventions/").content.decode()
    client.force_login(editor)
    assert "Draft idea" in client.get("/interventions/").content.decode()


def test_answers_other_than_200_are_not_kept(client):
    assert client.get("/interventions/newly-published/").status_code == 404
    Intervention.objects.create(slug="newly-published", name="Newly published", summary="New.",
                                status=Intervention.PUBLISHED)  # its commit is not run here
    assert client.get("/interventions/newly-published/").status_code == 200


@pytest.mark.parametrize("cookie", ["sessionid", "messages"])
def test_a_session_or_pending_messages_bypass_the_cache(client, cookie):
    client.cookies[cookie] = "something"
    client.get(PAGE)
    _, n = queries_for(client, PAGE)
    assert n > 0


def test_pages_rendered_inside_a_transaction_are_not_kept(client, monkeypatch):
    monkeypatch.undo()  # the real check: this test runs inside pytest-django's transaction
    client.get(PAGE)
    _, n = queries_for(client, PAGE)
    assert n > 0 and not cached(views.PAGES, PAGE)


def test_pages_expire_after_the_configured_time(client, pages):
    now = [1000.0]
    pages.clock = lambda: now[0]
    try:
        with override_settings(WHATWORKS_PAGE_CACHE_SECONDS=30):
            client.get(PAGE)
            now[0] += 29
            assert queries_for(client, PAGE)[1] == 0
            now[0] += 2
            assert queries_for(client, PAGE)[1] > 0
    finally:
        pages.clock = views.time.monotonic


@override_settings(WHATWORKS_PAGE_CACHE_SECONDS=0)
def test_the_cache_can_be_turned_off(client):
    client.get(PAGE)
    assert queries_for(client, PAGE)[1] > 0


def test_a_page_larger_than_the_bound_is_not_kept(pages):
    cache = views.PageCache(max_page_bytes=16_000)
    generation = cache.generation()
    cache.put("/small", generation, b"x" * 15_000, "text/html", 60)
    cache.put("/large", generation, b"x" * 16_001, "text/html", 60)
    assert cache.get("/small", generation) == (b"x" * 15_000, "text/html")
    assert cache.get("/large", generation) is None


class _CountingCache:
    """A stand-in shared cache (not this process's memory) counting its reads."""

    def __init__(self):
        self.data, self.reads = {}, 0

    def get(self, key, default=None):
        self.reads += 1
        return self.data.get(key, default)

    def set(self, key, value, timeout=None):
        self.data[key] = value

    def add(self, key, value, timeout=None):
        self.data.setdefault(key, value)


def test_pages_from_a_shared_cache_are_kept_in_this_process_within_a_byte_bound():
    shared = _CountingCache()
    pages = views.PageCache(cache=shared, local_bytes=2500)
    assert pages.shared
    for n in range(3):
        pages.put(f"/p{n}", "g1", b"x" * 1000, "text/html", 60)
    shared.reads = 0
    assert pages.get("/p2", "g1") == (b"x" * 1000, "text/html") and shared.reads == 0  # kept here
    assert pages.get("/p0", "g1") is not None and shared.reads == 1  # dropped here (2,500 bytes)
    assert pages.get("/p0", "g1") is not None and shared.reads == 1  # and kept again
    assert pages.get("/p2", "g2") is None  # another generation: never this process's old copy
    pages.clock = lambda: time.time() + 61
    assert pages.get("/p0", "g1") is None  # a kept copy expires when the shared one does
