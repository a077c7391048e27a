"""escalc's handling of data frames, missing values, bad input and options; the registry."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from whatworks.effects import MEASURES, WhatWorksWarning, escalc, required_arguments
from whatworks.effects.escalc import _COMPUTE
from whatworks.errors import InputError, ParameterError

BCG = pd.DataFrame({"trial": ["Aronson", "Ferguson", "Rosenthal"], "tpos": [4, 6, 3],
                    "tneg": [119, 300, 228], "cpos": [11, 29, 11], "cneg": [128, 274, 209]},
                   index=[10, 20, 30])
TABLE = dict(ai="tpos", bi="tneg", ci="cpos", di="cneg")


def quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", WhatWorksWarning)
        return escalc(*args, **kwargs)


# --- data frames ---------------------------------------------------------------------------

def test_it_appends_yi_and_vi_to_a_copy_of_the_data():
    out = quietly("OR", BCG, **TABLE)
    assert list(out.columns) == [*BCG.columns, "yi", "vi"]
    assert list(out.index) == [10, 20, 30]
    assert "yi" not in BCG.columns
    assert out.attrs == {"measure": "OR", "vtype": "LS"}


def test_existing_yi_and_vi_columns_are_replaced():
    first = quietly("OR", BCG, **TABLE)
    again = quietly("RR", first, **TABLE)
    assert list(again.columns) == list(first.columns)
    assert not np.allclose(again["yi"], first["yi"])


def test_column_names_arrays_and_scalars_give_the_same_result():
    by_name = quietly("OR", BCG, **TABLE)
    by_array = quietly("OR", ai=BCG["tpos"].to_numpy(), bi=list(BCG["tneg"]), ci=BCG["cpos"],
                       di=tuple(BCG["cneg"]))
    np.testing.assert_array_equal(by_name["yi"], by_array["yi"])
    scalar = quietly("OR", BCG, ai="tpos", bi="tneg", ci=11, di="cneg")
    assert scalar["yi"].iloc[0] == by_name["yi"].iloc[0]
    assert list(by_array.columns) == ["yi", "vi"]


def test_numbers_stored_as_text_are_read_as_numbers():
    text = BCG.astype({"tpos": str, "tneg": object})
    np.testing.assert_array_equal(quietly("OR", text, **TABLE)["yi"],
                                  quietly("OR", BCG, **TABLE)["yi"])


# --- missing values ------------------------------------------------------------------------

@pytest.mark.parametrize("missing", [np.nan, None, "", "NA", " n/a ", pd.NA])
def test_a_missing_value_gives_nan_and_one_warning_counting_the_rows(missing):
    data = BCG.astype({"tneg": object})
    data.loc[20, "tneg"] = missing
    with pytest.warns(WhatWorksWarning) as caught:
        out = escalc("OR", data, **TABLE)
    assert len(caught) == 1
    assert "1 of 3 rows have a missing input for measure OR (rows 2)" in str(caught[0].message)
    assert np.isnan(out.loc[20, "yi"]) and np.isnan(out.loc[20, "vi"])
    assert np.isfinite(out.loc[[10, 30], ["yi", "vi"]].to_numpy()).all()


def test_missing_rows_are_listed_once_however_many_columns_are_missing():
    data = BCG.astype({"tpos": float, "tneg": float, "cneg": float})
    data.loc[10, ["tpos", "tneg"]] = np.nan
    data.loc[30, "cneg"] = np.nan
    with pytest.warns(WhatWorksWarning, match=r"2 of 3 rows .* \(rows 1, 3\)"):
        escalc("OR", data, **TABLE)


def test_half_a_result_is_never_returned():
    # metafor gives yi = m1 - m2 without vi when an SD is missing; we give neither
    with pytest.warns(WhatWorksWarning, match="1 of 2 rows"):
        out = escalc("MD", m1i=[5, 6], m2i=[4, 4], sd1i=[1, None], sd2i=[1, 1], n1i=[10, 10],
                     n2i=[10, 10])
    assert np.isnan(out["yi"].iloc[1]) and np.isnan(out["vi"].iloc[1])


def test_an_undefined_estimate_gives_nan_and_its_own_warning():
    with pytest.warns(WhatWorksWarning, match="1 of 2 rows give no finite OR"):
        out = escalc("OR", ai=[0, 4], bi=[10, 119], ci=[3, 11], di=[7, 128], to="none")
    assert np.isnan(out["yi"].iloc[0]) and np.isfinite(out["yi"].iloc[1])


def test_smd_uses_whatever_each_row_reports():
    out = quietly("SMD", m1i=[1.0, None, None], m2i=[0.0, None, None], sd1i=[1.0, None, None],
                  sd2i=[1.0, None, None], n1i=[20, 20, 20], n2i=[20, 20, 20],
                  ti=[None, 2.0, None], di=[None, None, 0.3])
    assert np.isfinite(out["yi"]).all()


# --- impossible values ---------------------------------------------------------------------

@pytest.mark.parametrize("measure, arguments, where, fragment", [
    ("OR", dict(ai=[4, -1], bi=[5, 5], ci=[3, 3], di=[2, 2]), "row 2, column 'ai'",
     "count and cannot be negative"),
    ("OR", dict(ai=[4, 12], n1i=[10, 10], ci=[3, 3], n2i=[9, 9]), "row 2, column 'ai'",
     "larger than n1i"),
    ("OR", dict(ai=[4], bi=[5], ci=[3], di=[2], n1i=[10], n2i=[5]), "row 1, column 'bi'",
     "does not equal n1i"),
    ("SMD", dict(m1i=[1, 1], m2i=[0, 0], sd1i=[1, 0], sd2i=[1, 1], n1i=[9, 9], n2i=[9, 9]),
     "row 2, column 'sd1i'", "sd = se * sqrt(n)"),
    ("SMD", dict(m1i=[1], m2i=[0], sd1i=[1], sd2i=[1], n1i=[0], n2i=[9]),
     "row 1, column 'n1i'", "at least 1"),
    ("SMD", dict(pi=[0.04, 1.5], n1i=[9, 9], n2i=[9, 9]), "row 2, column 'pi'", "p-value"),
    ("SMD", dict(fi=[-2.0], sign=[1], n1i=[9], n2i=[9]), "row 1, column 'fi'", "F statistic"),
    ("SMD", dict(fi=[2.0], sign=[0], n1i=[9], n2i=[9]), "row 1, column 'sign'", "not 0"),
    ("COR", dict(ri=[0.2, 0.4, -1.2], ni=[30, 30, 30]), "row 3, column 'ri'", "-1 and 1"),
    ("PR", dict(xi=[3, 11], ni=[10, 10]), "row 2, column 'xi'", "larger than ni"),
    ("IR", dict(xi=[3], ti=[0]), "row 1, column 'ti'", "person-time"),
    ("PCOR", dict(ti=[2.0], ni=[30], mi=[0]), "row 1, column 'mi'", "number of predictors"),
    ("PCOR", dict(ti=[2.0], ni=[5], mi=[4]), "row 1, column 'ni'", "exceed mi + 1"),
    ("MD", dict(m1i=[1, np.inf], m2i=[0, 0], sd1i=[1, 1], sd2i=[1, 1], n1i=[9, 9],
                n2i=[9, 9]), "row 2, column 'm1i'", "finite"),
])
def test_impossible_values_name_the_row_the_column_and_the_fix(measure, arguments, where,
                                                                fragment):
    with pytest.raises(InputError) as error:
        escalc(measure, **arguments)
    assert where in str(error.value) and fragment in str(error.value)


def test_errors_name_the_users_column_not_the_argument():
    data = BCG.copy()
    data.loc[30, "cneg"] = -2
    with pytest.raises(InputError, match=r"row 3, column 'cneg': di = -2 is a count") as error:
        escalc("OR", data, **TABLE)
    assert (error.value.row, error.value.column) == (3, "cneg")


def test_text_in_a_numeric_column_names_row_and_column():
    data = BCG.astype({"cpos": object})
    data.loc[20, "cpos"] = "29 (12%)"
    message = r"row 2, column 'cpos': ci must be a number .*'29 \(12%\)'"
    with pytest.raises(InputError, match=message):
        escalc("OR", data, **TABLE)


# --- arguments and options -----------------------------------------------------------------

@pytest.mark.parametrize("call, fragment", [
    (lambda: escalc("XYZ", ai=[1]), "measure='XYZ' is not allowed; expected one of MD, SMD"),
    (lambda: escalc("MD", m1i=[1], m2i=[0], sd1i=[1], sd2i=[1], n1i=[5], n2i=[5], vtype="UB"),
     "vtype='UB' is not allowed; expected one of LS, HO for measure MD"),
    (lambda: escalc("OR", ai=[1], bi=[1], ci=[1], di=[1], to="some"), "to='some'"),
    (lambda: escalc("OR", ai=[1], bi=[1], ci=[1], di=[1], add=-1), "add=-1"),
    (lambda: escalc("OR", ai=[1], bi=[1], ci=[1], di=[1], sd1i=[2]),
     "only the arguments of measure OR"),
    (lambda: escalc("OR", ai=[1], bi=[1], ci=[1]), "(ai, bi, ci, di) or (ai, n1i, ci, n2i)"),
    (lambda: escalc("SMD", fi=[4.0], n1i=[9], n2i=[9]), "to use fi, n1i, n2i also give sign"),
    (lambda: escalc("SMD", di=[0.2], sign=[1], n1i=[9], n2i=[9]),
     "sign='<values>' is not allowed; expected to come with fi, n1i, n2i"),
    (lambda: escalc("SMD", di=[0.2], n1i=[9], n2i=[9], drop00=True), "drop00=True"),
    (lambda: escalc("OR", ai=[1], bi=[1], ci=[1], di=[1], correct=False), "correct=False"),
    (lambda: escalc("SMD", di=[0.2], n1i=[9], n2i=[9], correct=False, vtype="UB"),
     "'LS' when correct=False"),
    (lambda: escalc("OR", ai="tpos", bi="tneg", ci="cpos", di="cneg"), "with data="),
    (lambda: escalc("COR", ri=[0.2], ni=[30], add=0.5), "add=0.5 is not allowed; expected "
     "left at its default for measure COR"),
])
def test_bad_arguments_raise_parameter_errors_that_say_what_is_allowed(call, fragment):
    with pytest.raises(ParameterError) as error:
        call()
    assert fragment in str(error.value)


def test_a_column_that_is_not_in_the_data_lists_the_columns():
    with pytest.raises(InputError, match="column 'tpso'.*the columns are: trial, tpos"):
        escalc("OR", BCG, ai="tpso", bi="tneg", ci="cpos", di="cneg")


def test_arrays_of_different_lengths_are_refused():
    with pytest.raises(InputError, match="different lengths"):
        escalc("OR", ai=[1, 2], bi=[1, 2, 3], ci=[1, 2], di=[1, 2])
    with pytest.raises(InputError, match="has 2 values but the data have 3 rows"):
        escalc("OR", BCG, ai=[1, 2], bi="tneg", ci="cpos", di="cneg")


def test_pas_and_pft_add_nothing_unless_asked():
    plain = quietly("PAS", xi=[0, 3], ni=[10, 10])
    assert plain["yi"].iloc[0] == 0.0
    asked = quietly("PAS", xi=[0, 3], ni=[10, 10], add=0.5)
    assert asked["yi"].iloc[0] == pytest.approx(np.arcsin(np.sqrt(0.5 / 11)))


def test_a_negative_p_value_and_a_negative_sign_mean_the_same():
    by_p = quietly("SMD", pi=[-0.03], n1i=[15], n2i=[18])
    by_sign = quietly("SMD", pi=[0.03], sign=[-1], n1i=[15], n2i=[18])
    assert by_p["yi"].iloc[0] < 0
    assert by_p["yi"].iloc[0] == by_sign["yi"].iloc[0]


def test_cohens_d_is_hedges_g_without_the_correction():
    args = dict(m1i=[1.2], m2i=[0.7], sd1i=[1.1], sd2i=[0.9], n1i=[12], n2i=[14])
    g, d = quietly("SMD", **args), quietly("SMD", correct=False, **args)
    assert g["yi"].iloc[0] < d["yi"].iloc[0]


# --- the registry --------------------------------------------------------------------------

def test_every_measure_has_a_computation_and_consistent_arguments():
    assert set(MEASURES) == set(_COMPUTE)
    for name, measure in MEASURES.items():
        assert measure.name == name
        assert measure.description
        assert "LS" in measure.vtypes
        for group in measure.groups:
            assert set(group) <= set(measure.arguments)


def test_required_arguments_lists_the_alternative_forms():
    assert required_arguments("OR") == (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i"))
    with pytest.raises(ParameterError):
        required_arguments("nope")


def test_measures_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MEASURES["OR"].name = "RR"


def test_the_brief_list_of_measures_is_registered():
    wanted = {"MD", "SMD", "SMDH", "ROM", "OR", "RR", "RD", "PETO", "COR", "UCOR", "ZCOR",
              "PCOR", "ZPCOR", "PR", "PLN", "PLO", "PAS", "PFT", "IR", "IRLN", "IRR",
              # issue 9
              "PHI", "YUQ", "YUY", "AS", "SMCC", "SMCR", "RPB", "IRD", "D2ORL", "D2ORN", "GEN"}
    assert set(MEASURES) == wanted
