"""What each label promises, checked over generated bodies of evidence (hypothesis), for the
pipeline from a findings table to a rating under scheme 2.0.

Each property names, in a comment, how version 1.0 broke it (the tests that show 1.0's old
answers on fixed examples are in test_pipeline.py); ``test_1_0_breaks_...`` tests run the same
property under 1.0 and let hypothesis find the counter-example, so each property is shown to be
able to fail. The examples stay small (at most 6 studies) so the file runs in seconds.
"""

import math
import re

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from whatworks.ratings import rate_evidence

V1, V2 = "whatworks-2026@1.0", "whatworks-2026@2.0"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIRROR = {"consistently-positive": "consistently-negative", "tends-positive": "tends-negative",
          "no-effect": "no-effect", "unclear-or-mixed": "unclear-or-mixed",
          "no-evidence": "no-evidence"}
MIRROR.update({v: k for k, v in MIRROR.items()})


@st.composite
def bodies(draw, *, min_studies=1, max_studies=6, measure=None, effects=(1, 1),
           designs=("rct", "cluster-rct", "qed")):
    """A findings table: studies with 1..n effects, sizes (some unknown), designs, risk of bias."""
    measure = measure or draw(st.sampled_from(["SMD", "RR"]))
    k = draw(st.integers(min_studies, max_studies))
    centre = draw(st.floats(-0.6, 0.6))
    rows = []
    for i in range(k):
        design = draw(st.sampled_from(designs))
        n = draw(st.one_of(st.none(), st.integers(20, 3000)))
        rob = draw(st.sampled_from(["low", "some-concerns", "high", ""]))
        study_effect = centre + draw(st.floats(-0.4, 0.4))
        for j in range(draw(st.integers(*effects))):
            rows.append(dict(study=f"S{i}", design=design, n=n, risk_of_bias=rob, measure=measure,
                             yi=round(study_effect + draw(st.floats(-0.1, 0.1)), 6),
                             vi=round(draw(st.floats(0.002, 0.25)), 6), es_id=f"e{j}"))
    return pd.DataFrame(rows)


def levels(result):
    return result.rating.effectiveness_code, result.rating.strength


def rated(rows, direction="decrease", scheme=V2):
    return rate_evidence(rows, direction=direction, scheme=scheme)


# --- an ineligible study never changes a rating -------------------------------------------------
# 1.0 pooled studies of designs that are not rated (an RCT plus a pre-post study was "+2, High").

def _with_ineligible(rows, yi, vi, design):
    extra = dict(rows.iloc[0])
    extra.update(study="Z-ineligible", design=design, n=5000, yi=yi, vi=vi, es_id="z")
    return pd.concat([rows, pd.DataFrame([extra])], ignore_index=True)


@FAST
@given(rows=bodies(), yi=st.floats(-1, 1), vi=st.floats(0.001, 0.05),
       design=st.sampled_from(["pre-post", "other"]))
def test_an_ineligible_study_never_changes_a_rating(rows, yi, vi, design):
    assert levels(rated(_with_ineligible(rows, yi, vi, design))) == levels(rated(rows))


# --- row order never matters ---------------------------------------------------------------------

@FAST
@given(rows=bodies(effects=(1, 3)), seed=st.integers(0, 2 ** 16))
def test_row_order_never_matters(rows, seed):
    shuffled = rows.sample(frac=1, random_state=seed).reset_index(drop=True)
    a, b = rated(rows).to_dict(), rated(shuffled).to_dict()
    for key in ("synthesis",):     # the same model, fitted from rows in another order
        if a[key] is not None:
            for name in ("estimate", "ci_lower", "ci_upper"):
                assert math.isclose(a[key][name], b[key][name], rel_tol=1e-6, abs_tol=1e-9)
    a.pop("synthesis"), b.pop("synthesis")
    assert a == b


# --- negating every effect and flipping the direction mirrors the rating -------------------------

@FAST
@given(rows=bodies(effects=(1, 2)))
def test_negating_effects_and_flipping_the_direction_mirrors_the_rating(rows):
    flipped = rows.assign(yi=-rows["yi"])
    a, b = rated(rows, "decrease"), rated(flipped, "increase")
    assert b.rating.effectiveness_code == a.rating.effectiveness_code
    c = rated(flipped, "decrease")
    assert c.rating.effectiveness_code == MIRROR[a.rating.effectiveness_code]
    assert c.rating.strength == a.rating.strength


# --- "consistently" needs 3+ eligible studies and a prediction interval on that side ----------------
# 1.0: two RCTs were "+2"; IFPS was "+2" with a prediction interval including no effect.

def _consistent_kept_promise(result, direction):
    code = result.rating.effectiveness_code
    if not code.startswith("consistently"):
        return True
    s = result.synthesis
    if s is None or result.k < 3 or s["pi_lower"] is None:
        return False
    better_is_up = direction == "increase"
    benefit = code == "consistently-positive"
    up = better_is_up == benefit          # the PI must lie above 0 (up) or below 0
    return s["pi_lower"] > 0 if up else s["pi_upper"] < 0


@FAST
@given(rows=bodies(min_studies=1, max_studies=6), direction=st.sampled_from(["increase", "decrease"]))
def test_consistently_needs_three_studies_and_a_prediction_interval_on_that_side(rows, direction):
    result = rated(rows, direction)
    assert _consistent_kept_promise(result, direction)


@FAST
@given(rows=bodies(min_studies=1, max_studies=2))
def test_one_or_two_studies_are_never_consistently_anything(rows):
    assert not rated(rows).rating.effectiveness_code.startswith("consistently")


def test_1_0_breaks_the_consistently_promise():
    """The same property fails under 1.0 (two precise RCTs on the same side)."""
    rows = pd.DataFrame([dict(study=s, design="rct", n=400, risk_of_bias="low", measure="RR",
                              yi=math.log(rr), vi=0.004) for s, rr in (("A", 0.70), ("B", 0.72))])
    assert not _consistent_kept_promise(rated(rows, scheme=V1), "decrease")
    assert _consistent_kept_promise(rated(rows), "decrease")


# --- "evidence of no effect" needs CI and (k >= 3) PI inside the smallest important effect --------
# 1.0: forty heterogeneous RCTs centred on SMD 0 (PI +-0.57) were "evidence of no effect".

def _no_effect_kept_promise(result):
    if result.rating.effectiveness_code != "no-effect" or result.synthesis is None:
        return True
    s, sie = result.synthesis, 0.10         # SMD
    inside = -sie < s["ci_lower"] and s["ci_upper"] < sie
    if result.k >= 3:
        inside = inside and s["pi_lower"] is not None and -sie < s["pi_lower"] and s["pi_upper"] < sie
    return inside


@FAST
@given(k=st.integers(3, 6), spread=st.floats(0, 0.4), vi=st.floats(0.0005, 0.01))
def test_evidence_of_no_effect_needs_both_intervals_inside_the_smallest_important_effect(k, spread, vi):
    yi = np.linspace(-spread, spread, k)
    rows = pd.DataFrame([dict(study=f"S{i}", design="rct", n=2000, risk_of_bias="low", measure="SMD",
                              yi=y, vi=vi) for i, y in enumerate(yi)])
    assert _no_effect_kept_promise(rated(rows))


def test_1_0_breaks_the_no_effect_promise():
    yi = np.linspace(-0.3, 0.3, 40)
    rows = pd.DataFrame([dict(study=f"S{i:02d}", design="rct", n=500, risk_of_bias="low",
                              measure="SMD", yi=y, vi=0.002) for i, y in enumerate(yi)])
    assert not _no_effect_kept_promise(rated(rows, scheme=V1))
    assert _no_effect_kept_promise(rated(rows))


# --- adding a large precise null trial never raises effectiveness --------------------------------
# 1.0: with 9 studies at +1, a 10th null trial opened the probability route to +2.

def _null_trial(rows):
    extra = dict(rows.iloc[0])
    extra.update(study="ZZ-null-trial", design="rct", n=20000, risk_of_bias="low", yi=0.0,
                 vi=0.0004, es_id="null")
    return pd.concat([rows, pd.DataFrame([extra])], ignore_index=True)


def _not_raised(before, after):
    b, a = before.rating.effectiveness, after.rating.effectiveness
    b = 0 if b is None else b
    return (a if a is not None else 0) <= max(b, 0)


@FAST
@given(rows=bodies(measure="SMD"))
def test_adding_a_large_precise_null_trial_never_raises_effectiveness(rows):
    assert _not_raised(rated(rows, "increase"), rated(_null_trial(rows), "increase"))


def test_1_0_breaks_the_null_trial_promise():
    yi = 0.3 + np.linspace(-0.25, 0.25, 9)
    rows = pd.DataFrame([dict(study=f"S{i}", design="rct", n=300, risk_of_bias="low", measure="SMD",
                              yi=y, vi=0.01, es_id="a") for i, y in enumerate(yi)])
    broke = rated(rows, "increase", V1), rated(_null_trial(rows), "increase", V1)
    assert [r.rating.effectiveness for r in broke] == [1, 2]        # the probability route at k = 10
    assert not _not_raised(*broke)
    assert _not_raised(rated(rows, "increase"), rated(_null_trial(rows), "increase"))


# --- several effect sizes from one study count as one study --------------------------------------

def _studies_named(text):
    """The number of studies an explanation says it rests on."""
    if "a single study" in text:
        return 1
    return int(re.search(r"(?:across|of) (\d+) stud", text).group(1))


@FAST
@given(rows=bodies(effects=(1, 1)), copies=st.integers(2, 4), jitter=st.floats(0, 0.05))
def test_several_effects_from_one_study_count_as_one_study(rows, copies, jitter):
    first = rows.iloc[0]
    more = pd.DataFrame([dict(first, es_id=f"extra{c}", yi=first["yi"] + jitter * c)
                         for c in range(1, copies)])
    a, b = rated(rows), rated(pd.concat([rows, more], ignore_index=True))
    assert (b.k, b.participants, b.participants_unknown) == (a.k, a.participants, a.participants_unknown)
    assert _studies_named(a.rating.explanation) == _studies_named(b.rating.explanation) == a.k
    if b.synthesis is not None:
        assert b.synthesis["k"] == a.k


# --- an unknown sample size is reported, never counted as one person -----------------------------
# 1.0 counted a study of unknown size as one participant.

@FAST
@given(rows=bodies())
def test_an_unknown_sample_size_is_reported_never_counted_as_one(rows):
    result = rated(rows)
    sizes = rows.drop_duplicates("study").set_index("study")["n"]
    eligible = [s.study for s in result.studies if s.used]
    known = [int(sizes[s]) for s in eligible if not pd.isna(sizes[s])]
    assert result.participants == (sum(known) if known else None)
    assert result.participants_unknown == len(eligible) - len(known)
    if result.participants_unknown and known:
        assert "did not report" in result.rating.explanation


# --- an explanation never contradicts itself ----------------------------------------------------
# 1.0: "0 statistically significant increases" then "down 1 for inconsistency (... opposite ...)".

VOTE = re.compile(r"(\d+) \([\d,]+(?: \w+)?\) found a .*?\(better\), (\d+) \([\d,]+\) a .*?\(worse\)")


@FAST
@given(rows=bodies(min_studies=2, max_studies=5), flip=st.lists(st.booleans(), min_size=5, max_size=5))
def test_an_explanation_never_contradicts_itself(rows, flip):
    # different measures in one table: no meta-analysis, so the vote-count explanation is used
    measures = {f"S{i}": ("RR" if f else "OR") for i, f in enumerate(flip)}
    rows = rows.assign(measure=rows["study"].map(measures))
    result = rated(rows)
    text = result.rating.explanation
    found = VOTE.search(text)
    if found and "0" in found.groups():
        assert "others harm" not in text and "opposite directions" not in text
    if result.rating.effectiveness_code.startswith("consistently"):
        assert "includes no effect" not in result.rating.effectiveness_explanation
    if result.rating.effectiveness_code == "no-effect":
        assert "does not rule out" not in text


# --- more promises of our own --------------------------------------------------------------------

@FAST
@given(rows=bodies(effects=(1, 2)))
def test_strength_never_exceeds_the_best_eligible_design_start(rows):
    result = rated(rows)
    start = {"rct": 4, "cluster-rct": 4, "qed": 2}
    best = max(start[s.design] for s in result.studies if s.used)
    assert result.rating.strength <= best


@FAST
@given(rows=bodies())
def test_the_statement_says_better_only_for_a_benefit_and_worse_only_for_harm(rows):
    result = rated(rows)
    e = result.rating.effectiveness or 0
    assert ("so this is better" in result.statement) == (e > 0 and result.synthesis is not None
                                                        or e > 0 and result.k == 1)
    if "so this is worse" in result.statement:
        assert e < 0


@FAST
@given(rows=bodies())
def test_a_rating_is_on_its_scales_and_names_its_scheme(rows):
    d = rated(rows).to_dict()
    assert d["effectiveness"] in (None, -2, -1, 0, 1, 2) and d["strength"] in range(5)
    assert (d["scheme_id"], d["scheme_version"]) == ("whatworks-2026", "2.0")
    assert d["path"] in ("meta-analysis", "vote-count", "none")
    assert (d["path"] == "meta-analysis") == (d["synthesis"] is not None)
    assume(d["k"] > 0)
    assert d["k"] == sum(s["used"] for s in d["studies"])
