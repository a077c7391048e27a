"""``escalc``: effect sizes and sampling variances from reported statistics, and the registry of
measures it knows.

The argument names, defaults and results follow R's metafor 3.8 ``escalc`` (Viechtbauer 2010),
which is the reference implementation every measure is tested against
(``tests/reference/make_effects.R``). The formulas, with citations, are in
``docs/methods/effects.md``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from whatworks.effects import binary, continuous, correlation, generic, proportion
from whatworks.effects._inputs import Inputs, resolve
from whatworks.effects._warnings import warn
from whatworks.errors import ParameterError

__all__ = ["EFFECT_ARGUMENTS", "MEASURES", "Measure", "escalc", "required_arguments"]

#: The data arguments escalc takes (metafor's names): the column names of findings files and the CLI.
EFFECT_ARGUMENTS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
                    "sd1i", "sd2i", "xi", "mi", "ri", "ti", "ni", "fi", "pi", "sign",
                    "estimate", "ci_lower", "ci_upper", "se")

_TABLE = (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i"))
_TABLE_ROLES = (("ai", "count"), ("bi", "count"), ("ci", "count"), ("di", "count"),
                ("n1i", "size"), ("n2i", "size"))
_MEANS = ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i")
_MEANS_ROLES = (("m1i", "mean"), ("m2i", "mean"), ("sd1i", "sd"), ("sd2i", "sd"),
                ("n1i", "size"), ("n2i", "size"))
_PROPORTION = (("xi", "ni"), ("xi", "mi"))
_CHANGE_ROLES = (("m1i", "mean"), ("m2i", "mean"), ("sd1i", "sd"), ("sd2i", "sd"), ("ni", "size"),
                 ("ri", "corr"))
_PROPORTION_ROLES = (("xi", "count"), ("mi", "count"), ("ni", "size"))


@dataclass(frozen=True)
class Measure:
    """One effect-size measure ``escalc`` can compute.

    ``groups`` lists alternative sets of arguments, any one of which is enough (a study may use
    a different set from its neighbours where the measure allows it, as SMD does).
    ``roles`` says what each argument holds (a count, a standard deviation, ...) and so which
    values are impossible. ``default_add`` is the continuity correction when ``add`` is not
    given; ``zero_cells`` says whether ``add``/``to`` apply and ``drop00`` whether studies with
    no events (or only events) in both groups can be dropped. ``optional`` pairs an argument
    that is never required with the arguments it can accompany (SMD's ``sign`` goes with
    ``pi``, where it is optional, and ``fi``, where it is required).
    """

    name: str
    description: str
    family: str
    groups: tuple[tuple[str, ...], ...]
    roles: tuple[tuple[str, str], ...]
    vtypes: tuple[str, ...] = ("LS",)
    zero_cells: bool = False
    default_add: float = 0.5
    drop00: bool = False
    correct: bool = False
    optional: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def arguments(self) -> tuple[str, ...]:
        """Every data argument the measure can use."""
        return tuple(name for name, _ in self.roles)

    def role(self, argument: str) -> str:
        return dict(self.roles)[argument]


def _measure(name, description, family, groups, roles, **options) -> Measure:
    return Measure(name, description, family, tuple(groups), tuple(roles), **options)


_SMD_ROLES = _MEANS_ROLES + (("di", "stat"), ("ti", "stat"), ("fi", "f"), ("pi", "p"),
                             ("sign", "sign"))
_SMD_GROUPS = (_MEANS, ("di", "n1i", "n2i"), ("ti", "n1i", "n2i"), ("fi", "sign", "n1i", "n2i"),
               ("pi", "n1i", "n2i"))

#: Every measure ``escalc`` computes, by name (the CLI's choices and validation read this).
MEASURES: dict[str, Measure] = {m.name: m for m in [
    _measure("MD", "raw mean difference", "continuous", [_MEANS], _MEANS_ROLES,
             vtypes=("LS", "HO")),
    _measure("SMD", "standardised mean difference (Hedges' g); also from Cohen's d (di), a "
             "t statistic (ti), an F statistic with 1 df (fi, with sign) or a two-sided "
             "p-value (pi)", "continuous", _SMD_GROUPS, _SMD_ROLES,
             vtypes=("LS", "UB", "LS2", "AV"), correct=True,
             optional=(("sign", ("fi", "pi")),)),
    _measure("SMDH", "standardised mean difference with heteroscedastic variances (Bonett)",
             "continuous", [_MEANS], _MEANS_ROLES, correct=True),
    _measure("ROM", "log ratio of means (log response ratio)", "continuous", [_MEANS],
             _MEANS_ROLES, vtypes=("LS", "HO")),
    _measure("OR", "log odds ratio", "binary", _TABLE, _TABLE_ROLES, zero_cells=True,
             drop00=True),
    _measure("RR", "log risk ratio", "binary", _TABLE, _TABLE_ROLES, zero_cells=True,
             drop00=True),
    _measure("RD", "risk difference", "binary", _TABLE, _TABLE_ROLES, zero_cells=True,
             drop00=True),
    _measure("PETO", "log odds ratio by Peto's method", "binary", _TABLE, _TABLE_ROLES,
             zero_cells=True, drop00=True),
    _measure("COR", "raw correlation coefficient", "correlation", [("ri", "ni")],
             (("ri", "corr"), ("ni", "size")), vtypes=("LS", "AV")),
    _measure("UCOR", "bias-corrected (Olkin-Pratt) correlation coefficient", "correlation",
             [("ri", "ni")], (("ri", "corr"), ("ni", "size")), vtypes=("LS", "UB", "AV")),
    _measure("ZCOR", "Fisher's r-to-z transformed correlation coefficient", "correlation",
             [("ri", "ni")], (("ri", "corr"), ("ni", "size"))),
    _measure("PCOR", "partial correlation from a regression t statistic", "correlation",
             [("ti", "ni", "mi")], (("ti", "stat"), ("ni", "size"), ("mi", "predictors"))),
    _measure("ZPCOR", "Fisher's z transformed partial correlation", "correlation",
             [("ti", "ni", "mi")], (("ti", "stat"), ("ni", "size"), ("mi", "predictors"))),
    _measure("PR", "raw proportion", "proportion", _PROPORTION, _PROPORTION_ROLES,
             zero_cells=True),
    _measure("PLN", "log proportion", "proportion", _PROPORTION, _PROPORTION_ROLES,
             zero_cells=True),
    _measure("PLO", "logit proportion (log odds)", "proportion", _PROPORTION,
             _PROPORTION_ROLES, zero_cells=True),
    _measure("PAS", "arcsine square root transformed proportion", "proportion", _PROPORTION,
             _PROPORTION_ROLES, zero_cells=True, default_add=0.0),
    _measure("PFT", "Freeman-Tukey double arcsine transformed proportion", "proportion",
             _PROPORTION, _PROPORTION_ROLES, zero_cells=True, default_add=0.0),
    _measure("IR", "incidence rate", "rate", [("xi", "ti")], (("xi", "count"), ("ti", "time")),
             zero_cells=True),
    _measure("IRLN", "log incidence rate", "rate", [("xi", "ti")],
             (("xi", "count"), ("ti", "time")), zero_cells=True),
    _measure("IRR", "log incidence rate ratio", "rate", [("x1i", "t1i", "x2i", "t2i")],
             (("x1i", "count"), ("t1i", "time"), ("x2i", "count"), ("t2i", "time")),
             zero_cells=True, drop00=True),
    _measure("IRD", "incidence rate difference", "rate", [("x1i", "t1i", "x2i", "t2i")],
             (("x1i", "count"), ("t1i", "time"), ("x2i", "count"), ("t2i", "time")),
             zero_cells=True),
    _measure("PHI", "phi coefficient (vtype CS/LS: cross-sectional sampling; ST: fixed groups)",
             "binary", _TABLE, _TABLE_ROLES, vtypes=("LS", "ST", "CS"), zero_cells=True,
             default_add=0.0),
    _measure("YUQ", "Yule's Q", "binary", _TABLE, _TABLE_ROLES, zero_cells=True),
    _measure("YUY", "Yule's Y", "binary", _TABLE, _TABLE_ROLES, zero_cells=True),
    _measure("AS", "arcsine square root transformed risk difference", "binary", _TABLE,
             _TABLE_ROLES, zero_cells=True, default_add=0.0),
    _measure("SMCC", "standardised mean change (change-score SD) of one group measured twice: "
             "m1i second occasion, m2i first, ri their correlation", "change",
             [("m1i", "m2i", "sd1i", "sd2i", "ni", "ri")], _CHANGE_ROLES),
    _measure("SMCR", "standardised mean change (raw-score SD, sd1i) of one group measured "
             "twice", "change", [("m1i", "m2i", "sd1i", "ni", "ri")], _CHANGE_ROLES,
             optional=(("sd2i", ("sd1i",)),)),
    _measure("RPB", "point-biserial correlation from two groups' means and SDs (vtype ST/LS: "
             "fixed groups; CS: cross-sectional sampling)", "continuous", [_MEANS],
             _MEANS_ROLES, vtypes=("LS", "ST", "CS")),
    _measure("D2ORL", "log odds ratio from Cohen's d assuming logistic responses (d·π/√3)",
             "continuous", [_MEANS], _MEANS_ROLES),
    _measure("D2ORN", "log odds ratio from Cohen's d assuming normal responses (1.65·d)",
             "continuous", [_MEANS], _MEANS_ROLES),
    _measure("GEN", "generic inverse variance: an estimate with its confidence interval "
             "(ci_lower, ci_upper) or standard error (se), on the difference scale or, with "
             "scale='log', the ratio scale (RevMan's generic inverse variance)", "generic",
             [("estimate", "ci_lower", "ci_upper"), ("estimate", "se")],
             (("estimate", "stat"), ("ci_lower", "stat"), ("ci_upper", "stat"), ("se", "se"))),
]}


def required_arguments(measure: str) -> tuple[tuple[str, ...], ...]:
    """The alternative sets of arguments ``measure`` needs (any one set is enough)."""
    return _lookup(measure).groups


def _lookup(measure: str) -> Measure:
    if measure not in MEASURES:
        raise ParameterError("measure", measure, "one of " + ", ".join(MEASURES))
    return MEASURES[measure]


@dataclass(frozen=True)
class _Options:
    add: float
    to: str
    drop00: bool
    vtype: str
    correct: bool
    scale: str = "identity"
    level: float = 95.0


# --- adapters: resolved inputs -> (yi, vi, rows deliberately dropped or None) -------------

def _table(inp: Inputs):
    """The four cells, from ai bi ci di or from ai n1i ci n2i (checking they agree if both)."""
    ai, ci = inp["ai"], inp["ci"]
    with np.errstate(invalid="ignore"):
        for cell, total, other in (("ai", "n1i", "bi"), ("ci", "n2i", "di")):
            if total in inp:
                inp.fail_where(inp[cell] > inp[total], cell,
                               f"is larger than {total} = the size of its group (column "
                               f"'{inp.labels[total]}'); check the columns are not swapped")
                if other in inp:
                    inp.fail_where(inp[cell] + inp[other] != inp[total], other,
                                   f"plus {cell} does not equal {total}; give either {other} "
                                   f"or {total}, or correct the counts")
    bi = inp["bi"] if "bi" in inp else inp["n1i"] - ai
    di = inp["di"] if "di" in inp else inp["n2i"] - ci
    return ai, bi, ci, di


_BINARY = {"OR": binary.log_odds_ratio, "RR": binary.log_risk_ratio,
           "RD": binary.risk_difference, "PETO": binary.peto_log_odds_ratio}


def _binary(name):
    def compute(inp: Inputs, opt: _Options):
        cells = _table(inp)
        yi, vi = _BINARY[name](*cells, add=opt.add, to=opt.to, drop00=opt.drop00)
        return yi, vi, binary.double_zero(*cells) if opt.drop00 else None
    return compute


def _means(inp: Inputs):
    return [inp[a] for a in _MEANS]


def _md(inp, opt):
    return (*continuous.mean_difference(*_means(inp), vtype=opt.vtype), None)


def _smd(inp, opt):
    # the argument checks guarantee the means and SDs are given all together or not at all
    statistics = {a: inp.get(a) for a in ("m1i", "m2i", "sd1i", "sd2i", "di", "ti", "fi",
                                          "pi", "sign")}
    yi, vi = continuous.standardized_mean_difference(
        inp["n1i"], inp["n2i"], vtype=opt.vtype, correct=opt.correct, **statistics)
    return yi, vi, None


def _smdh(inp, opt):
    return (*continuous.standardized_mean_difference_heteroscedastic(
        *_means(inp), correct=opt.correct), None)


def _rom(inp, opt):
    return (*continuous.log_ratio_of_means(*_means(inp), vtype=opt.vtype), None)


def _correlation(function, with_vtype=True):
    def compute(inp, opt):
        extra = {"vtype": opt.vtype} if with_vtype else {}
        return (*function(inp["ri"], inp["ni"], **extra), None)
    return compute


def _partial(function):
    def compute(inp, opt):
        df = inp["ni"] - inp["mi"] - 1
        inp.fail_where(df < 1, "ni", f"must exceed mi + 1 (mi = number of predictors, column "
                       f"'{inp.labels['mi']}'); check the sample size and predictor count")
        return (*function(inp["ti"], inp["ni"], inp["mi"]), None)
    return compute


def _non_events(inp: Inputs):
    xi = inp["xi"]
    if "ni" in inp:
        with np.errstate(invalid="ignore"):
            inp.fail_where(xi > inp["ni"], "xi",
                           f"is larger than ni = the number in the group (column "
                           f"'{inp.labels['ni']}'); check the columns are not swapped")
            if "mi" in inp:
                inp.fail_where(xi + inp["mi"] != inp["ni"], "mi",
                               "plus xi does not equal ni; give either mi or ni, or correct "
                               "the counts")
        return inp["ni"] - xi
    return inp["mi"]


_PROPORTIONS = {"PR": proportion.proportion, "PLN": proportion.log_proportion,
                "PLO": proportion.logit_proportion, "PAS": proportion.arcsine_proportion,
                "PFT": proportion.freeman_tukey_proportion}


def _proportion(name):
    def compute(inp, opt):
        yi, vi = _PROPORTIONS[name](inp["xi"], _non_events(inp), add=opt.add, to=opt.to)
        return yi, vi, None
    return compute


def _rate(function):
    def compute(inp, opt):
        return (*function(inp["xi"], inp["ti"], add=opt.add, to=opt.to), None)
    return compute


def _irr(inp, opt):
    yi, vi = proportion.log_incidence_rate_ratio(inp["x1i"], inp["x2i"], inp["t1i"],
                                                 inp["t2i"], add=opt.add, to=opt.to,
                                                 drop00=opt.drop00)
    dropped = (inp["x1i"] == 0) & (inp["x2i"] == 0) if opt.drop00 else None
    return yi, vi, dropped


_ASSOCIATION = {"YUQ": binary.yules_q, "YUY": binary.yules_y,
                "AS": binary.arcsine_risk_difference}


def _association(name):
    def compute(inp: Inputs, opt: _Options):
        cells = _table(inp)
        if name == "PHI":
            yi, vi = binary.phi_coefficient(*cells, add=opt.add, to=opt.to, vtype=opt.vtype)
        else:
            yi, vi = _ASSOCIATION[name](*cells, add=opt.add, to=opt.to)
        return yi, vi, None
    return compute


def _change(standardiser):
    def compute(inp, opt):
        sd2 = inp["sd2i"] if "sd2i" in inp else np.full(inp.n, np.nan)
        return (*continuous.standardized_mean_change(
            inp["m1i"], inp["m2i"], inp["sd1i"], sd2, inp["ni"], inp["ri"],
            standardiser=standardiser), None)
    return compute


def _rpb(inp, opt):
    return (*continuous.point_biserial_correlation(*_means(inp), vtype=opt.vtype), None)


def _d2or(distribution):
    def compute(inp, opt):
        return (*continuous.smd_to_log_odds_ratio(*_means(inp), distribution=distribution), None)
    return compute


def _ird(inp, opt):
    return (*proportion.incidence_rate_difference(inp["x1i"], inp["x2i"], inp["t1i"], inp["t2i"],
                                                  add=opt.add, to=opt.to), None)


def _gen(inp, opt):
    est = inp["estimate"]
    interval = "ci_lower" in inp and "ci_upper" in inp
    with np.errstate(invalid="ignore"):
        if opt.scale == "log":
            for name in ("estimate", "ci_lower", "ci_upper"):
                if name in inp:
                    inp.fail_where(inp[name] <= 0, name, "must be greater than 0 on the ratio "
                                   "scale (scale='log'); for a difference or a log ratio use "
                                   "scale='identity'")
        if interval:
            lo, hi = inp["ci_lower"], inp["ci_upper"]
            inp.fail_where(lo > hi, "ci_lower", "is above ci_upper; check the columns are not "
                           "swapped")
            inp.fail_where((est < lo) | (est > hi), "estimate", "lies outside its confidence "
                           "interval; check the row")
            inp.fail_where(lo == hi, "ci_lower", "equals ci_upper: an interval of width 0 "
                           "gives no variance")
            skewed = generic.asymmetric(est, lo, hi, scale=opt.scale) & ~np.isnan(est + lo + hi)
            if skewed.any():
                hint = ("" if opt.scale == "log" else "; a ratio (odds, risk or hazard ratio) "
                        "needs scale='log'")
                warn(f"{skewed.sum()} rows have an interval that is not symmetric around the "
                     f"estimate on the {opt.scale} scale (rows {_rows(skewed)}){hint}")
    yi, vi = generic.generic_inverse_variance(
        est, ci_lower=inp.get("ci_lower"), ci_upper=inp.get("ci_upper"), se=inp.get("se"),
        scale=opt.scale, level=opt.level)
    return yi, vi, None


_COMPUTE: dict[str, Callable] = {
    **{name: _association(name) for name in ("PHI", "YUQ", "YUY", "AS")},
    "SMCC": _change("change"), "SMCR": _change("raw"), "RPB": _rpb,
    "D2ORL": _d2or("logistic"), "D2ORN": _d2or("normal"), "IRD": _ird, "GEN": _gen,
    "MD": _md, "SMD": _smd, "SMDH": _smdh, "ROM": _rom,
    **{name: _binary(name) for name in _BINARY},
    "COR": _correlation(correlation.correlation),
    "UCOR": _correlation(correlation.unbiased_correlation),
    "ZCOR": _correlation(correlation.fisher_z, with_vtype=False),
    "PCOR": _partial(correlation.partial_correlation),
    "ZPCOR": _partial(correlation.fisher_z_partial_correlation),
    **{name: _proportion(name) for name in _PROPORTIONS},
    "IR": _rate(proportion.incidence_rate), "IRLN": _rate(proportion.log_incidence_rate),
    "IRR": _irr,
}


# --- the public function -------------------------------------------------------------------

def _check_options(m: Measure, add, to, drop00, vtype, correct, scale=None, level=None
                   ) -> _Options:
    if (scale is not None or level is not None) and m.name != "GEN":
        name, value = ("scale", scale) if scale is not None else ("level", level)
        raise ParameterError(name, value, "left out for measure " + m.name + " (it applies to "
                             "GEN, an estimate with its confidence interval)")
    if scale is not None and scale not in generic.SCALES:
        raise ParameterError("scale", scale, "one of " + ", ".join(generic.SCALES))
    if level is not None and not (isinstance(level, numbers.Real) and 0 < level < 100):
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    if to not in binary.TO_OPTIONS:
        raise ParameterError("to", to, "one of " + ", ".join(f"'{t}'" for t in binary.TO_OPTIONS))
    if vtype not in m.vtypes:
        raise ParameterError("vtype", vtype, f"one of {', '.join(m.vtypes)} for measure {m.name}")
    if not m.zero_cells and (add is not None or to != "only0"):
        name, value = ("add", add) if add is not None else ("to", to)
        raise ParameterError(name, value, f"left at its default for measure {m.name} (the "
                             "continuity correction applies to counts)")
    if add is None:
        add = m.default_add
    elif not (isinstance(add, numbers.Real) and not isinstance(add, bool)
              and np.isfinite(add) and add >= 0):
        raise ParameterError("add", add, "a number of 0 or more (the default is 1/2)")
    if drop00 and not m.drop00:
        raise ParameterError("drop00", drop00, f"False for measure {m.name} (it applies to "
                             "OR, RR, RD, PETO and IRR)")
    if not correct and not m.correct:
        raise ParameterError("correct", correct, f"True for measure {m.name} (it applies to "
                             "SMD and SMDH)")
    if not correct and vtype != "LS":
        raise ParameterError("vtype", vtype, "'LS' when correct=False")
    return _Options(add=float(add), to=to, drop00=bool(drop00), vtype=vtype,
                    correct=bool(correct), scale=scale or "identity",
                    level=95.0 if level is None else float(level))


def _complete_groups(m: Measure, given: dict[str, object]) -> list[tuple[str, ...]]:
    def shown(name):  # a column name as given; arrays are not worth printing
        return given[name] if isinstance(given[name], str) else "<values>"

    unknown = [a for a in given if a not in m.arguments]
    if unknown:
        raise ParameterError(unknown[0], shown(unknown[0]), f"only the arguments of measure "
                             f"{m.name}: " + ", ".join(m.arguments))
    complete = [g for g in m.groups if all(a in given for a in g)]
    if not complete:
        forms = " or ".join("(" + ", ".join(g) + ")" for g in m.groups)
        near = min((g for g in m.groups if set(g) & set(given)), default=None,
                   key=lambda g: (-sum(a in given for a in g), sum(a not in given for a in g)))
        hint = "" if near is None else (
            f"; to use {', '.join(a for a in near if a in given)} also give "
            + ", ".join(a for a in near if a not in given))
        raise ParameterError("measure", m.name, f"the arguments it needs: {forms}{hint}")
    used = {a for g in complete for a in g}
    used |= {a for a, partners in m.optional if used & set(partners)}
    idle = [a for a in given if a not in used]
    if idle:
        needs = [g for g in m.groups if idle[0] in g][0]
        others = ", ".join(a for a in needs if a != idle[0])
        raise ParameterError(idle[0], shown(idle[0]), f"to come with {others} for measure "
                             f"{m.name}")
    return complete


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    rows = [str(i + 1) for i in np.flatnonzero(mask)]
    return ", ".join(rows[:limit]) + (", ..." if len(rows) > limit else "")


def escalc(measure: str, data: pd.DataFrame | None = None, *,
           ai=None, bi=None, ci=None, di=None, n1i=None, n2i=None,
           x1i=None, x2i=None, t1i=None, t2i=None,
           m1i=None, m2i=None, sd1i=None, sd2i=None,
           xi=None, mi=None, ri=None, ti=None, ni=None,
           fi=None, pi=None, sign=None, estimate=None, ci_lower=None, ci_upper=None, se=None,
           add: float | None = None, to: str = "only0", drop00: bool = False,
           vtype: str = "LS", correct: bool = True, scale: str | None = None,
           level: float | None = None) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` for each study (row).

    Parameters
    ----------
    measure
        A key of :data:`MEASURES` (``"SMD"``, ``"OR"``, ``"COR"``, ...).
    data
        Optional DataFrame; the result is a copy of it with ``yi`` and ``vi`` appended
        (replacing columns of those names). Without it a new frame with ``yi``, ``vi``.
    ai, bi, ci, di, n1i, n2i, ...
        Each either a column name in ``data`` or an array-like (a scalar is repeated). Names
        and meanings as in metafor's ``escalc``: 2x2 cells ``ai bi ci di`` or ``ai n1i ci n2i``;
        means, SDs, sizes ``m1i sd1i n1i m2i sd2i n2i``; ``ri ni`` correlations; ``ti ni mi``
        regression t, sample size and number of predictors (PCOR); ``xi ni`` or ``xi mi``
        events and size or non-events (proportions); ``xi ti`` events and person-time (IR);
        ``x1i t1i x2i t2i`` (IRR). For SMD also ``di`` (Cohen's d), ``ti`` (t statistic),
        ``fi`` (F with 1 df, direction from ``sign``) and ``pi`` (two-sided p-value; negative,
        or ``sign`` negative, for an effect favouring group 2). SMCC and SMCR (one group
        measured twice): ``m1i sd1i`` the second occasion, ``m2i sd2i`` the first, ``ri`` their
        correlation, ``ni``. RPB, D2ORL and D2ORN take two groups' means and SDs; PHI, YUQ,
        YUY and AS a 2x2 table; IRD ``x1i t1i x2i t2i``.
    estimate, ci_lower, ci_upper, se
        Measure GEN (generic inverse variance, as RevMan): an estimate with its confidence
        limits (or its standard error on the analysis scale).
    scale, level
        GEN only: ``"log"`` when the estimate and limits are ratios (analysed as log ratios;
        default ``"identity"``), and the confidence level of the limits (default 95).
    add, to, drop00
        Continuity correction for zero counts, as in metafor: ``add`` (default 1/2; 0 for PAS
        and PFT) is added according to ``to`` (``"only0"``, ``"all"``, ``"if0all"``,
        ``"none"``); ``drop00`` drops studies with no events or only events in both groups.
    vtype
        How variances are computed (``"LS"`` default; see :data:`MEASURES` for each measure's
        choices and ``docs/methods/effects.md`` for the formulas).
    correct
        SMD and SMDH only: ``False`` gives Cohen's d instead of Hedges' g.

    Returns
    -------
    DataFrame with ``yi`` and ``vi``; ``attrs["measure"]`` and ``attrs["vtype"]`` are set.
    Rows with a missing input get ``NaN`` (one :class:`WhatWorksWarning` counts them), as do
    rows whose estimate is undefined (e.g. division by zero with ``to="none"``).

    Raises
    ------
    ParameterError
        Unknown measure, option or argument, or an argument set the measure cannot use.
    InputError
        Text in a numeric column or an impossible value (negative count, SD <= 0, n < 1,
        events above group size, correlation outside [-1, 1], ...), naming row and column.

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal of
    Statistical Software*, 36(3), 1-48 (the reference implementation, version 3.8). Formulas
    and their sources: ``docs/methods/effects.md``.
    """
    m = _lookup(measure)
    opt = _check_options(m, add, to, drop00, vtype, correct, scale, level)
    given = {name: value for name, value in dict(
        ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, x1i=x1i, x2i=x2i, t1i=t1i, t2i=t2i,
        m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, xi=xi, mi=mi, ri=ri, ti=ti, ni=ni, fi=fi,
        pi=pi, sign=sign, estimate=estimate, ci_lower=ci_lower, ci_upper=ci_upper,
        se=se).items() if value is not None}
    complete = _complete_groups(m, given)
    inp = resolve(given, data)
    inp.check_roles({name: m.role(name) for name in given})

    usable = np.zeros(inp.n, dtype=bool)
    for group in complete:
        usable |= np.all([~np.isnan(inp[a]) for a in group], axis=0)
    missing = ~usable
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yi, vi, dropped = _COMPUTE[m.name](inp, opt)
    yi = np.broadcast_to(np.asarray(yi, dtype=float), (inp.n,)).copy()
    vi = np.broadcast_to(np.asarray(vi, dtype=float), (inp.n,)).copy()
    dropped = np.zeros(inp.n, dtype=bool) if dropped is None else (dropped & usable)
    undefined = usable & ~dropped & ~(np.isfinite(yi) & np.isfinite(vi))
    bad = missing | dropped | undefined
    yi[bad], vi[bad] = np.nan, np.nan

    if missing.any():
        warn(f"{missing.sum()} of {inp.n} rows have a missing input for measure {m.name} "
             f"(rows {_rows(missing)}); their yi and vi are NaN")
    if undefined.any():
        warn(f"{undefined.sum()} of {inp.n} rows give no finite {m.name} (rows "
             f"{_rows(undefined)}), e.g. a zero count with to='none' or too small a sample; "
             "their yi and vi are NaN")
    out = pd.DataFrame(index=range(inp.n)) if data is None else data.copy()
    out["yi"], out["vi"] = yi, vi
    out.attrs.update(measure=m.name, vtype=opt.vtype)
    return out
