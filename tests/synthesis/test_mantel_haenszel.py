"""Mantel–Haenszel and Peto pooling, checked against metafor 3.8 rma.mh / rma.peto.

The reference numbers come from tests/reference/make_mh.R, which also writes the input counts
into tests/reference/mh.json so these tests need no R.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError, ParameterError
from whatworks.synthesis.mantel_haenszel import (
    MantelHaenszelResult,
    PetoResult,
    mantel_haenszel,
    peto,
)

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "mh.json").read_text())

# Every quantity is a closed form (sums of counts, one quadratic root per table for Tarone's
# test), so agreement is limited only by floating-point rounding: the largest relative
# difference seen is about 4e-12 (a tiny Tarone p-value). rtol 1e-8 leaves room for other
# platforms; atol 1e-12 covers values that are exactly zero in one program and ~1e-16 in the
# other (I² = 0, Tarone's statistic for a single table).
RTOL, ATOL = 1e-8, 1e-12


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _counts(name: str) -> dict[str, np.ndarray]:
    ds = REFERENCE["datasets"][name]
    keys = ("ai", "bi", "ci", "di") if ds["form"] == "abcd" else ("ai", "n1i", "ci", "n2i")
    return {key: _array(ds[key]) for key in keys}


def _options(args: dict) -> dict:
    return {key: tuple(v) if isinstance(v, list) else v
            for key, v in args.items() if key != "correct"}


def _fit(case: dict):
    counts = _counts(case["dataset"])
    if case["method"] == "MH":
        return mantel_haenszel(**counts, measure=case["measure"],
                               correct=case["args"]["correct"], **_options(case["args"]))
    return peto(**counts, **_options(case["args"]))


def _case_id(case: dict) -> str:
    args = case["args"]
    defaults = {"add": 0.5, "to": "only0", "drop00": True, "level": 95}
    extra = [f"{key}={args[key]}" for key, default in defaults.items() if args[key] != default]
    if case["method"] == "MH" and case["measure"] == "OR":
        extra.append(f"correct={args['correct']}")
    return "-".join([case["dataset"], case["method"], case["measure"], *extra])


CASES = [c for c in REFERENCE["cases"]
         # correct= changes only the CMH test, which exists for OR alone: skip duplicate fits.
         if not (c["method"] == "MH" and c["measure"] != "OR" and not c["args"]["correct"])]


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_it_matches_metafor(case):
    result = _fit(case).to_dict()
    expected = case["result"]
    for key, want in expected.items():
        if key in ("yi", "vi"):
            np.testing.assert_allclose(_array(result[key]), _array(want), rtol=RTOL, atol=ATOL,
                                       err_msg=key)
        elif key == "k_pos":
            assert result["tarone_df"] == (None if want is None else want - 1)
        elif want is None:
            assert result[key] is None, key
        else:
            assert result[key] == pytest.approx(want, rel=RTOL, abs=ATOL), key


def test_the_fixture_covers_every_dataset_measure_and_zero_cell_rule():
    seen = {(c["dataset"], c["method"], c["measure"]) for c in REFERENCE["cases"]}
    for name in REFERENCE["datasets"]:
        for measure in ("OR", "RR", "RD"):
            assert (name, "MH", measure) in seen
        assert (name, "PETO", "OR") in seen
    rules = {str(c["args"]["to"]) for c in REFERENCE["cases"]}
    assert {"only0", "all", "if0all", "none", "['only0', 'all']"} <= rules


def test_it_pools_bcg_as_metafor_prints_it():
    result = _fit(REFERENCE["cases"][0])
    assert isinstance(result, MantelHaenszelResult)
    assert (result.measure, result.method, result.k) == ("OR", "MH", 13)
    assert result.estimate_exp == pytest.approx(math.exp(result.estimate))
    text = result.summary_text()
    assert "Mantel-Haenszel OR (k = 13)" in text
    assert "Q(df = 12) = 163.9426" in text
    assert "Cochran-Mantel-Haenszel Test" in text and "Tarone" in text
    assert repr(result) == text


def test_it_accepts_group_sizes_instead_of_non_events():
    counts = _counts("bcg")
    n1i, n2i = counts["ai"] + counts["bi"], counts["ci"] + counts["di"]
    for measure in ("OR", "RR", "RD"):
        by_cells = mantel_haenszel(**counts, measure=measure)
        by_sizes = mantel_haenszel(counts["ai"], ci=counts["ci"], n1i=n1i, n2i=n2i,
                                   measure=measure)
        assert by_sizes == by_cells
    assert peto(counts["ai"], ci=counts["ci"], n1i=n1i, n2i=n2i) == peto(**counts)


def test_it_leaves_out_tables_with_a_missing_count_but_keeps_yi_aligned_with_the_input():
    counts = _counts("constructed_zeros")
    assert np.isnan(counts["ai"][-1])
    result = mantel_haenszel(**counts)
    assert result.k == len(counts["ai"]) - 1
    assert len(result.yi) == len(counts["ai"]) and math.isnan(result.yi[-1])
    complete = {key: v[:-1] for key, v in counts.items()}
    assert mantel_haenszel(**complete).estimate == result.estimate


def test_double_zero_studies_change_neither_ratio_estimate_but_do_weigh_on_the_risk_difference():
    counts = {key: v[1:6] for key, v in _counts("constructed_zeros").items()}
    with_00 = {key: np.append(v, [0.0 if key in ("ai", "ci") else 20.0]) for key, v in
               counts.items()}
    for measure in ("OR", "RR"):
        a, b = mantel_haenszel(**counts, measure=measure), mantel_haenszel(**with_00,
                                                                           measure=measure)
        assert (b.estimate, b.se, b.q) == pytest.approx((a.estimate, a.se, a.q), rel=1e-12)
        assert b.k == a.k + 1 and b.k_yi == a.k_yi
    a, b = mantel_haenszel(**counts, measure="RD"), mantel_haenszel(**with_00, measure="RD")
    assert abs(b.estimate) < abs(a.estimate)


def test_to_frame_has_a_log_row_and_a_ratio_row():
    result = mantel_haenszel(**_counts("bcg"), measure="RR")
    frame = result.to_frame()
    assert list(frame.index) == ["log RR", "RR"]
    assert frame.loc["RR", "estimate"] == pytest.approx(result.estimate_exp)
    assert frame.attrs["level"] == 95
    rd = mantel_haenszel(**_counts("bcg"), measure="RD").to_frame()
    assert list(rd.index) == ["RD"]
    assert list(peto(**_counts("bcg")).to_frame().index) == ["log OR", "OR"]


def test_results_are_frozen_and_json_ready():
    for result in (mantel_haenszel(**_counts("lee2004"), measure="RD"),
                   peto(**_counts("constructed_zeros"))):
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.estimate = 0.0
        payload = json.loads(json.dumps(result.to_dict()))
        assert payload["method"] in ("MH", "Peto")
    rd = mantel_haenszel(**_counts("lee2004"), measure="RD").to_dict()
    assert rd["estimate_exp"] is None and rd["cmh"] is None and rd["tarone_df"] is None


def test_peto_summary_names_the_method():
    result = peto(**_counts("bcg"))
    assert isinstance(result, PetoResult)
    assert "Peto" in result.summary_text() and "OR scale" in result.summary_text()


# --- errors --------------------------------------------------------------------------------

def test_it_rejects_an_unknown_measure_naming_the_choices():
    with pytest.raises(ParameterError, match="measure='SMD'.*'OR' or 'RR' or 'RD'"):
        mantel_haenszel([1], [2], [3], [4], measure="SMD")


@pytest.mark.parametrize("kwargs", [
    {"bi": [5], "di": [5], "n1i": [6], "n2i": [6]},
    {"bi": [5]},
    {},
])
def test_it_wants_either_non_events_or_group_sizes(kwargs):
    with pytest.raises(ParameterError, match="bi and di"):
        mantel_haenszel([1], ci=[1], **kwargs)


def test_it_names_the_row_and_column_of_a_negative_count():
    with pytest.raises(InputError, match=r"row 2, column 'ci'"):
        mantel_haenszel([1, 2], [5, 5], [1, -1], [5, 5])


def test_it_says_when_a_group_size_is_smaller_than_its_events():
    with pytest.raises(InputError, match=r"row 1, column 'n1i'.*smaller than the ai events"):
        peto([7, 2], ci=[1, 1], n1i=[5, 9], n2i=[6, 6])


def test_it_rejects_columns_of_different_lengths():
    with pytest.raises(InputError, match="'di' has 1 values"):
        mantel_haenszel([1, 2], [5, 5], [1, 1], [5])


def test_it_keeps_a_table_with_an_empty_group_which_adds_nothing_to_the_pooled_estimate():
    with_empty = mantel_haenszel([1, 0, 3], [5, 0, 9], [1, 2, 2], [5, 5, 10])
    without = mantel_haenszel([1, 3], [5, 9], [1, 2], [5, 10])
    assert with_empty.k == 3
    assert with_empty.estimate == pytest.approx(without.estimate, rel=1e-14)
    assert with_empty.se == pytest.approx(without.se, rel=1e-14)


def test_it_rejects_a_table_with_no_one_in_it():
    with pytest.raises(InputError, match="no participants in either group"):
        mantel_haenszel([1, 0], [5, 0], [1, 0], [5, 0])


def test_it_needs_one_complete_table():
    with pytest.raises(InputError, match="complete 2x2 table"):
        mantel_haenszel([np.nan], [5], [1], [5])


def test_it_says_when_the_odds_ratio_is_not_defined():
    with pytest.raises(InputError, match="ai\\*di = 0 in every table"):
        mantel_haenszel([0, 0], [5, 6], [1, 2], [5, 5])
    with pytest.raises(InputError, match="no events in group 2"):
        mantel_haenszel([1, 2], [5, 6], [0, 0], [5, 5], measure="RR")
    with pytest.raises(InputError, match="Peto"):
        peto([0, 0], [5, 6], [0, 0], [5, 5])


@pytest.mark.parametrize("kwargs, name", [
    ({"level": 0}, "level"), ({"level": 100}, "level"), ({"to": "some"}, "to"),
    ({"add": -1}, "add"), ({"add": (0.5, 0.5, 0.5)}, "add"), ({"drop00": "yes"}, "drop00"),
    ({"correct": 1}, "correct"),
])
def test_it_rejects_bad_options_naming_the_parameter(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        mantel_haenszel([1, 2], [5, 6], [2, 1], [5, 5], **kwargs)


# --- properties ----------------------------------------------------------------------------

tables = st.lists(st.tuples(*[st.integers(1, 40)] * 4), min_size=1, max_size=8)


def _columns(rows):
    return [np.array(col, dtype=float) for col in zip(*rows, strict=True)]


@settings(max_examples=60, deadline=None)
@given(rows=tables, measure=st.sampled_from(["OR", "RR", "RD"]))
def test_swapping_the_groups_flips_the_sign_and_keeps_the_rest(rows, measure):
    a, b, c, d = _columns(rows)
    one, two = mantel_haenszel(a, b, c, d, measure=measure), mantel_haenszel(
        c, d, a, b, measure=measure)
    assert two.estimate == pytest.approx(-one.estimate, rel=1e-9, abs=1e-12)
    assert (two.se, two.q) == pytest.approx((one.se, one.q), rel=1e-9, abs=1e-12)
    if measure == "OR":
        assert two.cmh == pytest.approx(one.cmh, rel=1e-9, abs=1e-12)
        assert two.tarone == pytest.approx(one.tarone, rel=1e-6, abs=1e-9)
    p1, p2 = peto(a, b, c, d), peto(c, d, a, b)
    assert p2.estimate == pytest.approx(-p1.estimate, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(rows=tables, data=st.data())
def test_the_order_of_the_studies_does_not_matter(rows, data):
    order = data.draw(st.permutations(range(len(rows))))
    a, b, c, d = _columns(rows)
    e, f, g, h = _columns([rows[i] for i in order])
    one, two = mantel_haenszel(a, b, c, d), mantel_haenszel(e, f, g, h)
    assert (two.estimate, two.se, two.q, two.cmh) == pytest.approx(
        (one.estimate, one.se, one.q, one.cmh), rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(row=st.tuples(*[st.integers(1, 60)] * 4))
def test_one_table_gives_its_own_odds_ratio_and_no_heterogeneity(row):
    a, b, c, d = (np.array([x], dtype=float) for x in row)
    result = mantel_haenszel(a, b, c, d)
    assert result.estimate == pytest.approx(math.log(row[0] * row[3] / (row[1] * row[2])))
    assert (result.q, result.q_df, result.i2, result.h2) == (0.0, 0, 0.0, 1.0)
    assert math.isnan(result.tarone_p_value)
