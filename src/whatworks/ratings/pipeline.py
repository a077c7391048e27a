"""The evidence pipeline: a table of findings in, a rating with its reasons out.

``rate_evidence(findings, direction=... | outcome=..., scheme=...)`` is the one function the
Evidence Store, the ``whatworks rate`` command, the review workspace and trials publish through.
Every choice in it is a parameter of the versioned scheme (:mod:`whatworks.ratings.schemes`):

1. **Rows.** One row per effect size: ``study``, ``design``, ``n`` (participants analysed; may be
   empty), ``risk_of_bias``, ``measure``, ``yi``/``vi`` or the reported statistics under
   metafor's argument names, optional ``es_id`` and ``months`` (the time point).
2. **Time point.** Each study contributes its effects at the time point nearest
   ``timepoint_target_months`` (the later one on a tie; a missing time point counts as the target).
3. **Eligibility.** Designs listed in ``design_start`` are rated; others are listed with the reason.
   Version 1.0 still pooled them (``pool_ineligible``), a defect fixed in 2.0.
4. **Synthesis.** One effect per study: the single study as it is (k = 1), ``estimator`` random
   effects with ``test_small_k`` below ``knha_min_studies`` studies and ``test`` from there.
   Several effects in a study (``dependent="multilevel-cr2"``): :func:`fit_dependent_effects`.
   Version 1.0 kept one effect per study (``dependent="one-per-study"``). Different measures
   are not pooled (vote counting).
5. **Small-study check.** With ``small_study_test="egger"`` and at least
   ``small_study_min_studies`` studies, Egger's regression test on one effect per study; a p-value
   below ``small_study_alpha`` sets the publication-bias downgrade.
6. **Rating** by :func:`whatworks.ratings.rate`, with an explanation, and a plain-language
   statement (:mod:`whatworks.ratings.statement`).

References
----------
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
    meta-analysis. Research Synthesis Methods 2:61-76. (the three-level model)
Pustejovsky JE, Tipton E (2022). Meta-analysis with robust variance estimation: expanding the range
    of working models. Prevention Science 23:425-438. (CHE working models; rho = 0 is the
    hierarchical-effects special case fitted here, with CR2 inference)
Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a simple,
    graphical test. BMJ 315:629-634.
Sterne JAC, Sutton AJ, Ioannidis JPA, et al. (2011). Recommendations for examining and
    interpreting funnel plot asymmetry in meta-analyses of randomised controlled trials. BMJ
    343:d4002. (tests only with at least 10 studies)
Cheung MW-L (2014). Modeling dependent effect sizes with three-level meta-analyses: a structural
    equation modeling approach. Psychological Methods 19:211-229. (I² of a three-level model)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, jsonable
from ..errors import ConvergenceError, DegenerateModelError, InputError, ParameterError, WhatWorksError
from .framework import Outcome, get_outcome
from .inputs import RATIO_MEASURES, RatingInputs, StudyFacts, normalise_design, normalise_risk_of_bias
from .rate import Rating, _resolve_scheme, rate
from .schemes import DESIGN_NAMES, Scheme

__all__ = ["EvidenceRating", "StudyDecision", "fit_dependent_effects", "rate_evidence",
           "read_findings"]

#: Columns of a findings table (``yi``/``vi`` or reported statistics; ``es_id``, ``months`` optional;
#: ``label``, optional, names a study in plots, e.g. "Smith (2019)").
COLUMNS = ("study", "design", "n", "risk_of_bias", "measure", "yi", "vi", "es_id", "months", "label")
REQUIRED = ("study", "design", "measure")
#: Reported statistics whose sum is a study's size when ``n`` is empty.
_SIZE_GROUPS = (("n1i", "n2i"), ("ai", "bi", "ci", "di"), ("ni",))


@dataclass(frozen=True, repr=False)
class StudyDecision(Result):
    """Whether a study's effects were used, and why."""

    study: str
    used: bool
    reason: str
    design: str
    n: int | None
    effects: int


@dataclass(frozen=True, repr=False)
class EvidenceRating(Result):
    """A rating with everything it was computed from (the JSON of ``whatworks rate``).

    ``synthesis`` is on the analysis scale (log for ratio measures; ``scale`` says which), or None
    when no meta-analysis was possible. ``fit`` is the fitted model object (not serialised);
    ``pooled`` the studies in the synthesis, in the fit's order (a forest plot's rows).
    """

    rating: Rating
    k: int
    participants: int | None
    participants_unknown: int
    measure: str | None
    synthesis: dict[str, Any] | None
    statement: str
    studies: tuple[StudyDecision, ...]
    small_study: dict[str, Any] | None = None
    fit: Any = field(default=None, repr=False, compare=False)
    pooled: tuple[str, ...] = ()

    _skip_in_dict = ("fit",)

    def to_dict(self) -> dict[str, Any]:
        r = self.rating
        return jsonable({
            "effectiveness": r.effectiveness, "effectiveness_code": r.effectiveness_code,
            "effectiveness_label": r.effectiveness_label, "strength": r.strength,
            "strength_code": r.strength_code, "strength_label": r.strength_label,
            "scheme_id": r.scheme_id, "scheme_version": r.scheme_version, "path": r.path,
            "outcome": r.outcome, "measure": self.measure, "k": self.k,
            "participants": self.participants, "participants_unknown": self.participants_unknown,
            "explanation": r.explanation, "statement": self.statement,
            "synthesis": self.synthesis, "small_study": self.small_study,
            "studies": [{"study": s.study, "used": s.used, "reason": s.reason, "design": s.design,
                         "n": s.n, "effects": s.effects} for s in self.studies]})

    def summary_text(self) -> str:
        r = self.rating
        lines = [f"Effectiveness: {r.effectiveness_label} ({_level(r.effectiveness)})",
                 f"Strength of evidence: {r.strength_label} ({r.strength}/4)",
                 f"Scheme: {r.scheme_id} {r.scheme_version}; path: {r.path}; k = {self.k}",
                 "", r.explanation, "", self.statement, "", "Studies:"]
        width = max((len(s.study) for s in self.studies), default=5)
        lines += [f"  {s.study:<{width}}  {'used' if s.used else 'not used'}: {s.reason}"
                  for s in self.studies]
        return "\n".join(lines)


def _level(value):
    return "none" if value is None else f"{value:+d}" if value else "0"


# ------------------------------------------------------------------------------------------------
# reading and checking the table
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    index: int          # position in the table (row numbers in messages are index + 1)
    study: str
    design: str
    n: int | None
    risk_of_bias: str
    measure: str
    yi: float
    vi: float
    es_id: str
    months: float | None
    control_risk: float | None
    label: str


def _cell(records: list[dict], i: int, column: str):
    value = records[i].get(column)
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value)
                         and pd.isna(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in ("", "na", "nan", "null", "none", "."):
            return None
    return value


def _number(frame, i, column, file) -> float | None:
    value = _cell(frame, i, column)
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not a number; enter a number or leave the cell empty",
                         file=file, row=i + 1, column=column) from None
    if not math.isfinite(x):
        raise InputError(f"{value!r} must be a finite number", file=file, row=i + 1, column=column)
    return x


def _reported_effect(frame, i, measure, file) -> tuple[float, float]:
    from ..effects import EFFECT_ARGUMENTS, escalc
    from ..effects import MEASURES as MEASURES_

    given = {a: _number(frame, i, a, file) for a in EFFECT_ARGUMENTS if _cell(frame, i, a) is not None}
    if not given:
        raise InputError("give yi and vi, or the reported statistics under metafor's argument names "
                         "(e.g. ai, n1i, ci, n2i or m1i, sd1i, n1i, m2i, sd2i, n2i)",
                         file=file, row=i + 1, column="yi")
    if measure not in MEASURES_:
        return _entered_effect(given, i, measure, file)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = escalc(measure, **{k: [v] for k, v in given.items()})
    except InputError as exc:
        message = str(exc).split(": ", 1)[-1] if exc.column else str(exc)
        raise InputError(message, file=file, row=i + 1, column=exc.column or "measure") from None
    except WhatWorksError as exc:
        raise InputError(str(exc), file=file, row=i + 1, column="measure") from None
    yi, vi = float(out["yi"].iloc[0]), float(out["vi"].iloc[0])
    if not (math.isfinite(yi) and math.isfinite(vi)):
        raise InputError(f"the reported statistics ({', '.join(given)}) do not give a {measure} effect "
                         "size; check the measure and the columns", file=file, row=i + 1,
                         column="measure")
    return yi, vi


def _entered_effect(given, i, measure, file) -> tuple[float, float]:
    """A measure only an estimate can give (HR): the finding-entry registry's computation."""
    from ..effects.entry import effect_from_reported

    try:
        entered = effect_from_reported(measure, given)
    except InputError as exc:
        raise InputError(exc.message, file=file, row=i + 1, column=exc.column or "measure") from None
    return entered.yi, entered.vi


def _size(frame, i, file) -> int | None:
    n = _number(frame, i, "n", file)
    if n is not None:
        if n < 1 or n != int(n):
            raise InputError(f"n={n:g} must be a whole number of participants, at least 1 (leave it "
                             "empty when not reported)", file=file, row=i + 1, column="n")
        return int(n)
    for keys in _SIZE_GROUPS:
        values = [_number(frame, i, k, file) for k in keys]
        if all(v is not None for v in values):
            return max(1, int(round(sum(values))))
    return None


def _control_risk(frame, i, file) -> float | None:
    """The comparison group's risk from 2x2 counts (``ci`` of ``n2i``, or ``ci`` and ``di``)."""
    c = _number(frame, i, "ci", file)
    if c is None:
        return None
    n2 = _number(frame, i, "n2i", file)
    d = _number(frame, i, "di", file)
    total = n2 if n2 is not None else (c + d if d is not None else None)
    return c / total if total else None


def _rows(frame: pd.DataFrame, file: str | None, *, check: bool = True) -> list[_Row]:
    from ..effects import MEASURES
    from ..effects.entry import ENTRY_MEASURES

    if not isinstance(frame, pd.DataFrame):
        raise ParameterError("findings", type(frame).__name__, "a pandas DataFrame (one row per effect)")
    frame = frame.rename(columns=lambda c: str(c).strip())
    for column in REQUIRED:
        if column not in frame.columns:
            raise InputError(f"no such column; a findings table needs {', '.join(REQUIRED)}, n, "
                             f"risk_of_bias and yi, vi (or reported statistics); the columns are "
                             f"{', '.join(map(str, frame.columns)) or 'none'}", file=file, column=column)
    if len(frame) == 0:
        raise InputError("has no rows; give one row per effect size", file=file)
    records = frame.to_dict("records")
    frame = records          # the helpers read cells from these records (fast for big tables)
    rows = []
    for i in range(len(records)):
        study = _cell(frame, i, "study")
        if study is None:
            raise InputError("the study label is empty", file=file, row=i + 1, column="study")
        study = str(study).strip()
        if isinstance(_cell(frame, i, "study"), float) and float(study).is_integer():
            study = str(int(float(study)))
        design_given = _cell(frame, i, "design")
        try:
            design = normalise_design(design_given if design_given is not None else "")
        except ParameterError:
            raise InputError(f"design {design_given!r} is not one of rct, cluster-rct, qed, pre-post, "
                             "other", file=file, row=i + 1, column="design") from None
        rob_given = _cell(frame, i, "risk_of_bias")
        try:
            rob = normalise_risk_of_bias(rob_given if rob_given is not None else "unclear")
        except ParameterError:
            raise InputError(f"risk_of_bias {rob_given!r} is not one of low, some-concerns, high "
                             "(leave empty when unclear)", file=file, row=i + 1,
                             column="risk_of_bias") from None
        measure = _cell(frame, i, "measure")
        measure = None if measure is None else str(measure).strip().upper()
        if measure not in MEASURES and measure not in ENTRY_MEASURES:
            raise InputError(f"measure {measure!r} is not an effect-size measure; use one of "
                             f"{', '.join(MEASURES)} (or HR with yi, vi or an estimate)",
                             file=file, row=i + 1, column="measure")
        yi, vi = _number(frame, i, "yi", file), _number(frame, i, "vi", file)
        if yi is None and vi is None:
            yi, vi = _reported_effect(frame, i, measure, file)
        elif yi is None or vi is None:
            missing = "yi" if yi is None else "vi"
            raise InputError(f"{missing} is empty; give both yi and vi", file=file, row=i + 1,
                             column=missing)
        if vi <= 0:
            raise InputError(f"vi={vi:g} must be greater than 0", file=file, row=i + 1, column="vi")
        months = _number(frame, i, "months", file)
        if months is not None and months < 0:
            raise InputError(f"months={months:g} must not be negative", file=file, row=i + 1,
                             column="months")
        es_id = _cell(frame, i, "es_id")
        rows.append(_Row(index=i, study=study, design=design, n=_size(frame, i, file),
                         risk_of_bias=rob, measure=measure, yi=yi, vi=vi,
                         es_id=str(i + 1) if es_id is None else str(es_id), months=months,
                         control_risk=_control_risk(frame, i, file),
                         label=str(_cell(frame, i, "label") or study)))
    if check:
        _check_study_facts(rows, file)
    return rows


def _check_study_facts(rows: list[_Row], file) -> None:
    """A study's design, size and risk of bias must agree across its rows."""
    first: dict[str, _Row] = {}
    for r in rows:
        f = first.setdefault(r.study, r)
        for column, a, b in (("design", f.design, r.design), ("n", f.n, r.n),
                             ("risk_of_bias", f.risk_of_bias, r.risk_of_bias)):
            if a != b:
                raise InputError(f"study {r.study!r} has {column} {b!r} here but {a!r} in row "
                                 f"{f.index + 1}; a study's {column} must be the same in all its rows",
                                 file=file, row=r.index + 1, column=column)


def read_findings(path) -> pd.DataFrame:
    """A findings CSV as a table (errors name the file, row and column)."""
    from .._io import read_table

    return read_table(path)


# ------------------------------------------------------------------------------------------------
# the pipeline
# ------------------------------------------------------------------------------------------------

def _outcome(outcome, direction) -> Outcome:
    if direction is not None and direction not in ("increase", "decrease"):
        raise ParameterError("direction", direction, "'increase' or 'decrease' (the better direction)")
    if outcome is None:
        if direction is None:
            raise ParameterError("direction", None, "'increase' or 'decrease', or an outcome of the "
                                 "outcomes framework (which states its direction)")
        return Outcome(slug="outcome", name="the outcome", description="", direction=direction,
                       measures=())
    o = get_outcome(outcome) if isinstance(outcome, str) else outcome
    if not isinstance(o, Outcome):
        raise ParameterError("outcome", outcome, "an Outcome or an outcome slug")
    if direction is not None and direction != o.direction:
        raise ParameterError("direction", direction, f"'{o.direction}' for {o.slug} (the outcomes "
                             "framework's better direction), or leave it out")
    return o


def _time_point(rows: list[_Row], target: float) -> list[_Row]:
    """The study's rows at its time point nearest ``target`` (the later on a tie; missing = target).

    The first row reaching the best distance wins ties of equal time points, as the store did."""
    def distance(r):
        return abs((r.months if r.months is not None else target) - target)

    best = rows[0]
    for r in rows[1:]:
        if distance(r) < distance(best) or (distance(r) == distance(best)
                                            and (r.months or 0) > (best.months or 0)):
            best = r
    return [r for r in rows if r.months == best.months and distance(r) == distance(best)]


def _cautious_mean(rows: list[_Row]) -> tuple[float, float]:
    """Several effects of one study as one: the inverse-variance weighted mean, with the variance it
    would have were the effects perfectly correlated, ``(sum a_i sqrt(v_i))²`` (never smaller than
    the truth, so a study's own interval is never made too narrow)."""
    y = np.array([r.yi for r in rows])
    v = np.array([r.vi for r in rows])
    if y.size == 1:
        return float(y[0]), float(v[0])
    a = (1 / v) / (1 / v).sum()
    return float(a @ y), float((a @ np.sqrt(v)) ** 2)


@dataclass(frozen=True)
class DependentFit:
    """A three-level fit with CR2 inference, as the rating uses it (analysis scale)."""

    estimate: float
    se: float
    df: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    sigma2: tuple[float, float]
    i2: float
    k_studies: int
    k_effects: int
    level: float
    model: Any = field(repr=False, compare=False)
    robust: Any = field(repr=False, compare=False)
    rho: float = 0.0

    test = "CR2-satterthwaite"

    @property
    def method(self) -> str:
        """The model as the synthesis reports it (rho = 0: hierarchical effects; else CHE)."""
        if self.rho == 0.0:
            return "REML three-level + CR2"
        return f"REML CHE (rho = {self.rho:g}) + CR2"


def fit_dependent_effects(yi, vi, *, study, es=None, level: float = 95.0,
                          method: str = "REML", rho: float = 0.0) -> DependentFit:
    """Pool several effect sizes per study: a three-level model with CR2 cluster-robust inference.

    The working model has study and within-study random effects. With ``rho`` = 0 the sampling
    errors of one study's effects are uncorrelated (hierarchical effects); with 0 < ``rho`` < 1 they
    are correlated ``rho`` (the correlated-and-hierarchical-effects, CHE, model of Pustejovsky &
    Tipton 2022: a block-diagonal covariance from
    :func:`whatworks.synthesis.covariance.constant_correlation`, fitted by
    :func:`whatworks.synthesis.che.che`). The pooled effect, its
    standard error and interval come from CR2 with Satterthwaite degrees of freedom (robust to a
    mis-specified within-study correlation); the prediction interval is
    ``estimate ± t(df) sqrt(se² + sigma²_between + sigma²_within)``, and I² is Cheung's (2014)
    total: ``(sigma²_1 + sigma²_2) / (sigma²_1 + sigma²_2 + v~)`` with ``v~`` Higgins and
    Thompson's typical sampling variance.

    References
    ----------
    Konstantopoulos S (2011). Research Synthesis Methods 2:61-76. Pustejovsky JE, Tipton E (2022).
    Prevention Science 23:425-438. Cheung MW-L (2014). Psychological Methods 19:211-229.
    Tested against: metafor 3.8 ``rma.mv`` + clubSandwich ``coef_test`` through
    ``whatworks.synthesis`` (tests/reference/make_dependent.R).
    """
    from ..synthesis.multilevel import multilevel
    from ..synthesis.robust import robust

    if not 0.0 <= rho < 1.0:
        raise ParameterError("rho", rho, "a within-study correlation of sampling errors, 0 <= rho < 1")
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    labels = pd.Series(list(study), dtype=object)
    k_studies = labels.nunique()
    if k_studies < 2:
        raise ParameterError("study", k_studies, "at least 2 studies to pool")
    if rho == 0.0:
        fit = multilevel(y, v, study=list(study), es=None if es is None else list(es), method=method,
                         level=level)
        rob = robust(fit, adjust="CR2", level=level)
    else:
        from ..synthesis.che import che

        res = che(y, v, study=list(study), es=None if es is None else list(es), rho=rho,
                  method=method, level=level)
        fit, rob = res.model, res.robust
    if not (rob.se > 0 and math.isfinite(rob.se) and math.isfinite(rob.df) and rob.df > 0):
        raise ConvergenceError(f"the CR2 cluster-robust standard error is degenerate (se = {rob.se:g}, "
                               f"df = {rob.df:g}): every effect equals the pooled estimate")
    s1, s2 = fit.sigma2
    tau2 = float(s1 + s2)
    w = 1 / v
    typical = (y.size - 1) * w.sum() / (w.sum() ** 2 - (w ** 2).sum()) if y.size > 1 else float(v[0])
    i2 = 100 * tau2 / (tau2 + typical) if tau2 + typical > 0 else 0.0
    crit = stats.t.ppf(0.5 + level / 200, rob.df)
    half = crit * math.sqrt(rob.se ** 2 + tau2)
    return DependentFit(estimate=float(rob.estimate), se=float(rob.se), df=float(rob.df),
                        ci_lower=float(rob.ci_lower), ci_upper=float(rob.ci_upper),
                        pi_lower=float(rob.estimate - half), pi_upper=float(rob.estimate + half),
                        tau2=tau2, sigma2=(float(s1), float(s2)), i2=float(i2),
                        k_studies=int(k_studies), k_effects=int(y.size), level=level, model=fit,
                        robust=rob, rho=float(rho))


def _fit_independent(yi, vi, labels, p):
    from ..synthesis import meta_analysis

    k = len(yi)
    if k == 1:
        return meta_analysis(np.array(yi), np.array(vi), method=p.single_study_model, labels=labels)
    test = p.test if k >= p.knha_min_studies else p.test_small_k
    undefined = ConvergenceError(f"the {test} test is undefined for these {k} studies (their effects "
                                 "are identical, so its variance factor is 0)")
    if test == "knha" and max(yi) == min(yi):
        # Knapp-Hartung's variance factor is 0 when every effect is identical (scheme 1.0)
        raise undefined
    try:
        return meta_analysis(np.array(yi), np.array(vi), method=p.estimator, test=test, labels=labels)
    except np.linalg.LinAlgError:
        raise undefined from None
    except DegenerateModelError as exc:  # e.g. effects that agree to rounding error under knha
        raise ConvergenceError(f"the model cannot be fitted to these {k} studies: "
                               f"{exc.message}") from None


def _synthesis_dict(fit, measure: str) -> dict[str, Any]:
    from ..synthesis.tau2 import COMMON_EFFECT

    if isinstance(fit, DependentFit):
        out = dict(estimate=fit.estimate, ci_lower=fit.ci_lower, ci_upper=fit.ci_upper,
                   pi_lower=fit.pi_lower, pi_upper=fit.pi_upper, tau2=fit.tau2, i2=fit.i2,
                   method=fit.method, test=fit.test, k=fit.k_studies, effects=fit.k_effects,
                   df=fit.df, sigma2=list(fit.sigma2))
    else:
        common = fit.method in COMMON_EFFECT
        out = dict(estimate=fit.estimate, ci_lower=fit.ci_lower, ci_upper=fit.ci_upper,
                   pi_lower=None if common else fit.pi_lower, pi_upper=None if common else fit.pi_upper,
                   tau2=None if common else fit.tau2, i2=fit.i2, method=fit.method, test=fit.test,
                   k=int(fit.k), effects=int(fit.k))
    out.update(measure=measure, scale="log" if measure in RATIO_MEASURES else "identity")
    return out


def _small_study_check(yi, vi, p) -> dict[str, Any] | None:
    """Egger's regression test (metafor ``regtest``: the rma model with sei as moderator)."""
    from ..synthesis.bias import egger_test

    if p.small_study_test == "none" or len(yi) < p.small_study_min_studies:
        return None
    out = {"test": "egger", "k": len(yi), "alpha": p.small_study_alpha, "statistic": None,
           "p_value": None, "suspected": False, "not_run": None}
    sei = np.sqrt(np.asarray(vi, dtype=float))
    if np.ptp(sei) <= 1e-9 * sei.max():
        out["not_run"] = "every study has the same standard error, so the test is undefined"
        return out
    fit = _fit_independent(yi, vi, None, p)
    try:
        test = egger_test(fit)
    except WhatWorksError as exc:
        out["not_run"] = str(exc)
        return out
    out.update(statistic=float(test.statistic), p_value=float(test.p_value),
               suspected=bool(test.p_value < p.small_study_alpha))
    return out


def rate_evidence(findings: pd.DataFrame, *, direction: str | None = None,
                  outcome: Outcome | str | None = None, scheme: Scheme | str | None = None,
                  review_amstar2: str | None = None, smallest_important_effect: float | None = None,
                  file: str | None = None) -> EvidenceRating:
    """Rate a body of evidence from its table of findings (one row per effect size).

    Parameters
    ----------
    findings : DataFrame with the columns of :data:`COLUMNS` (``yi``/``vi`` may be replaced by
        the reported statistics under metafor's argument names, as in ``whatworks effects``).
    direction : the better direction, "increase" or "decrease"; or give ``outcome``.
    outcome : an outcome of the outcomes framework (slug or :class:`Outcome`), which states it.
    scheme : a :class:`Scheme`, "id" or "id@version" (default: the latest version).
    review_amstar2 : the AMSTAR 2 rating of the source review, if the findings come from one.
    smallest_important_effect : overrides the scheme's for this outcome.
    file : the table's file name, for error messages.

    Returns
    -------
    EvidenceRating
        The rating, per-study decisions, the synthesis and a plain-language statement.
    """
    scheme = _resolve_scheme(scheme)
    o = _outcome(outcome, direction)
    prep = prepare(_rows(findings, file), scheme.parameters)
    fit, note = fit_prepared(prep, scheme.parameters)
    return finish(prep, fit, note, outcome=o, scheme=scheme, review_amstar2=review_amstar2,
                  smallest_important_effect=smallest_important_effect)


@dataclass
class Prepared:
    """One body of evidence after the time-point, dependence and eligibility rules."""

    by_study: dict[str, list[_Row]]
    order: list[str]
    chosen: dict[str, list[_Row]]
    at_time: dict[str, int]
    eligible: list[str]
    pooled: list[str]
    measure: str | None
    effects: dict[str, tuple[float, float]]
    sizes: dict[str, int | None]

    @property
    def several(self) -> bool:
        """Whether a pooled study has several effects (the dependent-effects model is needed)."""
        return any(len(self.chosen[s]) > 1 for s in self.pooled)

    @property
    def poolable(self) -> bool:
        return bool(self.pooled) and self.measure is not None


def prepare(rows: list[_Row], p) -> Prepared:
    """Apply the scheme's time-point, dependence and eligibility rules to a study's rows."""
    by_study: dict[str, list[_Row]] = {}
    for r in rows:
        by_study.setdefault(r.study, []).append(r)
    order = list(by_study)
    if p.dependent != "one-per-study":      # 2.0: the result never depends on the order of rows
        order = sorted(order)
    chosen: dict[str, list[_Row]] = {}
    at_time: dict[str, int] = {}
    for name in order:
        at = _time_point(by_study[name], p.timepoint_target_months)
        at_time[name] = len(at)
        if p.dependent == "one-per-study":
            at = at[:1]
        else:
            at = sorted(at, key=lambda r: (r.es_id, r.measure, r.yi, r.vi))
        chosen[name] = at
    eligible = [s for s in order if chosen[s][0].design in p.design_start]
    pooled = order if p.pool_ineligible else eligible
    measures = {r.measure for s in pooled for r in chosen[s]}
    measure = next(iter(measures)) if len(measures) == 1 else None
    # unknown sizes: 1.0 counted them as one participant
    sizes = {s: (1 if (chosen[s][0].n is None and p.unknown_n == "one") else chosen[s][0].n)
             for s in order}
    effects = {s: _cautious_mean(chosen[s]) for s in order}
    return Prepared(by_study=by_study, order=order, chosen=chosen, at_time=at_time,
                    eligible=eligible, pooled=pooled, measure=measure, effects=effects, sizes=sizes)


def fit_prepared(prep: Prepared, p):
    """The synthesis of a prepared body of evidence: (fit or None, a note when none could be fitted)."""
    if not prep.poolable:
        return None, None
    if prep.several and len(prep.pooled) >= 2:
        flat = [r for s in prep.pooled for r in prep.chosen[s]]
        try:
            return fit_dependent_effects([r.yi for r in flat], [r.vi for r in flat],
                                         study=[r.study for r in flat], es=[r.es_id for r in flat],
                                         method=p.estimator, rho=p.rho), None
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            return None, f"no meta-analysis: the three-level model could not be fitted ({exc})"
    try:
        return _fit_independent([prep.effects[s][0] for s in prep.pooled],
                                [prep.effects[s][1] for s in prep.pooled],
                                [prep.chosen[s][0].label for s in prep.pooled], p), None
    except ConvergenceError as exc:
        return None, f"no meta-analysis: {exc}"


def _numbers(fit, measure: str):
    """The synthesis numbers the rules read (None for a single study)."""
    from .inputs import SynthesisNumbers

    if isinstance(fit, DependentFit):
        return SynthesisNumbers(measure=measure, k=fit.k_studies, estimate=fit.estimate,
                                ci_lower=fit.ci_lower, ci_upper=fit.ci_upper, pi_lower=fit.pi_lower,
                                pi_upper=fit.pi_upper, se=fit.se, tau2=fit.tau2, i2=fit.i2,
                                level=fit.level, method=fit.method)
    return SynthesisNumbers.from_meta_analysis(fit, measure=measure)


_COMPUTE = object()


def finish(prep: Prepared, fit, note: str | None, *, outcome: Outcome, scheme: Scheme,
           review_amstar2: str | None = None, smallest_important_effect: float | None = None,
           small_study=_COMPUTE) -> EvidenceRating:
    """Rate a prepared and fitted body of evidence: rating, decisions, statement.

    ``small_study``: the small-study check's result when already computed (by a batch)."""
    from .statement import plain_statement

    p, o = scheme.parameters, outcome
    order, chosen, eligible, effects = prep.order, prep.chosen, prep.eligible, prep.effects
    measure = prep.measure
    facts = [StudyFacts.from_effect(name, *effects[name], design=chosen[name][0].design,
                                    n=prep.sizes[name], risk_of_bias=chosen[name][0].risk_of_bias,
                                    follow_up_months=chosen[name][0].months) for name in order]
    synthesis = _synthesis_dict(fit, measure) if fit is not None else None
    numbers = _numbers(fit, measure) if (fit is not None and synthesis["k"] >= 2) else None
    small = None
    if numbers is not None:
        small = (_small_study_check([effects[s][0] for s in prep.pooled],
                                    [effects[s][1] for s in prep.pooled], p)
                 if small_study is _COMPUTE else small_study)
    inputs = RatingInputs(
        outcome=o, studies=tuple(facts), synthesis=numbers, measure=measure,
        review_amstar2=review_amstar2, smallest_important_effect=smallest_important_effect,
        publication_bias=bool(small and small["suspected"]),
        publication_bias_note=(f"Egger's test p = {small['p_value']:.3f} with {small['k']} studies"
                               if small and small["suspected"] else None))
    rating = rate(inputs, scheme)
    if note:
        rating = _with_note(rating, note)

    decisions = []
    for name in order:
        r0 = chosen[name][0]
        n_used = len(chosen[name])
        other_times = len(prep.by_study[name]) - prep.at_time[name]
        extra = prep.at_time[name] - n_used
        if r0.design in p.design_start:
            reason = f"{DESIGN_NAMES.get(r0.design, r0.design)}: an eligible design"
            used = True
        else:
            reason = f"{DESIGN_NAMES.get(r0.design, r0.design)}: a design that is not rated"
            used = False
            if p.pool_ineligible and fit is not None:
                reason += " (but, under this scheme version, still pooled in the synthesis)"
        if r0.n is None:
            reason += ("; size not reported (counted as 1 participant)" if p.unknown_n == "one"
                       else "; size not reported")
        when = "no time point given" if r0.months is None else f"{r0.months:g} months"
        reason += f"; {n_used} effect{'s' if n_used > 1 else ''} at {when}"
        if other_times:
            reason += f"; {other_times} at other time points not used"
        if extra:
            reason += (f"; {extra} more at this time point dropped (this scheme version keeps one "
                       "effect per study)")
        decisions.append(StudyDecision(study=name, used=used, reason=reason, design=r0.design,
                                       n=r0.n, effects=n_used))
    known = [chosen[s][0].n for s in eligible]
    if p.unknown_n == "one":
        participants = sum(prep.sizes[s] for s in eligible) if eligible else None
        unknown = 0
    else:
        participants = (sum(n for n in known if n is not None)
                        if any(n is not None for n in known) else None)
        unknown = sum(1 for n in known if n is None)
    shown = synthesis if numbers is not None else None
    statement = plain_statement(
        rating=rating, outcome=o, measure=measure, synthesis=shown,
        single=(effects[eligible[0]] if len(eligible) == 1 else None),
        control_risks=[chosen[s][0].control_risk for s in eligible
                       if chosen[s][0].control_risk is not None],
        educational=o.slug in p.months_progress_outcomes, k=len(eligible))
    return EvidenceRating(rating=rating, k=len(eligible), participants=participants,
                          participants_unknown=unknown, measure=measure, synthesis=shown,
                          statement=statement, studies=tuple(decisions), small_study=small, fit=fit,
                          pooled=tuple(prep.pooled) if fit is not None else ())


def _with_note(rating: Rating, note: str) -> Rating:
    import dataclasses

    text = f"{rating.effectiveness_explanation} ({note[0].upper()}{note[1:]}.)"
    return dataclasses.replace(rating, effectiveness_explanation=text,
                               explanation=f"{text} {rating.strength_explanation}")
