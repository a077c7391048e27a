"""meta_analysis against metafor 3.8 rma.uni on 15 metadat datasets (tests/reference/make_rma.R)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from whatworks.errors import InputError
from whatworks.synthesis import Control, meta_analysis

REF = load_reference("rma.json")
ITERATIVE = {"ML", "REML", "EB", "PM", "PMM"}


def _case_id(f):
    return f"{f['dataset']}-{f['method']}-{f['test']}-{'mods' if f['mods'] else 'int'}"


def _fit(f):
    data = pd.DataFrame({k: (vec(v) if not isinstance(np.atleast_1d(v)[0], str) else
                             np.atleast_1d(v)) for k, v in REF["data"][f["dataset"]].items()})
    for col in data.columns:  # text columns keep None as missing
        if data[col].dtype == object:
            data[col] = data[col].where(data[col].notna(), None)
    mods = list(np.atleast_1d(f["mods"])) if f["mods"] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return meta_analysis("yi", "vi", mods=mods, data=data, method=f["method"], test=f["test"])


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), vec(expected), rtol=rtol, atol=atol)


def _degenerate(f):
    # A saturated model (k == p) has no residual degrees of freedom: metafor returns SE 0 and no
    # test under Knapp-Hartung; whatworks refuses with a message instead.
    return "error" not in f and f["test"] != "z" and f["k"] == f["p"]


FITS = [f for f in REF["fits"] if "error" not in f and not _degenerate(f)]
ERRORS = [f for f in REF["fits"] if "error" in f or _degenerate(f)]


@pytest.mark.parametrize("f", FITS, ids=_case_id)
def test_it_matches_metafor(f):
    res = _fit(f)
    # closed forms agree to rounding; iterative estimates to the convergence tolerance of both sides
    rtol = 1e-5 if f["method"] in ITERATIVE else 1e-6
    assert res.k == f["k"]
    close([c.estimate for c in res.coefficients], f["beta"], rtol)
    close([c.se for c in res.coefficients], f["se"], rtol)
    close([c.statistic for c in res.coefficients], f["zval"], rtol)
    close([c.p_value for c in res.coefficients], f["pval"], rtol, atol=1e-12)
    close([c.ci_lower for c in res.coefficients], f["ci_lb"], rtol)
    close([c.ci_upper for c in res.coefficients], f["ci_ub"], rtol)
    close(res.tau2, f["tau2"], rtol)
    if f["method"] not in ("FE",):
        close(res.tau2_se, f["se_tau2"], rtol)
    close(res.i2, f["I2"], rtol)
    close(res.h2, f["H2"], rtol)
    close(res.q, f["QE"], 1e-8)
    close(res.q_p_value, f["QEp"], 1e-6, atol=1e-14)
    close(res.qm, f["QM"], rtol)
    close(res.qm_p_value, f["QMp"], rtol, atol=1e-14)
    if "pi_lb" in f:
        close(res.pi_lower, f["pi_lb"], rtol)
        close(res.pi_upper, f["pi_ub"], rtol)
    if res.p > 1 and f["method"] != "FE":
        close(res.r2, f["R2"], rtol, atol=1e-8)
    if "tau2_ci" in f:
        close([res.tau2_ci_lower, res.tau2_ci_upper], f["tau2_ci"], 1e-5)
        close([res.i2_ci_lower, res.i2_ci_upper], f["I2_ci"], 1e-5)
        close([res.h2_ci_lower, res.h2_ci_upper], f["H2_ci"], 1e-5)
    close(res.loglik, f["ll"], rtol)


@pytest.mark.parametrize("f", ERRORS, ids=_case_id)
def test_it_refuses_what_metafor_refuses(f):
    with pytest.raises(InputError):
        _fit(f)


def test_tight_control_is_the_default():
    assert Control().threshold <= 1e-8
