"""When an intervention may be published: the one rule every route of the Evidence Store calls.

An intervention shown to readers needs a summary, and either a finding with a computable effect
size (something a rating can be made from) or an explicit *evidence gap* marker: published to say
there is no study with outcomes yet. An intervention marked as an evidence gap that has a finding
with an effect is refused, so the label keeps its promise ("no evidence yet" is never shown over
evidence).

>>> publication_refusal(summary="A way of working.", has_effect_finding=False, evidence_gap=True)
>>> publication_refusal(summary="", has_effect_finding=True, evidence_gap=False)
'it has no summary: write one first'
"""

from __future__ import annotations

NO_SUMMARY = "it has no summary: write one first"
NO_EFFECT = ("it has no finding with a computable effect size: add one first, or mark it as an "
             "evidence gap (published to say there is no study with outcomes yet)")
GAP_WITH_EFFECT = ("it is marked as an evidence gap but has findings with effects: untick "
                   "'evidence gap' first")


def publication_refusal(*, summary: str | None, has_effect_finding: bool,
                        evidence_gap: bool) -> str | None:
    """Why an intervention in this state may not be published, or None if it may.

    May be published exactly when it has a summary (not only spaces) and either has a finding
    with a computable effect size or is marked as an evidence gap, not both.
    """
    if not (summary or "").strip():
        return NO_SUMMARY
    if evidence_gap and has_effect_finding:
        return GAP_WITH_EFFECT
    if not evidence_gap and not has_effect_finding:
        return NO_EFFECT
    return None
