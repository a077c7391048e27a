"""Ratings: the outcomes framework and the rules that rate effectiveness and strength of evidence.

>>> from whatworks.ratings import RatingInputs, StudyFacts, SynthesisNumbers, rate
>>> rating = rate(RatingInputs(outcome="entry-to-care", studies=[...], synthesis=...))

No web framework is imported here; the Evidence Store (``whatworks.web``) stores what ``rate``
returns. See ``docs/methods/ratings.md``.
"""

from .crosswalk import Crosswalk, CrosswalkEntry, crosswalk
from .framework import FRAMEWORK, Domain, Framework, Outcome, export_framework, get_outcome
from .inputs import RatingInputs, StudyFacts, SynthesisNumbers
from .rate import Rating, RatingChange, explain_change, rate
from .schemes import (
    DEFAULT_SCHEME,
    Level,
    Rule,
    Scheme,
    SchemeParameters,
    get_scheme,
    list_schemes,
    register_scheme,
)

__all__ = [
    "DEFAULT_SCHEME", "FRAMEWORK", "Crosswalk", "CrosswalkEntry", "Domain", "Framework", "Level",
    "Outcome", "Rating", "RatingChange", "RatingInputs", "Rule", "Scheme", "SchemeParameters",
    "StudyFacts", "SynthesisNumbers", "crosswalk", "explain_change", "export_framework",
    "get_outcome", "get_scheme", "list_schemes", "rate", "register_scheme",
]
