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


def finding_in_words(item: dict, outcome: Outcome | None):
    """A stored or drafted finding (``measure``, ``yi``, ``vi``) as the finding form's preview and
    the public pages say it: the core's :func:`~whatworks.effects.entry.preview` ("Risk ratio
    0.50 (95% CI 0.31 to 0.81)" and its direction for ``outcome``); None when it has no effect
    size yet."""
    from whatworks.effects.entry import Entered

    yi, vi = item.get("yi"), item.get("vi")
    if yi is None or vi is None or not vi > 0:
        return None
    return preview_effect(Entered(measure=item["measure"], reported_as="", yi=yi, vi=vi), outcome)


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


def _evaluate_for_forest(synthesis: Synthesis):
    from . import rating as adapter

    return adapter.evaluate(
        outcome=synthesis.outcome, intervention=synthesis.intervention,
        findings=list(Finding.objects.filter(intervention_id=synthesis.intervention_id,
                                             outcome_id=synthesis.outcome_id)
                      .select_related("study")))


def forest_svg(synthesis: Synthesis) -> str:
    """The synthesis's forest plot as SVG, drawn on first use and cached."""
    if not synthesis.forest_svg:
        from . import rating as adapter

        fit = adapter.forest_fit(_evaluate_for_forest(synthesis))
        if fit is None:
            return ""
        synthesis.forest_svg = _forest_svg(fit, synthesis.measure, synthesis.outcome)
        Synthesis.objects.filter(pk=synthesis.pk).update(forest_svg=synthesis.forest_svg)
    return synthesis.forest_svg


def has_forest(synthesis: Synthesis | None) -> bool:
    """Whether the synthesis has a forest plot: one effect per study, one measure."""
    return bool(synthesis is not None and synthesis.measure != "mixed" and synthesis.method
                and synthesis.method != "ML3+CR2")


def forest_table(synthesis: Synthesis) -> dict | None:
    """The per-study numbers of the synthesis's forest plot (``Synthesis.result["forest"]``, saved
    with the synthesis; filled in on first use for one saved before it was kept)."""
    table = (synthesis.result or {}).get("forest")
    if table is None:
        from . import rating as adapter

        result = _evaluate_for_forest(synthesis)
        fit = adapter.forest_fit(result)
        if fit is None:
            return None
        table = _forest_table(fit, synthesis.measure, result, synthesis.intervention)
        synthesis.result = {**(synthesis.result or {}), "forest": table}
        Synthesis.objects.filter(pk=synthesis.pk).update(result=synthesis.result)
    return table


#: How the store draws every forest plot (the plot and its table read the same options).
FOREST_OPTIONS = {"pi_min_k": 3}
FOREST_LABEL_WIDTH = 2.3  # inches: longer study labels wrap at word boundaries


def _forest_table(fit, measure: str, result, intervention) -> dict:
    """The core's forest table, each study row with its key, year and size (n)."""
    from whatworks.synthesis.plots import forest_table

    table = forest_table(fit, transform=np.exp if measure in RATIO_MEASURES else None,
                         **FOREST_OPTIONS)
    keys = list(result.pooled)
    if len(keys) == len(table["studies"]):
        years = dict(intervention.studies.filter(key__in=keys).values_list("key", "year"))
        sizes = {d.study: d.n for d in result.studies}
        for row, key in zip(table["studies"], keys, strict=True):
            row.update(key=key, year=years.get(key), n=sizes.get(key))
    table.update(measure=measure, measure_name=MEASURE_NAMES.get(measure, measure))
    return table


def _forest_svg(fit, measure: str, outcome: Outcome) -> str:
    from whatworks.synthesis.plots import forest_plot

    ratio = measure in RATIO_MEASURES
    fig = forest_plot(fit, transform=np.exp if ratio else None,
                      xlabel=f"{MEASURE_NAMES.get(measure, measure)}: {outcome.name.lower()}",
                      better=outcome.direction, label_width=FOREST_LABEL_WIDTH, **FOREST_OPTIONS)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


MEASURE_NAMES = {"RR": "Risk ratio", "OR": "Odds ratio", "IRR": "Rate ratio", "PETO": "Odds ratio",
                 "ROM": "Ratio of means", "HR": "Hazard ratio",
                 "SMD": "Standardised mean difference (Hedges' g)",
                 "MD": "Mean difference", "RD": "Risk difference"}
