"""CACE by 2SLS against AER::ivreg and sandwich::vcovCL (tests/reference/make_trials_cace.R)."""

import pandas as pd
import pytest

from tests.conftest import load_reference
from whatworks.errors import InputError
from whatworks.trials.cace import cace

REF = load_reference("trials_cace.json")
DATA = pd.DataFrame(REF["data"])


def test_without_covariates_2sls_is_the_wald_ratio():
    res = cace(DATA, outcome="y", assigned="z", received="d")
    # closed form and ivreg: exact up to floating point
    assert res.estimate == pytest.approx(REF["plain"]["wald"], rel=1e-10)
    assert res.estimate == pytest.approx(REF["plain"]["estimate"][1], rel=1e-10)
    assert res.se_classical == pytest.approx(REF["plain"]["se"][1], rel=1e-10)
    assert res.itt / res.compliance == pytest.approx(res.estimate, rel=1e-10)


def test_with_a_covariate_and_clusters_it_matches_ivreg_and_vcovcl():
    res = cace(DATA, outcome="y", assigned="z", received="d", covariates=["x"], cluster="school")
    ref = REF["covariate"]
    assert res.estimate == pytest.approx(ref["estimate"][1], rel=1e-10)
    assert res.se_classical == pytest.approx(ref["se"][1], rel=1e-10)
    assert res.se == pytest.approx(ref["se_cluster"][1], rel=1e-10)
    assert res.robust and res.n_clusters == 30
    assert 0 < res.compliance < 1 and res.first_stage_f > 10


def test_missing_values_are_refused_rather_than_dropped_silently():
    d = DATA.copy()
    d.loc[3, "y"] = None
    with pytest.raises(InputError, match="1 rows have missing values"):
        cace(d, outcome="y", assigned="z", received="d")


def test_the_cli_gives_the_cace_with_cluster_robust_se(tmp_path, capsys):
    import json

    from whatworks.cli import main

    path = tmp_path / "d.csv"
    DATA.to_csv(path, index=False)
    code = main(["trial", "cace", str(path), "--outcome", "y", "--assigned", "z", "--received",
                 "d", "--covariates", "x", "--cluster", "school", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["se"] == pytest.approx(REF["covariate"]["se_cluster"][1], rel=1e-10)
