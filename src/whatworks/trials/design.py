"""Minimum detectable effect size, power and minimum required sample size for multilevel trials.

The registry :data:`DESIGNS` holds the 14 main-effect designs of PowerUp! (Dong & Maynard 2013):
individual random assignment (IRA), blocked individual random assignment (BIRA: individuals
randomised within blocks that are constant ``c``, fixed ``f`` or random ``r``), cluster random
assignment (CRA) and blocked cluster random assignment (BCRA). A design's name says how many levels
it has and at which level treatment is assigned: ``CRA3_3r`` has three levels, treatment assigned at
level 3, random effects at the top.

For each design the standardised impact estimate has sampling variance ``V`` (a sum of one term per
level: the share of variance at that level, reduced by the covariates' R², divided by the number of
units that inform it) and a t test with the design's degrees of freedom ``df``. Then

    MDES = M * sqrt(V),   M = t(1 - alpha/tails; df) + t(power; df)         (Bloom 1995, 2006)
    power = P(|T| > t(1 - alpha/2; df)), T ~ noncentral t(df, es / sqrt(V))  (two-tailed)

and the minimum required sample size (the top-level count unless another is asked for) is the
smallest whole number of units at which MDES <= es, as PowerUp! defines it from the multiplier.

Parameters follow PowerUp!: ``rho2``, ``rho3``, ``rho4`` (the share of the outcome's variance between
level-2, -3, -4 units; they sum to at most 1), ``omega2``..``omega4`` (the variance of the treatment
effect across blocks over the outcome variance at that level), ``r21``..``r24`` (R² of the covariates at
each level), ``r2t2``..``r2t4`` (R² of the treatment-effect variance), ``g1``..``g4`` (number of covariates
at the level whose count sets df), ``p`` (the proportion treated), ``n``, ``J``, ``K``, ``L`` (units per
level-2 unit, level-2 units per level-3 unit, level-3 units per level-4 unit, level-4 units; lower
levels are averages, harmonic means when unequal).

References
----------
Dong N, Maynard RA (2013). PowerUp!: a tool for calculating minimum detectable effect sizes and minimum
    required sample sizes for experimental and quasi-experimental design studies. J Res Educ
    Effectiveness 6:24-67. (every formula here: Table 3 and Appendix A, models 1.0 to 4.5)
Bloom HS (2006). The core analytics of randomized experiments for social research. MDRC working paper.
    (the multiplier M)
Hedges LV, Rhoads C (2010). Statistical power analysis in education research. NCSER 2010-3006.
    (power from the noncentral t distribution)

Reference implementation tested against: the published formulas written independently in R
(``tests/reference/make_trial_design.R``; PowerUpR is not packaged in Debian and is GPL-3, so it was
neither copied nor run), cross-checked with PowerUpR's published values, and R's ``pwr`` 1.3 for the
t test
(:mod:`whatworks.trials.ttest`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._results import Result, fmt
from ..errors import ParameterError, WhatWorksError

__all__ = ["DESIGNS", "Design", "DesignError", "MdesResult", "PowerResult", "SampleSizeResult",
           "mdes", "mrss", "power", "solve"]


class DesignError(WhatWorksError, ValueError):
    """A trial design's inputs are missing, out of range or inconsistent; the message names which."""


SIZES = ("n", "J", "K", "L")

#: What each PowerUp! parameter means (read by the CLI's help and by error messages).
PARAMETERS: dict[str, str] = {
    "n": "level-1 units per level-2 unit (average; harmonic mean when unequal)",
    "J": "level-2 units (per level-3 unit in three- and four-level designs)",
    "K": "level-3 units (per level-4 unit in four-level designs)",
    "L": "level-4 units",
    "p": "proportion of units assigned to treatment (default 0.5)",
    "rho2": "share of the outcome variance between level-2 units (ICC)",
    "rho3": "share of the outcome variance between level-3 units",
    "rho4": "share of the outcome variance between level-4 units",
    "omega2": "treatment-effect variance across level-2 blocks / the level-2 outcome variance",
    "omega3": "treatment-effect variance across level-3 blocks / the level-3 outcome variance",
    "omega4": "treatment-effect variance across level-4 blocks / the level-4 outcome variance",
    "r21": "R² of the level-1 covariates (default 0)",
    "r22": "R² of the level-2 covariates (default 0)",
    "r23": "R² of the level-3 covariates (default 0)",
    "r24": "R² of the level-4 covariates (default 0)",
    "r2t2": "R² of the treatment-effect variance at level 2 (default 0)",
    "r2t3": "R² of the treatment-effect variance at level 3 (default 0)",
    "r2t4": "R² of the treatment-effect variance at level 4 (default 0)",
    "g1": "number of level-1 covariates (default 0)",
    "g2": "number of level-2 covariates (default 0)",
    "g3": "number of level-3 covariates (default 0)",
    "g4": "number of level-4 covariates (default 0)",
}


@dataclass(frozen=True)
class Design:
    """A registered trial design: its parameters, degrees of freedom and impact variance."""

    name: str
    title: str
    levels: int
    sizes: tuple[str, ...]
    rhos: tuple[str, ...]
    omegas: tuple[str, ...]
    defaults: tuple[str, ...]  # R² and covariate counts, default 0
    df_formula: str
    variance_formula: str
    df: Callable[[Mapping[str, float]], float] = field(repr=False)
    variance: Callable[[Mapping[str, float]], float] = field(repr=False)

    @property
    def top(self) -> str:
        """The sample size solved for by default: the count of the top level's units."""
        return self.sizes[-1]

    @property
    def required(self) -> tuple[str, ...]:
        return self.sizes + self.rhos + self.omegas

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.required + self.defaults + ("p",)


def _pq(q):
    return q["p"] * (1 - q["p"])


def _ira_v(q):
    return (1 - q["r21"]) / (_pq(q) * q["n"])


def _bira2_fixed_v(q):
    return (1 - q["r21"]) / (_pq(q) * q["n"] * q["J"])


def _bira2r_v(q):
    return (q["rho2"] * q["omega2"] * (1 - q["r2t2"]) / q["J"]
            + (1 - q["rho2"]) * (1 - q["r21"]) / (_pq(q) * q["n"] * q["J"]))


def _bira3r_v(q):
    jk = q["J"] * q["K"]
    return (q["rho3"] * q["omega3"] * (1 - q["r2t3"]) / q["K"]
            + q["rho2"] * q["omega2"] * (1 - q["r2t2"]) / jk
            + (1 - q["rho2"] - q["rho3"]) * (1 - q["r21"]) / (_pq(q) * q["n"] * jk))


def _bira4r_v(q):
    kl = q["K"] * q["L"]
    jkl = q["J"] * kl
    return (q["rho4"] * q["omega4"] * (1 - q["r2t4"]) / q["L"]
            + q["rho3"] * q["omega3"] * (1 - q["r2t3"]) / kl
            + q["rho2"] * q["omega2"] * (1 - q["r2t2"]) / jkl
            + (1 - q["rho2"] - q["rho3"] - q["rho4"]) * (1 - q["r21"]) / (_pq(q) * q["n"] * jkl))


def _cra2_v(q):
    pq = _pq(q)
    return (q["rho2"] * (1 - q["r22"]) / (pq * q["J"])
            + (1 - q["rho2"]) * (1 - q["r21"]) / (pq * q["n"] * q["J"]))


def _cra3_v(q):
    pq, jk = _pq(q), q["J"] * q["K"]
    return (q["rho3"] * (1 - q["r23"]) / (pq * q["K"])
            + q["rho2"] * (1 - q["r22"]) / (pq * jk)
            + (1 - q["rho2"] - q["rho3"]) * (1 - q["r21"]) / (pq * q["n"] * jk))


def _cra4_v(q):
    pq, kl = _pq(q), q["K"] * q["L"]
    jkl = q["J"] * kl
    return (q["rho4"] * (1 - q["r24"]) / (pq * q["L"])
            + q["rho3"] * (1 - q["r23"]) / (pq * kl)
            + q["rho2"] * (1 - q["r22"]) / (pq * jkl)
            + (1 - q["rho2"] - q["rho3"] - q["rho4"]) * (1 - q["r21"]) / (pq * q["n"] * jkl))


def _bcra3f2_v(q):
    pq, jk = _pq(q), q["J"] * q["K"]
    return (q["rho2"] * (1 - q["r22"]) / (pq * jk)
            + (1 - q["rho2"]) * (1 - q["r21"]) / (pq * q["n"] * jk))


def _bcra3r2_v(q):
    pq, jk = _pq(q), q["J"] * q["K"]
    return (q["rho3"] * q["omega3"] * (1 - q["r2t3"]) / q["K"]
            + q["rho2"] * (1 - q["r22"]) / (pq * jk)
            + (1 - q["rho2"] - q["rho3"]) * (1 - q["r21"]) / (pq * q["n"] * jk))


def _bcra4r2_v(q):
    pq, kl = _pq(q), q["K"] * q["L"]
    jkl = q["J"] * kl
    return (q["rho4"] * q["omega4"] * (1 - q["r2t4"]) / q["L"]
            + q["rho3"] * q["omega3"] * (1 - q["r2t3"]) / kl
            + q["rho2"] * (1 - q["r22"]) / (pq * jkl)
            + (1 - q["rho2"] - q["rho3"] - q["rho4"]) * (1 - q["r21"]) / (pq * q["n"] * jkl))


def _bcra4f3_v(q):
    pq, kl = _pq(q), q["K"] * q["L"]
    jkl = q["J"] * kl
    return (q["rho3"] * (1 - q["r23"]) / (pq * kl)
            + q["rho2"] * (1 - q["r22"]) / (pq * jkl)
            + (1 - q["rho2"] - q["rho3"]) * (1 - q["r21"]) / (pq * q["n"] * jkl))


def _bcra4r3_v(q):
    pq, kl = _pq(q), q["K"] * q["L"]
    jkl = q["J"] * kl
    return (q["rho4"] * q["omega4"] * (1 - q["r2t4"]) / q["L"]
            + q["rho3"] * (1 - q["r23"]) / (pq * kl)
            + q["rho2"] * (1 - q["r22"]) / (pq * jkl)
            + (1 - q["rho2"] - q["rho3"] - q["rho4"]) * (1 - q["r21"]) / (pq * q["n"] * jkl))


def _d(name, title, sizes, rhos, omegas, defaults, df_formula, df, var_formula, var) -> Design:
    return Design(name=name, title=title, levels=len(sizes), sizes=sizes, rhos=rhos, omegas=omegas,
                  defaults=defaults, df_formula=df_formula, variance_formula=var_formula, df=df,
                  variance=var)


_L1 = "(1-r21)/(p(1-p)n"
#: The registry of trial designs (PowerUp! model numbers in the titles).
DESIGNS: dict[str, Design] = {d.name: d for d in (
    _d("IRA", "1.0 individual random assignment", ("n",), (), (), ("r21", "g1"),
       "n - g1 - 2", lambda q: q["n"] - q["g1"] - 2, _L1 + ")", _ira_v),
    _d("BIRA2_1c", "2.1 two-level blocked individual random assignment, constant block effects",
       ("n", "J"), (), (), ("r21", "g1"), "J(n - 1) - g1 - 1",
       lambda q: q["J"] * (q["n"] - 1) - q["g1"] - 1, _L1 + "J)", _bira2_fixed_v),
    _d("BIRA2_1f", "2.2 two-level blocked individual random assignment, fixed block effects",
       ("n", "J"), (), (), ("r21", "g1"), "J(n - 2) - g1",
       lambda q: q["J"] * (q["n"] - 2) - q["g1"], _L1 + "J)", _bira2_fixed_v),
    _d("BIRA2_1r", "2.3 two-level blocked individual random assignment, random block effects",
       ("n", "J"), ("rho2",), ("omega2",), ("r21", "r2t2", "g2"), "J - g2 - 1",
       lambda q: q["J"] - q["g2"] - 1,
       "rho2 omega2 (1-r2t2)/J + (1-rho2)(1-r21)/(p(1-p)nJ)", _bira2r_v),
    _d("BIRA3_1r", "2.4 three-level blocked individual random assignment, random block effects",
       ("n", "J", "K"), ("rho2", "rho3"), ("omega2", "omega3"), ("r21", "r2t2", "r2t3", "g3"),
       "K - g3 - 1", lambda q: q["K"] - q["g3"] - 1,
       "rho3 omega3 (1-r2t3)/K + rho2 omega2 (1-r2t2)/(JK) + (1-rho2-rho3)(1-r21)/(p(1-p)nJK)",
       _bira3r_v),
    _d("BIRA4_1r", "2.5 four-level blocked individual random assignment, random block effects",
       ("n", "J", "K", "L"), ("rho2", "rho3", "rho4"), ("omega2", "omega3", "omega4"),
       ("r21", "r2t2", "r2t3", "r2t4", "g4"), "L - g4 - 1", lambda q: q["L"] - q["g4"] - 1,
       "rho4 omega4 (1-r2t4)/L + rho3 omega3 (1-r2t3)/(KL) + rho2 omega2 (1-r2t2)/(JKL) "
       "+ (1-rho2-rho3-rho4)(1-r21)/(p(1-p)nJKL)", _bira4r_v),
    _d("CRA2_2r", "3.1 two-level cluster random assignment", ("n", "J"), ("rho2",), (),
       ("r21", "r22", "g2"), "J - g2 - 2", lambda q: q["J"] - q["g2"] - 2,
       "rho2 (1-r22)/(p(1-p)J) + (1-rho2)(1-r21)/(p(1-p)nJ)", _cra2_v),
    _d("CRA3_3r", "3.2 three-level cluster random assignment", ("n", "J", "K"), ("rho2", "rho3"),
       (), ("r21", "r22", "r23", "g3"), "K - g3 - 2", lambda q: q["K"] - q["g3"] - 2,
       "rho3 (1-r23)/(p(1-p)K) + rho2 (1-r22)/(p(1-p)JK) + (1-rho2-rho3)(1-r21)/(p(1-p)nJK)",
       _cra3_v),
    _d("CRA4_4r", "3.3 four-level cluster random assignment", ("n", "J", "K", "L"),
       ("rho2", "rho3", "rho4"), (), ("r21", "r22", "r23", "r24", "g4"), "L - g4 - 2",
       lambda q: q["L"] - q["g4"] - 2,
       "rho4 (1-r24)/(p(1-p)L) + rho3 (1-r23)/(p(1-p)KL) + rho2 (1-r22)/(p(1-p)JKL) "
       "+ (1-rho2-rho3-rho4)(1-r21)/(p(1-p)nJKL)", _cra4_v),
    _d("BCRA3_2f", "4.1 three-level blocked cluster random assignment (level 2), fixed blocks",
       ("n", "J", "K"), ("rho2",), (), ("r21", "r22", "g2"), "K(J - 2) - g2",
       lambda q: q["K"] * (q["J"] - 2) - q["g2"],
       "rho2 (1-r22)/(p(1-p)JK) + (1-rho2)(1-r21)/(p(1-p)nJK)", _bcra3f2_v),
    _d("BCRA3_2r", "4.2 three-level blocked cluster random assignment (level 2), random blocks",
       ("n", "J", "K"), ("rho2", "rho3"), ("omega3",), ("r21", "r22", "r2t3", "g3"), "K - g3 - 1",
       lambda q: q["K"] - q["g3"] - 1,
       "rho3 omega3 (1-r2t3)/K + rho2 (1-r22)/(p(1-p)JK) + (1-rho2-rho3)(1-r21)/(p(1-p)nJK)",
       _bcra3r2_v),
    _d("BCRA4_2r", "4.3 four-level blocked cluster random assignment (level 2), random blocks",
       ("n", "J", "K", "L"), ("rho2", "rho3", "rho4"), ("omega3", "omega4"),
       ("r21", "r22", "r2t3", "r2t4", "g4"), "L - g4 - 1", lambda q: q["L"] - q["g4"] - 1,
       "rho4 omega4 (1-r2t4)/L + rho3 omega3 (1-r2t3)/(KL) + rho2 (1-r22)/(p(1-p)JKL) "
       "+ (1-rho2-rho3-rho4)(1-r21)/(p(1-p)nJKL)", _bcra4r2_v),
    _d("BCRA4_3f", "4.4 four-level blocked cluster random assignment (level 3), fixed blocks",
       ("n", "J", "K", "L"), ("rho2", "rho3"), (), ("r21", "r22", "r23", "g3"), "L(K - 2) - g3",
       lambda q: q["L"] * (q["K"] - 2) - q["g3"],
       "rho3 (1-r23)/(p(1-p)KL) + rho2 (1-r22)/(p(1-p)JKL) + (1-rho2-rho3)(1-r21)/(p(1-p)nJKL)",
       _bcra4f3_v),
    _d("BCRA4_3r", "4.5 four-level blocked cluster random assignment (level 3), random blocks",
       ("n", "J", "K", "L"), ("rho2", "rho3", "rho4"), ("omega4",),
       ("r21", "r22", "r23", "r2t4", "g4"), "L - g4 - 1", lambda q: q["L"] - q["g4"] - 1,
       "rho4 omega4 (1-r2t4)/L + rho3 (1-r23)/(p(1-p)KL) + rho2 (1-r22)/(p(1-p)JKL) "
       "+ (1-rho2-rho3-rho4)(1-r21)/(p(1-p)nJKL)", _bcra4r3_v),
)}


def get_design(name: str) -> Design:
    """The registered design called ``name`` (case-insensitive), or an error listing them all."""
    if isinstance(name, Design):
        return name
    for key, design in DESIGNS.items():
        if str(name).lower() == key.lower():
            return design
    raise DesignError(f"unknown design {name!r}; the designs are: {', '.join(DESIGNS)}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise DesignError(f"{name}={value!r} is not a number; {name} is the {PARAMETERS[name]}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name}={value!r} is not a number; {name} is the {PARAMETERS[name]}") from None
    if not math.isfinite(x):
        raise DesignError(f"{name}={value!r} must be a finite number")
    return x


def _check_range(name: str, x: float) -> None:
    if name in SIZES:
        if x <= 0:
            raise DesignError(f"{name}={x:g} is out of range; {name} ({PARAMETERS[name]}) must be "
                              "above 0")
    elif name.startswith("g"):
        if x < 0 or x != int(x):
            raise DesignError(f"{name}={x:g} is out of range; {name} ({PARAMETERS[name]}) must be a "
                              "whole number, 0 or more")
    elif name == "p":
        if not 0 < x < 1:
            raise DesignError(f"p={x:g} is out of range; p (the proportion treated) must be between 0 "
                              "and 1, exclusive")
    elif name.startswith("omega"):
        if x < 0:
            raise DesignError(f"{name}={x:g} is out of range; {name} (a variance ratio) must be 0 or more")
    elif not 0 <= x <= 1:  # rho, r2, r2t
        raise DesignError(f"{name}={x:g} is out of range; {name} ({PARAMETERS[name]}) must be a "
                          "proportion from 0 to 1")


def design_parameters(design: Design, given: Mapping[str, Any], *, missing: str | None = None
                      ) -> dict[str, float]:
    """Validate ``given`` for ``design``: every required parameter present (but ``missing``), none
    foreign, each in range, the ICCs summing to at most 1; defaults (0, and p = 0.5) filled in."""
    given = {k: v for k, v in given.items() if v is not None}
    foreign = [k for k in given if k not in design.parameters]
    if foreign:
        name = foreign[0]
        what = f" ({PARAMETERS[name]})" if name in PARAMETERS else ""
        raise DesignError(f"{design.name} does not take {name}{what}; it takes: "
                          f"{', '.join(design.parameters)}")
    q: dict[str, float] = {}
    for name in design.required:
        if name == missing:
            continue
        if name not in given:
            raise DesignError(f"{design.name} needs {name} ({PARAMETERS[name]}); it takes: "
                              f"{', '.join(design.parameters)}")
        q[name] = _number(name, given[name])
    for name in design.defaults:
        q[name] = _number(name, given[name]) if name in given else 0.0
    q["p"] = _number("p", given["p"]) if "p" in given else 0.5
    for name, x in q.items():
        _check_range(name, x)
    total = sum(q[r] for r in design.rhos)
    if total > 1:
        terms = " + ".join(f"{r}={q[r]:g}" for r in design.rhos)
        raise DesignError(f"the ICCs sum above 1 ({terms} = {total:g}); they are shares of the "
                          "outcome's total variance and must sum to at most 1")
    return q


def _df(design: Design, q: Mapping[str, float]) -> float:
    df = float(design.df(q))
    if not df >= 1:
        raise DesignError(f"{design.name} has df = {design.df_formula} = {df:g} with these sizes and "
                          f"covariates; it needs df >= 1: increase {design.top} or use fewer covariates")
    return df


def _check_test(alpha: float, two_tailed: bool, power_: float | None = None) -> None:
    a = _number_any("alpha", alpha)
    if not 0 < a < 1:
        raise DesignError(f"alpha={alpha!r} is out of range; alpha must be between 0 and 1, exclusive")
    if power_ is not None:
        b = _number_any("power", power_)
        if not 0 < b < 1:
            raise DesignError(f"power={power_!r} is out of range; power must be between 0 and 1, "
                              "exclusive")
    if not isinstance(two_tailed, bool):
        raise ParameterError("two_tailed", two_tailed, "True or False")


def _number_any(name: str, value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise DesignError(f"{name}={value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(x):
        raise DesignError(f"{name}={value!r} must be a finite number")
    return x


def multiplier(df: float, *, alpha: float = 0.05, power: float = 0.8, two_tailed: bool = True) -> float:
    """Bloom's multiplier M = t(1 - alpha/tails; df) + t(power; df)."""
    from scipy import stats

    tails = 2 if two_tailed else 1
    return float(stats.t.ppf(1 - alpha / tails, df) + stats.t.ppf(power, df))


def power_from_ncp(ncp: float, df: float, *, alpha: float = 0.05, two_tailed: bool = True) -> float:
    """Power of the t test with noncentrality ``ncp`` (both rejection regions when two-tailed)."""
    from scipy import stats

    if two_tailed:
        crit = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))
    crit = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(crit, df, ncp))


# --------------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True, repr=False)
class MdesResult(Result):
    """The minimum detectable effect size of a design (standardised, in SD units of the outcome)."""

    design: str
    mdes: float
    se: float
    df: float
    multiplier: float
    alpha: float
    power: float
    two_tailed: bool
    parameters: dict[str, float]

    def summary_text(self) -> str:
        tails = "two" if self.two_tailed else "one"
        return (f"{self.design}: MDES = {fmt(self.mdes)} (SE of the standardised impact {fmt(self.se)}, "
                f"df = {self.df:g}, M = {fmt(self.multiplier)}; power {self.power:g}, "
                f"alpha {self.alpha:g}, {tails}-tailed)")


@dataclass(frozen=True, repr=False)
class PowerResult(Result):
    """The power of a design to detect a standardised effect ``es`` (noncentral t)."""

    design: str
    power: float
    es: float
    se: float
    df: float
    ncp: float
    alpha: float
    two_tailed: bool
    parameters: dict[str, float]

    def summary_text(self) -> str:
        tails = "two" if self.two_tailed else "one"
        return (f"{self.design}: power = {fmt(self.power)} to detect {self.es:g} SD (df = {self.df:g}, "
                f"noncentrality {fmt(self.ncp)}; alpha {self.alpha:g}, {tails}-tailed)")


@dataclass(frozen=True, repr=False)
class SampleSizeResult(Result):
    """The minimum required sample size: the smallest whole ``solved`` with MDES <= es."""

    design: str
    solved: str
    size: int
    es: float
    power: float
    alpha: float
    two_tailed: bool
    mdes_at_size: float
    power_at_size: float
    df: float
    multiplier: float
    parameters: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        out = {self.solved: self.size}
        out.update(super().to_dict())
        return out

    def summary_text(self) -> str:
        return (f"{self.design}: {self.solved} = {self.size} (MDES there {fmt(self.mdes_at_size)} <= "
                f"{self.es:g}; power {fmt(self.power_at_size)}; df = {self.df:g})")


# --------------------------------------------------------------------------------------------------
# the three calculations

def _prepare(design, params, missing=None):
    d = get_design(design)
    q = design_parameters(d, params, missing=missing)
    return d, q


def mdes(design: str, *, power: float = 0.8, alpha: float = 0.05, two_tailed: bool = True,
         **params: float) -> MdesResult:
    """Minimum detectable effect size of ``design`` (see :data:`DESIGNS`) with PowerUp!'s parameters.

    Examples
    --------
    >>> round(mdes("CRA2_2r", rho2=.2, n=60, J=40, r21=.5, r22=.5, g2=1).mdes, 6)
    0.297201

    References
    ----------
    Dong N, Maynard RA (2013). J Res Educ Effectiveness 6:24-67.
    """
    _check_test(alpha, two_tailed, power)
    d, q = _prepare(design, params)
    df = _df(d, q)
    se = math.sqrt(d.variance(q))
    m = multiplier(df, alpha=alpha, power=power, two_tailed=two_tailed)
    return MdesResult(design=d.name, mdes=m * se, se=se, df=df, multiplier=m, alpha=float(alpha),
                      power=float(power), two_tailed=two_tailed, parameters=q)


def power(design: str, *, es: float, alpha: float = 0.05, two_tailed: bool = True,
          **params: float) -> PowerResult:
    """Power of ``design`` to detect a standardised effect ``es`` (noncentral t with the design's df).

    Examples
    --------
    >>> round(power("CRA3_3r", es=.23, rho2=.06, rho3=.18, g3=1, r21=.55, r22=.50, r23=.45,
    ...             p=.40, n=10, J=2, K=83).power, 6)
    0.799818
    """
    _check_test(alpha, two_tailed)
    es = _effect(es)
    d, q = _prepare(design, params)
    df = _df(d, q)
    se = math.sqrt(d.variance(q))
    ncp = es / se if se > 0 else math.inf
    pw = power_from_ncp(ncp, df, alpha=alpha, two_tailed=two_tailed) if se > 0 else 1.0
    return PowerResult(design=d.name, power=pw, es=es, se=se, df=df, ncp=ncp, alpha=float(alpha),
                       two_tailed=two_tailed, parameters=q)


def _effect(es: Any) -> float:
    x = _number_any("es", es)
    if x <= 0:
        raise DesignError(f"es={es!r} is out of range; the effect size must be above 0 (in SD units)")
    return x


def mrss(design: str, *, es: float, power: float = 0.8, alpha: float = 0.05, two_tailed: bool = True,
         solve_for: str | None = None, max_size: int = 10**8, **params: float) -> SampleSizeResult:
    """Minimum required sample size: the smallest whole number of ``solve_for`` units (default the
    design's top level: n for IRA, J, K or L) at which MDES <= es.

    All other sizes must be given. MDES falls as any size grows (the variance falls and df never
    shrinks), so the answer is the ceiling of the root of MDES(size) = es; when even infinitely many
    lower-level units leave the MDES above ``es`` the error says so and which size to raise instead.

    Examples
    --------
    >>> mrss("CRA2_2r", es=.25, rho2=.2, n=4).size
    203
    """
    _check_test(alpha, two_tailed, power)
    es = _effect(es)
    d = get_design(design)
    target = solve_for or d.top
    if target not in d.sizes:
        raise DesignError(f"{d.name} cannot solve for {target!r}; its sample sizes are "
                          f"{', '.join(d.sizes)}")
    if params.get(target) is not None:
        raise DesignError(f"give every sample size except the one to solve for: {target}={params[target]!r} "
                          f"was given (leave {target} out)")
    q = design_parameters(d, params, missing=target)

    def at(size: float) -> tuple[float, float]:
        qq = dict(q)
        qq[target] = size
        df = float(d.df(qq))
        m = multiplier(df, alpha=alpha, power=power, two_tailed=two_tailed)
        return m * math.sqrt(d.variance(qq)), df

    def ok(size: float) -> bool:
        qq = dict(q)
        qq[target] = size
        return float(d.df(qq)) >= 1 and at(size)[0] <= es

    lo = 1
    while True:  # the smallest whole size with df >= 1
        qq = dict(q)
        qq[target] = lo
        if float(d.df(qq)) >= 1:
            break
        lo += 1
        if lo > 10_000:
            raise DesignError(f"{d.name}: df = {d.df_formula} stays below 1; check the other sizes "
                              "and the covariate counts")
    if ok(lo):
        size = lo
    else:
        hi = lo
        while not ok(hi):
            hi *= 2
            if hi > max_size:
                raise DesignError(_unreachable(d, q, target, es, alpha, power, two_tailed, max_size))
        # bisection on whole numbers: ok(hi) is True, ok(lo) is False
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        size = hi
    value, df = at(size)
    qq = dict(q)
    qq[target] = float(size)
    se = math.sqrt(d.variance(qq))
    pw = power_from_ncp(es / se, df, alpha=alpha, two_tailed=two_tailed) if se > 0 else 1.0
    return SampleSizeResult(design=d.name, solved=target, size=int(size), es=es, power=float(power),
                            alpha=float(alpha), two_tailed=two_tailed, mdes_at_size=value,
                            power_at_size=pw, df=df,
                            multiplier=multiplier(df, alpha=alpha, power=power, two_tailed=two_tailed),
                            parameters=qq)


def _unreachable(d, q, target, es, alpha, power_, two_tailed, max_size) -> str:
    if target != d.top:
        return (f"{d.name}: no number of {target} units reaches MDES <= {es:g} with the other sizes "
                f"given (the variance at the higher levels alone is too large); increase {d.top} "
                "instead")
    return f"{d.name}: more than {max_size} units of {target} would be needed to detect {es:g}"


def solve(design: str, *, es: float | None = None, power: float | None = None, alpha: float = 0.05,
          two_tailed: bool = True, **params: float):
    """Solve for whichever of ``es``, ``power`` or one sample size is left out (``None``).

    Returns an :class:`MdesResult` (es left out), a :class:`PowerResult` (power left out) or a
    :class:`SampleSizeResult` (a size left out).
    """
    d = get_design(design)
    left = [name for name, v in (("es", es), ("power", power)) if v is None]
    left += [s for s in d.sizes if params.get(s) is None]
    if len(left) != 1:
        raise DesignError(f"leave out exactly one of es, power, {', '.join(d.sizes)} to solve for it; "
                          f"left out: {', '.join(left) or 'none'}")
    if left[0] == "es":
        return mdes(d.name, power=power, alpha=alpha, two_tailed=two_tailed, **params)
    if left[0] == "power":
        return globals()["power"](d.name, es=es, alpha=alpha, two_tailed=two_tailed, **params)
    params = {k: v for k, v in params.items() if k != left[0]}
    return mrss(d.name, es=es, power=power, alpha=alpha, two_tailed=two_tailed, solve_for=left[0],
                **params)
