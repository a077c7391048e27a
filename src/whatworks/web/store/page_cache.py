"""A page cache for readers who are not signed in, emptied per intervention by changes to the store.

Kept in Django's cache framework: Redis shared by every host when ``WHATWORKS_CACHE_URL`` is set,
this process's memory otherwise. Connected in ``StoreConfig.ready()``, so every process that loads
the app (web server, API, editors, management commands) renews the generations a change affects
when it saves or deletes store content.

What a cached page depends on (its *tags*; each tag has a generation, and a page's key holds the
generations of its tags, read before the page is rendered):

- ``all``: every page. Renewed by a change to anything many pages show (outcomes, domains,
  reviews, any store model not named below) and by bulk writes that send no signals (imports,
  ``generate_store``).
- ``i:<slug>``: the intervention page and API entry at that slug. Renewed by a change to the
  intervention with that slug (before or after the change: a rename renews both) or to its
  studies, findings, syntheses, ratings, rating history, revisions or old slugs.
- ``lists``: pages that list or aggregate across interventions (home, searches, lists filtered on
  text or sorted by date, the API's other lists and their entries). Renewed by any change to any
  intervention or its parts.
- ``order``: lists whose membership and order depend only on ratings, studies' designs, cost, UK
  evidence, name, slug and status (the index and the API's list without a search, text filter or
  date sort). Renewed by changes to those, or to ratings, syntheses, findings and studies. Such a
  page also depends on the ``i:<slug>`` of each row it shows (``shows``; checked when it is read),
  so an edit to a summary renews only the lists that show that intervention.
- ``names``: the compare page's choice of every intervention. Renewed when an intervention is
  added or deleted or its name, slug or status changes.
- ``any``: renewed with every renewal; no page's key holds it (see ``cached_for_readers``).

So an edit to one intervention renders afresh its own pages and the lists that show it or search
text, never the other interventions' pages.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, connections, transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpResponse

log = logging.getLogger(__name__)

#: The tags (see the module's docstring).
ALL, LISTS, ORDER, NAMES, ANY = "all", "lists", "order", "names", "any"

#: The key of the ``all`` generation in a shared cache; other tags' keys add ``:<tag>``.
GENERATION_KEY = "pages:generation"

#: Store models readers never see: saving them renews nothing (imports renew everything when
#: they commit, ``imports.py``; a draft is seen once published, which saves the live rows).
UNSEEN = ("Draft", "FormSubmission", "ImportJob")

#: Above this many tags a page depends on ``lists`` instead (e.g. a compare URL with many ``i``).
MAX_TAGS = 6

#: How long a tag's generation is kept in a shared cache after it was last renewed or read (at
#: least; see ``generation_seconds``): one key per tag, and a tag per intervention slug ever
#: edited, so without an expiry Redis would keep every slug's key for ever. A generation that
#: expired is started afresh (a new random value) the next time it is read: the pages filed
#: under the old one are never read again (cache misses), never served stale.
GENERATION_SECONDS = 30 * 24 * 3600


def generation_seconds() -> int:
    """The expiry of a generation in a shared cache: ``GENERATION_SECONDS``, or a hundred times
    the pages' own expiry (``WHATWORKS_PAGE_CACHE_SECONDS``) if that is longer, so a generation
    always outlives the pages filed under it by far."""
    page_seconds = getattr(settings, "WHATWORKS_PAGE_CACHE_SECONDS", 60) or 0
    return max(GENERATION_SECONDS, 100 * int(page_seconds))


def intervention_tag(slug: str) -> str:
    """The tag of the intervention page (and API entry) at ``slug``."""
    return f"i:{slug}"


class PageCache:
    """Rendered public pages in Django's cache, filed under the generations of what they show.

    A page's key holds the generations of its tags (read before it is rendered), so renewing a
    tag's generation empties, for everyone at once, the pages that depend on it (old pages are
    never read again and expire). Where the generations are:

    - a shared cache (Redis, ``WHATWORKS_CACHE_URL``): keys in that cache, read on every request
      (one ``get_many``), so an edit on any host is seen by every host on its next request;
    - this process's memory (no ``WHATWORKS_CACHE_URL``): small token files in the data directory,
      so every process on this host sees an edit made by any other on its next request.

    A save or delete of store content renews the generations it affects once its transaction
    commits (in any process that has loaded these views; see ``connect_signals``). Pages also
    expire after ``WHATWORKS_PAGE_CACHE_SECONDS`` (default 60; 0 turns the cache off): the bound on
    staleness after a change made by a process that never loaded these views.
    """

    def __init__(self, cache=None, max_page_bytes: int = 4 * 2**20,
                 local_bytes: int = 32 * 2**20):
        self._cache = cache  # None: Django's default cache, looked up when used
        self.max_page_bytes = max_page_bytes
        self.clock = time.time
        # With a shared cache: this process's copies of the pages it read or wrote there, newest
        # last, up to ``local_bytes`` of content. A page's key holds its generations, so a copy is
        # never stale: the generations are still read from the shared cache on every request.
        self.local_bytes = local_bytes
        self._local: OrderedDict[str, tuple] = OrderedDict()
        self._local_size = 0
        self._local_lock = threading.Lock()
        # With a shared cache: when this process last refreshed each generation key's expiry
        # (``time.monotonic``): a key read on every request is touched at most once per
        # ``generation_seconds() / REFRESH_FRACTION``, not on every read.
        self.refreshed: dict[str, float] = {}

    #: A generation key read is given its full expiry again once this fraction of it has passed.
    REFRESH_FRACTION = 8

    @property
    def cache(self):
        return self._cache if self._cache is not None else caches["default"]

    @property
    def shared(self) -> bool:
        """Whether the cache is shared by other processes and hosts (not this process's memory)."""
        return not isinstance(self.cache, LocMemCache)

    @property
    def path(self) -> Path:
        """The file of the ``all`` generation (without a shared cache)."""
        return Path(settings.DATA_DIR) / "page-cache-generation"

    def tag_path(self, tag: str) -> Path:
        """The file of a tag's generation (without a shared cache)."""
        if tag == ALL:
            return self.path
        name = hashlib.sha256(tag.encode()).hexdigest()[:40]
        return Path(settings.DATA_DIR) / "page-cache-generations" / name

    @staticmethod
    def _tag_key(tag: str) -> str:
        return GENERATION_KEY if tag == ALL else f"{GENERATION_KEY}:{tag}"

    @staticmethod
    def _tags(tags: Iterable[str]) -> list[str]:
        return [ALL, *sorted(set(tags) - {ALL})]

    def read(self, tags: Iterable[str]) -> dict[str, str]:
        """The current generations of ``tags`` (one cache read, or one small file each)."""
        tags = sorted(set(tags))
        if not self.shared:
            return {t: self._read_file(self.tag_path(t)) for t in tags}
        keys = {self._tag_key(t): t for t in tags}
        found = self.cache.get_many(list(keys))
        missing = [k for k in keys if k not in found]
        seconds = generation_seconds()
        if missing:  # never set, expired or evicted: start one (first writer wins)
            now = time.monotonic()
            for key in missing:  # (whoever added it gave it the full expiry)
                self.cache.add(key, uuid.uuid4().hex, timeout=seconds)
                self.refreshed[key] = now
            found.update(self.cache.get_many(missing))
        if any(not found.get(k) for k in keys):  # evicted at once: not a generation to trust
            raise RuntimeError("the shared cache keeps no page cache generation")
        self._refresh([k for k in keys if k not in missing], seconds)
        return {t: str(found[k]) for k, t in keys.items()}

    def _refresh(self, keys: list[str], seconds: int) -> None:
        """Give the generation keys just read their full expiry again (at most once per
        ``seconds / REFRESH_FRACTION`` per key in this process), so a tag read within its
        expiry keeps its generation and its pages. A key that expired in between is not
        brought back (``touch`` only sets the expiry of a key that is there)."""
        now = time.monotonic()
        due = [k for k in keys if now - self.refreshed.get(k, -math.inf) > seconds / self.REFRESH_FRACTION]
        for key in due:
            self.cache.touch(key, seconds)
            self.refreshed[key] = now
        if len(self.refreshed) > 100_000:  # every slug's tag, read once: forget the old ones
            self.refreshed = {k: t for k, t in self.refreshed.items()
                              if now - t <= seconds / self.REFRESH_FRACTION}

    def generation(self, tags: Iterable[str] = ()) -> str:
        """The generation of a page depending on ``tags`` (and on ``all``), read on every request."""
        return self.joined(self.read(self._tags(tags)))

    @staticmethod
    def joined(generations: dict[str, str]) -> str:
        return " ".join(f"{t}={g}" for t, g in sorted(generations.items()) if t != ANY)

    @staticmethod
    def _read_file(path: Path) -> str:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return ""
        try:
            return os.read(fd, 256).decode("ascii", "replace")
        finally:
            os.close(fd)

    def bump(self, tags: Iterable[str] | None = None) -> None:
        """Renew the generations of ``tags`` (default: ``all``, i.e. every page): every process on
        every host renders the pages depending on them afresh. ``any`` is renewed with them (in
        the same write to a shared cache; first, in files)."""
        tags = sorted({ALL} if tags is None else set(tags))
        if not tags:
            return
        tags = [ANY, *(t for t in tags if t != ANY)]
        if self.shared:
            try:  # one MSET: every tag at once
                seconds = generation_seconds()
                self.cache.set_many({self._tag_key(t): uuid.uuid4().hex for t in tags},
                                    timeout=seconds)
                now = time.monotonic()
                self.refreshed.update({self._tag_key(t): now for t in tags})
            except Exception as exc:  # noqa: BLE001 - the cache server is down: pages expire instead
                log.error("could not renew the page cache generations in the shared cache: %s", exc)
            return
        for tag in tags:
            path = self.tag_path(tag)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(uuid.uuid4().hex.encode())
                os.replace(tmp, path)
            except OSError as exc:  # other processes keep their pages until they expire
                log.error("could not renew the page cache generation in %s: %s", path, exc)

    def clear(self) -> None:
        """Forget every page (a new ``all`` generation)."""
        self.bump()

    @staticmethod
    def _key(key: str, generation: str) -> str:
        generations = hashlib.sha256(generation.encode()).hexdigest()[:32]
        return f"pages:{generations}:{hashlib.sha256(key.encode()).hexdigest()}"

    def get(self, key: str, generation: str) -> tuple[bytes, str] | None:
        hashed = self._key(key, generation)
        entry = self._recall(hashed) if self.shared else None
        if entry is None:
            entry = self.cache.get(hashed)
            if entry is not None and self.shared:
                self._remember(hashed, entry)
        if entry is None or entry[0] < self.clock() or entry[1] != key:
            return None
        if len(entry) > 4 and entry[4]:  # the rows it shows: their generations unchanged?
            shown, generations = entry[4]
            if self.joined(self.read(shown)) != generations:
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
            seconds: float, shown: tuple[tuple[str, ...], str] | None = None) -> None:
        """Keep a page; ``shown``: the tags of the rows it shows and their generations (read
        after rendering; see ``cached_for_readers``), checked on every read."""
        if len(key) + len(content) > self.max_page_bytes:
            return
        hashed = self._key(key, generation)
        entry = (self.clock() + seconds, key, content, content_type, shown)
        self.cache.set(hashed, entry, timeout=max(1, int(seconds) + 1))
        if self.shared:
            self._remember(hashed, entry)


PAGES = PageCache()


# -- what a change renews, once its transaction commits -------------------------------------------

class _Batch:
    """One transaction's changes: each registers an on-commit callback renewing its own tags
    (so the tags of a rolled-back savepoint are never renewed, and nothing is when the whole
    transaction rolls back: Django drops those callbacks); a tag several changes share is renewed
    once, by the first of their callbacks to run."""

    def __init__(self, hooks):
        self.hooks = hooks      # the connection's list of on-commit callbacks it was made with
        self.renewed: set[str] = set()
        self.slugs: dict[int, str | None] = {}  # intervention pk -> slug, read in the transaction
        self.closed = False     # a callback ran: the transaction is over, take no more changes

    def part(self, tags: Iterable[str]) -> Callable[[], None]:
        tags = frozenset(tags)

        def renew() -> None:
            # every callback of a batch runs in the one run after its commit (a batch is closed
            # by its first), so a tag renewed by an earlier one was renewed after this commit
            self.closed = True
            new = tags - self.renewed
            if new:
                self.renewed |= new
                PAGES.bump(new)
        return renew


def _batch(using: str) -> _Batch:
    """The batch of this connection's current transaction, or a new one. (Django replaces its list
    of on-commit callbacks on commit and on every rollback, so a batch made with another list
    belongs to a transaction that ended. Were that to change, a batch would span transactions
    that rolled back, which is harmless: a dropped callback renews nothing and marks nothing as
    renewed.)"""
    conn = connections[using]
    hooks = getattr(conn, "run_on_commit", None)
    batch = getattr(conn, "_page_cache_batch", None)
    if batch is None or batch.closed or batch.hooks is not hooks or not conn.in_atomic_block:
        batch = _Batch(hooks)
        conn._page_cache_batch = batch
    return batch


def _renew(using: str, tags: Iterable[str] = (), interventions: Iterable[int | None] = (), *,
           order: bool = True) -> None:
    """Renew ``tags`` and the tags of the interventions with these primary keys (``i:<slug>``,
    ``lists``, and ``order`` unless ``order`` is false) when the current transaction on ``using``
    commits (at once outside one)."""
    from .models import Intervention

    batch = _batch(using)
    tags = set(tags)
    pks = {pk for pk in interventions if pk is not None}
    if pks:
        tags.update([LISTS, ORDER] if order else [LISTS])
        unknown = pks - set(batch.slugs)
        if unknown:  # read now, inside the transaction: the slug the change was made under
            batch.slugs.update(dict.fromkeys(unknown))
            batch.slugs.update(Intervention._base_manager.using(using).filter(pk__in=unknown)
                               .values_list("pk", "slug"))
        tags.update(intervention_tag(batch.slugs[pk]) for pk in pks if batch.slugs[pk])
    transaction.on_commit(batch.part(tags), using=using)


def renew_everything(using: str = "default") -> None:
    """Empty every page when the current transaction commits: for writes that send no signals
    (``bulk_create``, ``update``)."""
    _renew(using, [ALL])


#: What the compare page's choice shows of every intervention (``names``), and what the lists'
#: membership and order depend on besides (``order``; text fields are searched only by ``q``,
#: ``population`` and ``setting``, whose lists depend on ``lists``).
NAME_FIELDS = ("slug", "name", "status")
ORDER_FIELDS = (*NAME_FIELDS, "cost_band", "uk_evidence")

#: Parts of an intervention that no list filters or sorts on (their pages depend on the slug).
UNLISTED_PARTS = ("RatingChange", "Revision", "SlugRedirect")


def _before_save(sender, instance, raw=False, using=None, **kwargs):
    """Before an update: what the row was (an intervention's listed fields; the intervention a
    study or finding belonged to), so the pages of the old state are renewed too."""
    if instance.pk is None:
        return
    from .models import Finding, Intervention, Study

    manager = sender._base_manager.using(using).filter(pk=instance.pk)
    if sender is Intervention:
        instance._page_cache_before = manager.values_list(*ORDER_FIELDS).first()
    elif sender in (Study, Finding):
        instance._page_cache_before = manager.values_list("intervention_id", flat=True).first()


def _saved(sender, instance, using=None, **kwargs):
    _changed(sender, instance, using, deleted=False)


def _deleted(sender, instance, using=None, **kwargs):
    _changed(sender, instance, using, deleted=True)


def _changed(sender, instance, using, *, deleted: bool) -> None:
    from .models import Intervention, SlugRedirect

    before = instance.__dict__.pop("_page_cache_before", None)
    if sender is Intervention:
        tags = {LISTS, intervention_tag(instance.slug)}
        now = tuple(getattr(instance, f) for f in ORDER_FIELDS)
        if before is not None:
            tags.add(intervention_tag(before[0]))
        if deleted or before is None or tuple(before) != now:
            tags.add(ORDER)
        if deleted or before is None or tuple(before)[:3] != now[:3]:
            tags.add(NAMES)
        _renew(using, tags)
    elif sender is SlugRedirect:
        _renew(using, [intervention_tag(instance.old_slug)], [instance.intervention_id],
               order=False)
    elif _part_of_intervention(sender):
        _renew(using, (), [instance.intervention_id, before],
               order=sender.__name__ not in UNLISTED_PARTS)
    else:  # outcomes, domains, reviews, anything new: shown on many pages
        _renew(using, [ALL])


def _part_of_intervention(model) -> bool:
    from .models import Intervention

    return any(f.name == "intervention" and f.related_model is Intervention
               for f in model._meta.concrete_fields)


def connect_signals() -> None:
    """Renew the generations a change affects whenever store content is saved or deleted."""
    for model in apps.get_app_config("store").get_models():
        if model.__name__ in UNSEEN:
            continue
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"pages-before-{model.__name__}")
        post_save.connect(_saved, sender=model, dispatch_uid=f"pages-save-{model.__name__}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"pages-delete-{model.__name__}")


# -- serving pages from the cache ---------------------------------------------------------------

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

Dependencies = Callable[..., Iterable[str]]

#: A list page depends on the rows it shows (``shows``) only up to this many rows; a longer one
#: (an API list with ``page_size`` above it) depends on ``lists``.
MAX_SHOWN = 100


def lists(request, **kwargs) -> tuple[str, ...]:
    """The default: a page that may show any intervention."""
    return (LISTS,)


def shared_only(request, **kwargs) -> tuple[str, ...]:
    """A page that shows no intervention (outcomes, methods): renewed with ``all`` only."""
    return ()


def one_intervention(request, slug: str = "", **kwargs) -> tuple[str, ...]:
    """An intervention's own page, by the slug in its URL."""
    return (intervention_tag(slug),)


def listing(request, **kwargs) -> tuple[str, ...]:
    """A list of interventions (the index, the API's list). Filtered and sorted on what only
    ``order`` changes (ratings, cost, UK evidence, design, name, status), it depends on ``order``
    and on the rows it shows, which the view names with ``shows``; with a search (``q``), a text
    filter (population and setting match the descriptions), the ``updated`` sort or a long page,
    on ``lists``."""
    from .queries import Filters

    params = request.GET
    filters = Filters.from_query(params)
    size = params.get("page_size", "")
    if (filters.q or filters.population or filters.setting or filters.sort_problem
            or filters.sort not in ("name", "-name", "cost", "rating")
            or (size and not (size.isdigit() and int(size) <= MAX_SHOWN))):
        return (LISTS,)
    return (ORDER,)


def shows(request, slugs: Iterable[str]) -> None:
    """Called by a view whose page depends on ``order`` (see ``listing``): the slugs of the
    interventions the page shows. Their ``i:<slug>`` generations are kept with the page and
    checked on every read, so the page is renewed when one of them changes, and not when an
    intervention it does not show changes in a way that cannot move it onto the page."""
    getattr(request, "_request", request).page_cache_shows = tuple(slugs)  # (DRF's: Django's)


def tags_of(view, request, kwargs) -> list[str]:
    """The tags of the page ``view`` (a cached view) answers ``request`` with (besides ``all``)."""
    tags = list(getattr(view, "page_dependencies", lists)(request, **kwargs))
    return tags if len(tags) <= MAX_TAGS else [LISTS]


def cached_for_readers(view=None, *, depends: Dependencies = lists):
    """Serve the page from the page cache to readers who are not signed in (see PageCache).

    ``depends(request, **url_kwargs)`` names the tags the page depends on besides ``all``
    (default ``lists``); it must name, from the URL alone, everything the view shows that can
    change: a page rendered for tags it did not name would stay stale. Their generations are read
    before the page is rendered and are part of its key. A page depending on ``order`` must also
    name the rows it shows (``shows``): their generations are read after rendering, and the page is
    kept only if no change was committed meanwhile (``any`` unchanged: every renewal renews it,
    after its commit), so they cannot be newer than what was rendered."""
    if view is None:
        return lambda v: cached_for_readers(v, depends=depends)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        seconds = getattr(settings, "WHATWORKS_PAGE_CACHE_SECONDS", 60)
        if not seconds or _in_transaction() or not _reader(request):
            return view(request, *args, **kwargs)
        key = request.get_full_path()
        try:
            tags = tags_of(wrapper, request, kwargs)
            before = PAGES.read([ALL, ANY, *tags])  # before rendering
            generation = PAGES.joined(before)
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
                shown = _shown(request, tags, before)
                if shown is not False:
                    PAGES.put(key, generation, response.content, response["Content-Type"] + kept,
                              seconds, shown=shown)
            except Exception as exc:  # noqa: BLE001 - the cache server is down: not kept
                log.error("page cache unavailable: %s", exc)
        return response

    wrapper.page_dependencies = depends
    return wrapper


def _shown(request, tags: list[str], before: dict[str, str]):
    """For a page depending on ``order``: its rows' tags and generations, or False when it must not
    be kept (a change was committed while it was rendered, or the view named no rows)."""
    if ORDER not in tags:
        return None
    slugs = getattr(request, "page_cache_shows", None)
    if slugs is None:
        log.error("%s depends on the rows it shows but named none: not kept", request.path)
        return False
    shown = tuple(sorted({intervention_tag(s) for s in slugs}))
    after = PAGES.read(shown)
    # ``any`` read last: a renewal writes it first (files) or with the rest (one MSET), so if it
    # is unchanged, no renewal had started when the rows' generations were read
    if PAGES.read([ANY])[ANY] != before[ANY]:
        return False
    return shown, PAGES.joined(after)


class CachedForReadersMixin:
    """For DRF viewsets: their GET answers to anonymous readers come from the page cache too,
    depending on ``page_dependencies(action, request, **url_kwargs)`` (default ``lists``)."""

    @classmethod
    def page_dependencies(cls, action: str | None, request, **kwargs) -> tuple[str, ...]:
        return (LISTS,)

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        action = (actions or {}).get("get")

        def depends(request, **kwargs):
            return cls.page_dependencies(action, request, **kwargs)
        return cached_for_readers(super().as_view(actions, **initkwargs), depends=depends)  # GETs only
