"""Knapp-Hartung with identical effects (factor 0, a singular covariance): metafor's answer, no crash."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from whatworks.synthesis import meta_analysis

REF = json.loads((Path(__file__).parents[1] / "reference" / "knha_identical.json").read_text())
CASES = {k: v for k, v in REF.items() if k != "metafor_version"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_identical_effects_match_metafor(name):
    ref = CASES[name]
    fit = meta_analysis(np.array(ref["yi"]), np.array(ref["vi"]), method="REML", test=ref["test"])
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "p_value", "pi_lower", "pi_upper"):
        got = getattr(fit, key)
        assert math.isfinite(got), key
        assert got == pytest.approx(ref[key], rel=1e-6, abs=1e-9), key
    if ref["qm"] is None:
        assert not math.isfinite(fit.qm)  # metafor: NA (the omnibus test cannot be computed)
    else:
        assert fit.qm == pytest.approx(ref["qm"], rel=1e-6)
