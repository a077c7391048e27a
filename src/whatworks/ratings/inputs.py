"""What a rating is computed from: the outcome, the synthesis numbers and per-study facts.

Effects are on the *analysis scale* (log scale for ratio measures) and are coded intervention
versus comparison: a positive estimate means the outcome is higher with the intervention. The
outcome's ``direction`` then says whether higher is better. :meth:`SynthesisNumbers.from_natural_scale`
takes ratios as published (RR 0.60, 95% CI 0.48 to 0.76) and logs them.

Every class here converts to plain JSON-ready dicts (``to_dict``) and back (``from_dict``), so a
rating can store exactly what it used and be recomputed later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from .._results import jsonable
from ..errors import InputError, ParameterError
from .framework import Outcome, get_outcome
from .schemes import AMSTAR2_RATINGS

#: Measures analysed on the log scale (shown on the natural scale).
RATIO_MEASURES = frozenset({"OR", "RR", "PETO", "IRR", "ROM", "HR"})

MEASURE_NAMES = {
    "RR": "relative risk", "OR": "odds ratio", "PETO": "Peto odds ratio",
    "IRR": "incidence rate ratio", "ROM": "ratio of means", "HR": "hazard ratio",
    "SMD": "standardised mean difference", "SMDH": "standardised mean difference",
    "MD": "mean difference", "RD": "risk difference", "COR": "correlation", "UCOR": "correlation",
    "ZCOR": "Fisher's z", "PCOR": "partial correlation", "ZPCOR": "Fisher's z",
}

DESIGNS = ("rct", "cluster-rct", "qed", "pre-post", "other")
_DESIGN_ALIASES = {
    "rct": "rct", "randomised-controlled-trial": "rct", "randomized-controlled-trial": "rct",
    "cluster-rct": "cluster-rct", "crct": "cluster-rct", "cluster-randomised-trial": "cluster-rct",
    "cluster-randomized-trial": "cluster-rct", "qed": "qed", "quasi-experimental": "qed",
    "quasi-experimental-design": "qed", "pre-post": "pre-post", "before-after": "pre-post",
    "other": "other",
}
RISK_OF_BIAS = ("low", "moderate", "high")
_ROB_ALIASES = {"low": "low", "moderate": "moderate", "some-concerns": "moderate",
                "high": "high", "serious": "high", "critical": "high", "unclear": "high"}
EFFECT_DIRECTIONS = ("increase", "decrease", "none")


def _slug(value: str) -> str:
    return "-".join(str(value).strip().lower().replace("_", " ").split())


def normalise_design(value: str) -> str:
    """A design name in the registry spelling ("RCT", "cluster RCT" -> "rct", "cluster-rct")."""
    key = _DESIGN_ALIASES.get(_slug(value))
    if key is None:
        raise ParameterError("design", value, "one of " + ", ".join(DESIGNS))
    return key


def normalise_risk_of_bias(value: str) -> str:
    """Risk of bias as low / moderate / high (RoB 2 "some concerns" is moderate; ROBINS-I "serious"
    and "critical", and "unclear", count as high)."""
    key = _ROB_ALIASES.get(_slug(value))
    if key is None:
        raise ParameterError("risk_of_bias", value,
                             "low, moderate (some concerns), high (serious, critical) or unclear")
    return key


def normalise_amstar2(value: str | None) -> str | None:
    if value is None:
        return None
    key = _slug(value)
    if key not in AMSTAR2_RATINGS:
        raise ParameterError("review_amstar2", value, "one of " + ", ".join(AMSTAR2_RATINGS) + " or None")
    return key


def _finite(value, name: str, *, optional: bool = False) -> float | None:
    if value is None or (optional and isinstance(value, float) and math.isnan(value)):
        if optional:
            return None
        raise InputError(f"{name} is missing; give a number", column=name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r} is not a number", column=name) from None
    if not math.isfinite(value):
        raise InputError(f"{name}={value!r} must be a finite number", column=name)
    return value


@dataclass(frozen=True)
class StudyFacts:
    """One study's facts for rating one outcome.

    ``n``: participants analysed (children, families, workers: the outcome's unit); None when the
    study did not report it (it then counts as a study, never as participants).
    ``direction``: how the outcome moved with the intervention ("increase", "decrease", "none");
    ``significant``: whether that result is statistically significant. Both are derived from
    ``estimate`` and its CI (analysis scale) when those are given. ``follow_up_months``: months
    from the end of the intervention to the outcome measurement (used by the cross-walk only).
    """

    label: str
    design: str
    n: int | None
    risk_of_bias: str
    direction: str | None = None
    significant: bool | None = None
    estimate: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    follow_up_months: float | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "design", normalise_design(self.design))
        set_(self, "risk_of_bias", normalise_risk_of_bias(self.risk_of_bias))
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, int)
                                   or self.n < 1):
            raise InputError(f"study {self.label!r}: n={self.n!r} must be a whole number of "
                             "participants, at least 1 (or None when not reported)", column="n")
        for name in ("estimate", "ci_lower", "ci_upper", "follow_up_months"):
            set_(self, name, _finite(getattr(self, name), name, optional=True))
        lo, hi, est = self.ci_lower, self.ci_upper, self.estimate
        if (lo is None) != (hi is None):
            raise InputError(f"study {self.label!r}: give both ci_lower and ci_upper, or neither",
                             column="ci_lower")
        if lo is not None and (lo > hi or (est is not None and not lo <= est <= hi)):
            raise InputError(f"study {self.label!r}: need ci_lower <= estimate <= ci_upper, got "
                             f"{lo} <= {est} <= {hi}", column="ci_lower")
        if self.direction is not None and self.direction not in EFFECT_DIRECTIONS:
            raise ParameterError("direction", self.direction, "'increase', 'decrease' or 'none'")
        if est is not None:
            derived = "increase" if est > 0 else "decrease" if est < 0 else "none"
            if self.direction is not None and self.direction != derived:
                raise InputError(f"study {self.label!r}: direction={self.direction!r} contradicts "
                                 f"estimate={est} ({derived})", column="direction")
            set_(self, "direction", derived)
        if lo is not None:
            derived_sig = lo > 0 or hi < 0
            if self.significant is not None and bool(self.significant) != derived_sig:
                raise InputError(f"study {self.label!r}: significant={self.significant!r} "
                                 f"contradicts the confidence interval {lo} to {hi}",
                                 column="significant")
            set_(self, "significant", derived_sig)
        if self.direction is None:
            raise InputError(f"study {self.label!r}: give the effect's direction ('increase', "
                             "'decrease' or 'none') or its estimate", column="direction")
        if self.significant is not None:
            set_(self, "significant", bool(self.significant))
        if self.direction == "none" and self.significant:
            raise InputError(f"study {self.label!r}: an effect of exactly zero cannot be significant",
                             column="significant")

    @classmethod
    def from_effect(cls, label: str, yi: float, vi: float, *, design: str, n: int | None,
                    risk_of_bias: str,
                    level: float = 95.0, follow_up_months: float | None = None) -> StudyFacts:
        """Facts from an effect size and its sampling variance (Wald interval at ``level``%)."""
        yi, vi = _finite(yi, "yi"), _finite(vi, "vi")
        if vi <= 0:
            raise InputError(f"study {label!r}: vi={vi} must be positive", column="vi")
        half = NormalDist().inv_cdf(0.5 + level / 200) * math.sqrt(vi)
        return cls(label=label, design=design, n=n, risk_of_bias=risk_of_bias, estimate=yi,
                   ci_lower=yi - half, ci_upper=yi + half, follow_up_months=follow_up_months)

    def to_dict(self) -> dict[str, Any]:
        return {name: jsonable(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyFacts:
        return cls(**data)


@dataclass(frozen=True)
class SynthesisNumbers:
    """The numbers of a meta-analysis, on the analysis scale (log scale for ratio measures).

    ``k``: studies pooled; ``i2`` in percent; ``level``: confidence level of the CI and PI in
    percent; ``ratio``: analysed on the log scale (inferred from ``measure`` when None);
    ``n_participants``: total participants pooled, if known (else the studies' sum is used).
    """

    measure: str
    k: int
    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float | None = None
    pi_upper: float | None = None
    se: float | None = None
    tau2: float | None = None
    i2: float | None = None
    level: float = 95.0
    ratio: bool | None = None
    n_participants: int | None = None
    method: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise InputError(f"k={self.k!r} must be a whole number of studies, at least 1", column="k")
        for name in ("estimate", "ci_lower", "ci_upper"):
            set_(self, name, _finite(getattr(self, name), name))
        for name in ("pi_lower", "pi_upper", "se", "tau2", "i2"):
            set_(self, name, _finite(getattr(self, name), name, optional=True))
        set_(self, "level", _finite(self.level, "level"))
        if self.ratio is None:
            set_(self, "ratio", self.measure in RATIO_MEASURES)
        if not self.ci_lower <= self.estimate <= self.ci_upper:
            raise InputError(f"need ci_lower <= estimate <= ci_upper, got {self.ci_lower} <= "
                             f"{self.estimate} <= {self.ci_upper}", column="ci_lower")
        if (self.pi_lower is None) != (self.pi_upper is None):
            raise InputError("give both pi_lower and pi_upper, or neither", column="pi_lower")
        if self.pi_lower is not None and not self.pi_lower <= self.estimate <= self.pi_upper:
            raise InputError(f"need pi_lower <= estimate <= pi_upper, got {self.pi_lower} <= "
                             f"{self.estimate} <= {self.pi_upper}", column="pi_lower")
        if self.i2 is not None and not 0 <= self.i2 <= 100:
            raise InputError(f"i2={self.i2} must be a percentage from 0 to 100", column="i2")
        if self.tau2 is not None and self.tau2 < 0:
            raise InputError(f"tau2={self.tau2} must not be negative", column="tau2")
        if self.se is not None and self.se <= 0:
            raise InputError(f"se={self.se} must be positive", column="se")
        if not 0 < self.level < 100:
            raise ParameterError("level", self.level, "a confidence level in percent, e.g. 95")
        if self.n_participants is not None and (isinstance(self.n_participants, bool) or not
                                                isinstance(self.n_participants, int)
                                                or self.n_participants < 1):
            raise InputError(f"n_participants={self.n_participants!r} must be a whole number, at "
                             "least 1", column="n_participants")

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.level / 200)

    def standard_error(self) -> float:
        """``se``, or the half-width of the CI over the normal quantile when ``se`` is not given."""
        if self.se is not None:
            return self.se
        return max((self.ci_upper - self.ci_lower) / (2 * self.z), 1e-300)

    def prediction_interval(self) -> tuple[float, float] | None:
        """The PI as given; else estimate ± z·sqrt(se² + tau²) when tau² is known; else None."""
        if self.pi_lower is not None:
            return self.pi_lower, self.pi_upper
        if self.tau2 is None:
            return None
        half = self.z * math.sqrt(self.standard_error() ** 2 + self.tau2)
        return self.estimate - half, self.estimate + half

    @classmethod
    def from_natural_scale(cls, measure: str, k: int, estimate: float, ci_lower: float,
                           ci_upper: float, *, pi_lower: float | None = None,
                           pi_upper: float | None = None, ratio: bool | None = None,
                           **rest) -> SynthesisNumbers:
        """Numbers as published (ratios on the natural scale, e.g. RR 0.60, 0.48 to 0.76)."""
        is_ratio = measure in RATIO_MEASURES if ratio is None else ratio
        if is_ratio:
            def log(x, name):
                x = _finite(x, name, optional=name.startswith("pi"))
                if x is None:
                    return None
                if x <= 0:
                    raise InputError(f"{name}={x} must be a positive ratio", column=name)
                return math.log(x)
            estimate, ci_lower, ci_upper = (log(estimate, "estimate"), log(ci_lower, "ci_lower"),
                                            log(ci_upper, "ci_upper"))
            pi_lower, pi_upper = log(pi_lower, "pi_lower"), log(pi_upper, "pi_upper")
        return cls(measure=measure, k=k, estimate=estimate, ci_lower=ci_lower, ci_upper=ci_upper,
                   pi_lower=pi_lower, pi_upper=pi_upper, ratio=is_ratio, **rest)

    @classmethod
    def from_meta_analysis(cls, fit, *, measure: str, n_participants: int | None = None,
                           ratio: bool | None = None) -> SynthesisNumbers:
        """Numbers from a fitted :class:`whatworks.synthesis.MetaAnalysis` (intercept-only).

        A common-effect model estimates no between-study variance, so it carries no tau² and no
        prediction interval here (and can reach at most ±1).
        """
        from ..synthesis.tau2 import COMMON_EFFECT

        if fit.p != 1:
            raise ParameterError("synthesis", f"a model with {fit.p} coefficients",
                                 "an intercept-only meta-analysis (no moderators)")
        common = fit.method in COMMON_EFFECT
        return cls(measure=measure, k=int(fit.k), estimate=fit.estimate, ci_lower=fit.ci_lower,
                   ci_upper=fit.ci_upper, pi_lower=None if common else fit.pi_lower,
                   pi_upper=None if common else fit.pi_upper, se=fit.se,
                   tau2=None if common else fit.tau2, i2=fit.i2, level=float(fit.level),
                   ratio=ratio, n_participants=n_participants, method=fit.method)

    def to_dict(self) -> dict[str, Any]:
        return {name: jsonable(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthesisNumbers:
        return cls(**data)


def _is_meta_analysis(value) -> bool:
    return all(hasattr(value, a) for a in ("coefficients", "pi_lower", "tau2", "method", "p"))


@dataclass(frozen=True)
class RatingInputs:
    """Everything one rating (intervention x outcome) is computed from.

    ``outcome``: an :class:`Outcome` or the slug of one in the shipped framework.
    ``studies``: the facts of every study measuring the outcome (designs that are not rated are
    listed as excluded). ``synthesis``: :class:`SynthesisNumbers`, or a fitted
    :class:`whatworks.synthesis.MetaAnalysis` together with ``measure``; None when no meta-analysis
    was possible. ``review_amstar2``: the AMSTAR 2 rating of the source review ("high", "moderate",
    "low", "critically-low"; None when there is none). ``publication_bias``: small-study effects or
    publication bias suspected. ``smallest_important_effect``: overrides the scheme's value for
    this outcome (a ratio above 1 for ratio measures, e.g. 1.25; otherwise on the measure's scale).
    ``publication_bias_note``: why publication bias is suspected (shown in the explanation).
    """

    outcome: Outcome | str
    studies: tuple[StudyFacts, ...] = ()
    synthesis: Any = None
    measure: str | None = None
    review_amstar2: str | None = None
    publication_bias: bool = False
    smallest_important_effect: float | None = field(default=None)
    publication_bias_note: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        if isinstance(self.outcome, str):
            set_(self, "outcome", get_outcome(self.outcome))
        elif not isinstance(self.outcome, Outcome):
            raise ParameterError("outcome", self.outcome, "an Outcome or an outcome slug")
        studies = tuple(self.studies)
        for s in studies:
            if not isinstance(s, StudyFacts):
                raise ParameterError("studies", s, "StudyFacts objects")
        set_(self, "studies", studies)
        if self.synthesis is not None and not isinstance(self.synthesis, SynthesisNumbers):
            if not _is_meta_analysis(self.synthesis):
                raise ParameterError("synthesis", type(self.synthesis).__name__,
                                     "SynthesisNumbers, a MetaAnalysis, or None")
            if self.measure is None:
                raise ParameterError("measure", None, "the effect-size measure of the MetaAnalysis "
                                     "(e.g. 'RR' or 'SMD')")
            set_(self, "synthesis", SynthesisNumbers.from_meta_analysis(
                self.synthesis, measure=self.measure))
        if self.synthesis is not None:
            set_(self, "measure", self.synthesis.measure)
        set_(self, "review_amstar2", normalise_amstar2(self.review_amstar2))
        set_(self, "publication_bias", bool(self.publication_bias))
        sie = _finite(self.smallest_important_effect, "smallest_important_effect", optional=True)
        if sie is not None and (sie <= 0 or (self.is_ratio and sie <= 1)):
            raise ParameterError("smallest_important_effect", sie,
                                 "a ratio above 1 for ratio measures, else a positive number")
        set_(self, "smallest_important_effect", sie)
        if self.synthesis is not None and not studies:
            raise InputError("a synthesis was given without its studies; give each study's "
                             "design, n and risk of bias (StudyFacts) so strength can be rated",
                             column="studies")

    @property
    def is_ratio(self) -> bool:
        if self.synthesis is not None:
            return bool(self.synthesis.ratio)
        return (self.measure or "") in RATIO_MEASURES

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.to_dict(),
                "studies": [s.to_dict() for s in self.studies],
                "synthesis": None if self.synthesis is None else self.synthesis.to_dict(),
                "measure": self.measure, "review_amstar2": self.review_amstar2,
                "publication_bias": self.publication_bias,
                "smallest_important_effect": self.smallest_important_effect,
                "publication_bias_note": self.publication_bias_note}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RatingInputs:
        outcome = data["outcome"]
        return cls(outcome=Outcome.from_dict(outcome) if isinstance(outcome, dict) else outcome,
                   studies=tuple(StudyFacts.from_dict(s) for s in data.get("studies", ())),
                   synthesis=(None if data.get("synthesis") is None
                              else SynthesisNumbers.from_dict(data["synthesis"])),
                   measure=data.get("measure"), review_amstar2=data.get("review_amstar2"),
                   publication_bias=data.get("publication_bias", False),
                   smallest_important_effect=data.get("smallest_important_effect"),
                   publication_bias_note=data.get("publication_bias_note"))
