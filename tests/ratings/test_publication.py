"""The publication rule of evidence-gap interventions (``whatworks.ratings.publication``): what
publishing refuses, and what a finding added to a marked intervention meets (refused where readers
see it at once, a warning in a draft), by their definitions."""

from hypothesis import given
from hypothesis import strategies as st

from whatworks.ratings.publication import (
    GAP_WITH_EFFECT,
    gap_conflict,
    publication_refusal,
)


@given(gap=st.booleans(), effect=st.booleans(), public=st.booleans())
def test_a_gap_conflict_is_exactly_a_marked_intervention_with_an_effect(gap, effect, public):
    conflict = gap_conflict(evidence_gap=gap, has_effect_finding=effect, public=public)
    assert (conflict is not None) == (gap and effect)
    if conflict is not None:
        assert conflict.refused == public  # refused only where readers would see it at once
        assert "'evidence gap'" in conflict.message  # names the field ...
        assert "untick 'evidence gap'" in conflict.message and "do not add it" in conflict.message
        assert ("nothing was saved" in conflict.message) == public  # ... the fix, what happened
        assert ("cannot be published" in conflict.message) == (not public)


@given(gap=st.booleans(), effect=st.booleans())
def test_publication_refuses_exactly_the_conflicts_the_editors_are_warned_of(gap, effect):
    why = publication_refusal(summary="A summary.", has_effect_finding=effect, evidence_gap=gap)
    warned = gap_conflict(evidence_gap=gap, has_effect_finding=effect, public=False)
    assert (why == GAP_WITH_EFFECT) == (warned is not None)
