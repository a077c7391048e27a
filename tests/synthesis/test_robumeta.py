"""robumeta() against R's robumeta 2.0 robu() (tests/reference/make_dependent.R)."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference, vec
from tests.synthesis.test_multilevel import columns, labels
from whatworks.errors import InputError, ParameterError
from whatworks.synthesis.robumeta import robumeta

REF = load_reference("dependent.json")
CASES = REF["robumeta"]


def fit_case(case, **kw):
    data, y, v = columns(case["data"])
    X = np.array(case["X"], dtype=float).reshape(len(y), -1)
    mods = pd.DataFrame(X[:, 1:], columns=labels(case["X_names"])[1:]) if X.shape[1] > 1 else None
    args = dict(study=data[case["study"]], mods=mods, model=case["model"], rho=case["rho"],
                small=case["small"])
    args.update(kw)
    return robumeta(y, v, **args)


def close(actual, expected, rtol=1e-8, atol=1e-12):
    # Everything in robu is closed form (moment estimators, WLS, CR2): rounding error only, so
    # these agree to 1e-8 and tighter (we see about 1e-12).
    np.testing.assert_allclose(np.ravel(np.asarray(actual, dtype=float)), vec(np.ravel(expected)),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", list(CASES))
def test_it_matches_robumeta_robu(key):
    case = CASES[key]
    res = fit_case(case)
    assert res.k == case["n_effects"]
    assert res.n_studies == case["n_studies"]
    cf = res.coefficients
    assert [c.name for c in cf] == labels(case["X_names"])
    close(res.tau2, case["tau2"])
    if case["model"] == "HIER":
        close(res.omega2, case["omega2"])
        assert np.isnan(res.i2)
    else:
        close(res.i2, case["I2"])
        assert np.isnan(res.omega2)
    close([c.estimate for c in cf], case["beta"])
    close([c.se for c in cf], case["se"])
    close([c.statistic for c in cf], case["tstat"])
    close([c.df for c in cf], np.broadcast_to(vec(case["df"]), len(cf)))
    close([c.p_value for c in cf], case["pval"])
    close([c.ci_lower for c in cf], case["ci_lb"])
    close([c.ci_upper for c in cf], case["ci_ub"])
    # robu's VR.r is the unscaled HTJ matrix when small=FALSE; its standard errors use it times
    # m / (m - p), which is what we report as vcov.
    m, p = res.n_studies, len(cf)
    scale = 1.0 if case["small"] else m / (m - p)
    close(res.vcov, np.ravel(case["vcov"]) * scale)


def test_its_correlated_effects_tau2_is_linear_in_rho():
    case = CASES["corrdat_mods_small"]
    t = [fit_case(case, rho=r).tau2 for r in (0.0, 0.5, 1.0)]
    assert t[1] == pytest.approx((t[0] + t[2]) / 2, rel=1e-12)


def test_it_does_not_depend_on_row_order_or_label_type():
    case = CASES["hierdat_mods_small"]
    data, y, v = columns(case["data"])
    X = np.array(case["X"], dtype=float)
    order = np.random.default_rng(7).permutation(len(y))
    res = robumeta(y[order], v[order], study=[f"lab {data['studyid'][i]}" for i in order],
                   mods=X[order, 1:], model="HIER")
    close([c.estimate for c in res.coefficients], case["beta"])
    close([c.df for c in res.coefficients], case["df"])


def test_its_result_converts_to_json_and_prints():
    res = fit_case(CASES["corrdat_mods_small"])
    out = json.loads(json.dumps(res.to_dict()))
    assert out["omega2"] is None and out["model"] == "CORR"
    assert "weights" not in out
    assert "I^2" in repr(res)
    assert "omega^2" in repr(fit_case(CASES["hierdat_mods_small"]))


def test_it_refuses_bad_arguments():
    y, v = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.01, 0.02, 0.03, 0.04])
    with pytest.raises(ParameterError, match="model"):
        robumeta(y, v, study=[1, 1, 2, 3], model="MULTI")
    with pytest.raises(ParameterError, match="rho"):
        robumeta(y, v, study=[1, 1, 2, 3], rho=1.5)
    with pytest.raises(InputError, match="studies cannot support"):
        robumeta(y, v, study=[1, 1, 2, 2], mods=[1.0, 2.0, 3.0, 5.0])
