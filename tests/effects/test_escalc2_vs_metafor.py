"""The measures added for issue 9 (PHI, YUQ, YUY, AS, SMCC, SMCR, RPB, IRD, D2ORL, D2ORN) against
metafor 3.8, and the generic inverse-variance input (GEN) against the published rule evaluated in
R: tests/reference/effects2.json, made by tests/reference/make_effects2.R (which stores the
inputs, so both sides compute from identical numbers).

Tolerance: rtol 1e-10, atol 1e-14, as for tests/effects/test_escalc_vs_metafor.py: closed forms
evaluated in double precision by both programs (the exact Hedges correction of SMCC/SMCR agrees to
~1e-15; GEN's normal quantile, from Python's statistics.NormalDist and R's qnorm, to ~1e-16).
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.effects import MEASURES, WhatWorksWarning, escalc
from whatworks.errors import InputError, ParameterError

REFERENCE = load_reference("effects2.json")
CASES = REFERENCE["cases"]
NEW = {"PHI", "YUQ", "YUY", "AS", "SMCC", "SMCR", "RPB", "IRD", "D2ORL", "D2ORN", "GEN"}


def run(case):
    args = {name: vec(values) for name, values in case["args"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WhatWorksWarning)
        return escalc(case["measure"], **args, **(case["options"] or {}))


def test_the_fixture_was_made_with_metafor_3_8():
    assert REFERENCE["metafor_version"].startswith("3.8")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_it_matches_metafor(case):
    out = run(case)
    yi, vi = vec(case["yi"]), vec(case["vi"])
    half = np.isnan(yi) | np.isnan(vi)
    yi[half], vi[half] = np.nan, np.nan
    np.testing.assert_allclose(out["yi"], yi, rtol=1e-10, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(out["vi"], vi, rtol=1e-10, atol=1e-14, equal_nan=True)


def test_every_new_measure_and_variance_type_has_a_reference_case():
    covered = {(c["measure"], (c["options"] or {}).get("vtype", "LS")) for c in CASES}
    wanted = {(name, v) for name in NEW for v in MEASURES[name].vtypes}
    assert wanted <= covered


def test_a_ratio_entered_without_the_log_scale_is_flagged():
    with pytest.warns(WhatWorksWarning, match="not symmetric .* needs scale='log'"):
        escalc("GEN", estimate=[1.45], ci_lower=[1.10], ci_upper=[1.91])


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(estimate=[0.5], ci_lower=[0.6], ci_upper=[0.9]), "outside its confidence interval"),
    (dict(estimate=[0.5], ci_lower=[0.9], ci_upper=[0.1]), "is above ci_upper"),
    (dict(estimate=[0.5], ci_lower=[-0.1], ci_upper=[0.9], scale="log"), "greater than 0"),
    (dict(estimate=[0.5], se=[0.0]), "standard error and must be greater than 0"),
    (dict(estimate=[0.5], ci_lower=[0.5], ci_upper=[0.5]), "width 0"),
])
def test_impossible_intervals_are_refused_naming_the_row(kwargs, message):
    with pytest.raises(InputError, match=message):
        escalc("GEN", **kwargs)


def test_scale_and_level_belong_to_gen_only():
    with pytest.raises(ParameterError, match="scale"):
        escalc("OR", ai=[1], bi=[2], ci=[3], di=[4], scale="log")
    with pytest.raises(ParameterError, match="scale"):
        escalc("GEN", estimate=[1.0], se=[0.1], scale="logit")


@given(st.floats(-3, 3), st.floats(1e-4, 4), st.sampled_from([90.0, 95.0, 99.0]),
       st.sampled_from(["identity", "log"]))
def test_an_interval_made_from_yi_and_vi_gives_them_back(yi, vi, level, scale):
    from whatworks.effects.generic import critical_value

    half = critical_value(level) * np.sqrt(vi)
    back = np.exp if scale == "log" else (lambda x: x)
    out = escalc("GEN", estimate=[back(yi)], ci_lower=[back(yi - half)],
                 ci_upper=[back(yi + half)], scale=scale, level=level)
    np.testing.assert_allclose([out["yi"][0], out["vi"][0]], [yi, vi], rtol=1e-9, atol=1e-12)
