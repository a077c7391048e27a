"""Synthesis without meta-analysis: vote counting based on the direction of effect, with the sign
test, and the effect direction plot.

When the studies of a review cannot be pooled (different measures, no variances, estimates not
reported), SWiM (Campbell et al. 2020, item 4) and the Cochrane Handbook (McKenzie & Brennan 2023,
section 12.2.2.5) name vote counting based on the direction of effect as an acceptable method: each
study is classed by the direction of its observed effect alone, whatever its statistical
significance, and the number of studies favouring the intervention is compared with the number
favouring the comparator by a sign test (a two-sided exact binomial test of a proportion of 0.5),
with a confidence interval for the proportion (Wilson's score interval). It answers "is there any
evidence of an effect?", not "how large is it?": every study weighs alike, whatever its size or
precision, and the output says so.

The input is the ``narrative_synthesis`` extraction template's sheet (one row per study and
outcome; :mod:`whatworks.review.extraction`). Where a study reports several outcomes in one outcome
domain, its direction in that domain follows the effect direction plot's rule (Thomson & Thomas
2013; Boon & Thomson 2021): the direction at least 70% of its outcomes share, else "mixed". Only
studies favouring the intervention or the comparator enter the sign test; those showing no clear
difference, mixed or unclear results are counted and named, not tested.

The effect direction plot (Boon & Thomson 2021) shows one row per study and one column per outcome
domain: an upward triangle where the study favours the intervention, a downward one where it
favours the comparator, a sideways pair for no clear difference or mixed results, a question mark
where the direction is unclear; the triangle's size says the study's sample size (large: 300 or
more, medium: 50 to 299, small: under 50), and the row's shade its risk of bias.

References
----------
Campbell M, McKenzie JE, Sowden A, et al. (2020). Synthesis without meta-analysis (SWiM) in
systematic reviews: reporting guideline. *BMJ* 368:l6890.
McKenzie JE, Brennan SE (2023). Chapter 12: Synthesizing and presenting findings using other
methods. In Higgins JPT et al. (eds), *Cochrane Handbook for Systematic Reviews of Interventions*
version 6.4.
Thomson HJ, Thomas S (2013). The effect direction plot: visual display of non-standardised effects
across multiple outcome domains. *Research Synthesis Methods* 4(1):95-101.
Boon MH, Thomson H (2021). The effect direction plot revisited: application of the 2019 Cochrane
Handbook guidance on alternative synthesis methods. *Research Synthesis Methods* 12(1):29-33.
Wilson EB (1927). Probable inference, the law of succession, and statistical inference. *Journal
of the American Statistical Association* 22:209-212.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from whatworks.errors import ParameterError

__all__ = ["DIRECTIONS", "METHOD", "STUDY_SHARE", "DomainVote", "EstimateSummary", "SignTest",
           "StudyDirection", "effect_direction_plot", "format_p", "sign_test", "study_direction",
           "summarise_estimates", "vote_count", "with_rob2"]

FAVOURS_INTERVENTION, FAVOURS_COMPARATOR = "favours intervention", "favours comparator"
NO_CLEAR, MIXED, UNCLEAR = "no clear difference", "mixed", "unclear"
#: The directions a study can have in an outcome domain (the template's choices), in the order the
#: tables show them.
DIRECTIONS = (FAVOURS_INTERVENTION, FAVOURS_COMPARATOR, NO_CLEAR, MIXED, UNCLEAR)
#: The share of a study's outcomes in a domain that must agree for the study to take their
#: direction there (Thomson & Thomas 2013); otherwise the study's direction is mixed.
STUDY_SHARE = 0.70
#: Risk-of-bias judgements from the least to the most serious; a study's judgement in a domain is
#: the most serious of its outcomes' (not assessed only when none was assessed).
RISK_ORDER = ("not assessed", "low", "some concerns", "high")
#: Sample-size bands of the plot's triangles (Boon & Thomson 2021).
SIZE_BANDS = ((300, "large"), (50, "medium"), (0, "small"))
METHOD = ("Vote counting based on the direction of effect (Cochrane Handbook 12.2.2.5; SWiM item 4): "
          "each study counts once per outcome domain, in the direction at least 70% of its "
          "outcomes there share (else mixed); the studies favouring the intervention are compared "
          "with those favouring the comparator by a sign test (two-sided exact binomial test of "
          "0.5), with Wilson's 95% interval for the proportion. It shows whether there is evidence "
          "of an effect, not how large it is: every study weighs alike, whatever its size. Where "
          "the sheet gives effect estimates, their median, interquartile range and range are given "
          "per metric, one estimate per study (Cochrane Handbook 12.2.2.1); they assume the "
          "estimates of a metric are oriented alike (the same sign, the same direction).")


def study_direction(directions: Iterable[str], share: float = STUDY_SHARE) -> str:
    """A study's direction in an outcome domain from its outcomes' directions there: the one at
    least ``share`` of the outcomes with a known direction have, else ``mixed``; ``unclear`` when
    no outcome's direction is known."""
    known = [d for d in directions if d != UNCLEAR]
    if not known:
        return UNCLEAR
    counts = Counter(known)
    for d in (FAVOURS_INTERVENTION, FAVOURS_COMPARATOR, NO_CLEAR, MIXED):
        # counts in whole numbers: 7 of 10 is 70% exactly, whatever the float
        if counts[d] * 1000 >= round(share * 1000) * len(known):
            return d
    return MIXED


@dataclass(frozen=True)
class SignTest:
    """``favouring`` of ``n`` studies with a clear direction favour the intervention: the
    proportion, its Wilson interval and the two-sided exact binomial p-value against 0.5."""

    favouring: int
    n: int
    proportion: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95


def sign_test(favouring: int, n: int, confidence: float = 0.95) -> SignTest | None:
    """The sign test of ``favouring`` out of ``n`` (None when ``n`` is 0: there is nothing to
    test)."""
    if not 0 <= favouring <= n:
        raise ParameterError("favouring", favouring, f"a count from 0 to n = {n}")
    if not 0 < confidence < 1:
        raise ParameterError("confidence", confidence, "a level between 0 and 1, e.g. 0.95")
    if n == 0:
        return None
    from scipy.stats import binomtest

    result = binomtest(favouring, n, 0.5)
    ci = result.proportion_ci(confidence_level=confidence, method="wilson")
    return SignTest(favouring, n, favouring / n, float(ci.low), float(ci.high),
                    float(result.pvalue), confidence)


@dataclass(frozen=True)
class EstimateSummary:
    """The effect estimates of one metric in one outcome domain, one per study (a study giving
    several takes their median): how many studies, the median, the quartiles (R's default
    definition, type 7) and the range (Cochrane Handbook 12.2.2.1)."""

    metric: str
    studies: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    def sentence(self, domain: str) -> str:
        if self.studies == 1:
            return f"{domain}, {self.metric} (1 study): {_num(self.median)}."
        return (f"{domain}, {self.metric} ({self.studies} studies): median {_num(self.median)} "
                f"(interquartile range {_num(self.q1)} to {_num(self.q3)}; range "
                f"{_num(self.minimum)} to {_num(self.maximum)}).")

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "studies": self.studies, "median": self.median, "q1": self.q1,
                "q3": self.q3, "min": self.minimum, "max": self.maximum}


def summarise_estimates(values: Iterable[float], metric: str) -> EstimateSummary:
    """Median, quartiles (linear interpolation: R's type 7) and range of one estimate per study."""
    import numpy as np

    x = np.asarray(list(values), dtype=float)
    if x.size == 0 or not np.isfinite(x).all():
        raise ParameterError("values", list(x), "one or more finite effect estimates")
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return EstimateSummary(metric, int(x.size), float(median), float(q1), float(q3),
                           float(x.min()), float(x.max()))


@dataclass(frozen=True)
class StudyDirection:
    """A study in one outcome domain: its direction there, how many of its outcomes went each way,
    its largest sample size and its most serious risk of bias."""

    study_id: str
    direction: str
    outcomes: dict[str, int]
    sample_size: int | None
    risk_of_bias: str | None

    @property
    def size_band(self) -> str | None:
        if self.sample_size is None:
            return None
        return next(name for low, name in SIZE_BANDS if self.sample_size >= low)

    def to_dict(self) -> dict[str, Any]:
        return {"study_id": self.study_id, "direction": self.direction,
                "outcomes": dict(self.outcomes), "sample_size": self.sample_size,
                "size_band": self.size_band, "risk_of_bias": self.risk_of_bias}


@dataclass(frozen=True)
class DomainVote:
    """Vote counting in one outcome domain (within one synthesis group, when the sheet has them)."""

    grouping: str | None
    outcome_domain: str
    studies: tuple[StudyDirection, ...]
    estimates: tuple[EstimateSummary, ...] = ()  # per effect metric, where the sheet gives them

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(s.direction for s in self.studies)
        return {d: c[d] for d in DIRECTIONS}

    @property
    def test(self) -> SignTest | None:
        c = self.counts
        return sign_test(c[FAVOURS_INTERVENTION], c[FAVOURS_INTERVENTION] + c[FAVOURS_COMPARATOR])

    @property
    def name(self) -> str:
        return self.outcome_domain + (f" ({self.grouping})" if self.grouping else "")

    def sentence(self) -> str:
        """The finding in words, each number as the table gives it."""
        c, t = self.counts, self.test
        rest = c[NO_CLEAR] + c[MIXED] + c[UNCLEAR]
        tail = (f"; {rest} {_studies(rest)} with no clear difference, mixed or unclear results "
                f"{'are' if rest > 1 else 'is'} not in the sign test" if rest else "")
        if t is None:
            return f"{self.name}: no study shows a clear direction, so there is no sign test{tail}."
        return (f"{self.name}: {t.favouring} of {t.n} {_studies(t.n)} with a clear direction "
                f"{'favours' if t.n == 1 else 'favour'} the intervention ({_percent(t.proportion)}, "
                f"95% CI {_percent(t.ci_low)} to {_percent(t.ci_high)}; sign test "
                f"{format_p(t.p_value)}){tail}.")

    def to_dict(self) -> dict[str, Any]:
        t = self.test
        return {"grouping": self.grouping, "outcome_domain": self.outcome_domain,
                "studies": len(self.studies), **{d.replace(" ", "_"): n for d, n in self.counts.items()},
                "with_direction": 0 if t is None else t.n,
                "proportion_favouring_intervention": None if t is None else t.proportion,
                "ci_low": None if t is None else t.ci_low, "ci_high": None if t is None else t.ci_high,
                "sign_test_p": None if t is None else t.p_value, "sentence": self.sentence(),
                "estimates": [{**e.to_dict(), "sentence": e.sentence(self.name)}
                              for e in self.estimates],
                "per_study": [s.to_dict() for s in self.studies]}


def vote_count(entries: Iterable[Mapping[str, Any]], share: float = STUDY_SHARE) -> list[DomainVote]:
    """Vote counting by outcome domain (and synthesis group, where entries give ``grouping``) from
    the ``narrative_synthesis`` template's entries (validated: ``study_id``, ``outcome_domain`` and
    ``direction_of_effect`` present). Domains and studies keep the order they first appear in."""
    if not 0.5 < share <= 1:
        raise ParameterError("share", share, "a share above 0.5 and at most 1 (the default is 0.7)")
    cells: dict[tuple[str | None, str], dict[str, list[Mapping[str, Any]]]] = {}
    in_order: dict[tuple[str | None, str], list[Mapping[str, Any]]] = {}  # the cell's rows, in order
    for e in entries:
        key = (e.get("grouping") or None, e.get("outcome_domain") or "(not given)")
        cells.setdefault(key, {}).setdefault(str(e["study_id"]), []).append(e)
        in_order.setdefault(key, []).append(e)
    out = []
    for (group, domain), by_study in cells.items():
        studies = []
        for study, rows in by_study.items():
            sizes = [int(r["sample_size"]) for r in rows if r.get("sample_size") is not None]
            risks = [r["risk_of_bias"] for r in rows if r.get("risk_of_bias") in RISK_ORDER]
            directions = [r["direction_of_effect"] for r in rows]
            studies.append(StudyDirection(
                study, study_direction(directions, share),
                {d: n for d, n in Counter(directions).items()},
                max(sizes) if sizes else None,
                max(risks, key=RISK_ORDER.index) if risks else None))
        out.append(DomainVote(group, domain, tuple(studies), _estimates(in_order[group, domain])))
    return out


def _estimates(rows: list[Mapping[str, Any]]) -> tuple[EstimateSummary, ...]:
    """One summary per effect metric: each study's estimate (the median of its own, when it gives
    several in the domain for that metric), metrics in the order the rows first give them."""
    import numpy as np

    per_metric: dict[str, dict[str, list[float]]] = {}  # metric -> study -> estimates
    for r in rows:
        if r.get("effect_estimate") is not None:
            metric = r.get("effect_metric") or "(metric not given)"
            per_metric.setdefault(metric, {}).setdefault(str(r["study_id"]), []).append(
                float(r["effect_estimate"]))
    return tuple(summarise_estimates([float(np.median(v)) for v in studies.values()], m)
                 for m, studies in per_metric.items())


def with_rob2(entries: Iterable[Mapping[str, Any]],
              assessments) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries with ``risk_of_bias`` taken from RoB 2 assessments
    (:class:`~.appraisal.Rob2Assessment`): a row's study_id names its assessment; where a study has
    several, the one whose ``result`` is the row's outcome_measure or outcome_domain. A row whose
    own risk_of_bias disagrees with its assessment, or whose study has several assessments and none
    for its outcome, is an :class:`InputError` naming the row (from 1); a row whose study has no
    assessment keeps its own value."""
    from whatworks.errors import InputError

    by_study: dict[str, list] = {}
    for a in assessments:
        by_study.setdefault(str(a.study_id), []).append(a)
    out, notes = [], []
    for k, e in enumerate(entries, start=1):
        found = by_study.get(str(e["study_id"]), [])
        if len(found) > 1:
            wanted = {e.get("outcome_measure"), e.get("outcome_domain")} - {None}
            found = [a for a in found if a.result in wanted]
            if len(found) != 1:
                raise InputError(
                    f"study {e['study_id']!r} has several RoB 2 results ("
                    + ", ".join(repr(a.result) for a in by_study[str(e['study_id'])][:4])
                    + ") and " + ("none" if not found else "more than one")
                    + " is this row's outcome_measure or outcome_domain; name the result after "
                      "the outcome it judges", row=k, column="risk_of_bias")
        if not found:
            out.append(dict(e))
            continue
        own = e.get("risk_of_bias")
        if own not in (None, "not assessed") and own != found[0].overall:
            raise InputError(f"the sheet says {own!r} but RoB 2 judges study {e['study_id']!r} "
                             f"{found[0].overall!r} ({found[0].label}); keep one of them",
                             row=k, column="risk_of_bias")
        wanted = {e.get("outcome_measure"), e.get("outcome_domain")} - {None}
        if found[0].result is not None and found[0].result not in wanted:
            notes.append(f"row {k} ({e['study_id']}, {e.get('outcome_domain')}): RoB 2 of "
                         f"{found[0].result!r}, the study's only assessment")
        out.append({**e, "risk_of_bias": found[0].overall})
    return out, notes


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}" if p < 0.1 else f"p = {p:.2f}"


def _num(x: float) -> str:
    return f"{x:.3g}"


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def _studies(n: int) -> str:
    return "study" if n == 1 else "studies"


def effect_direction_plot(votes: list[DomainVote]):
    """The effect direction plot (Boon & Thomson 2021) as a matplotlib figure: a row per study, a
    column per outcome domain (per synthesis group and domain, when there are groups), a symbol
    for the study's direction there sized by its sample size, rows shaded by risk of bias, and the
    sign test under each column."""
    import textwrap

    from matplotlib.patches import Patch, Rectangle

    from whatworks.synthesis.plots import inch_canvas

    studies: list[str] = []
    for v in votes:
        studies += [s.study_id for s in v.studies if s.study_id not in studies]
    risk: dict[str, str | None] = {}
    for v in votes:
        for s in v.studies:
            if s.risk_of_bias is not None and (risk.get(s.study_id) is None or RISK_ORDER.index(
                    s.risk_of_bias) > RISK_ORDER.index(risk[s.study_id] or "not assessed")):
                risk[s.study_id] = s.risk_of_bias
    shade = {"low": "#d9ead3", "some concerns": "#fff2cc", "high": "#f4cccc", "not assessed": "#eeeeee"}
    sizes = {"large": 15, "medium": 11, "small": 7, None: 11}
    label_w, col_w, row_h = 2.6, 1.25, 0.32
    # column headings wrapped to the column (about 20 characters at 7.5 pt), the group first
    headings = [textwrap.wrap(f"{v.grouping}: {v.outcome_domain}" if v.grouping else
                              v.outcome_domain, 20) or [""] for v in votes]
    extra = 0.13 * max(len(h) - 1 for h in headings) if headings else 0.0
    width = max(7.0, label_w + col_w * max(len(votes), 1) + 0.3)
    height = row_h * (len(studies) + 4) + 1.0 + 2 * extra
    fig, ax = inch_canvas(width, height)
    top = height - 0.35
    ax.text(width / 2, top, "Effect direction plot", ha="center", va="center", fontsize=11,
            weight="bold")
    header_y = top - 0.45 - extra
    ax.text(0.15, header_y, "Study (risk of bias)", ha="left", va="center", fontsize=8.5, weight="bold")
    for k, lines in enumerate(headings):
        ax.text(label_w + col_w * (k + 0.5), header_y, "\n".join(lines), ha="center",
                va="center", fontsize=7.5, weight="bold")
    by_domain = [{s.study_id: s for s in v.studies} for v in votes]
    for r, study in enumerate(studies):
        y = header_y - row_h * (r + 1.3)
        rob = risk.get(study)
        ax.add_patch(Rectangle((0.1, y - row_h / 2), width - 0.2, row_h, fc=shade[rob or "not assessed"],
                               ec="none"))
        ax.text(0.15, y, f"{study} ({rob or 'not assessed'})", ha="left", va="center", fontsize=8)
        for k, cells in enumerate(by_domain):
            s = cells.get(study)
            if s is None:
                continue
            x = label_w + col_w * (k + 0.5)
            size = sizes[s.size_band]
            if s.direction == FAVOURS_INTERVENTION:
                ax.plot([x], [y], marker="^", markersize=size, color="black", linestyle="none")
            elif s.direction == FAVOURS_COMPARATOR:
                ax.plot([x], [y], marker="v", markersize=size, color="black", linestyle="none")
            elif s.direction in (NO_CLEAR, MIXED):
                ax.plot([x - size / 110], [y], marker="<", markersize=size * 0.8, color="black",
                        linestyle="none")
                ax.plot([x + size / 110], [y], marker=">", markersize=size * 0.8, color="black",
                        linestyle="none")
            else:
                ax.text(x, y, "?", ha="center", va="center", fontsize=10)
    y = header_y - row_h * (len(studies) + 1.5)
    ax.text(0.15, y, "Sign test", ha="left", va="center", fontsize=8, weight="bold")
    for k, v in enumerate(votes):
        t = v.test
        text = "no clear\ndirection" if t is None else f"{t.favouring}/{t.n}\n{format_p(t.p_value)}"
        ax.text(label_w + col_w * (k + 0.5), y, text, ha="center", va="center", fontsize=7.5)
    handles = [Patch(fc=shade[k], ec="grey", label=f"risk of bias: {k}") for k in
               ("low", "some concerns", "high", "not assessed")]
    ax.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False,
              bbox_to_anchor=(0.5, 0.0))
    ax.text(width / 2, 0.42, "▲ favours intervention   ▼ favours comparator   ◄► no clear difference "
            "or mixed   ? unclear;  size: sample ≥300 / 50-299 / <50",
            ha="center", va="center", fontsize=7)
    return fig
