"""The store's search on the database: index rows from the models, SQLite FTS5 or PostgreSQL
full-text search per concept, and the core's rank fusion (``whatworks.search``).

SQLite: a per-connection ``temp`` FTS5 table (``porter unicode61`` tokenizer) rebuilt when the
indexed content changes (its fingerprint is kept beside it), so no migration or trigger has to
follow every write path (ratings change outcome names). PostgreSQL: a weighted ``tsvector``
(``english`` configuration) built in the query, matched with ``phraseto_tsquery`` alternatives and
ranked with ``ts_rank``. Only normalised words (letters, digits, spaces) ever reach either backend.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import reduce

from django.db import connection
from django.db.models import Count, F, Max, OuterRef, Subquery, Sum, TextField, Value
from django.db.models.functions import Cast, Coalesce

from whatworks.search import Document, SearchIndex
from whatworks.search.engine import SearchResult

from .models import Intervention, Outcome, Rating

_LOCK = threading.Lock()
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
    """The index of the current content and its SHA-256 fingerprint (rebuilt only on change)."""
    stamp = _change_stamp()
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


def _postgres_backend(keys):
    from django.contrib.postgres.aggregates import StringAgg
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    outcome_names = Subquery(
        Rating.objects.filter(intervention=OuterRef("pk")).order_by().values("intervention")
        .annotate(names=StringAgg("outcome__name", " ; ", order_by="outcome__name")).values("names"))
    vector = (SearchVector("name", Cast("aliases", TextField()), weight="A", config="english")
              + SearchVector(Coalesce(outcome_names, Value(""), output_field=TextField()), weight="B",
                             config="english")
              + SearchVector(Cast("population", TextField()), Cast("setting", TextField()), weight="C",
                             config="english")
              + SearchVector("summary", "what_it_is", "who_it_is_for", weight="D", config="english"))
    base = Intervention.objects.filter(pk__in=list(keys)).annotate(document=vector)

    def run(alternatives: tuple[str, ...]) -> dict:
        queries = [SearchQuery(a, search_type="phrase", config="english") for a in alternatives
                   if a.strip()]
        if not queries:
            return {}
        query = reduce(lambda a, b: a | b, queries)
        return dict(base.filter(document=query).annotate(rank=SearchRank(F("document"), query))
                    .values_list("pk", "rank"))
    return run


def search(keys, text: str) -> SearchResult:
    """Search ``text`` among the interventions with primary keys ``keys``; hits in relevance order."""
    index, fingerprint = current_index()
    keys = list(keys)
    if connection.vendor == "postgresql":
        backend = _postgres_backend(keys)
    elif connection.vendor == "sqlite":
        backend = _sqlite_backend(index, fingerprint)
    else:  # pragma: no cover - the settings allow only these two
        backend = None
    return index.search(text, backend=backend, keys=keys)
