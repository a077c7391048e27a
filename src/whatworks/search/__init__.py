"""Search that answers practitioners: the text logic behind the Evidence Store's search (no Django).

* ``text`` — normalisation, words and stems;
* ``vocabulary`` — the field's abbreviations and everyday wordings (curated, reviewed like code);
* ``engine`` — parsing a query into concepts (with synonyms and typo corrections), the boolean query
  a full-text backend runs, rank fusion of the backend's rank with name and meaning similarity, and
  "did you mean" suggestions;
* ``semantic`` — meaning-based similarity from a small static word-embedding model that ships inside
  the ``wordllama`` wheel (nothing is downloaded at run time).

The web layer (``whatworks.web.store.search``) builds the documents from the database, runs SQLite
FTS5 or PostgreSQL full-text search with the boolean query, and calls ``rank``.

The engine's names are imported on first use (PEP 562), so importing ``semantic`` alone (the
screening features do, in every simulation) does not import the engine and rapidfuzz.
"""

from __future__ import annotations

import importlib

__all__ = ["Document", "Hit", "ParsedQuery", "SearchIndex", "parse_query"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module(".engine", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
