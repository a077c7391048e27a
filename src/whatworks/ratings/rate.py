"""Rating one intervention x outcome: overall effectiveness and strength of evidence, explained.

``rate(inputs, scheme)`` applies the rules of a versioned scheme (:mod:`whatworks.ratings.schemes`)
to :class:`~whatworks.ratings.inputs.RatingInputs` and returns a frozen :class:`Rating` that keeps
the scheme version, the inputs (JSON-ready) and a plain-English explanation. The two axes are kept
apart and never merged. ``explain_change(old, new, date=..., reason=...)`` writes a history line.

The rules are described in ``docs/methods/ratings.md``; every threshold is a scheme parameter.

References
----------
Guyatt GH, Oxman AD, Vist GE, et al. (2008). GRADE: an emerging consensus on rating quality of
    evidence and strength of recommendations. BMJ 336:924-926. (strength: start by design, then
    downgrade for risk of bias, inconsistency, imprecision and publication bias)
Shea BJ, Reeves BC, Wells G, et al. (2017). AMSTAR 2. BMJ 358:j4008. (quality of the source review)
Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random effects meta-analyses. BMJ
    342:d549. (prediction intervals; the chance that the effect in a new setting is beneficial)
McKenzie JE, Brennan SE (2023). Chapter 12: Synthesizing and presenting findings using other
    methods. Cochrane Handbook 6.4. (vote counting based on the direction of effect)
Deeks JJ, Higgins JPT, Altman DG (2023). Cochrane Handbook 6.4, section 10.10.2. (words for I²)
What Works for Children's Social Care (2019). Our ratings explained (Evidence Store; rules by its
    research partner, Cardiff University): a majority of both the studies and the participants.
Tested against: hand-worked fixtures for every rule branch (tests/ratings); there is no reference
    implementation of this scheme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date as _date
from statistics import NormalDist
from typing import Any

from .._results import Result, jsonable
from ..errors import ParameterError
from . import _text as T
from .inputs import MEASURE_NAMES, RatingInputs, StudyFacts, SynthesisNumbers
from .schemes import DESIGN_NAMES, DESIGN_PLURALS, Scheme, get_scheme

__all__ = ["Rating", "RatingChange", "RatingInputs", "StudyFacts", "SynthesisNumbers",
           "explain_change", "rate"]


@dataclass(frozen=True, repr=False)
class Rating(Result):
    """A computed rating of one intervention x outcome, with what it used and why.

    ``effectiveness`` is -2..+2, or None for "no evidence"; ``effectiveness_code`` tells the two
    zeros apart ("no-effect": evidence of no effect; "unclear-or-mixed"). ``strength`` is 0..4.
    ``path`` is "meta-analysis", "vote-count" or "none". ``inputs`` is
    ``RatingInputs.to_dict()``: enough to recompute the rating.
    """

    outcome: str
    effectiveness: int | None
    effectiveness_code: str
    effectiveness_label: str
    strength: int
    strength_code: str
    strength_label: str
    scheme_id: str
    scheme_version: str
    path: str
    explanation: str
    effectiveness_explanation: str
    strength_explanation: str
    strength_steps: tuple[str, ...]
    inputs: dict[str, Any] = field(hash=False)

    def summary_text(self) -> str:
        return (f"Rating of {self.outcome} ({self.scheme_id} {self.scheme_version}): "
                f"effectiveness {self.effectiveness_label} ({T.level(self.effectiveness)}); "
                f"strength {self.strength_label} ({self.strength}/4)\n{self.explanation}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rating:
        """Rebuild a rating from :meth:`to_dict` output (for instance, one stored as JSON)."""
        values = dict(data)
        values["strength_steps"] = tuple(values["strength_steps"])
        return cls(**values)

    def recomputed(self, scheme: Scheme | str | None = None) -> Rating:
        """The same inputs rated again (under ``scheme``; the latest version of this id by default)."""
        return rate(RatingInputs.from_dict(self.inputs),
                    scheme if scheme is not None else get_scheme(self.scheme_id))


def _resolve_scheme(scheme) -> Scheme:
    if scheme is None:
        return get_scheme()
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str):
        sid, _, version = scheme.partition("@")
        return get_scheme(sid, version or None)
    raise ParameterError("scheme", scheme, "a Scheme, a scheme id ('whatworks-2026') or "
                         "'id@version', or None for the default")


@dataclass(frozen=True)
class _Context:
    inputs: RatingInputs
    scheme: Scheme
    sign: int                      # +1 when an increase is better, -1 when a decrease is
    eligible: tuple[StudyFacts, ...]
    excluded: tuple[StudyFacts, ...]
    sie: float | None              # smallest important effect, analysis scale
    meta: bool

    @property
    def p(self):
        return self.scheme.parameters

    @property
    def s(self) -> SynthesisNumbers:
        return self.inputs.synthesis

    @property
    def unit(self) -> str:
        return self.inputs.outcome.unit

    @property
    def total_n(self) -> int:
        """Participants in all (of the studies that report their size)."""
        if self.meta and self.s.n_participants is not None:
            return self.s.n_participants
        return sum(_n(st) for st in self.eligible)

    def unknown_text(self) -> str:
        """" (2 studies did not report their size)", or "" when every study did."""
        unknown = sum(1 for st in self.eligible if st.n is None)
        if not unknown:
            return ""
        return (" (1 study did not report its size)" if unknown == 1 else
                f" ({unknown} studies did not report their size)")

    def better_phrase(self) -> str:
        o = self.inputs.outcome
        return f"{'an' if o.direction == 'increase' else 'a'} {o.direction} in {o.phrase} is better"

    def sie_text(self) -> str:
        measure = MEASURE_NAMES.get(self.inputs.measure or "", self.inputs.measure or "effect")
        ratio = self.inputs.is_ratio
        return f"{measure} {T.interval(-self.sie, self.sie, ratio=ratio)}"


def _n(study: StudyFacts) -> int:
    """A study's participants; 0 when its size is unknown (it then carries no participant weight)."""
    return 0 if study.n is None else study.n


def _weights(studies) -> list[int]:
    """Participant weights: the sizes reported; every study 1 when none reports its size."""
    if all(st.n is None for st in studies):
        return [1] * len(studies)
    return [_n(st) for st in studies]


def _precise_null(lo: float | None, hi: float | None, sie: float | None) -> bool:
    return sie is not None and lo is not None and -sie < lo and hi < sie


def rate(inputs: RatingInputs, scheme: Scheme | str | None = None) -> Rating:
    """Rate effectiveness and strength of evidence for one intervention x outcome.

    Parameters
    ----------
    inputs : RatingInputs
        The outcome (with its better direction), the synthesis numbers if a meta-analysis was
        possible, every study's facts, and the source review's AMSTAR 2 rating.
    scheme : Scheme, str or None
        The rating scheme (default: the latest version of ``whatworks-2026``); a string may name
        ``"id"`` or ``"id@version"``.

    Returns
    -------
    Rating
        Frozen; ``to_dict()`` is JSON-ready and ``Rating.from_dict`` rebuilds it.
    """
    if not isinstance(inputs, RatingInputs):
        raise ParameterError("inputs", type(inputs).__name__, "a RatingInputs")
    scheme = _resolve_scheme(scheme)
    p = scheme.parameters
    eligible = tuple(s for s in inputs.studies if s.design in p.design_start)
    excluded = tuple(s for s in inputs.studies if s.design not in p.design_start)
    if inputs.smallest_important_effect is not None:
        sie = (math.log(inputs.smallest_important_effect) if inputs.is_ratio
               else inputs.smallest_important_effect)
    else:
        sie = p.smallest_important_effect(inputs.measure, inputs.is_ratio)
    meta = bool(eligible) and inputs.synthesis is not None and inputs.synthesis.k >= p.min_studies_meta
    ctx = _Context(inputs=inputs, scheme=scheme, sign=1 if inputs.outcome.direction == "increase" else -1,
                   eligible=eligible, excluded=excluded, sie=sie, meta=meta)

    if not eligible:
        strength, steps, strength_text = 0, ("no study of an eligible design",), _no_evidence_strength(ctx)
        code, eff_text, path = "no-evidence", _no_evidence_text(ctx), "none"
    else:
        strength, steps, strength_text = _strength(ctx)
        if meta:
            code, eff_text = _effectiveness_meta(ctx, strength)
            path = "meta-analysis"
        else:
            code, eff_text = _effectiveness_vote(ctx, strength)
            path = "vote-count"
    eff_level = scheme.effectiveness_level(code)
    str_level = scheme.strength_level(strength)
    eff_text = f"{eff_level.label}: {eff_text}"
    return Rating(
        outcome=inputs.outcome.slug, effectiveness=eff_level.value, effectiveness_code=eff_level.code,
        effectiveness_label=eff_level.label, strength=strength, strength_code=str_level.code,
        strength_label=str_level.label, scheme_id=scheme.scheme_id, scheme_version=scheme.version,
        path=path, explanation=f"{eff_text} {strength_text}", effectiveness_explanation=eff_text,
        strength_explanation=strength_text, strength_steps=tuple(steps),
        inputs=jsonable(inputs.to_dict()))


# --- effectiveness -------------------------------------------------------------------------------

_SIDE_CODES = {2: "consistently-positive", 1: "tends-positive", -1: "tends-negative",
               -2: "consistently-negative"}


def _effectiveness_meta(ctx: _Context, strength: int) -> tuple[str, str]:
    s, p, sign, ratio = ctx.s, ctx.p, ctx.sign, ctx.inputs.is_ratio
    lo, hi = sorted((sign * s.ci_lower, sign * s.ci_upper))   # positive = better
    pi = s.prediction_interval()
    measure = MEASURE_NAMES.get(s.measure, s.measure)
    lvl = T.pct_level(s.level)
    head = (f"pooled {measure} {T.number(s.estimate, ratio=ratio)} ({lvl} CI "
            f"{T.interval(s.ci_lower, s.ci_upper, ratio=ratio)}) across {T.studies(s.k)}")
    if ctx.total_n:
        head += f" and {T.people(ctx.total_n, ctx.unit)}{ctx.unknown_text()}"
    if s.i2 is not None:
        head += f"; {p.i2_word(s.i2)} heterogeneity (I\u00b2 = {s.i2:.0f}%)"
    pi_text = f"the {lvl} prediction interval ({T.interval(*pi, ratio=ratio)})" if pi else ""
    side = 1 if lo > 0 else -1 if hi < 0 else 0
    if side:
        way = "better" if side > 0 else "worse"
        pi_excludes, by_prob, prob = _direction_consistent(ctx)
        few = s.k < p.consistent_min_studies
        code = _SIDE_CODES[side * (2 if (pi_excludes or by_prob) and not few else 1)]
        why = f"The confidence interval excludes no effect in the {way} direction ({ctx.better_phrase()})"
        if few:
            why += (f", but {T.studies(s.k)} cannot show that it is consistent across settings "
                    f"(that needs at least {p.consistent_min_studies}).")
        elif pi_excludes:
            why += f", and so does {pi_text}."
        elif by_prob:
            why += (f"; {pi_text} includes no effect, but with {T.studies(s.k)} the predicted "
                    f"chance that the effect in a new setting is {'a benefit' if side > 0 else 'harm'}"
                    f" is {T.percent(prob)}.")
        elif pi:
            why += f", but {pi_text} includes no effect."
        else:
            why += (", but without a prediction interval (none was given, or the model assumed a "
                    "common effect) consistency across settings is not shown.")
        return code, f"{head}. {why}"
    kind = _null_kind(ctx, strength, _precise_null(s.ci_lower, s.ci_upper, ctx.sie))
    if kind in ("no-effect", "weak") and p.no_effect_needs_pi and s.k >= p.no_effect_pi_min_studies \
            and not (pi is not None and _precise_null(pi[0], pi[1], ctx.sie)):
        kind = "varies"
    what = "The confidence interval includes no effect"
    why = {
        "varies": lambda: (f"{what} and rules out {_beyond(ctx)}, but "
                           + (f"{pi_text} does not" if pi else "there is no prediction interval to "
                              "show that this holds across settings")
                           + ": in some settings the effect may matter."),
        "no-sie": lambda: f"{what}; {_no_sie(ctx)}, so an effect that matters cannot be ruled out.",
        "no-effect": lambda: f"{what} and rules out {_beyond(ctx)}; {_strength_is(ctx, strength)}.",
        "weak": lambda: f"{what} and rules out {_beyond(ctx)}, but {_strength_below(ctx, strength)}.",
        "imprecise": lambda: f"{what} but does not rule out {_as_large(ctx)}.",
    }[kind]()
    return _NULL_CODES[kind], f"{head}. {why}"


_NULL_CODES = {"no-sie": "unclear-or-mixed", "no-effect": "no-effect", "weak": "unclear-or-mixed",
               "imprecise": "unclear-or-mixed", "varies": "unclear-or-mixed"}


def _direction_consistent(ctx: _Context) -> tuple[bool, bool, float | None]:
    """Whether the effect's direction holds across settings, on the side of the pooled estimate.

    Returns (the prediction interval excludes no effect, the probability rule holds, the predicted
    chance that a new setting's true effect lies on that side). The chance uses a normal predictive
    distribution with variance se² + tau² (Riley et al. 2011); the probability rule needs at least
    ``consistent_min_studies_for_probability`` studies and a chance of ``consistent_probability``.
    """
    s, p = ctx.s, ctx.p
    side = 1 if s.estimate >= 0 else -1
    pi = s.prediction_interval()
    pi_excludes = pi is not None and (pi[0] > 0 if side > 0 else pi[1] < 0)
    prob = None
    if s.tau2 is not None:
        prob = NormalDist().cdf(abs(s.estimate) / math.sqrt(s.standard_error() ** 2 + s.tau2))
    by_prob = (p.consistent_by_probability and s.k >= p.consistent_min_studies_for_probability
               and prob is not None and prob >= p.consistent_probability)
    return pi_excludes, by_prob, prob


def _null_kind(ctx: _Context, strength: int, precise: bool) -> str:
    """Why a null is (or is not) evidence of no effect: no-sie, no-effect, weak or imprecise."""
    if ctx.sie is None:
        return "no-sie"
    if not precise:
        return "imprecise"
    return "no-effect" if strength >= ctx.p.no_effect_min_strength else "weak"


def _no_sie(ctx: _Context) -> str:
    return f"no smallest important effect is set for {ctx.inputs.measure or 'this measure'}"


def _beyond(ctx: _Context) -> str:
    return f"effects larger than the smallest important effect ({ctx.sie_text()})"


def _as_large(ctx: _Context) -> str:
    return f"effects as large as the smallest important effect ({ctx.sie_text()})"


def _strength_is(ctx: _Context, strength: int) -> str:
    return f"strength of evidence is {ctx.scheme.strength_level(strength).label.lower()}"


def _strength_below(ctx: _Context, strength: int) -> str:
    label = ctx.scheme.strength_level(strength).label.lower()
    minimum = ctx.scheme.strength_level(ctx.p.no_effect_min_strength).label.lower()
    return f"strength of evidence ({label}) is below {minimum}"


def _classify(ctx: _Context, study: StudyFacts) -> str:
    """'better', 'worse' or 'neither' for one study under the scheme's vote basis."""
    if _precise_null(study.ci_lower, study.ci_upper, ctx.sie) or study.direction == "none":
        return "neither"
    if ctx.p.vote_basis == "significance" and not study.significant:
        return "neither"
    return "better" if study.direction == ctx.inputs.outcome.direction else "worse"


def _effectiveness_vote(ctx: _Context, strength: int) -> tuple[str, str]:
    p, studies, unit = ctx.p, ctx.eligible, ctx.unit
    k, total = len(studies), sum(_n(s) for s in studies)
    classes = [_classify(ctx, s) for s in studies]
    count = {c: sum(1 for x in classes if x == c) for c in ("better", "worse", "neither")}
    n_of = {c: sum(_n(s) for s, x in zip(studies, classes, strict=True) if x == c)
            for c in ("better", "worse", "neither")}

    def majority(k_c: int, n_c: int) -> bool:
        # no study reports its size: the participant condition cannot be checked and is not used
        return k_c / k > p.vote_majority and (total == 0 or n_c / total > p.vote_majority)

    o = ctx.inputs.outcome
    worse_way = "decrease" if o.direction == "increase" else "increase"
    sig = "statistically significant " if p.vote_basis == "significance" else ""
    head = (f"no meta-analysis was possible; of {T.studies(k)} with {T.people(total, unit)}"
            f"{ctx.unknown_text()}, "
            f"{count['better']} ({T.people(n_of['better'], unit)}) found a {sig}{o.direction} in "
            f"{o.phrase} (better), {count['worse']} ({T.count(n_of['worse'])}) a {sig}{worse_way} "
            f"(worse) and {count['neither']} ({T.count(n_of['neither'])}) neither")
    if k == 1:
        return _single_study(ctx, strength, classes[0], sig)
    for c, side in (("better", 1), ("worse", -1)):
        if majority(count[c], n_of[c]):
            all_of = count[c] == k and k >= p.vote_consistent_min_studies
            every = all_of and p.vote_consistent_allowed
            what = "a benefit" if side > 0 else "harm"
            why = (f"Every study shows {what}." if every else
                   f"A majority of both the studies and the {unit} are in studies showing {what}.")
            if all_of and not every:
                why = (f"Every study shows {what}, but without a pooled model there is no "
                       "prediction interval to show that it is consistent across settings.")
            return _SIDE_CODES[side * (2 if every else 1)], f"{head}. {why}"
    precise = [_precise_null(s.ci_lower, s.ci_upper, ctx.sie) for s in studies]
    k_p = sum(precise)
    n_p = sum(_n(s) for s, x in zip(studies, precise, strict=True) if x)
    kind = _null_kind(ctx, strength, majority(k_p, n_p))
    none = f"No direction has a majority of both the studies and the {unit}"
    held = (f"a majority of both ({T.studies(k_p)}, {T.people(n_p, unit)}) are in studies whose "
            f"confidence interval rules out {_beyond(ctx)}") if kind in ("no-effect", "weak") else ""
    why = {
        "no-sie": lambda: f"{none}; {_no_sie(ctx)}, so no study can rule out an effect that matters.",
        "no-effect": lambda: f"{none}; {held}, and {_strength_is(ctx, strength)}.",
        "weak": lambda: f"{none}; {held}, but {_strength_below(ctx, strength)}.",
        "imprecise": lambda: f"{none}, and no majority of both is in studies precise enough to rule out "
                     f"{_as_large(ctx)}.",
    }[kind]()
    return _NULL_CODES[kind], f"{head}. {why}"


def _single_study(ctx: _Context, strength: int, found: str, sig: str) -> tuple[str, str]:
    study, o = ctx.eligible[0], ctx.inputs.outcome
    worse_way = "decrease" if o.direction == "increase" else "increase"
    precise = _precise_null(study.ci_lower, study.ci_upper, ctx.sie)
    result = {"better": f"a {sig}{o.direction} in {o.phrase} (better)",
              "worse": f"a {sig}{worse_way} in {o.phrase} (worse)",
              "neither": "no effect larger than the smallest important effect" if precise
              else f"no {sig}effect"}[found]
    size = (f"with {T.people(study.n, ctx.unit)}" if study.n is not None else
            "of unreported size")
    head = f"no meta-analysis was possible; a single study {size} found {result}"
    if found != "neither":
        side = 1 if found == "better" else -1
        return _SIDE_CODES[side], (f"{head}. One study can show {'a benefit' if side > 0 else 'harm'}"
                                   " but not that it is consistent.")
    kind = _null_kind(ctx, strength, precise)
    why = {
        "no-sie": lambda: f"{_no_sie(ctx)[0].upper()}{_no_sie(ctx)[1:]}, so it cannot rule out an effect "
                  "that matters.",
        "no-effect": lambda: f"Its confidence interval rules out {_beyond(ctx)}, and "
                     f"{_strength_is(ctx, strength)}.",
        "weak": lambda: f"Its confidence interval rules out {_beyond(ctx)}, but "
                f"{_strength_below(ctx, strength)}.",
        "imprecise": lambda: f"Its result does not rule out {_as_large(ctx)}.",
    }[kind]()
    return _NULL_CODES[kind], f"{head}. {why}"


def _no_evidence_text(ctx: _Context) -> str:
    designs = [DESIGN_NAMES.get(d, d) for d in ctx.p.design_start]
    listed = ", ".join(designs[:-1]) + (" or " if len(designs) > 1 else "") + designs[-1]
    text = f"no study of an eligible design ({listed}) has measured {ctx.inputs.outcome.phrase} yet."
    if ctx.excluded:
        text += f" Not rated: {_other_designs(ctx.excluded)}."
    return text


def _other_designs(items) -> str:
    return "1 study of another design" if len(items) == 1 else f"{len(items)} studies of other designs"


def _were(items) -> str:
    return "was" if len(items) == 1 else "were"


# --- strength of evidence ------------------------------------------------------------------------

def _no_evidence_strength(ctx: _Context) -> str:
    label = ctx.scheme.strength_level(0).label.lower()
    return f"Strength of evidence {label}: there is no rigorous study to rate."


def _strength(ctx: _Context) -> tuple[int, list[str], str]:
    p, studies, unit = ctx.p, ctx.eligible, ctx.unit
    weight = {id(s): w for s, w in zip(studies, _weights(studies), strict=True)}
    total = sum(weight.values())
    ranked = sorted(studies, key=lambda s: -p.design_start[s.design])
    cumulative, start = 0, 0
    for s in ranked:
        cumulative += weight[id(s)]
        if cumulative / total >= p.design_start_share:
            start = p.design_start[s.design]
            break
    top = [s for s in studies if p.design_start[s.design] >= start]
    names = []
    for s in ranked:
        name = DESIGN_PLURALS.get(s.design, s.design)
        if s in top and name not in names:
            names.append(name)
    label = ctx.scheme.strength_level
    share = sum(weight[id(s)] for s in top) / total
    if all(s.n is None for s in studies):
        of_whom = f"of the {T.studies(len(studies))}, none of which reported its size,"
    elif any(s.n is None for s in studies):
        of_whom = f"of the {T.people(total, unit)} in the studies that reported their size"
    else:
        of_whom = f"of the {T.people(total, unit)}"
    steps = [f"starts at {label(start).label.lower()} ({T.percent(share)} {of_whom} were in "
             f"{' or '.join(names)})"]
    downs = []

    high = sum(weight[id(s)] for s in studies if s.risk_of_bias == "high") / total
    not_low = sum(weight[id(s)] for s in studies if s.risk_of_bias != "low") / total
    if high > p.rob_very_serious_share:
        downs.append((2, f"risk of bias ({T.percent(high)} of {unit} in studies at high risk)"))
    elif not_low > p.rob_serious_share:
        downs.append((1, f"risk of bias ({T.percent(not_low)} of {unit} in studies at moderate or "
                         "high risk)"))

    amstar = ctx.inputs.review_amstar2
    if amstar is not None and p.amstar2_downgrade[amstar]:
        downs.append((p.amstar2_downgrade[amstar],
                      f"the source review (AMSTAR 2: {amstar.replace('-', ' ')})"))

    downs.extend(_inconsistency(ctx))
    downs.extend(_imprecision(ctx))
    if not ctx.meta and len(studies) == 1 and p.single_study_downgrade:
        downs.append((p.single_study_downgrade, "resting on a single study"))
    if ctx.inputs.publication_bias and p.publication_bias_downgrade:
        note = ctx.inputs.publication_bias_note
        downs.append((p.publication_bias_downgrade,
                      "suspected publication bias" + (f" ({note})" if note else "")))

    strength = max(0, min(4, start - sum(d for d, _ in downs)))
    steps += [f"down {d} for {why}" for d, why in downs]
    if ctx.excluded:
        steps.append(f"{_other_designs(ctx.excluded)} not rated")
    text = f"Strength of evidence {label(strength).label.lower()}: " + "; ".join(steps)
    if not downs:
        text += "; no downgrades"
    return strength, steps, text + "."


def _inconsistency(ctx: _Context) -> list[tuple[int, str]]:
    p = ctx.p
    if not ctx.meta and p.vote_inconsistency == "classification":
        classes = {_classify(ctx, s) for s in ctx.eligible}
        if {"better", "worse"} <= classes:
            return [(1, "inconsistency (some studies show a benefit and others harm)")]
        return []
    if not ctx.meta:
        sig = [s.direction for s in ctx.eligible if s.significant and s.direction != "none"]
        if "increase" in sig and "decrease" in sig:
            return [(1, "inconsistency (studies found statistically significant effects in "
                        "opposite directions)")]
        return []
    s = ctx.s
    pi_excludes, by_prob, _ = _direction_consistent(ctx)
    consistent = pi_excludes or by_prob
    ci_excludes = s.ci_lower > 0 or s.ci_upper < 0
    i2_text = "" if s.i2 is None else f"I\u00b2 = {s.i2:.0f}%, {p.i2_word(s.i2)}"
    varies = ("no prediction interval" if s.prediction_interval() is None else
              "the prediction interval includes no effect")
    if s.i2 is not None and s.i2 >= p.i2_very_serious and not consistent:
        return [(2, f"inconsistency ({i2_text}; {varies})")]
    reasons = []
    if s.i2 is not None and s.i2 >= p.i2_serious:
        reasons.append(i2_text)
    if ci_excludes and not consistent:
        reasons.append(varies)
    return [(1, f"inconsistency ({'; '.join(reasons)})")] if reasons else []


def _imprecision(ctx: _Context) -> list[tuple[int, str]]:
    p, n, unit = ctx.p, ctx.total_n, ctx.unit
    down, reasons = 0, []
    if all(s.n is None for s in ctx.eligible):
        down = 1
        reasons.append("no study reported its size")
    elif n < p.imprecision_n_very_serious:
        down = 2
        reasons.append(f"{T.people(n, unit)} in all{ctx.unknown_text()}, fewer than "
                       f"{T.count(p.imprecision_n_very_serious)}")
    elif n < p.imprecision_n_serious:
        down = 1
        reasons.append(f"{T.people(n, unit)} in all{ctx.unknown_text()}, fewer than "
                       f"{T.count(p.imprecision_n_serious)}")
    if ctx.meta and ctx.sie is not None and ctx.s.ci_lower < -ctx.sie and ctx.s.ci_upper > ctx.sie:
        down = max(down, 1)
        reasons.append("the confidence interval includes both an important benefit and an "
                       "important harm")
    elif not ctx.meta and p.imprecision_all_paths and ctx.sie is not None:
        spans = [s.ci_lower is not None and s.ci_lower < -ctx.sie and s.ci_upper > ctx.sie
                 for s in ctx.eligible]
        if all(spans):
            down = max(down, 1)
            reasons.append("the study's confidence interval includes both an important benefit and "
                           "an important harm" if len(spans) == 1 else "every study's confidence "
                           "interval includes both an important benefit and an important harm")
    return [(down, f"imprecision ({'; '.join(reasons)})")] if down else []


# --- history -------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class RatingChange(Result):
    """One line of a rating's history: when, why, and the old and new levels."""

    date: str
    reason: str
    outcome: str
    old_effectiveness: int | None
    old_effectiveness_label: str | None
    new_effectiveness: int | None
    new_effectiveness_label: str
    old_strength: int | None
    old_strength_label: str | None
    new_strength: int
    new_strength_label: str
    old_scheme: str | None
    new_scheme: str
    changed: bool
    text: str

    def summary_text(self) -> str:
        return self.text


def explain_change(old: Rating | None, new: Rating, *, date: str | _date, reason: str) -> RatingChange:
    """A history line for a rating that was (re)computed; ``old`` is None for the first rating.

    ``date`` is supplied by the caller (an ISO date string or a ``datetime.date``), so the core
    never reads the clock.
    """
    if isinstance(date, _date):
        date = date.isoformat()
    if not isinstance(date, str) or not date:
        raise ParameterError("date", date, "an ISO date such as '2026-03-01' or a datetime.date")
    if not isinstance(reason, str) or not reason.strip():
        raise ParameterError("reason", reason, "a short description of what changed")
    if old is not None and old.outcome != new.outcome:
        raise ParameterError("old", old.outcome, f"a rating of the same outcome ({new.outcome})")
    reason = reason.strip().rstrip(".")
    scheme = f"{new.scheme_id} {new.scheme_version}"

    def eff(r: Rating) -> str:
        return f"{r.effectiveness_label.lower()} ({T.level(r.effectiveness)})"

    if old is None:
        text = (f"{date}: first rated: overall effectiveness {eff(new)}; strength of evidence "
                f"{new.strength_label.lower()}. Reason: {reason}. Rules: {scheme}.")
        changed = True
    else:
        old_scheme = f"{old.scheme_id} {old.scheme_version}"
        e_same = old.effectiveness_code == new.effectiveness_code
        s_same = old.strength == new.strength
        e = (f"overall effectiveness unchanged, {eff(new)}" if e_same else
             f"overall effectiveness {eff(old)} \u2192 {eff(new)}")
        s = (f"strength of evidence unchanged, {new.strength_label.lower()}" if s_same else
             f"strength of evidence {old.strength_label.lower()} \u2192 {new.strength_label.lower()}")
        rules = scheme if old_scheme == scheme else f"{old_scheme} \u2192 {scheme}"
        text = f"{date}: {e}; {s}. Reason: {reason}. Rules: {rules}."
        changed = not (e_same and s_same)
    return RatingChange(
        date=date, reason=reason, outcome=new.outcome,
        old_effectiveness=None if old is None else old.effectiveness,
        old_effectiveness_label=None if old is None else old.effectiveness_label,
        new_effectiveness=new.effectiveness, new_effectiveness_label=new.effectiveness_label,
        old_strength=None if old is None else old.strength,
        old_strength_label=None if old is None else old.strength_label,
        new_strength=new.strength, new_strength_label=new.strength_label,
        old_scheme=None if old is None else f"{old.scheme_id} {old.scheme_version}",
        new_scheme=scheme, changed=changed, text=text)
