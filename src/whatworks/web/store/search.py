"""The store's search on the database: index rows from the models, SQLite FTS5 or PostgreSQL
full-text search per concept, and the core's rank fusion (``whatworks.search``).

Both backends keep a per-connection temporary table rebuilt when the indexed content changes (its
SHA-256 fingerprint is kept beside it), so no migration or trigger has to follow every write path
(ratings change outcome names) and several processes never contend for one table:

* SQLite: an FTS5 table (``porter unicode61 remove_diacritics 2``), ranked by ``bm25`` with column
  weights name 5, outcomes 3, tags 2, text 1;
* PostgreSQL: a weighted ``tsvector`` column (``english``; A name and aliases, B outcomes, C tags,
  D text) matched with ``phraseto_tsquery`` alternatives joined by ``||``, ranked by ``ts_rank``.
  (Computing the vector in each query, with ``django.contrib.postgres.search``, took 170 ms per
  concept at 1,000 interventions.) It needs session-level connections: not a transaction-pooling
  proxy such as PgBouncer in transaction mode.

Only normalised words (letters, digits, spaces) ever reach either backend, as parameters.
"""

from __future__ import annotations

import hashlib
import json
import threading

from django.db import connection
from django.db.models import Count, Max, Sum

from whatworks.search import Document, SearchIndex
from whatworks.search.engine import SearchResult

from .models import Intervention, Outcome, Rating

_LOCK = threading.Lock()
_BUILD = threading.Lock()  # one build at a time (see current_index)
_CACHE: dict = {}          # change stamp -> (SearchIndex, content fingerprint); one entry


def _rows() -> tuple[list[Document], str]:
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
    blob = json.dumps([[d.key, d.name, d.aliases, d.text, d.outcomes, d.tags] for d in docs])
    return docs, hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _change_stamp() -> tuple:
    """A cheap stamp that changes whenever the indexed content can have changed: interventions
    (``updated`` is ``auto_now``; count and id sum catch deletions), ratings (``computed`` is set on
    every recomputation) and outcome names. Three small aggregate queries instead of reading every
    row on every search."""
    interventions = Intervention.objects.aggregate(n=Count("pk"), ids=Sum("pk"), last=Max("updated"))
    ratings = Rating.objects.aggregate(n=Count("pk"), ids=Sum("pk"), last=Max("computed"))
    outcomes = tuple(Outcome.objects.order_by("pk").values_list("pk", "name"))
    return (tuple(sorted(interventions.items())), tuple(sorted(ratings.items())), outcomes)


def current_index() -> tuple[SearchIndex, str]:
    """The index of the current content and its SHA-256 fingerprint (rebuilt only on change).

    One thread builds it; the others searching meanwhile wait for that build instead of each
    building the same index (about 0.2 s of CPU at 1,000 interventions: after an edit, every
    thread of a server searching at once made that once per thread)."""
    stamp = _change_stamp()
    with _LOCK:
        cached = _CACHE.get(stamp)
    if cached is None:
        with _BUILD:
            with _LOCK:
                cached = _CACHE.get(stamp)
            if cached is None:
                docs, fingerprint = _rows()
                cached = (SearchIndex(docs), fingerprint)
                with _LOCK:
                    _CACHE.clear()
                    _CACHE[stamp] = cached
    return cached


def _sqlite_backend(index: SearchIndex, fingerprint: str):
    with connection.cursor() as cur:
        cur.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.store_search USING fts5("
                    "name, outcomes, tags, body, tokenize='porter unicode61 remove_diacritics 2')")
        cur.execute("CREATE TABLE IF NOT EXISTS temp.store_search_state (fingerprint TEXT)")
        cur.execute("SELECT fingerprint FROM temp.store_search_state")
        row = cur.fetchone()
        if row is None or row[0] != fingerprint:
            cur.execute("DELETE FROM temp.store_search")
            cur.executemany(
                "INSERT INTO temp.store_search (rowid, name, outcomes, tags, body) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(d.key, " ; ".join([d.name, *d.aliases]), " ; ".join(d.outcomes), " ; ".join(d.tags),
                  d.text) for d in index.documents.values()])
            cur.execute("DELETE FROM temp.store_search_state")
            cur.execute("INSERT INTO temp.store_search_state (fingerprint) VALUES (%s)", [fingerprint])

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


def _postgres_backend(index: SearchIndex, fingerprint: str):
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS store_search "
                    "(id integer PRIMARY KEY, document tsvector NOT NULL)")
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS store_search_state (fingerprint text)")
        cur.execute("SELECT fingerprint FROM store_search_state")
        row = cur.fetchone()
        if row is None or row[0] != fingerprint:
            docs = list(index.documents.values())
            cur.execute("DELETE FROM store_search")
            cur.execute(
                "INSERT INTO store_search (id, document) SELECT d.id, "
                "setweight(to_tsvector('english', d.name), 'A') || "
                "setweight(to_tsvector('english', d.outcomes), 'B') || "
                "setweight(to_tsvector('english', d.tags), 'C') || "
                "setweight(to_tsvector('english', d.body), 'D') "
                "FROM unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::text[]) "
                "AS d(id, name, outcomes, tags, body)",
                [[d.key for d in docs], [" ; ".join([d.name, *d.aliases]) for d in docs],
                 [" ; ".join(d.outcomes) for d in docs], [" ; ".join(d.tags) for d in docs],
                 [d.text for d in docs]])
            cur.execute("DELETE FROM store_search_state")
            cur.execute("INSERT INTO store_search_state (fingerprint) VALUES (%s)", [fingerprint])

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
    """Search ``text`` among the interventions with primary keys ``keys``; hits in relevance order."""
    index, fingerprint = current_index()
    keys = list(keys)
    if connection.vendor == "postgresql":
        backend = _postgres_backend(index, fingerprint)
    elif connection.vendor == "sqlite":
        backend = _sqlite_backend(index, fingerprint)
    else:  # pragma: no cover - the settings allow only these two
        backend = None
    return index.search(text, backend=backend, keys=keys)
