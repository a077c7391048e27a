"""The store's adapter to the ratings core: database rows in, a findings table to
``whatworks.ratings.rate_evidence``, and what it returns back out to be saved.

No rule is decided here: which findings count, the time point, the synthesis and the rating are
all the core's, under the versioned scheme. ``findings_table`` is also what the store's CSV export
turns into (``whatworks.ratings.store_export``), so every stored rating can be recomputed with
``whatworks rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from whatworks.ratings import EvidenceRating, rate_evidence, store_export
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


def _study(s) -> dict:
    return {"key": s.key, "citation": s.citation, "year": s.year, "design": s.design,
            "sample_size": s.sample_size, "risk_of_bias": s.risk_of_bias}


def _finding(f: Finding) -> dict:
    return {"id": f.pk, "measure": f.measure, "yi": f.yi, "vi": f.vi,
            "timepoint_months": f.timepoint_months, "reported": f.reported}


def findings_table(findings: list[Finding]) -> pd.DataFrame:
    """The findings as the core's table (the same table the store's CSV export rebuilds)."""
    return store_export.table([(_study(f.study), _finding(f)) for f in findings])


def evaluate(*, outcome: Outcome, intervention: Intervention, findings: list[Finding],
             scheme=None) -> EvidenceRating | None:
    """The core's rating of one intervention x outcome; None when no finding has an effect size."""
    table = findings_table(findings)
    if table.empty:
        return None
    review = intervention.review
    return rate_evidence(table, outcome=core_outcome(outcome), scheme=scheme,
                         review_amstar2=(review.amstar2 or None) if review else None,
                         file=f"{intervention.slug} x {outcome.slug}")


def stored(result: EvidenceRating) -> StoredRating:
    """What the store saves of a rating."""
    r = result.rating
    return StoredRating(effectiveness=r.effectiveness, effectiveness_label=r.effectiveness_label,
                        effectiveness_state=r.effectiveness_code, strength=r.strength,
                        strength_label=r.strength_label, scheme=r.scheme_id,
                        scheme_version=r.scheme_version, inputs=r.inputs,
                        explanation=r.explanation,
                        crosswalk=[e.to_dict() for e in crosswalk(r).entries])


def synthesis_values(result: EvidenceRating) -> dict:
    """The Synthesis row's fields from the core's fit (the single study's when k = 1)."""
    import math

    def finite(x):
        return x if x is not None and math.isfinite(x) else None

    values = dict(measure=result.measure or "mixed", k=result.k, participants=result.participants)
    fit = result.fit
    if fit is None:
        return values
    from whatworks.ratings.pipeline import DependentFit

    if isinstance(fit, DependentFit):
        values.update(method="ML3+CR2", estimate=fit.estimate, ci_lower=fit.ci_lower,
                      ci_upper=fit.ci_upper, pi_lower=fit.pi_lower, pi_upper=fit.pi_upper,
                      tau2=fit.tau2, i2=fit.i2, result=result.synthesis or {})
    else:
        values.update(method=fit.method, estimate=fit.estimate, ci_lower=fit.ci_lower,
                      ci_upper=fit.ci_upper, pi_lower=finite(fit.pi_lower),
                      pi_upper=finite(fit.pi_upper), tau2=fit.tau2, i2=fit.i2, result=fit.to_dict())
    return values


def forest_fit(result: EvidenceRating | None):
    """The fit a forest plot can draw (one effect per study); None for a three-level fit."""
    if result is None or result.fit is None or not hasattr(result.fit, "study_labels"):
        return None
    return result.fit
