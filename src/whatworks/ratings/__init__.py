"""Ratings: the outcomes framework and the rules that rate effectiveness and strength of evidence.

>>> from whatworks.ratings import RatingInputs, StudyFacts, SynthesisNumbers, rate
>>> rating = rate(RatingInputs(outcome="entry-to-care", studies=[...], synthesis=...))
>>> from whatworks.ratings import rate_evidence        # the whole pipeline from a findings table
>>> result = rate_evidence(findings_frame, outcome="entry-to-care", scheme="whatworks-2026@2.0")

No web framework is imported here; the Evidence Store (``whatworks.web``) stores what ``rate``
returns. See ``docs/methods/ratings.md``.
"""

from .crosswalk import Crosswalk, CrosswalkEntry, crosswalk
from .framework import FRAMEWORK, Domain, Framework, Outcome, export_framework, get_outcome
from .inputs import RatingInputs, StudyFacts, SynthesisNumbers
from .pipeline import EvidenceRating, StudyDecision, rate_evidence
from .rate import Rating, RatingChange, explain_change, rate
from .schemes import (
    DEFAULT_SCHEME,
    SCHEME_V1,
    SCHEME_V2,
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
    "EvidenceRating", "Outcome", "Rating", "RatingChange", "RatingInputs", "Rule", "SCHEME_V1",
    "SCHEME_V2", "Scheme", "SchemeParameters", "StudyDecision",
    "StudyFacts", "SynthesisNumbers", "crosswalk", "explain_change", "export_framework",
    "get_outcome", "get_scheme", "list_schemes", "rate", "rate_evidence", "register_scheme",
]
