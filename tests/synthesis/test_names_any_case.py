"""Method and test names are accepted in any case in the Python API, as on the command line
(issue 9: "case-insensitive everywhere or nowhere"); the result reports the registry's spelling."""

import numpy as np
import pandas as pd
import pytest

from whatworks.errors import ParameterError
from whatworks.synthesis import meta_analysis, meta_analysis_batch, multilevel

YI = np.array([0.10, 0.30, 0.35, 0.65, 0.45, 0.15])
VI = np.array([0.03, 0.03, 0.05, 0.01, 0.05, 0.02])


@pytest.mark.parametrize(("method", "test"),
                         [("reml", "KNHA"), ("Reml", "Z"), ("hsk", "t"), ("dl", "Adhoc")])
def test_meta_analysis_takes_names_in_any_case(method, test):
    canonical = {"reml": "REML", "hsk": "HSk", "dl": "DL"}[method.lower()]
    fit = meta_analysis(YI, VI, method=method, test=test)
    ref = meta_analysis(YI, VI, method=canonical, test=test.lower())
    assert (fit.method, fit.test) == (canonical, test.lower())
    assert (fit.estimate, fit.se, fit.tau2) == (ref.estimate, ref.se, ref.tau2)


def test_the_batch_and_the_multilevel_model_take_names_in_any_case():
    batch = meta_analysis_batch(YI[None, :], VI[None, :], method="reml", test="knha")
    ref = meta_analysis_batch(YI[None, :], VI[None, :], method="REML", test="knha")
    assert float(np.asarray(batch.estimate)[0]) == float(np.asarray(ref.estimate)[0])
    study = [1, 1, 2, 2, 3, 3]
    ml = multilevel(YI, VI, random=["study"], data=pd.DataFrame({"study": study}), method="ml",
                    test="Z")
    assert (ml.method, ml.test) == ("ML", "z")


def test_an_unknown_name_is_refused_with_the_allowed_ones():
    with pytest.raises(ParameterError, match=r"REML.*\(in any case\)"):
        meta_analysis(YI, VI, method="remle")
    with pytest.raises(ParameterError, match=r"knha.*\(in any case\)"):
        meta_analysis(YI, VI, test="wald")
    with pytest.raises(ParameterError, match="method"):
        meta_analysis(YI, VI, method=None)
