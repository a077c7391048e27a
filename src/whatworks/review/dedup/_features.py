"""Normalising record fields, blocking, and the similarity features of a candidate pair."""

from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..records import Record

# ``ftfy`` (imported when first needed) repairs mojibake: UTF-8 text decoded as Windows-1252 or
# latin-1 by some database's export (a curly opening quote shown as the three characters a-circumflex,
# euro sign, oe ligature).

_TAGS = re.compile(r"<[^>]{1,40}>")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DOI_PREFIX = re.compile(r"^(?:https?://)?(?:dx\.)?(?:doi\.org/)?(?:doi:\s*)?", re.I)
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"}
#: Words that make a different work out of a look-alike title (a correction of it, a reply to it,
#: its protocol).
MARKERS = ("correction", "corrigendum", "erratum", "errata", "retraction", "retracted", "reply",
           "response", "comment", "commentary", "protocol", "withdrawn", "addendum")
_STOP = {"the", "a", "an", "of", "and", "in", "on", "for", "to", "with", "by", "at", "from", "or"}
#: Titles that name a kind of item rather than its content ("Editorial", "Book review: ...",
#: "Abstracts of the annual meeting", "Introduction", "Letter to the editor"): many different works
#: share such a title, so an identical title alone never merges them.
GENERIC = re.compile(
    r"^(?:editorial|introduction|preface|foreword|abstracts?|proceedings|obituary|news|highlights"
    r"|announcements?|contents|untitled|letters?|commentary|posters?|session|symposium|workshop|congress"
    r"|conference|meeting|summary|summaries|reviewers)\b"
    r"|\b(?:book reviews?|letters? to the editor|in memoriam|abstracts of|proceedings of|editorial"
    r"|annual (?:meeting|conference|congress|scientific))\b")
#: Identical titles of at least this many content words (not stop words) that are not :data:`GENERIC`
#: are taken for one work when no metadata conflict (see ``docs/methods/dedup.md`` for the evidence).
TITLE_RULE_WORDS = 6
#: ... and this many when one of the two abstracts is missing (a different abstract is evidence
#: against one work; a missing one is not evidence either way).
TITLE_RULE_WORDS_NO_ABSTRACT = 4
# The signature of UTF-8 decoded as Windows-1252 or latin-1: a lead byte shown as one of U+00C2..U+00F4
# followed by a continuation byte shown as U+0080..U+00BF or one of Windows-1252's replacements for
# 0x80..0x9F. Only text holding it is given to ftfy (which is slow), so clean text costs nothing.
#: The character sets whose wrong decoding of UTF-8 :func:`repair_text` undoes.
_WESTERN = {"sloppy-windows-1252", "windows-1252", "latin-1", "iso-8859-1"}
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021"
                       "\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013"
                       "\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]")


def ascii_fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode("ascii")


# British -> American spelling, the commonest differences between databases' copies of one title
_ISE_KEEP = {"exercis", "advis", "supervis", "promis", "otherwis", "precis", "concis", "premis",
             "expertis", "enterpris", "compromis", "franchis", "surpris", "revis", "devis", "televis",
             "disguis", "improvis", "compris", "excis", "incis", "rais", "prais", "nois", "pois", "cruis",
             "bruis", "aris", "wis", "ris", "paradis", "likewis", "clockwis", "chastis", "despis"}
_ISE = re.compile(r"\b([a-z]{2,}?)is(e|ed|es|ing|ation|ations|er|ers)\b")
_SPELLING = [(re.compile(p), r) for p, r in (
    (r"\b(behavi|col|favo?|lab|hon|neighb|hum|tum|harb|vap|rum|odo|vigo|rigo)our", r"\1or"),
    (r"\bprogramme(s?)\b", r"program\1"),
    (r"\b(anal|paral|catal|dial)ys(e|ed|es|ing)\b", r"\1yz\2"),
    (r"\b(p|orthop|h|an|leuk|gyn|gynaec|anaesth|ischaem|septicaem|haemat|haemorrh)ae", r"\1e"),
    (r"\b(o|f|diarrh)oe", r"\1e"),
    (r"oesophag", "esophag"), (r"oestr", "estr"), (r"oedem", "edem"), (r"anaesth", "anesth"),
    (r"\b(cent|met|fib|theat|lit|calib)re(s?)\b", r"\1er\2"),
    (r"\bageing\b", "aging"), (r"\bcounsell", "counsel"), (r"\benrolment", "enrollment"),
    (r"\bmodell(ing|ed)\b", r"model\1"), (r"\btravell", "travel"), (r"\bpaediatric", "pediatric"),
    (r"\bhaem", "hem"), (r"\bdefence\b", "defense"), (r"\bpractise", "practice"),
)]


def _ise(m: re.Match) -> str:
    stem, end = m.group(1), m.group(2)
    return m.group(0) if stem + "is" in _ISE_KEEP else f"{stem}iz{end}"


def american_spelling(text: str) -> str:
    """British spellings folded to American ones in lower-case text (``randomised`` -> ``randomized``,
    ``behaviour`` -> ``behavior``, ``programme`` -> ``program``, ``paediatric`` -> ``pediatric``)."""
    text = _ISE.sub(_ise, text)
    for pattern, repl in _SPELLING:
        text = pattern.sub(repl, text)
    return text


def repair_text(text: str) -> str:
    """Mojibake repaired: text that was UTF-8 but was decoded as Windows-1252 or latin-1 somewhere
    (``"\\u00e2\\u20ac\\u0153Sepsis Six"`` -> ``"\\u201cSepsis Six"``),
    by ftfy's ``fix_encoding`` (Speer 2019), which undoes a wrong decoding only when the result is
    plausible text. Clean text is returned unchanged without calling ftfy.

    Only the Western decodings are undone: ftfy's plan is cut before its first step that encodes to
    any other character set. Some runs of curly quotes and accents, such as ``"\\u2026\\u00fc\\u201c"``
    garbled, are repaired in one step, but the repaired text still scores as slightly odd, and ftfy
    would go on to decode it as Mac Roman, giving unrelated letters. A hypothesis test found this."""
    if text.isascii() or not _MOJIBAKE.search(text):
        return text
    import ftfy

    explained = ftfy.fix_encoding_and_explain(text)
    plan = list(explained.explanation or ())
    cut = next((k for k, (action, encoding) in enumerate(plan)
                if action == "encode" and encoding not in _WESTERN), None)
    if cut is None:
        return explained.text
    return ftfy.apply_plan(text, plan[:cut]) if cut else text


def drop_repetition(text: str, *, min_len: int = 40) -> str:
    """A normalised text that repeats its own beginning (a database glued two copies of a field
    together, ``"Background ... evidence.";" Background ..."``) cut where the repetition starts.

    The repetition must start with at least ``min_len`` letters of the beginning and run on
    identically to the end of the text (which may be cut short), so a phrase that merely recurs
    inside a text leaves it unchanged.
    """
    if len(text) < 2 * min_len:
        return text
    k = text.find(text[:min_len], min_len)
    if k < 0:
        return text
    rest = text[k:]
    return text[:k].rstrip() if text.startswith(rest) else text


def norm_text(text: str | None, *, spelling: bool = True) -> str:
    """Lower-case ASCII words separated by one space: mojibake repaired (:func:`repair_text`), HTML
    entities (even double-escaped ones) and tags, accents, case, punctuation and (with ``spelling``)
    British spellings folded (so ``"Caf&eacute;: <i>a</i> randomised study."`` becomes
    ``"cafe a randomized study"``); ``&`` reads as ``and``. Abstracts skip the spelling fold: it is
    the slowest step, and a few letters in a long text barely move its similarity."""
    if not text:
        return ""
    for _ in range(3):
        if "&" not in text:
            break
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if "<" in text:
        text = _TAGS.sub(" ", text)
    text = repair_text(text)
    text = _NON_ALNUM.sub(" ", ascii_fold(text).lower().replace("&", " and ")).strip()
    return american_spelling(text) if spelling else text


def norm_doi(doi: str | None) -> str:
    """``10.xxxx/...`` in lower case, without a resolver URL, ``doi:`` prefix or trailing dot."""
    if not doi:
        return ""
    d = _DOI_PREFIX.sub("", doi.strip()).lower()
    d = d.replace("%2f", "/").rstrip(".,; ")
    return d if d.startswith("10.") else ""


_DOI_VERSION = re.compile(r"^(10\.\S+?)\.pub(\d{1,2})$")


def doi_version(doi: str) -> tuple[str, int]:
    """A normalised DOI split into the DOI of the work and its version, for reviews that are updated
    under versioned DOIs (Cochrane: ``10.1002/14651858.cd007978.pub2`` is the second version of
    ``10.1002/14651858.cd007978``, version 1)."""
    m = _DOI_VERSION.match(doi)
    return (m.group(1), int(m.group(2))) if m else (doi, 1)


def first_author(authors: Sequence[str]) -> str:
    """The first author's family name, folded (``"Müller, A."`` and ``"Muller A"`` -> ``muller``)."""
    if not authors:
        return ""
    a = authors[0]
    fam = a.split(",")[0] if "," in a else (a.split()[0] if a.split() else "")
    # "Smith JA" (PubMed style, no comma): the family name comes first as well
    return _NON_ALNUM.sub("", ascii_fold(fam).lower())


def first_page(pages: str | None) -> str:
    if not pages:
        return ""
    m = re.search(r"[A-Za-z]?\d+", pages)
    return m.group(0).lower() if m else ""


def norm_volume(volume: str | None) -> str:
    if not volume:
        return ""
    m = re.search(r"\d+", volume)
    return m.group(0) if m else ""


@dataclass(frozen=True, slots=True)
class Normalised:
    """The fields of one record that deduplication compares."""

    title: str
    abstract: str
    doi: str
    pmid: str
    year: int | None
    author: str
    authors: str
    journal: str
    journal_initials: str
    volume: str
    page: str
    numbers: frozenset
    markers: frozenset
    content_words: int  # title words that are not stop words
    generic: bool       # the title names a kind of item (GENERIC) rather than a content
    doi_work: str       # the DOI without a version suffix (doi_version)
    doi_version: int


def normalise(r: Record) -> Normalised:
    title = norm_text(r.title)
    words = title.split()
    journal = " ".join(w for w in norm_text(r.journal, spelling=False).split() if w not in _STOP)
    doi = norm_doi(r.doi)
    doi_work, version = doi_version(doi)
    return Normalised(
        title=title,
        abstract=drop_repetition(norm_text(r.abstract[:600] if r.abstract else None, spelling=False)),
        doi=doi, pmid=(r.pmid or "").strip(), year=r.year, author=first_author(r.authors),
        authors=" ".join(first_author([a]) for a in r.authors[:8]),
        journal=journal, journal_initials="".join(w[0] for w in journal.split()),
        volume=norm_volume(r.volume), page=first_page(r.pages),
        numbers=frozenset(w for w in words if w.isdigit() or w in _ROMAN),
        markers=frozenset(w for w in words if w in MARKERS),
        content_words=sum(1 for w in words if w not in _STOP),
        generic=bool(GENERIC.search(title)),
        doi_work=doi_work, doi_version=version)


# ---------------------------------------------------------------------------------------------
# blocking

#: Blocks up to this size are compared all against all; bigger blocks only within a sliding window
#: of their members sorted by title (the sorted-neighbourhood method).
MAX_BLOCK = 25
WINDOW = 6


def _title_keys(title: str) -> list[str]:
    keys = []
    compact = title.replace(" ", "")
    if len(compact) >= 12:
        keys.append("b" + compact[:18])
        keys.append("e" + compact[-18:])
    words = [w for w in title.split() if w not in _STOP and len(w) > 3]
    if len(words) >= 2:
        longest = sorted(sorted(set(words)), key=len, reverse=True)[:3]
        keys.append("w" + " ".join(sorted(longest)))
    return keys


def candidate_pairs(norm: Sequence[Normalised]) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of records that share a blocking key: the DOI, the PMID, the
    first or last 18 letters of the title, its three longest words, the first 40 letters of the
    abstract, or the first author with the year."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(norm):
        if n.doi:
            blocks["d" + n.doi].append(i)
        if n.pmid:
            blocks["p" + n.pmid].append(i)
        for k in _title_keys(n.title):
            blocks[k].append(i)
        if len(n.abstract) >= 60:
            blocks["a" + n.abstract[:40]].append(i)
        if n.author and n.year:
            blocks[f"y{n.author}|{n.year}"].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        m = len(members)
        if m < 2:
            continue
        if m <= MAX_BLOCK:
            for a in range(m):
                ia = members[a]
                for b in range(a + 1, m):
                    ib = members[b]
                    pairs.add((ia, ib) if ia < ib else (ib, ia))
        else:
            ordered = sorted(members, key=lambda i: norm[i].title)
            for a in range(m):
                ia = ordered[a]
                for b in range(a + 1, min(m, a + 1 + WINDOW)):
                    ib = ordered[b]
                    pairs.add((ia, ib) if ia < ib else (ib, ia))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.array(sorted(pairs), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# features

#: The features of a pair, in the order of the model's coefficients.
FEATURES = (
    "title_sim",          # rapidfuzz ratio of the normalised titles, 0..1 (0 if either is missing)
    "title_token_sim",    # token-set ratio of the titles, 0..1
    "title_missing",      # either title missing
    "abstract_sim",       # ratio of the first 600 letters of the normalised abstracts
    "abstract_missing",   # either abstract missing
    "doi_same", "doi_diff",
    "pmid_same", "pmid_diff",
    "year_same", "year_off_by_one", "year_diff",
    "author_same", "author_diff",   # first author's family name
    "authors_sim",        # token-set ratio of the first eight family names (0 if either missing)
    "journal_sim",        # the better of token-set ratio and initials match (0 if either missing)
    "volume_same", "volume_diff",
    "page_same", "page_diff",
    "numbers_differ",     # the titles hold different numbers or roman numerals (Part I / Part II)
    "markers_differ",     # one title is a correction, reply, protocol ... and the other is not
    # step functions of the similarities: near-identical text is much stronger evidence than a
    # linear term in the ratio can express
    "title_ge_85", "title_ge_93", "title_ge_98",
    "abstract_ge_75", "abstract_ge_90", "abstract_ge_98",
)


#: Pairs whose titles are less alike than this are not scored (their match probability is below
#: 0.01 whatever else agrees) unless they share a DOI or PMID or a title is missing.
TITLE_FLOOR = 0.6


def pair_features(norm: Sequence[Normalised], pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs worth scoring and their :data:`FEATURES` (rows) as floats.

    Candidate pairs whose titles are less than :data:`TITLE_FLOOR` alike, with no shared DOI or
    PMID, are dropped here (the model was fitted on the same filtered pairs).
    """
    from rapidfuzz import fuzz

    ratio, tset = fuzz.ratio, fuzz.token_set_ratio
    floor = TITLE_FLOOR * 100.0
    width = len(FEATURES)
    rows: list[list[float]] = []
    kept: list[int] = []
    for k, (i, j) in enumerate(pairs.tolist()):
        a, b = norm[i], norm[j]
        row = [0.0] * width
        if a.title and b.title:
            if a.title == b.title:
                t = 1.0
                row[1] = 1.0
            else:
                t = ratio(a.title, b.title, score_cutoff=floor) / 100.0
                if t == 0.0 and not ((a.doi and a.doi == b.doi) or (a.pmid and a.pmid == b.pmid)):
                    continue
                row[1] = tset(a.title, b.title) / 100.0
            row[0] = t
            row[22], row[23], row[24] = float(t >= 0.85), float(t >= 0.93), float(t >= 0.98)
        else:
            row[2] = 1.0
        kept.append(k)
        if a.abstract and b.abstract:
            if a.abstract == b.abstract:
                x = 1.0
            else:
                # compared over the shorter one's length: a truncated abstract still matches
                n = min(len(a.abstract), len(b.abstract))
                x = ratio(a.abstract[:n], b.abstract[:n]) / 100.0
            row[3] = x
            row[25], row[26], row[27] = float(x >= 0.75), float(x >= 0.90), float(x >= 0.98)
        else:
            row[4] = 1.0
        if a.doi and b.doi:
            row[5 if a.doi == b.doi else 6] = 1.0
        if a.pmid and b.pmid:
            row[7 if a.pmid == b.pmid else 8] = 1.0
        if a.year and b.year:
            d = abs(a.year - b.year)
            row[9 if d == 0 else (10 if d == 1 else 11)] = 1.0
        if a.author and b.author:
            row[12 if a.author == b.author else 13] = 1.0
            row[14] = tset(a.authors, b.authors) / 100.0
        if a.journal and b.journal:
            js = tset(a.journal, b.journal) / 100.0
            if a.journal_initials == b.journal_initials or a.journal.startswith(b.journal) \
                    or b.journal.startswith(a.journal):
                js = max(js, 0.9)
            row[15] = js
        if a.volume and b.volume:
            row[16 if a.volume == b.volume else 17] = 1.0
        if a.page and b.page:
            row[18 if a.page == b.page else 19] = 1.0
        if a.numbers != b.numbers:
            row[20] = 1.0
        if a.markers != b.markers:
            row[21] = 1.0
        rows.append(row)
    X = np.array(rows, dtype=float) if rows else np.zeros((0, width))
    return pairs[np.array(kept, dtype=np.int64)] if kept else pairs[:0], X
