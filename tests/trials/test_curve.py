"""Power curves: each point is the design's power there, and power rises with the sample size."""

import pytest

from whatworks.trials.curve import power_curve
from whatworks.trials.design import DesignError, mdes, power


def test_each_point_is_the_power_at_that_size_and_power_rises():
    curve = power_curve("CRA2_2r", es=.25, rho2=.2, n=4, values=range(20, 260, 40))
    for J, p, m in zip(curve.values, curve.power, curve.mdes, strict=True):
        assert p == power("CRA2_2r", es=.25, rho2=.2, n=4, J=J).power
        assert m == mdes("CRA2_2r", rho2=.2, n=4, J=J).mdes
    assert list(curve.power) == sorted(curve.power)
    assert list(curve.to_frame().columns) == ["J", "power", "mdes"]


def test_the_plot_marks_the_target_power():
    fig = power_curve("IRA", es=.3, values=[50, 100, 200, 400]).plot_power()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "n" and ax.get_ylim() == (0, 1)
    assert any(list(line.get_ydata()) == [0.8, 0.8] for line in ax.lines)


def test_it_refuses_to_vary_a_size_the_design_does_not_have():
    with pytest.raises(DesignError, match="cannot vary 'K'"):
        power_curve("CRA2_2r", es=.25, rho2=.2, n=4, vary="K", values=[10])
