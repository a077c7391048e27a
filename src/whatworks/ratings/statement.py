"""A plain-language statement of what a rating's numbers mean for the people in the studies.

- Binary outcomes (risk ratio, odds ratio, risk difference) with a known comparison-group risk:
  natural frequencies, "about 24 in 100 children with the intervention, against 40 in 100
  without", the comparison-group risk being the median of the studies' control groups (shown).
- Standardised mean differences: Cohen's U3, the share of the comparison group the average
  person with the intervention does better than (50% is no difference); for educational
  outcomes also the EEF's months' progress.
- "Better" or "worse" is read from the outcome's direction, and said only when the confidence
  interval excludes no effect; otherwise the statement says the studies cannot tell.

References
----------
Gigerenzer G, Hoffrage U (1995). How to improve Bayesian reasoning without instruction: frequency
    formats. Psychological Review 102:684-704. (natural frequencies)
Schünemann HJ, Vist GE, Higgins JPT, et al. (2023). Chapter 15: Interpreting results and drawing
    conclusions, section 15.4.4 (absolute effects from a ratio and an assumed comparator risk).
    Cochrane Handbook 6.4.
Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed., section 2.2 (U3).
Education Endowment Foundation (2018). Sutton Trust-EEF Teaching and Learning Toolkit & EEF Early
    Years Toolkit: Technical appendix and process manual, table of effect size to months' progress.
"""

from __future__ import annotations

import math
from statistics import NormalDist, median

from . import _text as T
from .framework import Outcome
from .rate import Rating

#: EEF Toolkit conversion: the smallest effect size (absolute) for each month of progress, 1..12.
EEF_MONTHS = ((0.02, 1), (0.10, 2), (0.19, 3), (0.27, 4), (0.36, 5), (0.45, 6), (0.53, 7),
              (0.62, 8), (0.70, 9), (0.79, 10), (0.88, 11), (0.96, 12))

_SINGULAR = T.SINGULAR


def months_progress(smd: float) -> int:
    """Months' additional progress for an effect size (EEF Toolkit table; sign kept)."""
    months = 0
    for bound, m in EEF_MONTHS:
        if abs(smd) >= bound - 1e-12:
            months = m
    return months if smd >= 0 else -months


def _risk_with(p0: float, effect: float, measure: str) -> float:
    """The intervention group's risk for comparison risk ``p0`` and an effect (analysis scale)."""
    if measure == "RR":
        return min(1.0, p0 * math.exp(effect))
    if measure in ("OR", "PETO"):
        odds = p0 / (1 - p0) * math.exp(effect)
        return odds / (1 + odds)
    return min(1.0, max(0.0, p0 + effect))     # RD


def _per_100(p: float) -> str:
    x = 100 * p
    return f"{x:.0f}" if x >= 1 or x == 0 else f"{x:.1f}"


def _verdict(lo: float, hi: float, sign: int) -> str:
    """'better' / 'worse' when the interval excludes no effect; else that the studies cannot tell."""
    lo, hi = sorted((sign * lo, sign * hi))
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return ""


def plain_statement(*, rating: Rating, outcome: Outcome, measure: str | None,
                    synthesis: dict | None, single: tuple[float, float] | None,
                    control_risks: list[float], educational: bool, k: int) -> str:
    """The statement for one rating (see the module docstring)."""
    if rating.effectiveness is None:
        return (f"No study of a design we rate has measured {outcome.phrase} yet; this says nothing "
                "about whether the intervention works.")
    unit = outcome.unit
    better = "fewer" if outcome.direction == "decrease" else "more"
    sign = 1 if outcome.direction == "increase" else -1
    name = outcome.name[:1].upper() + outcome.name[1:]
    if synthesis is not None:
        est, lo, hi = synthesis["estimate"], synthesis["ci_lower"], synthesis["ci_upper"]
        source = f"pooled across {T.studies(synthesis['k'])}"
    elif single is not None:
        est, var = single
        half = NormalDist().inv_cdf(0.975) * math.sqrt(var)
        lo, hi = est - half, est + half
        source = "from the one study"
    else:
        return (f"The {T.studies(k)} measured {outcome.phrase} in ways that could not be combined "
                "into one number; see the explanation for what each found.")
    side = _verdict(lo, hi, sign)
    # the words follow the rating, so the statement can never contradict it
    if rating.effectiveness and side == ("better" if rating.effectiveness > 0 else "worse"):
        tail = f" For {outcome.phrase}, {better} is better, so this is {side}."
    elif side:
        tail = (" The difference is clear but, as the rating explains, too small to matter or not "
                "enough to rate.")
    else:
        tail = (f" The interval includes no difference, so the studies cannot tell whether "
                f"{outcome.phrase} is better or worse with the intervention.")
    if measure in ("RR", "OR", "PETO", "RD") and control_risks:
        p0 = median(control_risks)
        with_, low, high = (_risk_with(p0, x, measure) for x in (est, lo, hi))
        low, high = sorted((low, high))
        risk = ("the risk in the study's comparison group" if len(control_risks) == 1 else
                f"the comparison-group risk is the median of the {T.studies(len(control_risks))} "
                "that reported it")
        return (f"{name}: about {_per_100(with_)} in 100 {unit} with the intervention, "
                f"against {_per_100(p0)} in 100 without it ({source}; {risk}); somewhere "
                f"between {_per_100(low)} and {_per_100(high)} in 100 with it.{tail}")
    if measure in ("SMD", "SMDH"):
        one = _SINGULAR.get(unit, "person")
        u3 = [NormalDist().cdf(sign * x) for x in (est, lo, hi)]
        text = (f"{name}: the average {one} with the intervention did better than "
                f"{T.percent(u3[0])} of {unit} without it (50% would mean no difference; Cohen's "
                f"U3, {source}); somewhere between {T.percent(min(u3[1:]))} and "
                f"{T.percent(max(u3[1:]))}.")
        if educational:
            m = months_progress(sign * est)
            text += (f" In the EEF's terms that is about {abs(m)} month{'s' if abs(m) != 1 else ''}"
                     f" of {'additional' if m >= 0 else 'less'} progress.")
        return text + tail
    ratio = measure in ("RR", "OR", "PETO", "IRR", "ROM", "HR")
    effect = {"RR": "risk ratio", "OR": "odds ratio", "IRR": "rate ratio", "ROM": "ratio of means",
            "HR": "hazard ratio", "MD": "mean difference", "RD": "risk difference",
            "PETO": "odds ratio"}.get(measure or "", measure or "effect")
    what = ("; no comparison-group risk is known (give 2x2 counts: ci with n2i, or ci and di), so "
            "it cannot be shown as a number in 100" if measure in ("RR", "OR", "PETO", "RD") else "")
    return (f"{name}: {effect} {T.number(est, ratio=ratio)} ({source}; 95% CI "
            f"{T.interval(lo, hi, ratio=ratio)}){what}.{tail}")
