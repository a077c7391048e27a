"""Risk-of-bias appraisal of a randomised trial's result with RoB 2: the signalling questions, the
published algorithms that suggest each domain's judgement, and the overall judgement.

RoB 2 (Sterne et al. 2019; the full guidance: Higgins et al. 2019) judges one numerical result of a
randomised trial in five domains -- the randomisation process, deviations from the intended
interventions, missing outcome data, measurement of the outcome, selection of the reported result
-- each from answers to its signalling questions: Y (yes), PY (probably yes), PN (probably no), N
(no), NI (no information) and, where the question is conditional, NA (not applicable). An
algorithm maps the answers to a suggested judgement: low risk of bias, some concerns, or high risk
of bias. Domain 2 has two versions, for the effect of assignment to the intervention (intention to
treat) and for the effect of adhering to it (per protocol).

The overall judgement is low when every domain is low, high when any is high, and otherwise some
concerns. The guidance lets reviewers judge a result high when several domains raise some
concerns "in a way that substantially lowers confidence in the result"; that is the reviewers'
rule, so it is an explicit option here (``high_when_concerns``), never a default. Reviewers may also
depart from a suggested judgement; a departure must carry its justification, and both the
suggestion and the final judgement are kept.

Every judgement comes with the path that led to it ("1.2 PY -> 1.1 Y -> 1.3 N: low"), naming the
answers it read; a question the path needs that is unanswered, or answered NA where the question
is not conditional there, is an error naming it.

References
----------
Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for assessing risk of bias in
randomised trials. *BMJ* 366:l4898.
Higgins JPT, Savović J, Page MJ, Sterne JAC, on behalf of the RoB 2 Development Group (2019).
*Revised Cochrane risk-of-bias tool for randomized trials (RoB 2): detailed guidance*, 22 August
2019. riskofbias.info.
McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization (robvis): an R package and Shiny web
app for visualizing risk-of-bias assessments. *Research Synthesis Methods* 12(1):55-61.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatworks.errors import InputError, ParameterError

__all__ = ["ANSWERS", "DIRECTIONS", "DOMAINS", "EFFECTS", "JUDGEMENTS", "QUESTIONS", "DomainJudgement",
           "Rob2Assessment", "assess_rob2", "normalise_answer", "overall_judgement", "summary_plot",
           "blank_table", "read_rob2_table", "restrictions", "traffic_light_plot"]

LOW, SOME, HIGH = "low", "some concerns", "high"
#: The judgements, from the least to the most serious (the store's and the templates' spelling).
JUDGEMENTS = (LOW, SOME, HIGH)
#: The answers to a signalling question.
ANSWERS = ("Y", "PY", "PN", "N", "NI", "NA")
_ANSWER_WORDS = {"y": "Y", "yes": "Y", "py": "PY", "probably yes": "PY", "pn": "PN",
                 "probably no": "PN", "n": "N", "no": "N", "ni": "NI", "no information": "NI",
                 "na": "NA", "not applicable": "NA", "n/a": "NA"}
YES, NO = frozenset({"Y", "PY"}), frozenset({"N", "PN"})
#: RoB 2's optional predicted direction of bias, per domain and overall.
DIRECTIONS = ("NA", "favours experimental", "favours comparator", "towards null", "away from null",
              "unpredictable")
#: The columns a table may give per domain and overall (d1_judgement, ..., overall_direction).
_PER_DOMAIN = ("judgement", "justification", "direction")

#: The effects domain 2 can be about.
EFFECTS = ("assignment", "adherence")

#: The domains, their names, in order.
DOMAINS = {
    "D1": "Randomisation process",
    "D2": "Deviations from the intended interventions",
    "D3": "Missing outcome data",
    "D4": "Measurement of the outcome",
    "D5": "Selection of the reported result",
}

#: The signalling questions (short wording) and the answers each allows, by effect of interest for
#: domain 2 (Higgins et al. 2019).
_ALL, _NO_NA, _NO_NI = frozenset(ANSWERS), frozenset(ANSWERS) - {"NA"}, frozenset(ANSWERS) - {"NI"}
_COMMON = {
    "1.1": ("Was the allocation sequence random?", _NO_NA),
    "1.2": ("Was the allocation sequence concealed until participants were enrolled and assigned?",
            _NO_NA),
    "1.3": ("Did baseline differences between groups suggest a problem with randomisation?", _NO_NA),
    "2.1": ("Were participants aware of their assigned intervention during the trial?", _NO_NA),
    "2.2": ("Were carers and people delivering the interventions aware of participants' assigned "
            "intervention?", _NO_NA),
    "3.1": ("Were data for this outcome available for all, or nearly all, participants randomised?",
            _NO_NA),
    "3.2": ("If not, is there evidence that the result was not biased by missing outcome data?",
            _NO_NI),
    "3.3": ("If not, could missingness in the outcome depend on its true value?", _ALL),
    "3.4": ("If so, is it likely that missingness in the outcome depended on its true value?", _ALL),
    "4.1": ("Was the method of measuring the outcome inappropriate?", _NO_NA),
    "4.2": ("Could measurement or ascertainment of the outcome have differed between groups?", _NO_NA),
    "4.3": ("Were outcome assessors aware of the intervention received by participants?", _ALL),
    "4.4": ("Could assessment of the outcome have been influenced by knowledge of the intervention "
            "received?", _ALL),
    "4.5": ("Is it likely that assessment of the outcome was influenced by knowledge of the "
            "intervention received?", _ALL),
    "5.1": ("Were the data analysed in accordance with a pre-specified analysis plan finalised "
            "before unblinded outcome data were available?", _NO_NA),
    "5.2": ("Is the result likely to have been selected from multiple eligible outcome "
            "measurements within the outcome domain?", _NO_NA),
    "5.3": ("Is the result likely to have been selected from multiple eligible analyses of the "
            "data?", _NO_NA),
}
QUESTIONS: dict[str, dict[str, tuple[str, frozenset[str]]]] = {
    "assignment": {**_COMMON,
                   "2.3": ("Were there deviations from the intended intervention that arose because "
                           "of the trial context?", _ALL),
                   "2.4": ("Were these deviations likely to have affected the outcome?", _ALL),
                   "2.5": ("Were these deviations balanced between groups?", _ALL),
                   "2.6": ("Was an appropriate analysis used to estimate the effect of assignment "
                           "to intervention?", _NO_NA),
                   "2.7": ("Was there potential for a substantial impact on the result of the "
                           "failure to analyse participants in the group to which they were "
                           "randomised?", _ALL)},
    "adherence": {**_COMMON,
                  "2.3": ("Were important non-protocol interventions balanced across groups?", _ALL),
                  "2.4": ("Were there failures in implementing the intervention that could have "
                          "affected the outcome?", _ALL),
                  "2.5": ("Was there non-adherence to the assigned intervention regimen that could "
                          "have affected participants' outcomes?", _ALL),
                  "2.6": ("Was an appropriate analysis used to estimate the effect of adhering to "
                          "the intervention?", _ALL)},
}
for _effect in EFFECTS:  # in the order of the tool
    QUESTIONS[_effect] = dict(sorted(QUESTIONS[_effect].items(), key=lambda kv: tuple(
        int(p) for p in kv[0].split("."))))


def normalise_answer(value: Any, question: str | None = None) -> str | None:
    """An answer in the tool's spelling (``"probably yes"`` -> ``"PY"``); None when blank."""
    if value is None or not str(value).strip():
        return None
    key = _ANSWER_WORDS.get(" ".join(str(value).strip().lower().split()))
    if key is None:
        raise ParameterError(question or "answer", value,
                             "Y, PY, PN, N, NI or NA (or yes, probably yes, probably no, no, no "
                             "information, not applicable)")
    return key


class _Path:
    """The answers one domain's algorithm reads, in order, for its explanation."""

    def __init__(self, answers: Mapping[str, str | None], effect: str):
        self.answers, self.effect, self.steps = answers, effect, []

    def __call__(self, question: str, allow_na: bool = False) -> str:
        answer = self.answers.get(question)
        if answer is None:
            raise _Unanswered(question, f"question {question} is on this domain's path ("
                              + (" -> ".join(self.steps) or "its first question")
                              + ") but has no answer; answer it "
                              f"({', '.join(_allowed(question, self.effect))})")
        if answer == "NA" and not allow_na:
            raise _Unanswered(question, f"question {question} is answered NA, but the path ("
                              + (" -> ".join(self.steps) or "its first question")
                              + ") needs it answered; give Y, PY, PN, N or NI")
        self.steps.append(f"{question} {answer}")
        return answer


class _Unanswered(Exception):
    def __init__(self, question: str, message: str):
        super().__init__(message)
        self.question, self.message = question, message


def _allowed(question: str, effect: str) -> list[str]:
    return [a for a in ANSWERS if a in QUESTIONS[effect][question][1]]


def _d1(q: _Path) -> str:
    concealed = q("1.2")
    if concealed in NO:
        return HIGH
    if concealed == "NI":
        return HIGH if q("1.3") in YES else SOME
    if q("1.1") in NO:
        return SOME
    return SOME if q("1.3") in YES else LOW


def _d2_assignment(q: _Path) -> str:
    def part1() -> str:
        if q("2.1") in NO and q("2.2") in NO:
            return LOW
        context = q("2.3")
        if context in NO:
            return LOW
        if context == "NI":
            return SOME
        if q("2.4") in NO:
            return SOME
        return SOME if q("2.5") in YES else HIGH

    def part2() -> str:
        if q("2.6") in YES:
            return LOW
        return SOME if q("2.7") in NO else HIGH

    parts = (part1(), part2())
    return HIGH if HIGH in parts else LOW if parts == (LOW, LOW) else SOME


def _d2_adherence(q: _Path) -> str:
    if not (q("2.1") in NO and q("2.2") in NO) and q("2.3", allow_na=True) not in YES | {"NA"}:
        return SOME if q("2.6") in YES else HIGH
    if q("2.4", allow_na=True) in NO | {"NA"} and q("2.5", allow_na=True) in NO | {"NA"}:
        return LOW
    return SOME if q("2.6") in YES else HIGH


def _d3(q: _Path) -> str:
    if q("3.1") in YES:
        return LOW
    if q("3.2") in YES:
        return LOW
    if q("3.3") in NO:
        return LOW
    return SOME if q("3.4") in NO else HIGH


def _d4(q: _Path) -> str:
    if q("4.1") in YES:
        return HIGH
    differed = q("4.2")
    if differed in YES:
        return HIGH
    unsure = differed == "NI"  # the NI branch: at best some concerns
    if q("4.3") in NO or q("4.4") in NO:
        return SOME if unsure else LOW
    return SOME if q("4.5") in NO else HIGH


def _d5(q: _Path) -> str:
    measurements = q("5.2")
    if measurements in YES:
        return HIGH
    analyses = q("5.3")
    if analyses in YES:
        return HIGH
    if "NI" in (measurements, analyses):
        return SOME
    return LOW if q("5.1") in YES else SOME


_ALGORITHMS = {"D1": _d1, "D3": _d3, "D4": _d4, "D5": _d5}


@dataclass(frozen=True)
class DomainJudgement:
    """One domain of one result: the algorithm's suggestion, the path that led to it, and the
    final judgement (the reviewers' own, with its justification, when they departed from it)."""

    domain: str
    suggested: str
    path: str
    final: str
    justification: str | None = None
    direction: str | None = None  # the reviewers' predicted direction of bias, if given

    @property
    def departed(self) -> bool:
        return self.final != self.suggested

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "name": DOMAINS[self.domain], "suggested": self.suggested,
                "path": self.path, "judgement": self.final, "justification": self.justification,
                "direction": self.direction}


@dataclass(frozen=True)
class Rob2Assessment:
    """RoB 2 for one result of one trial: the five domains and the overall judgement."""

    study_id: str
    result: str | None
    effect: str
    domains: tuple[DomainJudgement, ...]
    overall_suggested: str
    overall: str
    overall_justification: str | None = None
    unused: tuple[str, ...] = field(default=())  # questions answered but off every path
    overall_direction: str | None = None

    @property
    def label(self) -> str:
        return self.study_id + (f" ({self.result})" if self.result else "")

    def sentence(self) -> str:
        """The overall judgement in words, with the domains that decided it."""
        decided = self.overall_suggested  # the domains behind the algorithm's overall judgement
        worst = [d.domain for d in self.domains if d.final == decided]
        if decided == HIGH and not worst:  # high by the reviewers' rule on domains with concerns
            worst = [d.domain for d in self.domains if d.final == SOME]
        why = (f": {', '.join(f'{d} ({DOMAINS[d].lower()})' for d in worst)}" if worst else "")
        if decided == HIGH and all(d.final != HIGH for d in self.domains):
            why += f" raise some concerns, {len(worst)} domains, which the review's rule counts as high"
        departed = (f" The reviewers judged it {self.overall} where the algorithms suggest "
                    f"{self.overall_suggested}: {self.overall_justification}"
                    if self.overall != self.overall_suggested else "")
        words = {LOW: "low risk of bias", SOME: "some concerns", HIGH: "high risk of bias"}
        return (f"{self.label}: {words[self.overall_suggested]}"
                f"{why if self.overall_suggested != LOW else ''}." + departed)

    def to_dict(self) -> dict[str, Any]:
        return {"study_id": self.study_id, "result": self.result, "effect": self.effect,
                "domains": [d.to_dict() for d in self.domains],
                "overall_suggested": self.overall_suggested, "overall": self.overall,
                "overall_justification": self.overall_justification,
                "overall_direction": self.overall_direction, "unused": list(self.unused),
                "sentence": self.sentence()}


#: The sensitivity analyses by risk of bias (Cochrane Handbook section 10.14): which overall
#: judgements each keeps.
RESTRICTIONS = {"excluding results at high risk of bias": (LOW, SOME),
                "results at low risk of bias only": (LOW,)}


def restrictions(overall: list[str]) -> dict[str, list[bool]]:
    """For a sensitivity analysis by risk of bias: per restriction, which results it keeps (one
    flag per result, in order), from their overall judgements."""
    bad = [j for j in overall if j not in JUDGEMENTS]
    if bad:
        raise ParameterError("overall", bad[0], "low, some concerns or high")
    return {name: [j in keep for j in overall] for name, keep in RESTRICTIONS.items()}


def overall_judgement(domains: list[str] | tuple[str, ...], high_when_concerns: int | None = None) -> str:
    """Low when every domain is low, high when any is high, otherwise some concerns; with
    ``high_when_concerns`` = k, also high when k or more domains raise some concerns (the
    reviewers' rule for concerns that together substantially lower confidence)."""
    if high_when_concerns is not None and not 2 <= high_when_concerns <= 5:
        raise ParameterError("high_when_concerns", high_when_concerns, "a number of domains from 2 to 5")
    if HIGH in domains:
        return HIGH
    concerns = sum(d == SOME for d in domains)
    if high_when_concerns is not None and concerns >= high_when_concerns:
        return HIGH
    return SOME if concerns else LOW


def assess_rob2(study_id: str, answers: Mapping[str, Any], *, result: str | None = None,
                effect: str = "assignment", judgements: Mapping[str, Any] | None = None,
                justifications: Mapping[str, Any] | None = None,
                directions: Mapping[str, Any] | None = None,
                high_when_concerns: int | None = None) -> Rob2Assessment:
    """Judge one result with RoB 2.

    Parameters
    ----------
    answers : question ("1.1" ... "5.3") -> answer (Y, PY, PN, N, NI, NA or the words); blank
        answers are unanswered.
    effect : domain 2's version: ``assignment`` (intention to treat) or ``adherence``.
    judgements : the reviewers' own judgements where they depart from the algorithm, by domain
        ("D1" ... "D5") or "overall"; each needs its entry in ``justifications``.
    directions : RoB 2's optional predicted direction of bias, by domain or "overall" (one of
        :data:`DIRECTIONS`).
    high_when_concerns : the reviewers' rule that this many domains with some concerns make the
        result high risk of bias (None: no such rule).

    Raises :class:`InputError` naming the question (as the column) for an answer that is not
    allowed, an unanswered question on a path, or a departure without a justification.
    """
    if effect not in EFFECTS:
        raise ParameterError("effect", effect, " or ".join(EFFECTS))
    questions = QUESTIONS[effect]
    clean: dict[str, str | None] = {}
    for key, value in answers.items():
        if key not in questions:
            other = next((e for e in EFFECTS if key in QUESTIONS[e]), None)
            if other is None:
                raise InputError(f"{key!r} is not a RoB 2 signalling question; the questions are "
                                 f"{', '.join(questions)}", column=key)
            if normalise_answer(value, key) is None:
                continue
            raise InputError(f"{study_id}: question {key} is asked only for the effect of {other}, "
                             f"and this result is judged for the effect of {effect}: leave it "
                             "blank", column=key)
        try:
            answer = normalise_answer(value, key)
        except ParameterError as exc:
            raise InputError(f"{study_id}: {exc}", column=key) from None
        if answer is not None and answer not in questions[key][1]:
            raise InputError(f"{study_id}: question {key} cannot be answered {answer}; give "
                             f"{', '.join(_allowed(key, effect))}", column=key)
        clean[key] = answer
    judgements, justifications = judgements or {}, justifications or {}
    direction = {k: _direction(study_id, k, v) for k, v in (directions or {}).items()}
    read: set[str] = set()
    domains = []
    for domain in DOMAINS:
        path = _Path(clean, effect)
        algorithm = _ALGORITHMS.get(domain) or (
            _d2_assignment if effect == "assignment" else _d2_adherence)
        try:
            suggested = algorithm(path)
        except _Unanswered as exc:
            raise InputError(f"{study_id}: {domain}: {exc.message}", column=exc.question) from None
        read |= {s.split()[0] for s in path.steps}
        final, why = _departure(study_id, domain, suggested, judgements, justifications)
        domains.append(DomainJudgement(domain, suggested, " -> ".join(path.steps) + f": {suggested}",
                                       final, why, direction.get(domain)))
    suggested = overall_judgement([d.final for d in domains], high_when_concerns)
    overall, why = _departure(study_id, "overall", suggested, judgements, justifications)
    unused = tuple(q for q in questions if clean.get(q) is not None and q not in read)
    return Rob2Assessment(str(study_id), result, effect, tuple(domains), suggested, overall, why,
                          unused, direction.get("overall"))


def _direction(study_id: str, key: str, value: Any) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = " ".join(str(value).strip().lower().split())
    found = next((d for d in DIRECTIONS if d.lower() == text), None)
    if found is None:
        raise InputError(f"{study_id}: {key} direction {value!r} is not one of "
                         f"{', '.join(DIRECTIONS)}", column=f"{key.lower()}_direction")
    return found


def _departure(study_id: str, key: str, suggested: str, judgements: Mapping[str, Any],
               justifications: Mapping[str, Any]) -> tuple[str, str | None]:
    given = judgements.get(key)
    if given is None or not str(given).strip():
        return suggested, None
    final = " ".join(str(given).strip().lower().split())
    final = {"some": SOME, "some concern": SOME, "moderate": SOME, "low risk": LOW,
             "high risk": HIGH}.get(final, final)
    if final not in JUDGEMENTS:
        raise InputError(f"{study_id}: {key} judgement {given!r} is not one of low, some concerns, "
                         "high", column=f"{key.lower()}_judgement")
    why = justifications.get(key)
    why = " ".join(str(why).split()) if why is not None and str(why).strip() else None
    if final != suggested and why is None:
        raise InputError(f"{study_id}: {key} is judged {final} where the algorithm suggests "
                         f"{suggested}; RoB 2 allows that with a justification: give it in "
                         f"{key.lower()}_justification", column=f"{key.lower()}_justification")
    return final, why if final != suggested else None


def _style():
    from whatworks.synthesis.plots import RISK_OF_BIAS_STYLE  # one drawing of a judgement

    return RISK_OF_BIAS_STYLE


def traffic_light_plot(assessments: list[Rob2Assessment]):
    """The traffic-light plot (as robvis draws it: McGuinness & Higgins 2021): a row per result,
    a column per domain and the overall judgement, each a coloured circle with a symbol (+ low,
    ! some concerns, - high), so that colour is not the only cue."""
    import textwrap

    from matplotlib.patches import Circle

    from whatworks.synthesis.plots import inch_canvas

    # labels of at most 50 characters a line (about 3.8 inches at 8.5 pt), whole words
    labels = ["\n".join(textwrap.wrap(a.label, 50) or [""]) for a in assessments]
    columns = [*DOMAINS, "Overall"]
    label_w = 0.35 + 0.075 * max(len(line) for t in labels for line in t.split("\n"))
    width, row_h = label_w + 0.7 * len(columns) + 0.3, 0.45
    height = row_h * (len(assessments) + 1) + 1.6
    fig, ax = inch_canvas(width, height)
    top = height - 0.5
    ax.text(width / 2, height - 0.25, "Risk of bias (RoB 2)", ha="center", va="center",
            fontsize=11, weight="bold")
    for k, name in enumerate(columns):
        ax.text(label_w + 0.7 * (k + 0.5), top, name, ha="center", va="center", fontsize=9,
                weight="bold")
    for r, a in enumerate(assessments):
        y = top - row_h * (r + 1)
        ax.text(label_w - 0.1, y, labels[r], ha="right", va="center", fontsize=8.5 if "\n" not in
                labels[r] else 7.5, linespacing=1.0)
        for k, judgement in enumerate([*(d.final for d in a.domains), a.overall]):
            x = label_w + 0.7 * (k + 0.5)
            fill, symbol, colour = _style()[judgement]
            ax.add_patch(Circle((x, y), 0.17, fc=fill, ec="black", lw=0.6))
            ax.text(x, y, symbol, ha="center", va="center", fontsize=11, weight="bold",
                    color=colour)
    key = "\n".join(textwrap.wrap("   ".join(f"{k}: {DOMAINS[k]}" for k in DOMAINS),
                                  int((width - 0.3) / 0.055)))
    ax.text(0.15, 0.75, key, ha="left", va="center", fontsize=6.5)
    ax.text(0.15, 0.35, "+ low    ! some concerns    \u2212 high", ha="left", va="center",
            fontsize=8)
    return fig


def summary_plot(assessments: list[Rob2Assessment], weights: list[float] | None = None):
    """The summary plot: per domain and overall, the share of results (or of their ``weights``,
    e.g. participants) at each judgement, as stacked horizontal bars."""
    import numpy as np

    from whatworks.synthesis.plots import new_figure

    w = np.ones(len(assessments)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(assessments),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ParameterError("weights", weights, "one non-negative weight per result, not all 0")
    rows = [(f"{k} {DOMAINS[k]}", [d.final for d in (a.domains[i] for a in assessments)])
            for i, k in enumerate(DOMAINS)]
    rows.append(("Overall", [a.overall for a in assessments]))
    fig = new_figure(8, 0.45 * len(rows) + 1.4)
    ax = fig.add_subplot()
    for r, (_, judged) in enumerate(reversed(rows)):
        left = 0.0
        for j in JUDGEMENTS:
            share = float(w[[x == j for x in judged]].sum() / w.sum())
            ax.barh(r, share * 100, left=left, color=_style()[j][0], edgecolor="black", lw=0.5,
                    label=j if r == 0 else None)
            left += share * 100
    ax.set_yticks(range(len(rows)), [name for name, _ in reversed(rows)], fontsize=8.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("results (%)" if weights is None else "weight (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


#: Columns a RoB 2 table may hold besides the questions: free text kept by teams (support for an
#: answer, notes) is allowed when its name ends so.
_TEXT_SUFFIXES = ("_support", "_notes", "_comment", "_comments")


#: The study_id of the blank table's row of question wordings (skipped when read).
QUESTION_ROW = "(question)"


def blank_table(effect: str = "assignment") -> str:
    """A blank RoB 2 table as CSV: the columns :func:`read_rob2_table` reads, and a first row
    (study_id "(question)") with each question's wording, to be replaced by the results."""
    if effect not in EFFECTS:
        raise ParameterError("effect", effect, " or ".join(EFFECTS))
    extra = [f"{k.lower()}_{w}" for k in [*DOMAINS, "overall"] for w in _PER_DOMAIN]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["study_id", "result", "effect", *QUESTIONS[effect], *extra])
    w.writerow([QUESTION_ROW, "outcome and time point judged", effect,
                *(text for text, _ in QUESTIONS[effect].values()), *([""] * len(extra))])
    return buf.getvalue()


def _xlsx_as_csv(path: str | Path) -> str:
    """A workbook's first sheet as CSV text, row for row (so line N is the sheet's row N); whole
    numbers without a decimal point, empty cells empty."""
    try:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(f"cannot read this workbook ({type(exc).__name__}: {exc}); save the RoB 2 "
                         "table as .xlsx or .csv", file=str(path)) from None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            w.writerow(["" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer()
                        else str(v) for v in row])
    finally:
        book.close()
    return buf.getvalue()


def read_rob2_table(path: str | Path, *, effect: str = "assignment",
                    high_when_concerns: int | None = None) -> list[Rob2Assessment]:
    """Judge every result of a RoB 2 table (CSV, or the first sheet of an XLSX workbook): one row
    per result, columns ``study_id``, optionally
    ``result`` (the outcome and time point judged) and ``effect`` (assignment or adherence, else
    ``effect``), the questions ``1.1`` ... ``5.3`` (or ``q1_1`` ...), and optionally the reviewers'
    ``d1_judgement`` ... ``d5_judgement`` / ``overall_judgement`` with their ``..._justification``,
    and RoB 2's optional predicted direction of bias, ``d1_direction`` ... ``overall_direction``.
    Columns ending in ``_support``, ``_notes`` or ``_comment(s)`` are free text. Anything else, an
    answer not allowed, an unanswered question on a path or a departure without justification is an
    :class:`InputError` naming the file, line and column."""
    from .screening.data import csv_rows, decode_csv

    name = str(path)
    text = _xlsx_as_csv(path) if name.lower().endswith((".xlsx", ".xlsm")) else \
        decode_csv(path, expect="one row per result judged with RoB 2")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in reader if row), None)
    if header is None:
        raise InputError("line 1: the file is empty; give a header row with study_id and the "
                         "questions 1.1 ... 5.3", file=name)
    known = {"study_id", "result", "effect", *(f"{k.lower()}_{w}" for k in [*DOMAINS, "overall"]
                                               for w in _PER_DOMAIN)}
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = " ".join(raw.strip().lower().split())
        question = key[1:].replace("_", ".") if key[:1] in ("q", "d") and key[1:2].isdigit() \
            and "_" in key and "judgement" not in key and "justification" not in key else key
        if question in QUESTIONS["assignment"]:
            key = question
        elif key not in known and not key.endswith(_TEXT_SUFFIXES):
            raise InputError(f"line 1: column {raw.strip()!r} is not part of a RoB 2 table; the "
                             "columns are study_id, result, effect, the questions 1.1 ... 5.3, "
                             "d1_judgement ... overall_judgement with their ..._justification "
                             "and ..._direction, and free text ending in _support or _notes",
                             file=name, column=raw)
        if key in columns:
            raise InputError(f"line 1: column {raw.strip()!r} is given twice", file=name, column=raw)
        columns[key] = index
    if "study_id" not in columns:
        raise InputError("line 1: no column 'study_id'", file=name, column="study_id")
    out: list[Rob2Assessment] = []
    try:
        for line, row in csv_rows(reader, len(header), name):
            def cell(key: str, row=row) -> str | None:
                i = columns.get(key)
                return (row[i].strip() or None) if i is not None else None

            study = cell("study_id")
            if study == QUESTION_ROW:  # the wording row of blank_table()
                continue
            if study is None:
                raise InputError(f"line {line}: the study_id is blank", file=name, column="study_id")
            row_effect = (cell("effect") or effect).lower()
            if row_effect not in EFFECTS:
                raise InputError(f"line {line}: effect {row_effect!r} is not assignment or adherence",
                                 file=name, column="effect")
            # every question column: one of the other effect's questions answered is refused
            answers = {q: cell(q) for q in QUESTIONS["assignment"] if q in columns}
            keys = [*DOMAINS, "overall"]
            try:
                out.append(assess_rob2(
                    study, answers, result=cell("result"), effect=row_effect,
                    judgements={k: cell(f"{k.lower()}_judgement") for k in keys},
                    justifications={k: cell(f"{k.lower()}_justification") for k in keys},
                    directions={k: cell(f"{k.lower()}_direction") for k in keys},
                    high_when_concerns=high_when_concerns))
            except InputError as exc:
                raise InputError(f"line {line}: {exc.message}", file=name,
                                 column=exc.column) from None
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: not a readable CSV ({exc})", file=name) from None
    if not out:
        raise InputError("line 2: no results after the header", file=name)
    return out
