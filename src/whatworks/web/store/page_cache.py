"""A page cache for readers who are not signed in, emptied by any change to the store's content.

Connected in ``StoreConfig.ready()``, so every process that loads the app (web server, API, editors,
management commands) renews the content generation when it saves or deletes store content.
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
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse

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
        self.clock = time.monotonic
        self._where = (None, "")  # (settings.DATA_DIR, the generation file's path) last used

    @property
    def path(self) -> Path:
        return Path(settings.DATA_DIR) / "page-cache-generation"

    def generation(self) -> bytes:
        """The current token (read on every request: a few microseconds, no database query)."""
        data_dir = settings.DATA_DIR
        if self._where[0] != data_dir:
            self._where = (data_dir, str(self.path))
        try:
            fd = os.open(self._where[1], os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            return os.read(fd, 256)
        finally:
            os.close(fd)

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
            if entry[0] < self.clock() or entry[1] != generation:
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
            self._pages[key] = (self.clock() + seconds, generation, content, content_type)
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


def connect_signals() -> None:
    """Renew the content generation whenever store content is saved or deleted."""
    for model in apps.get_app_config("store").get_models():
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
        generation = PAGES.generation()
        hit = PAGES.get(key, generation)
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
            PAGES.put(key, generation, response.content, response["Content-Type"] + kept, seconds)
        return response
    return wrapper


class CachedForReadersMixin:
    """For DRF viewsets: their GET answers to anonymous readers come from the page cache too."""

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        return cached_for_readers(super().as_view(actions, **initkwargs))  # GETs only
