"""The store's search on the database: index rows from the models, SQLite FTS5 or PostgreSQL
full-text search per concept, and the core's rank fusion (``whatworks.search``).

Both backends keep a per-connection temporary table of the index (no migration or trigger has to
follow every write path: ratings change outcome names; several processes never contend for one
table), brought up to date incrementally: each row carries its document's SHA-256 digest, and after
a change only the rows whose digest differs are deleted and written again. The in-process index
(``current_index``) is likewise renewed from the earlier one: only changed documents are stemmed
and embedded (``SearchIndex(..., reuse=...)``).

* SQLite: an FTS5 table (``porter unicode61 remove_diacritics 2``), ranked by ``bm25`` with column
  weights name 5, outcomes 3, tags 2, text 1;
* PostgreSQL: a weighted ``tsvector`` column (``english``; A name and aliases, B outcomes, C tags,
  D text) matched with ``phraseto_tsquery`` alternatives joined by ``||``, ranked by ``ts_rank``.
  (Computing the vector in each query, with ``django.contrib.postgres.search``, took 170 ms per
  concept at 1,000 interventions.)

A search checks and updates the table and queries it in one transaction, so behind a
transaction-pooling proxy (PgBouncer in transaction mode), where consecutive transactions may use
different server sessions, each session's table is checked (and brought up to date) by the
transaction that uses it.

Only normalised words (letters, digits, spaces) ever reach either backend, as parameters.
"""

from __future__ import annotations

import hashlib
import json
import threading

from django.db import connection, transaction
from django.db.models import Count, Max, Sum

from whatworks.search import Document, SearchIndex
from whatworks.search.engine import SearchResult

from .models import Intervention, Outcome, Rating

_LOCK = threading.Lock()
_BUILD = threading.Lock()  # one build at a time (see current_index)
_CACHE: dict = {}          # change stamp -> Indexed; one entry


class Indexed:
    """An index of the store's content with each document's digest and their fingerprint."""

    def __init__(self, index: SearchIndex, digests: dict[int, str]):
        self.index = index
        self.digests = digests
        self.fingerprint = hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()


def _rows() -> list[Document]:
    outcomes: dict[int, list[str]] = {}
    for pk, name in (Rating.objects.order_by("intervention_id", "outcome__name")
                     .values_list("intervention_id", "outcome__name")):
        outcomes.setdefault(pk, []).append(name)
    docs = []
    for row in Intervention.objects.order_by("pk").values_list(
            "pk", "name", "aliases", "summary", "what_it_is", "who_it_is_for", "population", "setting"):
        pk, name, aliases, summary, what, who, population, setting = row
        docs.append(Document(
            key=pk, name=name, aliases=tuple(str(a) for a in (aliases or [])),
            text=" ".join(x for x in (summary, what, who) if x),
            outcomes=tuple(outcomes.get(pk, ())),
            tags=tuple(str(t) for t in [*(population or []), *(setting or [])])))
    return docs


def _digest(d: Document) -> str:
    return hashlib.sha256(json.dumps([d.key, d.name, d.aliases, d.text, d.outcomes, d.tags])
                          .encode("utf-8")).hexdigest()


def _change_stamp() -> tuple:
    """A cheap stamp that changes whenever the indexed content can have changed: interventions
    (``updated`` is ``auto_now``; count and id sum catch deletions), ratings (``computed`` is set on
    every recomputation) and outcome names. Three small aggregate queries instead of reading every
    row on every search."""
    interventions = Intervention.objects.aggregate(n=Count("pk"), ids=Sum("pk"), last=Max("updated"))
    ratings = Rating.objects.aggregate(n=Count("pk"), ids=Sum("pk"), last=Max("computed"))
    outcomes = tuple(Outcome.objects.order_by("pk").values_list("pk", "name"))
    return (tuple(sorted(interventions.items())), tuple(sorted(ratings.items())), outcomes)


def current_index() -> Indexed:
    """The index of the current content (renewed only on change, from the previous one: only
    changed documents are stemmed and embedded again).

    One thread builds it; the others searching meanwhile wait for that build instead of each
    building the same index (after an edit, every thread of a server searching at once made it
    once per thread)."""
    stamp = _change_stamp()
    with _LOCK:
        cached = _CACHE.get(stamp)
    if cached is None:
        with _BUILD:
            with _LOCK:
                cached = _CACHE.get(stamp)
                earlier = next(iter(_CACHE.values()), None)
            if cached is None:
                docs = _rows()
                old = earlier.index.documents if earlier is not None else {}
                digests = {d.key: earlier.digests[d.key] if old.get(d.key) == d else _digest(d)
                           for d in docs}
                cached = Indexed(SearchIndex(docs, reuse=earlier.index if earlier else None),
                                 digests)
                with _LOCK:
                    _CACHE.clear()
                    _CACHE[stamp] = cached
    return cached


def _changed_rows(cur, indexed: Indexed, table: str) -> tuple[list[int], list[Document]] | None:
    """The rows of this connection's tables to delete and the documents to write so they hold
    ``indexed`` (None: they already do)."""
    cur.execute(f"SELECT fingerprint FROM {table}_state")
    row = cur.fetchone()
    if row is not None and row[0] == indexed.fingerprint:
        return None
    cur.execute(f"SELECT id, digest FROM {table}_rows")
    held = dict(cur.fetchall())
    wanted = indexed.digests
    stale = [pk for pk, digest in held.items() if wanted.get(pk) != digest]
    docs = indexed.index.documents
    return stale, [docs[pk] for pk, digest in wanted.items() if held.get(pk) != digest]


def _fields(d: Document) -> tuple[str, str, str, str]:
    return " ; ".join([d.name, *d.aliases]), " ; ".join(d.outcomes), " ; ".join(d.tags), d.text


def _sqlite_backend(indexed: Indexed):
    with connection.cursor() as cur:
        cur.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.store_search USING fts5("
                    "name, outcomes, tags, body, tokenize='porter unicode61 remove_diacritics 2')")
        cur.execute("CREATE TABLE IF NOT EXISTS temp.store_search_rows "
                    "(id INTEGER PRIMARY KEY, digest TEXT NOT NULL)")
        cur.execute("CREATE TABLE IF NOT EXISTS temp.store_search_state (fingerprint TEXT)")
        change = _changed_rows(cur, indexed, "temp.store_search")
        if change is not None:
            stale, docs = change
            gone = [(pk,) for pk in stale]
            cur.executemany("DELETE FROM temp.store_search WHERE rowid = %s", gone)
            cur.executemany("DELETE FROM temp.store_search_rows WHERE id = %s", gone)
            cur.executemany(
                "INSERT INTO temp.store_search (rowid, name, outcomes, tags, body) "
                "VALUES (%s, %s, %s, %s, %s)", [(d.key, *_fields(d)) for d in docs])
            cur.executemany("INSERT INTO temp.store_search_rows (id, digest) VALUES (%s, %s)",
                            [(d.key, indexed.digests[d.key]) for d in docs])
            cur.execute("DELETE FROM temp.store_search_state")
            cur.execute("INSERT INTO temp.store_search_state (fingerprint) VALUES (%s)",
                        [indexed.fingerprint])

    def run(alternatives: tuple[str, ...]) -> dict:
        # each alternative is normalised words only, so quoting makes it a plain FTS5 phrase
        phrases = [f'"{a}"' for a in alternatives if a.strip()]
        if not phrases:
            return {}
        with connection.cursor() as cur:
            cur.execute("SELECT rowid, -bm25(store_search, 5.0, 3.0, 2.0, 1.0) FROM temp.store_search "
                        "WHERE store_search MATCH %s", [" OR ".join(phrases)])
            return {pk: score for pk, score in cur.fetchall()}
    return run


def _postgres_backend(indexed: Indexed):
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS store_search "
                    "(id integer PRIMARY KEY, document tsvector NOT NULL)")
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS store_search_rows "
                    "(id integer PRIMARY KEY, digest text NOT NULL)")
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS store_search_state (fingerprint text)")
        change = _changed_rows(cur, indexed, "store_search")
        if change is not None:
            stale, docs = change
            cur.execute("DELETE FROM store_search WHERE id = ANY(%s)", [stale])
            cur.execute("DELETE FROM store_search_rows WHERE id = ANY(%s)", [stale])
            fields = [_fields(d) for d in docs]
            cur.execute(
                "INSERT INTO store_search (id, document) SELECT d.id, "
                "setweight(to_tsvector('english', d.name), 'A') || "
                "setweight(to_tsvector('english', d.outcomes), 'B') || "
                "setweight(to_tsvector('english', d.tags), 'C') || "
                "setweight(to_tsvector('english', d.body), 'D') "
                "FROM unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::text[]) "
                "AS d(id, name, outcomes, tags, body)",
                [[d.key for d in docs], *([f[i] for f in fields] for i in range(4))])
            cur.execute("INSERT INTO store_search_rows (id, digest) SELECT * FROM "
                        "unnest(%s::integer[], %s::text[])",
                        [[d.key for d in docs], [indexed.digests[d.key] for d in docs]])
            cur.execute("DELETE FROM store_search_state")
            cur.execute("INSERT INTO store_search_state (fingerprint) VALUES (%s)",
                        [indexed.fingerprint])

    def run(alternatives: tuple[str, ...]) -> dict:
        phrases = [a for a in alternatives if a.strip()]
        if not phrases:
            return {}
        query = " || ".join(["phraseto_tsquery('english', %s)"] * len(phrases))
        with connection.cursor() as cur:
            cur.execute("SELECT id, ts_rank(document, q.query) FROM store_search, "
                        f"(SELECT {query} AS query) q WHERE document @@ q.query", phrases)
            return {pk: score for pk, score in cur.fetchall()}
    return run


def search(keys, text: str) -> SearchResult:
    """Search ``text`` among the interventions with primary keys ``keys``; hits in relevance order.
    The table's update and the queries are one transaction (see the module's docstring)."""
    indexed = current_index()
    keys = list(keys)
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            backend = _postgres_backend(indexed)
        elif connection.vendor == "sqlite":
            backend = _sqlite_backend(indexed)
        else:  # pragma: no cover - the settings allow only these two
            backend = None
        return indexed.index.search(text, backend=backend, keys=keys)
