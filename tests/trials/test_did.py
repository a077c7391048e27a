"""Callaway & Sant'Anna DiD against moderndid (tests/reference/make_trials_did.py)."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_reference
from whatworks.errors import InputError, ParameterError
from whatworks.trials.did import staggered_did

REF = load_reference("trials_did.json")
DATA = pd.DataFrame(REF["data"])


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_group_time_effects_and_aggregations_match_moderndid(control):
    res = staggered_did(DATA, outcome="rate", unit="la", time="year", group="first",
                        control=control)
    ref = REF[control]
    ours = res.att_gt.set_index(["group", "time"])
    theirs = pd.DataFrame({"group": ref["group"], "time": ref["time"], "att": ref["att"],
                           "se": ref["se"]}).set_index(["group", "time"])
    assert sorted(ours.index) == sorted(theirs.index)
    # closed forms on the same data: agreement to rounding
    np.testing.assert_allclose(ours.loc[theirs.index, "att"], theirs["att"], atol=1e-12)
    np.testing.assert_allclose(ours.loc[theirs.index, "se"], theirs["se"], rtol=1e-10)
    for kind in ("simple", "dynamic", "group"):
        agg = ref["aggregate"][kind]
        assert res.overall[kind]["att"] == pytest.approx(agg["att"], abs=1e-12)
        assert res.overall[kind]["se"] == pytest.approx(agg["se"], rel=1e-10)
    es = res.event_study
    assert es["event_time"].tolist() == [int(e) for e in ref["event_time"]]
    np.testing.assert_allclose(es["att"], ref["event_att"], atol=1e-12)
    np.testing.assert_allclose(es["se"], ref["event_se"], rtol=1e-10)


def test_a_two_period_design_is_the_difference_of_mean_changes():
    d = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3, 4, 4], "t": [1, 2] * 4,
                      "g": [2, 2, 2, 2, 0, 0, 0, 0], "y": [1.0, 3, 2, 5, 1, 2, 3, 3.5]})
    res = staggered_did(d, outcome="y", unit="u", time="t", group="g")
    assert res.att_gt["att"].tolist() == [pytest.approx((2 + 3) / 2 - (1 + 0.5) / 2)]
    assert res.overall["simple"]["att"] == pytest.approx(1.75)


def test_the_event_study_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    res = staggered_did(DATA, outcome="rate", unit="la", time="year", group="first")
    ax = res.plot_event_study()
    assert ax.get_xlabel() == "periods since adoption"


def test_bad_panels_are_refused():
    with pytest.raises(ParameterError, match="one of never, notyet"):
        staggered_did(DATA, outcome="rate", unit="la", time="year", group="first", control="all")
    with pytest.raises(InputError, match="not balanced"):
        staggered_did(DATA.iloc[1:], outcome="rate", unit="la", time="year", group="first")
    with pytest.raises(InputError, match="column 'region'"):
        staggered_did(DATA, outcome="rate", unit="region", time="year", group="first")


def test_the_cli_gives_the_aggregations_and_writes_the_plot(tmp_path, capsys):
    import json

    from whatworks.cli import main

    path = tmp_path / "panel.csv"
    DATA.to_csv(path, index=False)
    code = main(["trial", "did", str(path), "--outcome", "rate", "--unit", "la", "--time", "year",
                 "--group", "first", "--control", "notyet", "--plot", str(tmp_path / "es.svg"),
                 "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (tmp_path / "es.svg").stat().st_size > 0
    assert out["overall"]["dynamic"]["att"] == pytest.approx(
        REF["notyet"]["aggregate"]["dynamic"]["att"], abs=1e-12)
    code = main(["trial", "did", str(path), "--outcome", "rate", "--unit", "la", "--time", "year",
                 "--group", "first", "--control", "everyone"])
    assert code == 2 and "--control='everyone' is not allowed" in capsys.readouterr().err
