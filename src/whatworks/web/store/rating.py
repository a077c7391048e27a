"""The store's adapter to the ratings core: database rows in, a rating (levels, labels, inputs,
explanation) out. The rules themselves live in ``whatworks.ratings`` (no Django there)."""

from __future__ import annotations

from dataclasses import dataclass

from whatworks.ratings import RatingInputs, StudyFacts, rate
from whatworks.ratings import framework as fw
from whatworks.ratings.crosswalk import crosswalk

from .models import Finding, Intervention, Outcome


@dataclass(frozen=True)
class StoredRating:
    """What the store keeps of a rating."""

    effectiveness: int | None
    effectiveness_label: str
    effectiveness_state: str
    strength: int | None
    strength_label: str
    scheme: str
    scheme_version: str
    inputs: dict
    explanation: str
    crosswalk: list


def core_outcome(outcome: Outcome) -> fw.Outcome:
    """The framework outcome for a stored one (built from the row if the framework lacks it)."""
    try:
        return fw.get_outcome(outcome.slug)
    except Exception:  # an outcome added by editors: described by its row
        return fw.Outcome(slug=outcome.slug, name=outcome.name, description=outcome.description,
                          direction=outcome.direction, measures=tuple(
                              m for m in outcome.measures.splitlines() if m.strip()),
                          domain=outcome.domain.slug)


def participants(finding: Finding) -> int:
    """The study's sample size, else the total of the reported group sizes or counts, else 1."""
    if finding.study.sample_size:
        return int(finding.study.sample_size)
    r = finding.reported or {}
    for keys in (("n1i", "n2i"), ("ai", "bi", "ci", "di"), ("ni",)):
        if all(k in r for k in keys):
            return max(1, int(round(sum(float(r[k]) for k in keys))))
    return 1


#: Store designs the rating rules know under another name (cohort studies are not eligible
#: designs for effectiveness; they are listed as excluded, never dropped silently).
DESIGN_FOR_RATING = {"cohort": "other"}


def study_facts(finding: Finding) -> StudyFacts:
    design = DESIGN_FOR_RATING.get(finding.study.design, finding.study.design)
    return StudyFacts.from_effect(finding.study.citation[:80], finding.yi, finding.vi, design=design,
                                  n=participants(finding),
                                  risk_of_bias=finding.study.risk_of_bias or "unclear",
                                  follow_up_months=finding.study.follow_up_months)


def rate_findings(*, outcome: Outcome, intervention: Intervention, findings: list[Finding],
                  fit) -> StoredRating:
    """Rate one intervention x outcome from its chosen findings (one per study) and synthesis."""
    measure = findings[0].measure if len({f.measure for f in findings}) == 1 else None
    pooled = fit if (fit is not None and fit.k >= 2 and measure) else None
    review = intervention.review
    inputs = RatingInputs(outcome=core_outcome(outcome),
                          studies=tuple(study_facts(f) for f in findings),
                          synthesis=pooled, measure=measure,
                          review_amstar2=(review.amstar2 or None) if review else None)
    r = rate(inputs)
    return StoredRating(effectiveness=r.effectiveness, effectiveness_label=r.effectiveness_label,
                        effectiveness_state=r.effectiveness_code, strength=r.strength,
                        strength_label=r.strength_label, scheme=r.scheme_id,
                        scheme_version=r.scheme_version, inputs=r.inputs,
                        explanation=r.explanation,
                        crosswalk=[e.to_dict() for e in crosswalk(r).entries])
