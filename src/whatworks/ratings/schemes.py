"""Rating schemes as versioned data: levels, labels, plain-English rules and every threshold.

A scheme is data, not code: the rules in :mod:`whatworks.ratings.rate` read every threshold from
``scheme.parameters``, and a rating records the scheme id and version it was computed with. A new
version is made with :meth:`Scheme.revise` (which changes parameters and nothing else) and added to
the registry with :func:`register_scheme`; :func:`get_scheme` returns the latest version by default.

References
----------
Guyatt GH, Oxman AD, Vist GE, Kunz R, Falck-Ytter Y, Alonso-Coello P, Schünemann HJ (2008). GRADE:
    an emerging consensus on rating quality of evidence and strength of recommendations. BMJ 336:924-926.
Shea BJ, Reeves BC, Wells G, et al. (2017). AMSTAR 2: a critical appraisal tool for systematic reviews
    that include randomised or non-randomised studies of healthcare interventions, or both.
    BMJ 358:j4008.
Deeks JJ, Higgins JPT, Altman DG (2023). Chapter 10: Analysing data and undertaking meta-analyses,
    section 10.10.2 (words for I²). Cochrane Handbook for Systematic Reviews of Interventions 6.4.
Early Intervention Foundation (now Foundations). EIF evidence standards (Guidebook levels 2 to 4).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .._results import Result
from ..errors import ParameterError

DEFAULT_SCHEME_ID = "whatworks-2026"

VOTE_BASES = ("significance", "direction")
UNKNOWN_N_RULES = ("one", "unknown")
DEPENDENT_RULES = ("one-per-study", "multilevel-cr2")
SMALL_STUDY_TESTS = ("none", "egger")
VOTE_INCONSISTENCY_RULES = ("significance", "classification")
ESTIMATORS = ("REML", "ML", "DL", "PM", "SJ", "HE", "EB")
TESTS = ("z", "t", "knha", "adhoc")
AMSTAR2_RATINGS = ("high", "moderate", "low", "critically-low")
STRENGTH_CODES = ("very-low", "low", "moderate", "moderate-high", "high")


@dataclass(frozen=True)
class Level:
    """One point of a scale: a stable ``code``, its ``value`` (None for "no evidence"), a short
    ``label`` and a plain-English ``description``."""

    code: str
    value: int | None
    label: str
    description: str


@dataclass(frozen=True)
class Rule:
    """One rule in plain English; ``text`` names scheme parameters in braces (``{i2_serious}``)."""

    rule_id: str
    axis: str
    text: str


def _differences() -> dict[str, float]:
    return {"SMD": 0.10, "SMDH": 0.10, "RD": 0.02, "COR": 0.05, "UCOR": 0.05, "ZCOR": 0.05}


def _design_start() -> dict[str, int]:
    return {"rct": 4, "cluster-rct": 4, "qed": 2}


def _amstar2() -> dict[str, int]:
    return {"high": 0, "moderate": 0, "low": 1, "critically-low": 2}


@dataclass(frozen=True)
class SchemeParameters:
    """Every threshold the rules use. Shares are fractions; "more than" a share is strict.

    Effectiveness, meta-analysis path
        ``min_studies_meta``: studies needed to follow a pooled effect (fewer: vote counting).
        ``consistent_min_studies_for_probability``, ``consistent_probability``: with at least this
        many studies, ±2 also when the predicted chance that a new setting's true effect lies on the
        same side of no effect is at least this (normal predictive distribution).
    Effectiveness, vote path
        ``vote_basis``: "significance" (a study shows an effect when its result is statistically
        significant in that direction) or "direction" (when its point estimate lies that way).
        ``vote_majority``: the share of studies and of participants that must be exceeded.
        ``vote_consistent_min_studies``: ±2 needs every study, and at least this many, to agree.
    Evidence of no effect
        ``smallest_important_ratio`` (ratio measures: ratios between 1/r and r are unimportant),
        ``smallest_important_difference`` (per measure, on its own scale), and
        ``no_effect_min_strength`` (strength needed to call a null "evidence of no effect").
    Strength of evidence
        ``design_start`` (starting level by design; designs not listed are not rated),
        ``design_start_share``, ``rob_serious_share``, ``rob_very_serious_share``,
        ``amstar2_downgrade``, ``i2_serious``, ``i2_very_serious``, ``imprecision_n_serious``,
        ``imprecision_n_very_serious``, ``single_study_downgrade``, ``publication_bias_downgrade``.
    Words
        ``i2_words``: (lower bound of I² in %, word), from the highest band down.
    The evidence pipeline (:func:`whatworks.ratings.pipeline.rate_evidence`)
        ``pool_ineligible``: whether studies of designs that are not rated still enter the pooled
        model (1.0: yes, a defect; 2.0: no). ``timepoint_target_months``: each study contributes
        the effects at its time point nearest this (the later on a tie). ``dependent``:
        "one-per-study" keeps the first effect at that time point (others dropped, 1.0) or
        "multilevel-cr2" pools them all in a three-level model (effects within studies, REML) with
        CR2 cluster-robust inference by study; ``rho`` is the assumed correlation of sampling
        errors within a study (0: hierarchical effects; 2.0 uses 0.6, the correlated-and-
        hierarchical-effects model of Pustejovsky & Tipton 2022). ``estimator``: the tau²
        estimator; ``single_study_model``: "FE" (the study as it is); ``test_small_k`` below
        ``knha_min_studies`` studies, else ``test`` ("knha", Knapp-Hartung, in 1.0 and 2.0;
        "adhoc", Knapp-Hartung with the variance factor at least 1, is available).
        ``unknown_n``: "one" (1.0: a study of unknown size counts as one participant, a defect) or
        "unknown" (reported as unknown; participant shares use the studies that report their size).
        ``small_study_test``: "none" or "egger" (Egger's regression test, run with at least
        ``small_study_min_studies`` studies; ``p < small_study_alpha`` sets the publication-bias
        downgrade).
    Label promises (2.0)
        ``consistent_min_studies``: eligible studies needed for ±2 on the meta-analysis path.
        ``consistent_by_probability``: whether the probability route to ±2 is open (1.0: yes).
        ``no_effect_needs_pi`` and ``no_effect_pi_min_studies``: "evidence of no effect" also
        needs the prediction interval inside the smallest important effect with this many studies.
        ``imprecision_all_paths``: the "interval includes an important benefit and harm"
        downgrade also applies without a meta-analysis (to each study's interval).
        ``vote_consistent_allowed``: whether vote counting can give ±2 (2.0: no; without a pooled
        model there is no prediction interval to show consistency).
        ``vote_inconsistency``: "significance" (1.0: any significant effects in opposite
        directions) or "classification" (studies classified as showing benefit and harm, the
        same classification the vote uses, so the explanation cannot contradict itself).
    Plain-language statement
        ``months_progress_outcomes``: outcomes whose SMD is also given as EEF months' progress.
    """

    min_studies_meta: int = 2
    consistent_min_studies_for_probability: int = 10
    consistent_probability: float = 0.90
    vote_basis: str = "significance"
    vote_majority: float = 0.5
    vote_consistent_min_studies: int = 2
    smallest_important_ratio: float = 1.10
    smallest_important_difference: dict[str, float] = field(default_factory=_differences, hash=False)
    no_effect_min_strength: int = 2
    design_start: dict[str, int] = field(default_factory=_design_start, hash=False)
    design_start_share: float = 0.5
    rob_serious_share: float = 0.5
    rob_very_serious_share: float = 0.5
    amstar2_downgrade: dict[str, int] = field(default_factory=_amstar2, hash=False)
    i2_serious: float = 50.0
    i2_very_serious: float = 75.0
    imprecision_n_serious: int = 400
    imprecision_n_very_serious: int = 100
    single_study_downgrade: int = 1
    publication_bias_downgrade: int = 1
    i2_words: tuple[tuple[float, str], ...] = (
        (75.0, "considerable"), (50.0, "substantial"), (30.0, "moderate"), (0.0, "low"))
    pool_ineligible: bool = True
    timepoint_target_months: float = 12.0
    dependent: str = "one-per-study"
    rho: float = 0.0
    estimator: str = "REML"
    single_study_model: str = "FE"
    test_small_k: str = "z"
    test: str = "knha"
    knha_min_studies: int = 3
    pool_across_measures: str = "no"
    unknown_n: str = "one"
    small_study_test: str = "none"
    small_study_min_studies: int = 10
    small_study_alpha: float = 0.10
    consistent_min_studies: int = 2
    consistent_by_probability: bool = True
    no_effect_needs_pi: bool = False
    no_effect_pi_min_studies: int = 3
    imprecision_all_paths: bool = False
    vote_inconsistency: str = "significance"
    vote_consistent_allowed: bool = True
    months_progress_outcomes: tuple[str, ...] = ("attainment",)

    def __post_init__(self):
        _check_int(self, "min_studies_meta", 1)
        _check_int(self, "consistent_min_studies_for_probability", 2)
        _check_int(self, "vote_consistent_min_studies", 1)
        _check_int(self, "imprecision_n_serious", 0)
        _check_int(self, "imprecision_n_very_serious", 0)
        for name in ("consistent_probability", "vote_majority", "design_start_share",
                     "rob_serious_share", "rob_very_serious_share"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1):
                raise ParameterError(name, value, "a fraction strictly between 0 and 1")
        if self.vote_basis not in VOTE_BASES:
            raise ParameterError("vote_basis", self.vote_basis, "'significance' or 'direction'")
        if not (isinstance(self.smallest_important_ratio, (int, float))
                and self.smallest_important_ratio > 1):
            raise ParameterError("smallest_important_ratio", self.smallest_important_ratio,
                                 "a ratio above 1, such as 1.10")
        for measure, value in self.smallest_important_difference.items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ParameterError(f"smallest_important_difference[{measure!r}]", value,
                                     "a positive number on the measure's scale")
        for name in ("no_effect_min_strength",):
            if getattr(self, name) not in range(5):
                raise ParameterError(name, getattr(self, name), "a strength level 0 to 4")
        if not self.design_start or any(v not in range(5) for v in self.design_start.values()):
            raise ParameterError("design_start", self.design_start,
                                 "a dict of design -> starting level 0 to 4 (at least one design)")
        if set(self.amstar2_downgrade) != set(AMSTAR2_RATINGS) or any(
                v not in range(5) for v in self.amstar2_downgrade.values()):
            raise ParameterError("amstar2_downgrade", self.amstar2_downgrade,
                                 "a downgrade 0 to 4 for each of " + ", ".join(AMSTAR2_RATINGS))
        if not 0 <= self.i2_serious <= self.i2_very_serious <= 100:
            raise ParameterError("i2_serious", (self.i2_serious, self.i2_very_serious),
                                 "0 <= i2_serious <= i2_very_serious <= 100")
        if self.imprecision_n_very_serious > self.imprecision_n_serious:
            raise ParameterError("imprecision_n_very_serious", self.imprecision_n_very_serious,
                                 f"at most imprecision_n_serious ({self.imprecision_n_serious})")
        for name in ("single_study_downgrade", "publication_bias_downgrade"):
            if getattr(self, name) not in range(5):
                raise ParameterError(name, getattr(self, name), "a downgrade 0 to 4")
        for name, allowed in (("dependent", DEPENDENT_RULES), ("unknown_n", UNKNOWN_N_RULES),
                              ("small_study_test", SMALL_STUDY_TESTS), ("estimator", ESTIMATORS),
                              ("test", TESTS), ("test_small_k", TESTS),
                              ("vote_inconsistency", VOTE_INCONSISTENCY_RULES)):
            if getattr(self, name) not in allowed:
                raise ParameterError(name, getattr(self, name), "one of " + ", ".join(allowed))
        if self.pool_across_measures != "no":
            raise ParameterError("pool_across_measures", self.pool_across_measures,
                                 "'no' (the only rule implemented: effects on different measures "
                                 "are not pooled, the vote rules are used)")
        if self.single_study_model != "FE":
            raise ParameterError("single_study_model", self.single_study_model, "'FE'")
        if not 0.0 <= self.rho < 1.0:
            raise ParameterError("rho", self.rho, "a within-study correlation of sampling errors, "
                                 "0 <= rho < 1 (0: hierarchical effects; above 0: correlated and "
                                 "hierarchical effects)")
        for name in ("knha_min_studies", "small_study_min_studies", "consistent_min_studies",
                     "no_effect_pi_min_studies"):
            _check_int(self, name, 1)
        if not 0 < self.small_study_alpha < 1:
            raise ParameterError("small_study_alpha", self.small_study_alpha, "a fraction between 0 and 1")
        if not (isinstance(self.timepoint_target_months, (int, float))
                and math.isfinite(self.timepoint_target_months) and self.timepoint_target_months >= 0):
            raise ParameterError("timepoint_target_months", self.timepoint_target_months,
                                 "months from 0 up, such as 12")
        object.__setattr__(self, "months_progress_outcomes", tuple(self.months_progress_outcomes))
        bounds = [b for b, _ in self.i2_words]
        if not bounds or bounds != sorted(bounds, reverse=True) or bounds[-1] != 0:
            raise ParameterError("i2_words", self.i2_words,
                                 "(lower bound, word) pairs from the highest down, ending at 0")

    def smallest_important_effect(self, measure: str | None, ratio: bool) -> float | None:
        """The smallest important effect on the analysis scale (log for ratios); None if unknown."""
        if ratio:
            return math.log(self.smallest_important_ratio)
        return self.smallest_important_difference.get(measure or "")

    def i2_word(self, i2: float) -> str:
        """Cochrane's words for I² (Handbook 10.10.2, lower bounds of its overlapping bands)."""
        for bound, word in self.i2_words:
            if i2 >= bound:
                return word
        return self.i2_words[-1][1]  # pragma: no cover - the last bound is 0


def _check_int(params: SchemeParameters, name: str, minimum: int) -> None:
    value = getattr(params, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(name, value, f"a whole number of at least {minimum}")


EFFECTIVENESS_LEVELS = (
    Level("consistently-positive", 2, "Consistently positive",
          "The studies together show a benefit, and it is consistent: a similar benefit is expected "
          "in most settings where the intervention is used."),
    Level("tends-positive", 1, "Tends positive",
          "The studies together point to a benefit, but it varies between settings or rests on few "
          "studies."),
    Level("no-effect", 0, "Evidence of no effect",
          "Precise, well-run research found no effect: any effect is smaller than the smallest "
          "difference that would matter."),
    Level("unclear-or-mixed", 0, "No clear effect or mixed",
          "The studies do not show a clear benefit or harm: results are mixed, or not precise enough "
          "to rule out an effect that would matter."),
    Level("tends-negative", -1, "Tends negative",
          "The studies together point to harm, but it varies between settings or rests on few "
          "studies."),
    Level("consistently-negative", -2, "Consistently negative",
          "The studies together show harm, and it is consistent across settings."),
    Level("no-evidence", None, "No evidence",
          "No study of a rigorous design has measured this outcome yet. This is not evidence that "
          "the intervention does not work."),
)

STRENGTH_LEVELS = (
    Level("very-low", 0, "No or very low",
          "There is little or no rigorous evidence; the rating could easily change."),
    Level("low", 1, "Low", "Some rigorous evidence, with serious limits; further research is likely "
          "to change the rating."),
    Level("moderate", 2, "Moderate", "Reasonable evidence, with some limits; further research may "
          "change the rating."),
    Level("moderate-high", 3, "Moderate to high", "Good evidence from rigorous studies with minor "
          "limits; the rating is unlikely to change much."),
    Level("high", 4, "High", "Several well-run randomised studies with consistent, precise results; "
          "further research is very unlikely to change the rating."),
)

RULES = (
    Rule("no-evidence", "effectiveness",
         "No evidence: no study of an eligible design ({eligible_designs}) has measured the outcome."),
    Rule("meta-analysis", "effectiveness",
         "Where at least {min_studies_meta} studies were pooled in a meta-analysis on a comparable "
         "measure, effectiveness follows the pooled effect, its confidence interval and its "
         "prediction interval. The better direction is the outcome's (a decrease in entry to care "
         "is better)."),
    Rule("consistent", "effectiveness",
         "+2 (or -2): the confidence interval excludes no effect in the better (worse) direction, "
         "and either the prediction interval also excludes no effect, or at least "
         "{consistent_min_studies_for_probability} studies were pooled and the predicted chance "
         "that the true effect in a new setting lies on the same side is at least "
         "{consistent_probability_pct}."),
    Rule("tends", "effectiveness",
         "+1 (or -1): the confidence interval excludes no effect but the condition for +2 (-2) is "
         "not met, including when no prediction interval is available (a common-effect model)."),
    Rule("null", "effectiveness",
         "0: the confidence interval includes no effect. It is 'evidence of no effect' when the "
         "whole interval lies within the smallest important effect ({smallest_important_text}) and "
         "strength of evidence is at least '{no_effect_min_strength_label}'; otherwise 'no clear "
         "effect or mixed'."),
    Rule("vote", "effectiveness",
         "Where no meta-analysis is possible, each study shows a benefit, a harm or neither "
         "({vote_basis_text}); a study whose confidence interval lies within the smallest "
         "important effect shows neither. +1 (-1) when more than {vote_majority_pct} of the "
         "studies and more than {vote_majority_pct} of the participants are in studies showing a "
         "benefit (harm); +2 (-2) when every study, and at least {vote_consistent_min_studies}, "
         "shows it."),
    Rule("vote-null", "effectiveness",
         "Otherwise 0: 'evidence of no effect' when more than {vote_majority_pct} of the studies "
         "and of the participants are in studies whose confidence interval lies within the "
         "smallest important effect and strength is at least '{no_effect_min_strength_label}'; "
         "otherwise 'no clear effect or mixed'."),
    Rule("start", "strength",
         "Start from the design: {design_start_text}. The body of evidence starts at the level of "
         "the best design that, together with any better designs, includes at least "
         "{design_start_share_pct} of the participants."),
    Rule("risk-of-bias", "strength",
         "Risk of bias: down 2 when more than {rob_very_serious_share_pct} of participants are in "
         "studies at high risk of bias; otherwise down 1 when more than {rob_serious_share_pct} are "
         "in studies not at low risk."),
    Rule("source-review", "strength",
         "Quality of the source review (AMSTAR 2): {amstar2_text}. No downgrade when there is no "
         "source review."),
    Rule("inconsistency", "strength",
         "Inconsistency: with a meta-analysis, down 2 when I² is at least {i2_very_serious:g}% and "
         "the direction is not consistent (as for +2: the prediction interval excludes no effect, "
         "or the probability condition holds); otherwise down 1 when I² is at least "
         "{i2_serious:g}%, or when the confidence interval excludes no effect but the direction is "
         "not consistent. Without a meta-analysis, down 1 when studies found statistically "
         "significant effects in opposite directions."),
    Rule("imprecision", "strength",
         "Imprecision: down 2 with fewer than {imprecision_n_very_serious:,} participants in all, "
         "down 1 with fewer than {imprecision_n_serious:,}; and at least down 1 when the pooled "
         "confidence interval includes both an important benefit and an important harm."),
    Rule("single-study", "strength", "Only one study: down {single_study_downgrade}."),
    Rule("publication-bias", "strength",
         "Suspected publication bias or small-study effects: down {publication_bias_downgrade}."),
    Rule("bounds", "strength",
         "Strength never falls below 'no or very low' nor rises above 'high'; there are no "
         "upgrades."),
)


@dataclass(frozen=True, repr=False)
class Scheme(Result):
    """A versioned rating scheme: levels, plain-English rules and the thresholds they use."""

    scheme_id: str
    version: str
    title: str
    released: str
    changes: str
    effectiveness_levels: tuple[Level, ...]
    strength_levels: tuple[Level, ...]
    rules: tuple[Rule, ...]
    parameters: SchemeParameters = field(hash=False)

    def effectiveness_level(self, code: str) -> Level:
        for level in self.effectiveness_levels:
            if level.code == code:
                return level
        raise ParameterError("effectiveness code", code,
                             "one of " + ", ".join(lv.code for lv in self.effectiveness_levels))

    def strength_level(self, value: int) -> Level:
        for level in self.strength_levels:
            if level.value == value:
                return level
        raise ParameterError("strength", value, "a level 0 to 4")

    def revise(self, version: str, *, changes: str, released: str = "", **parameters) -> Scheme:
        """A new version with some parameters changed (the rules and levels stay)."""
        if version == self.version:
            raise ParameterError("version", version, f"a version other than {self.version!r}")
        known = {f.name for f in dataclasses.fields(SchemeParameters)}
        for name in parameters:
            if name not in known:
                raise ParameterError(name, parameters[name],
                                     "a scheme parameter: " + ", ".join(sorted(known)))
        return dataclasses.replace(self, version=version, changes=changes,
                                   released=released or self.released,
                                   parameters=dataclasses.replace(self.parameters, **parameters))

    def describe_rules(self) -> list[tuple[str, str, str]]:
        """Every rule as (rule_id, axis, text) with the thresholds filled in."""
        values = _rule_values(self)
        return [(r.rule_id, r.axis, r.text.format_map(values)) for r in self.rules]

    def parameter_rows(self, other: Scheme | None = None) -> list[tuple[str, str, str | None]]:
        """Every parameter as (name, value here, value in ``other``), values as short text."""
        def text(value) -> str:
            if isinstance(value, dict):
                return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in value.items())
            if isinstance(value, tuple):
                return ", ".join(" ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
                                 if isinstance(v, tuple) else str(v) for v in value)
            if isinstance(value, bool):
                return "yes" if value else "no"
            return f"{value:g}" if isinstance(value, float) else str(value)

        return [(f.name, text(getattr(self.parameters, f.name)),
                 None if other is None else text(getattr(other.parameters, f.name)))
                for f in dataclasses.fields(self.parameters)]

    def summary_text(self) -> str:
        lines = [f"Rating scheme {self.scheme_id} version {self.version} ({self.released})"]
        lines += [f"  [{axis}] {text}" for _, axis, text in self.describe_rules()]
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scheme:
        """Rebuild a scheme from :meth:`to_dict` output (for instance, a scheme stored as JSON)."""
        p = dict(data["parameters"])
        p["i2_words"] = tuple((float(b), str(w)) for b, w in p.get("i2_words", ()))
        return cls(scheme_id=data["scheme_id"], version=data["version"], title=data["title"],
                   released=data["released"], changes=data["changes"],
                   effectiveness_levels=tuple(Level(**lv) for lv in data["effectiveness_levels"]),
                   strength_levels=tuple(Level(**lv) for lv in data["strength_levels"]),
                   rules=tuple(Rule(**r) for r in data["rules"]),
                   parameters=SchemeParameters(**p))


DESIGN_NAMES = {"rct": "randomised controlled trial", "cluster-rct": "cluster randomised trial",
                "qed": "quasi-experimental design with a comparison group",
                "pre-post": "before-and-after study without a comparison group", "other": "other design"}
DESIGN_PLURALS = {"rct": "randomised controlled trials", "cluster-rct": "cluster randomised trials",
                  "qed": "quasi-experimental studies with a comparison group",
                  "pre-post": "before-and-after studies", "other": "studies of other designs"}


def _rule_values(scheme: Scheme) -> dict[str, Any]:
    p = scheme.parameters
    values = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    strength = {lv.value: lv.label for lv in scheme.strength_levels}
    pct = lambda x: f"{100 * x:g}%"  # noqa: E731
    values.update(
        eligible_designs=", ".join(DESIGN_NAMES.get(d, d) for d in p.design_start),
        consistent_probability_pct=pct(p.consistent_probability),
        vote_majority_pct=pct(p.vote_majority),
        design_start_share_pct=pct(p.design_start_share),
        rob_serious_share_pct=pct(p.rob_serious_share),
        rob_very_serious_share_pct=pct(p.rob_very_serious_share),
        no_effect_min_strength_label=strength[p.no_effect_min_strength].lower(),
        vote_basis_text=("a study shows an effect when its result is statistically significant in "
                         "that direction" if p.vote_basis == "significance" else
                         "a study shows an effect when its point estimate lies in that direction"),
        smallest_important_text=(
            f"for ratio measures a ratio between {1 / p.smallest_important_ratio:.2f} and "
            f"{p.smallest_important_ratio:.2f}; "
            + "; ".join(f"{m} {v:g}" for m, v in p.smallest_important_difference.items())),
        design_start_text="; ".join(f"{DESIGN_NAMES.get(d, d)}: {strength[v].lower()}"
                                    for d, v in p.design_start.items())
        + "; other designs are not rated",
        amstar2_text="; ".join(f"{r.replace('-', ' ')}: down {d}"
                               for r, d in p.amstar2_downgrade.items()),
    )
    return values


def _rules_v2() -> tuple[Rule, ...]:
    """Version 2.0's rules: 1.0's, with every label's promise stated and the pipeline written down."""
    replaced = {
        "consistent": Rule(
            "consistent", "effectiveness",
            "+2 (or -2): at least {consistent_min_studies} eligible studies were pooled, the "
            "confidence interval excludes no effect in the better (worse) direction, and so does "
            "the prediction interval (a benefit, or harm, expected in most settings)."),
        "tends": Rule(
            "tends", "effectiveness",
            "+1 (or -1): the confidence interval excludes no effect but the condition for +2 (-2) "
            "is not met: fewer than {consistent_min_studies} studies, or the prediction interval "
            "includes no effect or is not available."),
        "null": Rule(
            "null", "effectiveness",
            "0: the confidence interval includes no effect. It is 'evidence of no effect' when the "
            "whole confidence interval and, with at least {no_effect_pi_min_studies} studies, the "
            "whole prediction interval lie within the smallest important effect "
            "({smallest_important_text}) and strength of evidence is at least "
            "'{no_effect_min_strength_label}'; otherwise 'no clear effect or mixed'."),
        "vote": Rule(
            "vote", "effectiveness",
            "Where no meta-analysis is possible, each study shows a benefit, a harm or neither "
            "({vote_basis_text}); a study whose confidence interval lies within the smallest "
            "important effect shows neither. +1 (-1) when more than {vote_majority_pct} of the "
            "studies and more than {vote_majority_pct} of the participants (of the studies that "
            "report their size) are in studies showing a benefit (harm). Vote counting never gives "
            "+2 (-2): without a pooled model there is no prediction interval to show that an effect "
            "is consistent across settings."),
        "inconsistency": Rule(
            "inconsistency", "strength",
            "Inconsistency: with a meta-analysis, down 2 when I² is at least {i2_very_serious:g}% "
            "and the prediction interval includes no effect; otherwise down 1 when I² is at least "
            "{i2_serious:g}%, or when the confidence interval excludes no effect but the "
            "prediction interval does not. Without a meta-analysis, down 1 when some studies show "
            "a benefit and others harm (as classified for the vote)."),
        "imprecision": Rule(
            "imprecision", "strength",
            "Imprecision: down 2 with fewer than {imprecision_n_very_serious:,} participants in "
            "all, down 1 with fewer than {imprecision_n_serious:,} (counting the studies that report "
            "their size); and at least down 1 when the confidence interval (the pooled one, or "
            "without a meta-analysis every study's) includes both an important benefit and an "
            "important harm."),
        "publication-bias": Rule(
            "publication-bias", "strength",
            "Small-study effects: with at least {small_study_min_studies} studies pooled, Egger's "
            "regression test is run; p below {small_study_alpha:g} suspects publication bias: down "
            "{publication_bias_downgrade}."),
    }
    pipeline = (
        Rule("eligibility", "evidence",
             "Which studies count: {eligible_designs}. Studies of other designs are listed with "
             "the reason and never enter the synthesis, the counts or the rating."),
        Rule("time-point", "evidence",
             "Each study contributes the effects at its time point nearest "
             "{timepoint_target_months:g} months (the later one on a tie)."),
        Rule("dependent", "evidence",
             "Several effect sizes from one study are pooled, not dropped: a three-level model "
             "(effects within studies; {estimator}) with CR2 cluster-robust inference by study "
             "and Satterthwaite degrees of freedom; the sampling errors of one study's effects are "
             "taken as correlated rho = {rho:g} (the correlated-and-hierarchical-effects working "
             "model of Pustejovsky and Tipton, 2022; the cluster-robust inference stays valid if "
             "rho is wrong). A study counts once in "
             "k, in participants and in votes; for the vote, its effects are averaged assuming "
             "they are perfectly correlated (the cautious choice)."),
        Rule("model", "evidence",
             "One effect per study: one study is taken as it is; {estimator} random effects with "
             "the {test_small_k} test below {knha_min_studies} studies, else the {test} test "
             "(knha: Knapp-Hartung; adhoc: Knapp-Hartung with its variance factor at least 1). "
             "Effects on different measures are not pooled (pool_across_measures = "
             "{pool_across_measures}: vote counting). A model that "
             "cannot be fitted is reported and the rating falls back to vote counting."),
        Rule("sample-size", "evidence",
             "A study of unknown size is reported as such: it counts in k and in the vote's "
             "study majority, never as participants."),
    )
    return pipeline + tuple(replaced.get(r.rule_id, r) for r in RULES)


#: Version 1.0 as first published (its pipeline choices are the Evidence Store's of 2026-01).
SCHEME_V1 = Scheme(
    scheme_id=DEFAULT_SCHEME_ID, version="1.0",
    title="whatworks rating scheme 2026: overall effectiveness and strength of evidence",
    released="2026-01-01", changes="First version.",
    effectiveness_levels=EFFECTIVENESS_LEVELS, strength_levels=STRENGTH_LEVELS, rules=RULES,
    parameters=SchemeParameters())

_REGISTRY: dict[tuple[str, str], Scheme] = {}


def _version_key(version: str):
    parts = version.split(".")
    return tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in parts)


def register_scheme(scheme: Scheme, *, replace: bool = False) -> Scheme:
    """Add a scheme to the registry (an id and version may be registered only once)."""
    key = (scheme.scheme_id, scheme.version)
    if key in _REGISTRY and not replace and _REGISTRY[key] != scheme:
        raise ParameterError("scheme", f"{scheme.scheme_id} {scheme.version}",
                             "a new version: published versions never change")
    _REGISTRY[key] = scheme
    return scheme


def get_scheme(scheme_id: str = DEFAULT_SCHEME_ID, version: str | None = None) -> Scheme:
    """A registered scheme; the latest version when ``version`` is None."""
    versions = [s for (sid, _), s in _REGISTRY.items() if sid == scheme_id]
    if not versions:
        raise ParameterError("scheme_id", scheme_id,
                             "one of " + ", ".join(sorted({sid for sid, _ in _REGISTRY})))
    if version is None:
        return max(versions, key=lambda s: _version_key(s.version))
    for s in versions:
        if s.version == version:
            return s
    raise ParameterError("version", version, "one of " + ", ".join(s.version for s in versions))


def list_schemes() -> list[Scheme]:
    """Every registered scheme, by id then version."""
    return sorted(_REGISTRY.values(), key=lambda s: (s.scheme_id, _version_key(s.version)))


#: Version 2.0: every label keeps its promise (docs/methods/ratings.md, "What changed in 2.0").
SCHEME_V2 = dataclasses.replace(
    SCHEME_V1, version="2.0", released="2026-12-01", rules=_rules_v2(),
    changes="Studies of designs that are not rated no longer enter the synthesis; several effect "
            "sizes from one study are pooled (three-level model, CR2) instead of dropped; "
            "'consistently' needs at least 3 pooled studies and a prediction interval on one side "
            "(never by vote counting); "
            "'evidence of no effect' needs the prediction interval inside the smallest important "
            "effect too; the imprecision downgrade applies to single studies; a study of unknown "
            "size is never counted as one participant; Egger's test feeds the publication-bias "
            "downgrade from 10 studies; vote-count inconsistency uses the vote's classification.",
    parameters=dataclasses.replace(
        SchemeParameters(), pool_ineligible=False, dependent="multilevel-cr2", rho=0.6,
        unknown_n="unknown",
        small_study_test="egger", consistent_min_studies=3, vote_consistent_min_studies=3,
        consistent_by_probability=False, no_effect_needs_pi=True, imprecision_all_paths=True,
        vote_inconsistency="classification", vote_consistent_allowed=False))

#: The default scheme shipped with whatworks (the latest version).
DEFAULT_SCHEME = SCHEME_V2

register_scheme(SCHEME_V1)
register_scheme(SCHEME_V2)
