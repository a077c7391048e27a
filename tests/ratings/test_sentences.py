"""Every sentence the core writes for readers (a rating's explanations, the plain-language statement)
starts with a capital letter and ends with a full stop, over generated inputs (hypothesis): the
intervention page shows them as they are."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ratings.builders import rate
from tests.ratings.test_pipeline_invariants import bodies
from tests.ratings.test_rating_properties import rating_inputs
from whatworks.ratings import _text as T
from whatworks.ratings import rate_evidence

#: Abbreviations a sentence may contain without ending there.
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "approx.")


def sentences(text: str) -> list[str]:
    """``text`` split after each full stop (or ! ?) that is followed by a space, except after an
    abbreviation; a parenthesised sentence, "(Note.)", counts as one."""
    out, start = [], 0
    for m in re.finditer(r"[.!?]\)?(?=\s)", text):
        if text[:m.end()].endswith(ABBREVIATIONS):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def check(text: str, what: str) -> None:
    assert text, f"empty {what}"
    for s in sentences(text):
        body = s[1:-1] if s.startswith("(") and s.endswith(")") else s
        assert body[:1].isupper(), f"{what}: a sentence starts lower-case: {s!r} in {text!r}"
        assert body.endswith("."), f"{what}: a sentence does not end with a full stop: {s!r}"


def test_the_splitter_finds_each_sentence():
    assert sentences("Tends positive: RR 0.60 (95% CI 0.48 to 0.76). The CI (e.g. this one) "
                     "excludes 1. (Publication bias is suspected.)") == [
        "Tends positive: RR 0.60 (95% CI 0.48 to 0.76).", "The CI (e.g. this one) excludes 1.",
        "(Publication bias is suspected.)"]
    for bad in ("tends positive: a finding.", "One. two.", "No full stop"):
        try:
            check(bad, "example")
        except AssertionError:
            continue
        raise AssertionError(f"check() let {bad!r} through")


@settings(max_examples=150, deadline=None)
@given(inputs=rating_inputs())
def test_every_rating_explanation_sentence_starts_with_a_capital_and_ends_with_a_full_stop(inputs):
    r = rate(inputs)
    check(r.effectiveness_explanation, "effectiveness explanation")
    check(r.strength_explanation, "strength explanation")
    check(r.explanation, "explanation")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=bodies(), direction=st.sampled_from(["increase", "decrease"]),
       scheme=st.sampled_from(["whatworks-2026@1.0", "whatworks-2026@2.0"]))
def test_every_pipeline_explanation_and_statement_sentence_is_a_sentence(rows, direction, scheme):
    result = rate_evidence(rows, direction=direction, scheme=scheme)
    check(result.rating.explanation, "explanation")
    check(result.statement, "statement")


@given(st.integers(0, 10**7), st.sampled_from(sorted(T.SINGULAR)))
def test_a_count_of_people_agrees_with_its_noun(n, unit):
    """"1 child", never "1 children"; other counts keep the plural, with thousands separators."""
    text = T.people(n, unit)
    assert text == (f"1 {T.SINGULAR[unit]}" if n == 1 else f"{n:,} {unit}")
