"""Normalisation, words and stems (English, Snowball)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_STEMMER = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[a-z0-9]+")

# Words that carry no meaning in a search of this store (kept small: "care", "family", "children"
# are meaningful here).
STOPWORDS = frozenset("""
a an and are as at be by do does for from has have how i if in into is it its of on or our that the
their them they this to was we what when where which who whose why will with work works working
about any can could me my should would you your use uses used using
""".split())

# Words people add to a description that do not pick out an intervention ("help for ...",
# "a programme for ..."): they may rank, they never have to match.
SOFT_WORDS = frozenset("""
help helps helping support supporting supports programme programmes program programs
intervention interventions service services approach approaches scheme schemes model models
project projects something things thing way ways best good effective evidence based
reduce reduces reducing prevent prevents preventing stop stops stopping improve improves improving
better get gets getting keep keeps keeping make makes making
""".split())


def normalise(text: str) -> str:
    """Casefolded text without accents, control characters or punctuation; words separated by one
    space. ``normalise("Famíly-group  CONFERENCE\\x00")`` is ``"family group conference"``."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(text.casefold()))


def words(text: str) -> list[str]:
    """The words of ``text`` after normalisation (ASCII letters and digits only)."""
    return normalise(text).split()


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of one normalised word."""
    return _STEMMER.stemWord(word)


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]
