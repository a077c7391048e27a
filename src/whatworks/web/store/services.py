"""Where the store calls the core: findings -> effect sizes -> synthesis -> rating -> history.

A new or changed finding enters as an effect size (``whatworks.effects``), the synthesis of its
intervention x outcome is refitted (``whatworks.synthesis``), and the rating is recomputed by the
published rules (``whatworks.ratings``); a change of level is kept in the rating history.
"""

from __future__ import annotations

import io

import numpy as np
from django.utils import timezone

from whatworks.errors import InputError, WhatWorksError

from .models import Finding, Intervention, Outcome, Rating, RatingChange, Synthesis

RATIO_MEASURES = {"RR", "OR", "PETO", "IRR", "ROM", "HR"}


class FindingInputError(WhatWorksError):
    """Reported statistics that cannot give an effect size; ``fields`` maps argument -> messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))


def compute_effect(measure: str, reported: dict) -> tuple[float, float]:
    """The effect size and sampling variance of one finding from its reported statistics."""
    entered = enter_effect(measure, reported)
    return entered.yi, entered.vi


def enter_effect(measure: str, reported: dict, *, reported_as: str | None = None):
    """The core's :class:`~whatworks.effects.entry.Entered` for one finding (effect size, and the
    cluster adjustment when its inputs are given); errors map to the fields to correct."""
    from whatworks.effects.entry import effect_from_reported

    if not measure:
        raise FindingInputError({"measure": ["choose the effect measure"]})
    try:
        return effect_from_reported(measure, reported, reported_as=reported_as)
    except InputError as exc:
        raise FindingInputError({exc.column or "reported": [exc.message]}) from None
    except WhatWorksError as exc:
        raise FindingInputError({"reported": [str(exc)]}) from None


def preview_effect(entered, outcome: Outcome | None):
    """The core's words for an entered effect, read with the outcome's direction."""
    from whatworks.effects.entry import preview

    if outcome is None:
        return preview(entered)
    from .rating import core_outcome

    core = core_outcome(outcome)
    return preview(entered, outcome=core.phrase, direction=core.direction, unit=core.unit)


def save_finding(finding: Finding, *, reason: str, user=None) -> Finding:
    """Compute the finding's effect size, save it and refresh its synthesis and rating
    (serialised, moves included: see ``changes.save_finding``)."""
    from .changes import save_finding as save

    return save(finding, reason=reason, user=user)


def delete_finding(finding: Finding, *, reason: str, user=None) -> None:
    from .changes import delete_finding as delete

    delete(finding, reason=reason, user=user)


def refresh(intervention: Intervention, outcome: Outcome, *, reason: str, user=None,
            when=None, plot: bool = True) -> Rating | None:
    """Refit the synthesis and recompute the rating of one intervention x outcome."""
    from . import rating as adapter

    when = when or timezone.now()
    findings = list(Finding.objects.filter(intervention=intervention, outcome=outcome)
                    .select_related("study"))
    result = adapter.evaluate(outcome=outcome, intervention=intervention, findings=findings)
    return adapter.save_result(intervention, outcome, result, reason=reason, when=when, user=user,
                               plot=plot)


def _record_change(intervention, outcome, old, new, reason, when, user) -> None:
    RatingChange.objects.create(
        intervention=intervention, outcome=outcome, when=when, reason=reason,
        old_effectiveness=old.effectiveness_label if old else "",
        new_effectiveness=new.effectiveness_label if new else "no evidence",
        old_strength=old.strength_label if old else "",
        new_strength=new.strength_label if new else "none",
        scheme_version=new.scheme_version if new else (old.scheme_version if old else ""),
        explanation=new.explanation if new else "all findings were removed", user=user)


def forest_svg(synthesis: Synthesis) -> str:
    """The synthesis's forest plot as SVG, drawn on first use and cached."""
    if not synthesis.forest_svg:
        from . import rating as adapter

        fit = adapter.forest_fit(adapter.evaluate(
            outcome=synthesis.outcome, intervention=synthesis.intervention,
            findings=list(Finding.objects.filter(intervention_id=synthesis.intervention_id,
                                                 outcome_id=synthesis.outcome_id)
                          .select_related("study"))))
        if fit is None:
            return ""
        synthesis.forest_svg = _forest_svg(fit, synthesis.measure, synthesis.outcome)
        Synthesis.objects.filter(pk=synthesis.pk).update(forest_svg=synthesis.forest_svg)
    return synthesis.forest_svg


def _forest_svg(fit, measure: str, outcome: Outcome) -> str:
    from whatworks.synthesis.plots import forest_plot

    ratio = measure in RATIO_MEASURES
    labels = {"RR": "Risk ratio", "OR": "Odds ratio", "IRR": "Rate ratio", "PETO": "Odds ratio",
              "ROM": "Ratio of means", "HR": "Hazard ratio",
              "SMD": "Standardised mean difference (Hedges' g)",
              "MD": "Mean difference", "RD": "Risk difference"}
    fig = forest_plot(fit, transform=np.exp if ratio else None,
                      xlabel=f"{labels.get(measure, measure)}: {outcome.name.lower()}")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()
