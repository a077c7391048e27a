"""A page cache for readers who are not signed in, emptied by any change to the store's content.

Kept in Django's cache framework: Redis shared by every host when ``WHATWORKS_CACHE_URL`` is set,
this process's memory otherwise. Connected in ``StoreConfig.ready()``, so every process that loads
the app (web server, API, editors, management commands) renews the content generation when it saves
or deletes store content.
"""

from __future__ import annotations

import hashlib
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
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse

log = logging.getLogger(__name__)

#: The key of the content generation in a shared cache.
GENERATION_KEY = "pages:generation"


class PageCache:
    """Rendered public pages in Django's cache, filed under the store's content generation.

    A page's key holds the generation it was rendered in, so starting a new generation empties the
    cache for everyone at once (old pages are never read again and expire). Where the generation is:

    - a shared cache (Redis, ``WHATWORKS_CACHE_URL``): a key in that cache, read on every request,
      so an edit on any host is seen by every host on its next request;
    - this process's memory (no ``WHATWORKS_CACHE_URL``): a token file in the data directory, so
      every process on this host sees an edit made by any other on its next request.

    Every save or delete of store content starts a new generation once its transaction commits (in
    any process that has loaded these views). Pages also expire after
    ``WHATWORKS_PAGE_CACHE_SECONDS`` (default 60; 0 turns the cache off): the bound on staleness
    after a change made by a process that never loaded these views.
    """

    def __init__(self, cache=None, max_page_bytes: int = 4 * 2**20,
                 local_bytes: int = 32 * 2**20):
        self._cache = cache  # None: Django's default cache, looked up when used
        self.max_page_bytes = max_page_bytes
        self.clock = time.time
        self._where = (None, "")  # (settings.DATA_DIR, the generation file's path) last used
        # With a shared cache: this process's copies of the pages it read or wrote there, newest
        # last, up to ``local_bytes`` of content. A page's key holds its generation, so a copy is
        # never stale: the generation is still read from the shared cache on every request.
        self.local_bytes = local_bytes
        self._local: OrderedDict[str, tuple] = OrderedDict()
        self._local_size = 0
        self._local_lock = threading.Lock()

    @property
    def cache(self):
        return self._cache if self._cache is not None else caches["default"]

    @property
    def shared(self) -> bool:
        """Whether the cache is shared by other processes and hosts (not this process's memory)."""
        return not isinstance(self.cache, LocMemCache)

    @property
    def path(self) -> Path:
        return Path(settings.DATA_DIR) / "page-cache-generation"

    def generation(self) -> str:
        """The current generation (read on every request: one cache read or one small file)."""
        if self.shared:
            current = self.cache.get(GENERATION_KEY)
            if current is None:  # never set, or evicted: start one (first writer wins)
                self.cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
                current = self.cache.get(GENERATION_KEY)
            return current or ""
        data_dir = settings.DATA_DIR
        if self._where[0] != data_dir:
            self._where = (data_dir, str(self.path))
        try:
            fd = os.open(self._where[1], os.O_RDONLY)
        except FileNotFoundError:
            return ""
        try:
            return os.read(fd, 256).decode("ascii", "replace")
        finally:
            os.close(fd)

    def bump(self) -> None:
        """Start a new generation: every process on every host renders its pages afresh."""
        token = uuid.uuid4().hex
        if self.shared:
            try:
                self.cache.set(GENERATION_KEY, token, timeout=None)
            except Exception as exc:  # noqa: BLE001 - the cache server is down: pages expire instead
                log.error("could not renew the page cache generation in the shared cache: %s", exc)
            return
        path = self.path
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            tmp.write_bytes(token.encode())
            os.replace(tmp, path)
        except OSError as exc:  # other processes keep their pages until they expire
            log.error("could not renew the page cache generation in %s: %s", path, exc)

    def clear(self) -> None:
        """Forget every page (a new generation)."""
        self.bump()

    @staticmethod
    def _key(key: str, generation: str) -> str:
        return f"pages:{generation}:{hashlib.sha256(key.encode()).hexdigest()}"

    def get(self, key: str, generation: str) -> tuple[bytes, str] | None:
        hashed = self._key(key, generation)
        entry = self._recall(hashed) if self.shared else None
        if entry is None:
            entry = self.cache.get(hashed)
            if entry is not None and self.shared:
                self._remember(hashed, entry)
        if entry is None or entry[0] < self.clock() or entry[1] != key:
            return None
        return entry[2], entry[3]

    def _recall(self, hashed: str):
        with self._local_lock:
            entry = self._local.get(hashed)
            if entry is not None:
                self._local.move_to_end(hashed)
            return entry

    def _remember(self, hashed: str, entry: tuple) -> None:
        size = len(entry[2]) + len(entry[1])
        if size > self.local_bytes:
            return
        with self._local_lock:
            old = self._local.pop(hashed, None)
            if old is not None:
                self._local_size -= len(old[2]) + len(old[1])
            self._local[hashed] = entry
            self._local_size += size
            while self._local_size > self.local_bytes:
                _, dropped = self._local.popitem(last=False)
                self._local_size -= len(dropped[2]) + len(dropped[1])

    def put(self, key: str, generation: str, content: bytes, content_type: str,
            seconds: float) -> None:
        if len(key) + len(content) > self.max_page_bytes:
            return
        hashed, entry = self._key(key, generation), (self.clock() + seconds, key, content, content_type)
        self.cache.set(hashed, entry, timeout=max(1, int(seconds) + 1))
        if self.shared:
            self._remember(hashed, entry)


PAGES = PageCache()


def _content_changed(sender, using=None, **kwargs):
    transaction.on_commit(PAGES.bump, using=using)


def connect_signals() -> None:
    """Renew the content generation whenever store content is saved or deleted."""
    for model in apps.get_app_config("store").get_models():
        if model.__name__ in ("Draft", "FormSubmission"):  # not what readers see
            continue
        post_save.connect(_content_changed, sender=model,
                          dispatch_uid=f"pages-save-{model.__name__}")
        post_delete.connect(_content_changed, sender=model,
                            dispatch_uid=f"pages-delete-{model.__name__}")


def _in_transaction() -> bool:
    return connection.in_atomic_block


def _reader(request) -> bool:
    """A reader whose page does not depend on who they are: not signed in, no session, no API
    token, no pending messages."""
    return (request.method == "GET" and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and "messages" not in request.COOKIES and "HTTP_AUTHORIZATION" not in request.META
            and not request.user.is_authenticated)


#: Headers a cached page keeps besides its content type (the API's list totals and links).
KEPT_HEADERS = ("X-Total-Count", "Link", "Allow", "Vary", "X-Search-Complete", "X-Search-Suggestions")


def cached_for_readers(view):
    """Serve the page from the page cache to readers who are not signed in (see PageCache)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        seconds = getattr(settings, "WHATWORKS_PAGE_CACHE_SECONDS", 60)
        if not seconds or _in_transaction() or not _reader(request):
            return view(request, *args, **kwargs)
        key = request.get_full_path()
        try:
            generation = PAGES.generation()
            hit = PAGES.get(key, generation)
        except Exception as exc:  # noqa: BLE001 - the cache server is down: render every page
            log.error("page cache unavailable: %s", exc)
            return view(request, *args, **kwargs)
        request.page_cache = "miss" if hit is None else "hit"  # for Server-Timing
        if hit is not None:
            content_type, _, kept = hit[1].partition("\n")
            response = HttpResponse(hit[0], content_type=content_type)
            for line in filter(None, kept.split("\n")):
                name, _, value = line.partition(": ")
                response[name] = value
            return response
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()  # an API (DRF) response: rendered here to be kept
        if (response.status_code == 200 and not response.streaming and not response.cookies
                and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
                and "private" not in response.get("Cache-Control", "")
                and "no-store" not in response.get("Cache-Control", "")
                and not _in_transaction()):
            kept = "".join(f"\n{h}: {response[h]}" for h in KEPT_HEADERS if h in response)
            try:
                PAGES.put(key, generation, response.content, response["Content-Type"] + kept, seconds)
            except Exception as exc:  # noqa: BLE001 - the cache server is down: not kept
                log.error("page cache unavailable: %s", exc)
        return response
    return wrapper


class CachedForReadersMixin:
    """For DRF viewsets: their GET answers to anonymous readers come from the page cache too."""

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        return cached_for_readers(super().as_view(actions, **initkwargs))  # GETs only
