"""The programme-level cross-walk: one level per clearinghouse, the best any outcome reaches (CEBC's
"concerning practice" first), named with its outcome and always with the programme caveat."""

from hypothesis import given
from hypothesis import strategies as st

from whatworks.ratings.crosswalk import CLEARINGHOUSES, LEVEL_ORDER, PROGRAMME_CAVEAT, programme_crosswalk

entry = st.sampled_from(sorted(LEVEL_ORDER)).flatmap(
    lambda ch: st.sampled_from(LEVEL_ORDER[ch]).map(
        lambda level: {"clearinghouse": ch, "clearinghouse_name": ch, "level": level,
                       "label": level, "justification": ""}))


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.lists(entry, max_size=3), max_size=5))
def test_one_level_per_clearinghouse_the_best_of_any_outcome(per_outcome):
    got = programme_crosswalk(per_outcome)
    present = {e["clearinghouse"] for es in per_outcome.values() for e in es}
    assert [g["clearinghouse"] for g in got] == [c for c in CLEARINGHOUSES if c in present]
    for g in got:
        order = LEVEL_ORDER[g["clearinghouse"]]
        ranks = [order.index(e["level"]) for es in per_outcome.values() for e in es
                 if e["clearinghouse"] == g["clearinghouse"]]
        assert order.index(g["level"]) == min(ranks)
        assert any(e["level"] == g["level"] and e["clearinghouse"] == g["clearinghouse"]
                   for e in per_outcome[g["outcome"]])
        assert g["caveat"] == PROGRAMME_CAVEAT


def test_harm_on_any_outcome_comes_first_for_cebc():
    got = programme_crosswalk({
        "a": [{"clearinghouse": "cebc", "clearinghouse_name": "CEBC", "level": "1", "label": "1",
               "justification": ""}],
        "b": [{"clearinghouse": "cebc", "clearinghouse_name": "CEBC", "level": "5", "label": "5",
               "justification": ""}]})
    assert [(g["level"], g["outcome"]) for g in got] == [("5", "b")]
