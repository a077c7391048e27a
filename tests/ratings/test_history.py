"""Rating history lines and storing ratings as JSON."""

import datetime
import json

import pytest

from tests.ratings.builders import meta_inputs, rate, smd, study
from whatworks.errors import ParameterError
from whatworks.ratings import SCHEME_V1, Rating, RatingInputs, explain_change


@pytest.fixture
def ratings():
    first = rate(meta_inputs(smd(0.30, 0.20, 0.40, pi=(-0.10, 0.70), i2=60.0)))
    second = rate(meta_inputs(smd(0.30, 0.22, 0.38, pi=(0.05, 0.55), i2=45.0, k=8)))
    return first, second


def test_the_first_rating_writes_a_first_line(ratings):
    line = explain_change(None, ratings[0], date="2026-02-01", reason="Imported from the review.")
    assert line.text == ("2026-02-01: first rated: overall effectiveness tends positive (+1); "
                         "strength of evidence moderate to high. Reason: Imported from the review. "
                         "Rules: whatworks-2026 1.0.")
    assert line.changed and line.old_effectiveness is None


def test_a_change_names_the_old_and_new_levels(ratings):
    line = explain_change(*ratings, date=datetime.date(2026, 3, 1), reason="new trial added")
    assert line.text == ("2026-03-01: overall effectiveness tends positive (+1) \u2192 consistently "
                         "positive (+2); strength of evidence moderate to high \u2192 high. Reason: "
                         "new trial added. Rules: whatworks-2026 1.0.")
    assert (line.old_effectiveness, line.new_effectiveness, line.old_strength, line.new_strength) \
        == (1, 2, 3, 4)
    assert line.date == "2026-03-01" and line.changed


def test_an_unchanged_rating_and_a_new_scheme_version_are_both_recorded(ratings):
    v11 = SCHEME_V1.revise("1.1", changes="wording")
    again = rate(meta_inputs(smd(0.30, 0.20, 0.40, pi=(-0.10, 0.70), i2=60.0)), v11)
    line = explain_change(ratings[0], again, date="2026-04-01", reason="scheme revised")
    assert line.text == ("2026-04-01: overall effectiveness unchanged, tends positive (+1); "
                         "strength of evidence unchanged, moderate to high. Reason: scheme revised. "
                         "Rules: whatworks-2026 1.0 \u2192 whatworks-2026 1.1.")
    assert not line.changed


def test_a_history_line_needs_a_date_a_reason_and_the_same_outcome(ratings):
    with pytest.raises(ParameterError, match="date"):
        explain_change(None, ratings[0], date="", reason="x")
    with pytest.raises(ParameterError, match="reason"):
        explain_change(None, ratings[0], date="2026-01-01", reason="  ")
    other = rate(RatingInputs("entry-to-care", [study(direction="decrease")]))
    with pytest.raises(ParameterError, match="same outcome"):
        explain_change(other, ratings[0], date="2026-01-01", reason="x")


def test_a_rating_round_trips_through_json(ratings):
    for r in ratings:
        stored = json.dumps(r.to_dict())
        assert Rating.from_dict(json.loads(stored)) == r


def test_a_stored_rating_can_be_recomputed_from_its_inputs(ratings):
    for r in ratings:
        back = Rating.from_dict(json.loads(json.dumps(r.to_dict())))
        assert back.recomputed("whatworks-2026@1.0") == r
        assert RatingInputs.from_dict(back.inputs).synthesis.k == r.inputs["synthesis"]["k"]


def test_a_rating_prints_a_readable_summary(ratings):
    text = repr(ratings[0])
    assert text.startswith("Rating of family-functioning (whatworks-2026 1.0): effectiveness "
                           "Tends positive (+1); strength Moderate to high (3/4)")
