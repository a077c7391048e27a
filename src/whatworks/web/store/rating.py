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
    statement: str
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
                        explanation=r.explanation, statement=result.statement,
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
                      pi_upper=finite(fit.pi_upper), tau2=fit.tau2, i2=fit.i2,
                      result=fit.to_dict() if hasattr(fit, "to_dict") else (result.synthesis or {}))
    return values


def forest_fit(result: EvidenceRating | None):
    """The fit a forest plot can draw (one effect per study); None for a three-level fit."""
    if result is None or result.fit is None or not hasattr(result.fit, "study_labels"):
        return None
    return result.fit


def save_result(intervention: Intervention, outcome: Outcome, result: EvidenceRating | None, *,
                reason: str, when, user=None, plot: bool = True):
    """Save what the core returned: the synthesis, the rating, and a history line on a change."""
    from .models import Rating, Synthesis
    from .services import _forest_svg, _forest_table, _record_change

    Synthesis.objects.filter(intervention=intervention, outcome=outcome).delete()
    old = Rating.objects.filter(intervention=intervention, outcome=outcome).first()
    if result is None:
        if old is not None:
            _record_change(intervention, outcome, old, None, reason, when, user)
            old.delete()
        return None
    values = synthesis_values(result)
    fit = forest_fit(result)
    svg = _forest_svg(fit, values["measure"], outcome) if (fit is not None and plot) else ""
    if fit is not None:
        values["result"] = {**values["result"],
                            "forest": _forest_table(fit, values["measure"], result, intervention)}
    Synthesis.objects.create(intervention=intervention, outcome=outcome, forest_svg=svg, **values)
    rating = stored(result)
    new, _ = Rating.objects.update_or_create(
        intervention=intervention, outcome=outcome,
        defaults=dict(effectiveness=rating.effectiveness, effectiveness_label=rating.effectiveness_label,
                      effectiveness_state=rating.effectiveness_state, strength=rating.strength,
                      strength_label=rating.strength_label, scheme=rating.scheme,
                      scheme_version=rating.scheme_version, inputs=rating.inputs,
                      explanation=rating.explanation, statement=rating.statement,
                      crosswalk=rating.crosswalk,
                      computed=when))
    if old is None or (old.effectiveness_label, old.strength_label) != (
            new.effectiveness_label, new.strength_label):
        _record_change(intervention, outcome, old, new, reason, when, user)
    return new


def rerate_store(*, scheme=None, reason: str, when=None) -> int:
    """Refit and re-rate every intervention x outcome of the store in one batch (for instance when a
    scheme version changes) and save the results; returns how many were rated."""
    from django.db import transaction
    from django.utils import timezone

    from whatworks.ratings.batch import rate_evidence_batch

    when = when or timezone.now()
    findings = list(Finding.objects.select_related("study", "intervention__review", "outcome"))
    groups: dict[tuple[int, int], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.intervention_id, f.outcome_id), []).append(f)
    frames, by_key, outcomes, amstar = [], {}, {}, {}
    for fs in groups.values():
        intervention, outcome = fs[0].intervention, fs[0].outcome
        table = findings_table(fs)
        if table.empty:
            continue
        frames.append(table.assign(intervention=intervention.slug, outcome=outcome.slug))
        by_key[(intervention.slug, outcome.slug)] = (intervention, outcome)
        outcomes[outcome.slug] = core_outcome(outcome)
        review = intervention.review
        amstar[intervention.slug] = (review.amstar2 or None) if review else None
    if not frames:
        return 0
    results = rate_evidence_batch(pd.concat(frames, ignore_index=True), outcomes=outcomes,
                                  scheme=scheme, review_amstar2=amstar, file="the store")
    with transaction.atomic():
        for key, result in results.items():
            intervention, outcome = by_key[key]
            save_result(intervention, outcome, result, reason=reason, when=when, plot=False)
    return len(results)
