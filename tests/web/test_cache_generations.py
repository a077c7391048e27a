"""The page cache's generation keys in Redis expire (one key per tag, a tag per intervention slug:
without an expiry Redis would grow with every slug ever edited), far later than any page filed
under them, and are given their full expiry again when read or renewed. A generation that expired
only ever causes cache misses: the page is rendered afresh, and an edit after that is still seen.
Redis only (generations in files, without Redis, are one small file per tag on disk)."""

import uuid

import pytest
from django.test import override_settings

from whatworks.web.store import page_cache as pc
from whatworks.web.store.models import Intervention

from .test_cache import REDIS_URL, queries_for, redis_cache_settings

pytestmark = pytest.mark.django_db

PAGE = "/interventions/family-group-conferences/"
TAG = pc.intervention_tag("family-group-conferences")


@pytest.fixture
def redis_pages(monkeypatch):
    """``pc.PAGES`` on a Redis of its own key prefix, and a raw client to look at its keys."""
    import redis

    monkeypatch.setattr(pc, "_in_transaction", lambda: False)
    settings = redis_cache_settings()
    client = redis.Redis.from_url(REDIS_URL)
    with override_settings(CACHES={"default": settings}):
        pages = pc.PageCache()
        monkeypatch.setattr(pc, "PAGES", pages)
        assert pages.shared
        yield pages, client, (lambda tag: pages.cache.make_and_validate_key(pages._tag_key(tag)))
    for key in client.scan_iter(f"{settings['KEY_PREFIX']}:*"):
        client.delete(key)


def test_every_generation_key_a_page_reads_or_a_change_renews_has_an_expiry(client, redis_pages):
    pages, redis, key = redis_pages
    assert client.get(PAGE).status_code == 200
    tags = [pc.ALL, pc.ANY, TAG]
    for tag in tags:
        ttl = redis.ttl(key(tag))
        assert pc.generation_seconds() - 60 < ttl <= pc.generation_seconds(), (tag, ttl)
    pages.bump([TAG, pc.LISTS])
    for tag in (*tags, pc.LISTS):
        assert redis.ttl(key(tag)) > pc.generation_seconds() - 60, tag


def test_the_expiry_outlives_any_page_by_far():
    assert pc.generation_seconds() >= 30 * 24 * 3600
    with override_settings(WHATWORKS_PAGE_CACHE_SECONDS=7 * 24 * 3600):
        assert pc.generation_seconds() == 100 * 7 * 24 * 3600
    with override_settings(WHATWORKS_PAGE_CACHE_SECONDS=0):  # the cache off: still an expiry
        assert pc.generation_seconds() == pc.GENERATION_SECONDS


def test_a_generation_read_is_given_its_full_expiry_again(client, redis_pages):
    pages, redis, key = redis_pages
    client.get(PAGE)
    redis.expire(key(TAG), 100)  # close to expiring
    client.get(PAGE)
    assert redis.ttl(key(TAG)) <= 100  # refreshed at most once per eighth of the expiry ...
    pages.refreshed.clear()  # ... which has passed
    assert queries_for(client, PAGE)[1] == 0  # still the same generation: a hit
    assert redis.ttl(key(TAG)) > pc.generation_seconds() - 60


def test_an_expired_generation_means_a_fresh_page_and_a_later_edit_is_still_seen(
        client, redis_pages, django_capture_on_commit_callbacks):
    pages, redis, key = redis_pages
    first = client.get(PAGE).content
    assert queries_for(client, PAGE)[1] == 0
    Intervention.objects.filter(slug="family-group-conferences").update(
        summary="Changed behind the cache's back.")  # no signal: only the expiry can show it
    old = redis.get(key(TAG))
    redis.delete(key(TAG))  # expired (Redis drops an expired key exactly so)
    page, n = queries_for(client, PAGE)
    assert n > 0 and "Changed behind the cache" in page.content.decode() and page.content != first
    assert redis.get(key(TAG)) not in (None, old)  # a new generation, with its expiry
    assert redis.ttl(key(TAG)) > pc.generation_seconds() - 60
    assert queries_for(client, PAGE)[1] == 0  # and kept under it
    live = Intervention.objects.get(slug="family-group-conferences")
    live.summary = f"An edit after the expiry {uuid.uuid4().hex[:6]}."
    with django_capture_on_commit_callbacks(execute=True):
        live.save()
    assert live.summary in client.get(PAGE).content.decode()
