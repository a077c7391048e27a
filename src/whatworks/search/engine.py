"""Parsing a practitioner's query, matching it concept by concept, and ranking the matches.

A query is split into *concepts*: a phrase from the field's vocabulary ("edge of care", "FGC") or a
single word. Each concept is an OR of alternatives: what the reader typed, the vocabulary's wordings
for it (looked up as typed, then by stems), and, for a word of 5 letters or more that no document
contains, the nearest words that documents do contain (typo tolerance: optimal-string-alignment
similarity >= 0.8, so a transposition counts as one edit). Stop words are dropped; generic words
("help", "programme") are *soft*: they add to the rank but need not match.

Matching runs one full-text query per concept (the backend stems: SQLite FTS5 ``porter``, PostgreSQL
``english``; the local matcher uses Snowball stems). An intervention matching every required concept
is a full match; when none does, the interventions matching the most concepts are shown (a partial
match, said so), joined by those whose meaning is close (embedding similarity). The order is a fixed
weighted sum of the normalised full-text rank, the name/alias match and the meaning similarity, with
ties broken by name then key, so it is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from . import semantic
from .text import SOFT_WORDS, STOPWORDS, normalise, stem, words
from .vocabulary import ABBREVIATIONS, MAX_PHRASE_WORDS, SYNONYMS, expansions

MAX_WORDS = 16            # longer queries are cut (a search box, not a document)
TYPO_MIN_SIMILARITY = 0.8   # normalised edit similarity (transpositions count once) for a typo fix
TYPO_MIN_LENGTH = 5       # shorter unknown words are likely abbreviations, not typos
SEMANTIC_MIN = 0.45       # cosine similarity for a meaning-only match (calibrated on the demo store)
SEMANTIC_BAND = 0.15      # ... and within this of the best similarity for the query
W_LEXICAL, W_NAME, W_SEMANTIC = 1.0, 2.0, 1.0
FIELD_WEIGHTS = {"name": 5.0, "outcomes": 3.0, "tags": 2.0, "text": 1.0}


@dataclass(frozen=True)
class Document:
    """What search sees of one intervention."""

    key: int | str
    name: str
    aliases: tuple[str, ...] = ()
    text: str = ""                    # summary and descriptions
    outcomes: tuple[str, ...] = ()    # names of the outcomes it is rated on
    tags: tuple[str, ...] = ()        # population and setting tags

    def meaning_text(self) -> str:
        return ". ".join([self.name, *self.aliases, self.text[:600], *self.tags, *self.outcomes])

    def fields(self) -> dict[str, str]:
        return {"name": " ".join([self.name, *self.aliases]), "outcomes": " ; ".join(self.outcomes),
                "tags": " ; ".join(self.tags), "text": self.text}


@dataclass(frozen=True)
class Concept:
    typed: str                          # the normalised words the reader typed
    alternatives: tuple[str, ...]       # normalised phrases, any of which matches
    soft: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    raw: str
    text: str                           # normalised
    concepts: tuple[Concept, ...]
    corrections: tuple[tuple[str, str], ...] = ()   # (typed word, word searched for)

    @property
    def required(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts if not c.soft)


@dataclass(frozen=True)
class Hit:
    key: int | str
    score: float
    matched: int                        # required concepts matched in the text


@dataclass
class SearchResult:
    query: ParsedQuery
    hits: list[Hit] = field(default_factory=list)
    complete: bool = True               # every hit matches every required concept
    suggestions: list[str] = field(default_factory=list)   # nearest names when nothing matches

    @property
    def keys(self) -> list:
        return [h.key for h in self.hits]


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def parse_query(raw: str, known_words: Iterable[str] = ()) -> ParsedQuery:
    """Concepts of a query. ``known_words`` (the documents' words) enables typo correction."""
    raw = str(raw).replace("\x00", "")
    toks = words(raw)[:MAX_WORDS]
    known = known_words if isinstance(known_words, (set, frozenset)) else set(known_words)
    known_stems = {stem(w) for w in known} if known else set()
    concepts: list[Concept] = []
    corrections: list[tuple[str, str]] = []
    i = 0
    while i < len(toks):
        for n in range(min(MAX_PHRASE_WORDS, len(toks) - i), 0, -1):
            phrase = " ".join(toks[i:i + n])
            found = expansions(phrase) or _STEMMED_VOCABULARY.get(" ".join(stem(w) for w in toks[i:i + n]))
            if found:
                concepts.append(Concept(phrase, _dedupe((phrase, *found))))
                i += n
                break
        else:
            word = toks[i]
            i += 1
            if word in STOPWORDS:
                continue
            alternatives = [word]
            if (known and word not in known and stem(word) not in known_stems
                    and len(word) >= TYPO_MIN_LENGTH and not word.isdigit()):
                near = process.extract(word, sorted(known), scorer=OSA.normalized_similarity,
                                       score_cutoff=TYPO_MIN_SIMILARITY, limit=None)
                if near:
                    best = max(score for _, score, _ in near)
                    for candidate, score, _ in sorted(near, key=lambda x: (-x[1], x[0])):
                        if score >= best - 1e-9:
                            alternatives.append(candidate)
                            alternatives.extend(expansions(candidate))
                            corrections.append((word, candidate))
            concepts.append(Concept(word, _dedupe(alternatives), soft=word in SOFT_WORDS))
    if not concepts and toks:        # only stop words: search for them as typed
        concepts = [Concept(" ".join(toks), (" ".join(toks),))]
    return ParsedQuery(raw=raw, text=" ".join(toks), concepts=tuple(concepts),
                       corrections=tuple(corrections))


_STEMMED_VOCABULARY: dict[str, tuple[str, ...]] = {}
for _phrase in (*ABBREVIATIONS, *SYNONYMS):
    _key = " ".join(stem(w) for w in _phrase.split())
    _STEMMED_VOCABULARY[_key] = _dedupe((*_STEMMED_VOCABULARY.get(_key, ()), *expansions(_phrase)))


# A backend runs one concept: the documents (keys) containing any of the phrases, with a score where
# higher is better. Only normalised words reach it (letters and digits), never query syntax.
Backend = Callable[[tuple[str, ...]], dict]


class SearchIndex:
    """Documents to search, with the local matcher used when no database backend is given."""

    def __init__(self, documents: Iterable[Document], *, reuse: SearchIndex | None = None):
        """``reuse``: an earlier index whose work (stems, words, meaning vectors) is taken over for
        every document it holds unchanged (same key, equal document), so an index after a change
        to a few documents stems and embeds only those."""
        self.documents = {d.key: d for d in documents}
        earlier = reuse.documents if reuse is not None else {}
        self._field_stems: dict = {}
        self._words: dict = {}       # key -> the words of the document (for typo correction)
        for d in self.documents.values():
            if earlier.get(d.key) == d:
                self._field_stems[d.key] = reuse._field_stems[d.key]
                self._words[d.key] = reuse._words[d.key]
                continue
            fields = d.fields()
            self._field_stems[d.key] = {f: [stem(w) for w in words(t)] for f, t in fields.items()}
            self._words[d.key] = frozenset(w for text in fields.values() for w in words(text))
        self.known_words: set[str] = set().union(*self._words.values())
        for phrase in (*ABBREVIATIONS, *SYNONYMS):
            self.known_words.update(phrase.split())
        self._vectors = None
        self._vector_keys: list = []
        # the earlier index's meaning vectors of the unchanged documents, if it had made them
        self._kept_vectors: dict = {}
        vectors, keys = (reuse._vectors, reuse._vector_keys) if reuse is not None else (None, [])
        if vectors is not None and len(keys) == len(vectors):
            self._kept_vectors = {k: row for k, row in zip(keys, vectors, strict=True)
                                  if earlier.get(k) == self.documents.get(k)}
        self._names = {}
        for d in self.documents.values():
            for name in (d.name, *d.aliases):
                self._names.setdefault(normalise(name), set()).add(d.key)

    def parse(self, raw: str) -> ParsedQuery:
        return parse_query(raw, self.known_words)

    # -- the local matcher (stems, phrase = consecutive stems, field weights) --
    def local_backend(self, alternatives: tuple[str, ...]) -> dict:
        phrases = [[stem(w) for w in a.split()] for a in alternatives]
        out = {}
        for key, fields in self._field_stems.items():
            score = 0.0
            for name, toks in fields.items():
                if any(_contains(toks, p) for p in phrases if p):
                    score += FIELD_WEIGHTS[name]
            if score:
                out[key] = score
        return out

    def search(self, raw: str, backend: Backend | None = None, keys: Iterable | None = None,
               ) -> SearchResult:
        """Hits in relevance order among ``keys`` (default: all documents)."""
        parsed = self.parse(raw)
        allowed = set(self.documents) if keys is None else set(keys) & set(self.documents)
        if not parsed.concepts or not allowed:
            return SearchResult(parsed, [], True, self.suggest(parsed.text) if parsed.text else [])
        run = backend or self.local_backend
        lexical: dict = {k: 0.0 for k in allowed}
        matched: dict = {k: 0 for k in allowed}
        for concept in parsed.concepts:
            scores = {k: float(v) for k, v in run(concept.alternatives).items() if k in allowed}
            top = max(scores.values(), default=0.0)
            for k, v in scores.items():
                lexical[k] += (v / top if top > 0 else 1.0) * (0.5 if concept.soft else 1.0)
                if not concept.soft:
                    matched[k] += 1
        n_required = len(parsed.required)
        best = max(matched.values(), default=0)
        names = self._name_scores(parsed, allowed)
        meaning = self._meaning_scores(parsed, allowed)
        complete = n_required > 0 and best == n_required
        if n_required == 0:         # only soft words: anything matching them
            chosen = {k for k, v in lexical.items() if v > 0}
        elif best > 0:
            chosen = {k for k, v in matched.items() if v == best}
        else:
            chosen = set()
        chosen |= {k for k, v in names.items() if v >= 1.0}
        if not complete and meaning:
            floor = max(SEMANTIC_MIN, max(meaning.values()) - SEMANTIC_BAND)
            chosen |= {k for k, v in meaning.items() if v >= floor}
        n = max(len(parsed.concepts), 1)
        hits = [Hit(k, round(W_LEXICAL * lexical[k] / n + W_NAME * names.get(k, 0.0)
                              + W_SEMANTIC * meaning.get(k, 0.0), 9), matched[k]) for k in chosen]
        hits.sort(key=lambda h: (-h.matched if not complete else 0, -h.score,
                                 self.documents[h.key].name.casefold(), str(h.key)))
        result = SearchResult(parsed, hits, complete or not hits)
        if not hits:
            result.suggestions = self.suggest(parsed.text, allowed)
        return result

    def _name_scores(self, parsed: ParsedQuery, allowed: set) -> dict:
        """1 for an exact name or alias (as typed, or via the vocabulary); else fuzzy similarity
        >= 0.85 of the whole query to a name, scaled to 0..0.8."""
        out: dict = {}
        wanted = {parsed.text}
        if len(parsed.concepts) == 1:
            wanted.update(parsed.concepts[0].alternatives)
        for phrase in wanted:
            for k in self._names.get(phrase, ()):
                if k in allowed:
                    out[k] = 1.0
        if parsed.text:
            for name, keys in self._names.items():
                ratio = fuzz.ratio(parsed.text, name) / 100
                if ratio >= 0.85:
                    for k in keys:
                        if k in allowed and out.get(k, 0) < 1.0:
                            out[k] = max(out.get(k, 0.0), 0.8 * ratio)
        return out

    def _meaning_scores(self, parsed: ParsedQuery, allowed: set) -> dict:
        if len(parsed.text.split()) < 2 or not semantic.available():
            return {}       # one word (often an abbreviation) has no reliable meaning vector
        if self._vectors is None:       # all documents' vectors, once per index
            self._vector_keys = list(self.documents)  # (the keys first: another thread may read)
            self._vectors = self._meaning_matrix()
        query = " ".join([parsed.text, *(a for c in parsed.concepts for a in c.alternatives[1:])])
        sims = semantic.similarities(query, self._vectors) or []
        return {k: s for k, s in zip(self._vector_keys, sims, strict=False) if k in allowed}

    def _meaning_matrix(self):
        """Every document's meaning vector, in ``self.documents`` order (embedding only those the
        earlier index did not have)."""
        kept = self._kept_vectors
        todo = [k for k in self.documents if k not in kept]
        made = semantic.matrix([self.documents[k].meaning_text() for k in todo]) if todo else None
        if todo and made is None:
            return None
        rows = dict(kept)
        if todo:
            rows.update(zip(todo, made, strict=True))
        self._kept_vectors = {}
        if not rows:
            return semantic.matrix([])
        return np.vstack([rows[k] for k in self.documents])

    def suggest(self, text: str, allowed: Iterable | None = None, limit: int = 3) -> list[str]:
        """The intervention names nearest to ``text`` (for "did you mean"), best first."""
        text = normalise(text)
        if not text:
            return []
        allowed = set(self.documents) if allowed is None else set(allowed)
        scored: dict = {}
        for name, keys in self._names.items():
            score = fuzz.WRatio(text, name)
            for k in keys:
                if k in allowed and score > scored.get(k, -1):
                    scored[k] = score
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1], self.documents[kv[0]].name.casefold()))
        return [self.documents[k].name for k, score in ranked[:limit] if score >= 50]


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    if n == 1:
        return phrase[0] in tokens
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))
