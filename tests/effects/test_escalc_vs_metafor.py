"""escalc against metafor 3.8: every measure, variance type and zero-cell option in
tests/reference/effects.json (made by tests/reference/make_effects.R, which also stores the
inputs, so both sides compute from identical numbers).

Tolerance: rtol 1e-10. Every measure is a closed form evaluated in double precision by both
programs, so they agree to a few ulps; the loosest cases are the exact Hedges correction at
n1 + n2 = 2200 (R's lgamma difference loses ~1e-13 relative) and SMD from p-values (R's qt and
scipy's t.isf agree to ~1e-14). atol 1e-14 only matters for values that are exactly 0 in one
program and ~1e-17 in the other (e.g. a risk difference of 0).

One documented difference: where metafor returns half a result (yi without vi, as MD does when
an SD is missing, or vi without yi, as SMD with vtype="AV" does), escalc returns NaN for both,
so the expected values are NaN wherever either of metafor's is.
"""

import warnings

import numpy as np
import pytest

from tests.conftest import load_reference, vec
from whatworks.effects import WhatWorksWarning, escalc

REFERENCE = load_reference("effects.json")
CASES = REFERENCE["cases"]


def expected(case):
    yi, vi = vec(case["yi"]), vec(case["vi"])
    half = np.isnan(yi) | np.isnan(vi)
    yi[half], vi[half] = np.nan, np.nan
    return yi, vi


def run(case):
    args = {name: vec(values) for name, values in case["args"].items()}
    options = case["options"] or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WhatWorksWarning)
        return escalc(case["measure"], **args, **options)


def test_the_fixture_was_made_with_metafor_3_8():
    assert REFERENCE["metafor_version"].startswith("3.8")
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_it_matches_metafor(case):
    out = run(case)
    yi, vi = expected(case)
    np.testing.assert_allclose(out["yi"], yi, rtol=1e-10, atol=1e-14,
                               equal_nan=True, err_msg=f"yi of {case['id']}")
    np.testing.assert_allclose(out["vi"], vi, rtol=1e-10, atol=1e-14,
                               equal_nan=True, err_msg=f"vi of {case['id']}")


def test_every_registered_measure_has_a_reference_case():
    from whatworks.effects import MEASURES

    covered = {c["measure"] for c in CASES + load_reference("effects2.json")["cases"]}
    assert set(MEASURES) <= covered


def test_every_variance_type_has_a_reference_case():
    from whatworks.effects import MEASURES

    covered = {(c["measure"], (c["options"] or {}).get("vtype", "LS"))
               for c in CASES + load_reference("effects2.json")["cases"]}
    wanted = {(m.name, v) for m in MEASURES.values() for v in m.vtypes}
    assert wanted <= covered
