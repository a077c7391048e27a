"""Frozen results stay frozen: no numpy array of a synthesis result can be changed in place."""

import dataclasses

import numpy as np
import pytest

from whatworks.synthesis import (
    meta_analysis,
    meta_analysis_batch,
    multilevel,
    robust,
)
from whatworks.synthesis.bias import trim_and_fill
from whatworks.synthesis.sensitivity import influence, leave_one_out


def arrays(result):
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, np.ndarray):
            yield f.name, value
        elif isinstance(value, tuple):
            for v in value:
                if isinstance(v, np.ndarray):
                    yield f.name, v


def data():
    rng = np.random.default_rng(7)
    v = rng.uniform(0.01, 0.2, 12)
    return rng.normal(0.3, np.sqrt(v + 0.05)), v


def results():
    y, v = data()
    fit = meta_analysis(y, v, mods=np.arange(12.0))
    plain = meta_analysis(y, v)
    ml = multilevel(y, v, study=np.repeat(np.arange(4), 3))
    return [fit, plain, leave_one_out(plain), influence(fit), trim_and_fill(plain),
            meta_analysis_batch(np.vstack([y, y]), np.vstack([v, v])), ml, robust(ml)]


@pytest.mark.parametrize("result", results(), ids=lambda r: type(r).__name__)
def test_every_array_of_a_result_is_read_only(result):
    found = list(arrays(result))
    assert found, "the result has arrays to check"
    for name, arr in found:
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError):
            arr.flat[0] = 0


def test_the_callers_arrays_stay_writable():
    y, v = data()
    fit = meta_analysis(y, v)
    assert y.flags.writeable and v.flags.writeable
    before = fit.yi.copy()
    y[0] = 99.0  # the caller's array is theirs to change, and the result does not follow
    assert not fit.yi.flags.writeable
    np.testing.assert_array_equal(fit.yi, before)
