"""The nearest level on other clearinghouses' scales, for a rating computed here. Approximate.

Other clearinghouses rate whole programmes against their own criteria, from their own reading of
the studies; we rate one intervention x outcome. So a cross-walk can only point to the *nearest*
level, from what our rating and its stored study facts say (design, risk of bias, direction and
significance, months of follow-up after the intervention ended). Each entry carries a one-line
justification and the same caveat; none is that clearinghouse's rating.

References
----------
Early Intervention Foundation (now Foundations). EIF evidence standards: levels 2, 3 and 4, the
    "+" ratings, NL2 (not level 2) and NE (found not to be effective in a rigorous study).
California Evidence-Based Clearinghouse for Child Welfare. Scientific Rating Scale: 1 well-supported,
    2 supported, 3 promising, 4 evidence fails to demonstrate effect, 5 concerning practice, NR.
Title IV-E Prevention Services Clearinghouse (2019, updated). Handbook of Standards and Procedures:
    well-supported, supported, promising, does not currently meet criteria.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._results import Result
from ..errors import ParameterError
from .rate import Rating

CAVEAT = ("Approximate: the nearest level on that clearinghouse's scale, worked out from this rating "
          "of one outcome. It is not that clearinghouse's own rating, which covers the whole "
          "programme under its own criteria and may differ.")

PROGRAMME_CAVEAT = (
    "Approximate, and not those clearinghouses' ratings: the nearest level on each scale, worked out "
    "from our ratings of this programme's outcomes (its best-supported one). Each clearinghouse "
    "rates programmes under its own criteria and its own reading of the studies, and may differ; "
    "do not quote these levels as theirs.")

RANDOMISED = ("rct", "cluster-rct")
RIGOROUS_DESIGNS = ("rct", "cluster-rct", "qed")


@dataclass(frozen=True, repr=False)
class CrosswalkEntry(Result):
    """The nearest level on one clearinghouse's scale."""

    clearinghouse: str
    clearinghouse_name: str
    level: str
    label: str
    justification: str
    caveat: str = CAVEAT

    def summary_text(self) -> str:
        return f"{self.clearinghouse_name}: {self.label} ({self.level}) - {self.justification}"


@dataclass(frozen=True, repr=False)
class Crosswalk(Result):
    """Nearest levels on the Foundations, CEBC and Title IV-E scales for one rating."""

    outcome: str
    entries: tuple[CrosswalkEntry, ...]
    caveat: str = CAVEAT

    def summary_text(self) -> str:
        return "\n".join([f"Cross-walk for {self.outcome} (approximate)"]
                         + [f"  {e.summary_text()}" for e in self.entries])

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([e.to_dict() for e in self.entries])


@dataclass(frozen=True)
class _Facts:
    """What the cross-walk reads from a rating's stored inputs."""

    rigorous: int           # eligible design, risk of bias low or moderate
    randomised: int         # ... and randomised
    favourable: int         # rigorous, significant in the better direction
    followed_12: int        # rigorous with follow-up of 12+ months after the intervention ended
    randomised_12: int
    randomised_6: int
    favourable_12: int
    favourable_6: int


def _facts(rating: Rating) -> _Facts:
    outcome = rating.inputs.get("outcome", {})
    better = outcome.get("direction")
    rigorous = [s for s in rating.inputs.get("studies", [])
                if s["design"] in RIGOROUS_DESIGNS and s["risk_of_bias"] in ("low", "moderate")]

    def months(s) -> float:
        return s.get("follow_up_months") or 0.0

    randomised = [s for s in rigorous if s["design"] in RANDOMISED]
    favourable = [s for s in rigorous if s.get("significant") and s["direction"] == better]
    return _Facts(
        rigorous=len(rigorous), randomised=len(randomised), favourable=len(favourable),
        followed_12=sum(months(s) >= 12 for s in rigorous),
        randomised_12=sum(months(s) >= 12 for s in randomised),
        randomised_6=sum(months(s) >= 6 for s in randomised),
        favourable_12=sum(months(s) >= 12 for s in favourable),
        favourable_6=sum(months(s) >= 6 for s in favourable))


def foundations_level(rating: Rating) -> CrosswalkEntry:
    """Nearest Foundations (formerly EIF) Guidebook evidence level: 2 .. 4+, NL2 or NE."""
    f, e, s = _facts(rating), rating.effectiveness, rating.strength

    def entry(level: str, label: str, why: str) -> CrosswalkEntry:
        return CrosswalkEntry("foundations", "Foundations Guidebook (formerly EIF)", level, label, why)

    if e is None:
        return entry("NL2", "Not level 2", "No rigorous study has measured this outcome yet.")
    if e <= 0:
        if s >= 2 and f.rigorous:
            return entry("NE", "Found not to be effective",
                         "Rigorous evidence shows no benefit"
                         + (" (it points to harm)." if e < 0 else "."))
        return entry("NL2", "Not level 2", "The evidence does not show a benefit and is not "
                     "strong enough to show that there is none.")
    long_term = f.rigorous >= 2 and f.followed_12 >= 1
    if s == 0:
        return entry("NL2", "Not level 2", "A benefit is suggested but the evidence is very weak.")
    if s == 1:
        return entry("2", "Preliminary evidence", "A benefit with low-strength evidence: "
                     "preliminary, causality not yet established.")
    if s == 2:
        if f.rigorous:
            return entry("3", "Efficacious", "A benefit in at least one rigorous study, with "
                         "moderate strength of evidence overall.")
        return entry("2+", "Preliminary evidence, exceeding level 2",
                     "A benefit with moderate-strength evidence, but no study both rigorous in "
                     "design and at low or moderate risk of bias.")
    if long_term:
        if s == 4 and e == 2:
            return entry("4+", "Established, exceeding level 4",
                         "A consistent benefit, high-strength evidence, two or more rigorous "
                         "studies and follow-up of a year or more.")
        return entry("4", "Established", "Two or more rigorous studies with a benefit and "
                     "follow-up of a year or more.")
    if f.rigorous:
        return entry("3+", "Efficacious, exceeding level 3",
                     "Strong evidence of a benefit, but not two rigorous studies with a follow-up "
                     "of a year or more (as level 4 requires).")
    return entry("2+", "Preliminary evidence, exceeding level 2",
                 "Strong evidence of a benefit, but no study at low or moderate risk of bias.")


def cebc_level(rating: Rating) -> CrosswalkEntry:
    """Nearest California Evidence-Based Clearinghouse Scientific Rating: 1 .. 5 or NR."""
    f, e = _facts(rating), rating.effectiveness

    def entry(level: str, label: str, why: str) -> CrosswalkEntry:
        return CrosswalkEntry("cebc", "California Evidence-Based Clearinghouse (CEBC)", level, label,
                              why)

    if e is None:
        return entry("NR", "Not able to be rated", "No study with a comparison group has measured "
                     "this outcome yet.")
    if e < 0:
        return entry("5", "Concerning practice", "The weight of the evidence points to harm.")
    if e == 0:
        if f.randomised >= 2:
            return entry("4", "Evidence fails to demonstrate effect",
                         "Two or more rigorous randomised trials, and the evidence does not show a "
                         "benefit.")
        return entry("NR", "Not able to be rated", "The evidence shows no clear benefit, from fewer "
                     "than two rigorous randomised trials.")
    if f.randomised >= 2 and f.randomised_12 >= 1:
        return entry("1", "Well-supported by research evidence",
                     "A benefit, two or more rigorous randomised trials, one followed up a year or "
                     "more after the intervention ended.")
    if f.randomised_6 >= 1:
        return entry("2", "Supported by research evidence",
                     "A benefit and a rigorous randomised trial followed up six months or more "
                     "after the intervention ended.")
    return entry("3", "Promising research evidence",
                 "A benefit from studies with a comparison group, without the randomised trials "
                 "and follow-up that levels 1 and 2 require (follow-up not recorded counts as short).")


def title_iv_e_level(rating: Rating) -> CrosswalkEntry:
    """Nearest Title IV-E Prevention Services Clearinghouse rating."""
    f, e = _facts(rating), rating.effectiveness

    def entry(level: str, label: str, why: str) -> CrosswalkEntry:
        return CrosswalkEntry("title-iv-e", "Title IV-E Prevention Services Clearinghouse", level,
                              label, why)

    if e is not None and e > 0 and f.favourable:
        if f.favourable >= 2 and f.favourable_12 >= 1:
            return entry("well-supported", "Well-supported",
                         "Two or more rigorous studies with a significant favourable effect, one "
                         "lasting a year or more after the intervention ended.")
        if f.favourable_6 >= 1:
            return entry("supported", "Supported",
                         "A rigorous study with a significant favourable effect lasting six months "
                         "or more after the intervention ended.")
        return entry("promising", "Promising", "At least one rigorous study with a significant "
                     "favourable effect (follow-up not recorded counts as short).")
    return entry("does-not-meet", "Does not currently meet criteria",
                 "No overall benefit with a rigorous study showing a significant favourable effect.")


CLEARINGHOUSES = {"foundations": foundations_level, "cebc": cebc_level, "title-iv-e": title_iv_e_level}


def crosswalk(rating: Rating, clearinghouses: tuple[str, ...] | None = None) -> Crosswalk:
    """Nearest levels on the Foundations, CEBC and Title IV-E scales (all three by default)."""
    if not isinstance(rating, Rating):
        raise ParameterError("rating", type(rating).__name__, "a Rating from whatworks.ratings.rate")
    names = tuple(CLEARINGHOUSES) if clearinghouses is None else tuple(clearinghouses)
    for name in names:
        if name not in CLEARINGHOUSES:
            raise ParameterError("clearinghouses", name, "any of " + ", ".join(CLEARINGHOUSES))
    return Crosswalk(outcome=rating.outcome, entries=tuple(CLEARINGHOUSES[n](rating) for n in names))


#: Each clearinghouse's levels, best first (the order a programme-level summary picks from).
LEVEL_ORDER = {
    "foundations": ("4+", "4", "3+", "3", "2+", "2", "NE", "NL2"),
    "cebc": ("5", "1", "2", "3", "4", "NR"),
    "title-iv-e": ("well-supported", "supported", "promising", "does-not-meet"),
}


def programme_crosswalk(per_outcome: dict[str, list[dict]]) -> list[dict]:
    """One nearest level per clearinghouse for a programme as a whole, from its outcomes' entries.

    ``per_outcome`` maps an outcome's name to its cross-walk entries (``CrosswalkEntry.to_dict()``).
    The clearinghouses rate a programme on its best-supported outcome, so the level picked is the
    highest any outcome reaches (``LEVEL_ORDER``), naming that outcome; for CEBC, "concerning
    practice" (harm on any outcome) comes first, as its scale puts a risk of harm before any
    benefit. Approximate: each carries :data:`PROGRAMME_CAVEAT`.
    """
    best: dict[str, tuple[int, str, dict]] = {}
    for outcome, entries in per_outcome.items():
        for e in entries:
            order = LEVEL_ORDER.get(e.get("clearinghouse"), ())
            rank = order.index(e["level"]) if e.get("level") in order else len(order)
            key = e.get("clearinghouse")
            if key not in best or rank < best[key][0]:
                best[key] = (rank, outcome, e)
    return [dict(e, outcome=outcome, caveat=PROGRAMME_CAVEAT)
            for name in CLEARINGHOUSES if name in best
            for _, outcome, e in [best[name]]]
