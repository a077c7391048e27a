"""When an intervention may be published: the one rule every route of the Evidence Store calls.

An intervention shown to readers needs a summary, and either a finding with a computable effect
size (something a rating can be made from) or an explicit *evidence gap* marker: published to say
there is no study with outcomes yet. An intervention marked as an evidence gap that has a finding
with an effect is refused, so the label keeps its promise ("no evidence yet" is never shown over
evidence).

>>> publication_refusal(summary="A way of working.", has_effect_finding=False, evidence_gap=True)
>>> publication_refusal(summary="", has_effect_finding=True, evidence_gap=False)
'it has no summary: write one first'

The same contradiction is caught when it is made, not only at publication (``gap_conflict``): a
finding with an effect size added to an intervention marked as an evidence gap is refused where
readers would see it at once (the live findings of a published intervention), and kept with a
warning in a draft or an unpublished intervention (the editor may untick the marker next; until
then publication refuses it).

>>> gap_conflict(evidence_gap=True, has_effect_finding=True, public=True).refused
True
>>> gap_conflict(evidence_gap=False, has_effect_finding=True, public=True) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

NO_SUMMARY = "it has no summary: write one first"
NO_EFFECT = ("it has no finding with a computable effect size: add one first, or mark it as an "
             "evidence gap (published to say there is no study with outcomes yet)")
GAP_WITH_EFFECT = ("it is marked as an evidence gap but has findings with effects: untick "
                   "'evidence gap' first")
GAP_CONTRADICTED = ("it is marked as an evidence gap (the field 'evidence gap' is ticked: no study "
                    "with outcomes yet), and a finding with an effect size contradicts that "
                    "marker: untick 'evidence gap' on the intervention's edit page, or remove the "
                    "finding (do not add it)")
GAP_REFUSED = "; nothing was saved"
GAP_WARNED = "; it cannot be published until one of the two is done"
GAP_SHOWN = ("; its published page says 'no evidence yet' over that finding until one of the two "
             "is done")


@dataclass(frozen=True)
class GapConflict:
    """A finding with an effect size on an intervention marked as an evidence gap: whether the
    write is refused, and the message naming the field and the fix."""

    refused: bool
    message: str


def gap_conflict(*, evidence_gap: bool, has_effect_finding: bool,
                 public: bool, shown: bool = False) -> GapConflict | None:
    """Whether an intervention's findings contradict its evidence-gap marker, and what to do.

    ``has_effect_finding``: it has (or a write would give it) a finding with a computable effect
    size; ``public``: the write goes where readers see it at once (the live findings of a
    published intervention). None when there is no contradiction. Otherwise refused when public
    (readers would read "no evidence yet" over a rating), else a warning: in a draft or an
    unpublished intervention the editor may untick the marker next, and ``publication_refusal``
    refuses the contradiction until then. ``shown``: the state is what readers see now (the live
    state of a published intervention, made before these rules): the warning says so rather than
    that publication waits.

    >>> gap_conflict(evidence_gap=True, has_effect_finding=True, public=False,
    ...              shown=True).message.endswith("until one of the two is done")
    True
    """
    if not (evidence_gap and has_effect_finding):
        return None
    tail = GAP_REFUSED if public else GAP_SHOWN if shown else GAP_WARNED
    return GapConflict(refused=public, message=GAP_CONTRADICTED + tail)


def publication_refusal(*, summary: str | None, has_effect_finding: bool,
                        evidence_gap: bool) -> str | None:
    """Why an intervention in this state may not be published, or None if it may.

    May be published exactly when it has a summary (not only spaces) and either has a finding
    with a computable effect size or is marked as an evidence gap, not both.
    """
    if not (summary or "").strip():
        return NO_SUMMARY
    if gap_conflict(evidence_gap=evidence_gap, has_effect_finding=has_effect_finding,
                    public=False):
        return GAP_WITH_EFFECT
    if not evidence_gap and not has_effect_finding:
        return NO_EFFECT
    return None
