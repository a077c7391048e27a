"""Power curves: the power of a design across a range of one sample size (for the power calculator).

References
----------
Dong N, Maynard RA (2013). J Res Educ Effectiveness 6:24-67. (the designs and their power)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._results import Result, fmt
from .design import DesignError, get_design, mdes, power

__all__ = ["PowerCurve", "power_curve"]


@dataclass(frozen=True, repr=False)
class PowerCurve(Result):
    """Power (and the MDES at ``target`` power) of a design at each value of one sample size."""

    design: str
    vary: str
    values: tuple[float, ...]
    power: tuple[float, ...]
    mdes: tuple[float, ...]
    es: float
    target: float
    alpha: float
    two_tailed: bool
    parameters: dict[str, Any]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({self.vary: self.values, "power": self.power, "mdes": self.mdes})

    def summary_text(self) -> str:
        pts = ", ".join(f"{self.vary}={v:g}: {fmt(p, 3)}" for v, p in zip(self.values, self.power,
                                                                         strict=True))
        return f"{self.design} power to detect {self.es:g} SD: {pts}"

    def plot_power(self, ax=None):
        """Power against the varied sample size, with the target power marked; returns the Figure."""
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(6.5, 4)).subplots()
        ax.plot(self.values, self.power, marker="o", ms=3, color="#1f4e79", lw=1.5)
        ax.axhline(self.target, color="#c0392b", lw=1, ls="--", label=f"power {self.target:g}")
        ax.set_ylim(0, 1)
        ax.set_xlabel(self.vary)
        ax.set_ylabel("power")
        tails = "two" if self.two_tailed else "one"
        ax.set_title(f"{self.design}: power to detect {self.es:g} SD (alpha {self.alpha:g}, "
                     f"{tails}-tailed)", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        return ax.figure


def power_curve(design: str, *, es: float, values: Sequence[float], vary: str | None = None,
                target: float = 0.8, alpha: float = 0.05, two_tailed: bool = True,
                **params: float) -> PowerCurve:
    """Power of ``design`` to detect ``es`` at each of ``values`` of the sample size ``vary`` (default
    the top level), the other parameters fixed; also the MDES at ``target`` power at each value."""
    d = get_design(design)
    vary = vary or d.top
    if vary not in d.sizes:
        raise DesignError(f"{d.name} cannot vary {vary!r}; its sample sizes are {', '.join(d.sizes)}")
    if params.get(vary) is not None:
        raise DesignError(f"{vary} is the size varied; give its values in values=, not {vary}=")
    vals = tuple(float(v) for v in values)
    if not vals:
        raise DesignError("values is empty; give the sample sizes to compute power at")
    powers, mdeses = [], []
    for v in vals:
        kw = {**params, vary: v}
        powers.append(power(d.name, es=es, alpha=alpha, two_tailed=two_tailed, **kw).power)
        mdeses.append(mdes(d.name, power=target, alpha=alpha, two_tailed=two_tailed, **kw).mdes)
    return PowerCurve(design=d.name, vary=vary, values=vals, power=tuple(powers), mdes=tuple(mdeses),
                      es=float(es), target=float(target), alpha=float(alpha), two_tailed=two_tailed,
                      parameters=dict(params))
