"""Subgroup analysis against metafor 3.8 (tests/reference/make_bias_sensitivity.R)."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from whatworks.errors import InputError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.subgroups import subgroup_analysis

REF = load_reference("bias_sensitivity.json")
CASES = REF["subgroups"]


def _id(case):
    return f"{case['dataset']}-{case['method']}-{case['test']}"


def close(actual, expected, rtol, atol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


def _data(name):
    d = REF["data"][name]
    return vec(d["yi"]), vec(d["vi"]), d["group"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_subgroup_analysis_matches_metafor(case):
    y, v, g = _data(case["dataset"])
    res = subgroup_analysis(y, v, g, method=case["method"], test=case["test"])
    # closed forms agree to rounding; REML to the convergence of both sides
    rtol = 1e-5 if case["method"] == "REML" else 1e-6
    assert [s.name for s in res.subgroups] == [g["level"] for g in case["groups"]]
    for ours, ref in zip(res.subgroups, case["groups"], strict=True):
        assert ours.k == ref["k"]
        close([ours.estimate, ours.se, ours.statistic, ours.ci_lower, ours.ci_upper],
              [ref["estimate"], ref["se"], ref["zval"], ref["ci_lb"], ref["ci_ub"]], rtol)
        close(ours.p_value, ref["pval"], rtol, atol=1e-14)
        close([ours.tau2, ours.i2], [ref["tau2"], ref["I2"]], rtol, atol=1e-9)
        close([ours.q, ours.q_p_value], [ref["QE"], ref["QEp"]], 1e-8)
    close(res.q_between, case["Qb"], rtol)
    close(res.q_between_p_value, case["Qb_p"], rtol, atol=1e-14)
    assert res.q_between_df == case["Qb_df"]
    close(res.pooled_statistic, case["pooled_QM"], rtol)
    close(res.pooled_p_value, case["pooled_QMp"], rtol, atol=1e-14)
    close(res.pooled_tau2, case["pooled_tau2"], rtol, atol=1e-10)
    assert list(res.pooled_df) == [d for d in case["pooled_QMdf"] if d is not None]


def test_subgroup_analysis_reads_columns_and_accepts_a_fitted_model():
    y, v, g = _data("bcg")
    frame = pd.DataFrame({"y": y, "v": v, "alloc": g})
    a = subgroup_analysis("y", "v", "alloc", data=frame)
    b = subgroup_analysis(meta_analysis(y, v), group=g)
    assert a.q_between == pytest.approx(b.q_between, rel=1e-12)
    assert a.to_frame().shape[0] == 3
    assert "Test for subgroup differences" in repr(a)


def test_subgroup_analysis_needs_two_studies_per_group_for_knapp_hartung():
    y, v, _ = _data("bcg")
    g = ["a"] * 12 + ["b"]
    with pytest.raises(InputError, match="single study"):
        subgroup_analysis(y, v, g, test="knha")


def test_subgroup_analysis_needs_two_subgroups():
    y, v, _ = _data("bcg")
    with pytest.raises(InputError, match="only one subgroup"):
        subgroup_analysis(y, v, ["a"] * y.size)


def test_subgroup_analysis_leaves_out_studies_without_a_group():
    y, v, g = _data("bcg")
    g = list(g)
    g[0] = None
    with pytest.warns(UserWarning, match="1 studies"):
        res = subgroup_analysis(y, v, g)
    assert sum(s.k for s in res.subgroups) == y.size - 1
