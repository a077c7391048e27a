"""Entering one finding as a study reports it: the registry of plain-language inputs and the one
function that turns what was entered into an effect size.

A review editor first says in words what the study reports (:data:`REPORTED_AS`: a 2x2 table,
means and SDs, an adjusted estimate with its confidence interval, ...), then picks the effect
measure in words (:data:`ENTRY_MEASURES`: risk ratio, odds ratio, hazard ratio, ...), then fills in
only that input's fields, each with a plain label (:class:`Field`). The store's finding form, its
editor template, the import documentation and the API documentation all read this registry; the
web layer keeps no second list.

:func:`effect_from_reported` computes the effect size with the rest of :mod:`whatworks.effects`:
``escalc`` for tables, means, rates and correlations; the generic inverse-variance input
(:mod:`whatworks.effects.generic`, measure ``GEN``) for an estimate with its confidence interval or
standard error, on the ratio or the difference scale; and, for a cluster-randomised trial whose
analysis ignored the clustering, :func:`whatworks.effects.adjust_for_clustering` (Hedges 2007
for standardised mean differences; the design effect, Eldridge et al. 2006 for unequal clusters,
for every other measure). :func:`preview` states the result for a reader: "RR 0.50 (95% CI 0.31
to 0.81)" and a sentence of direction read with the outcome's direction.

References
----------
Higgins, J. P. T., Li, T., & Deeks, J. J. (2019). Choosing effect measures and computing estimates
of effect. *Cochrane handbook for systematic reviews of interventions* (2nd ed.), chapter 6.
Hedges, L. V. (2007). Effect sizes in cluster-randomized designs. *Journal of Educational and
Behavioral Statistics*, 32(4), 341-370.
Eldridge, S. M., Ashby, D., & Kerry, S. (2006). Sample size for cluster randomized trials: effect
of coefficient of variation of cluster size and analysis method. *International Journal of
Epidemiology*, 35(5), 1292-1300.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

from whatworks.errors import InputError, WhatWorksError

__all__ = ["CLUSTER_FIELDS", "ENTRY_MEASURES", "FIELDS", "REPORTED_AS", "EffectMeasure", "Entered",
           "Field", "Preview", "ReportedAs", "effect_from_reported", "measure_label", "measure_name",
           "parse_sizes",
           "preview", "reported_as_of"]


@dataclass(frozen=True)
class EffectMeasure:
    """An effect measure as an editor chooses it: its code (stored with the finding), its name in
    words, the abbreviation a reader sees, and whether it is a ratio (analysed as its logarithm,
    shown on the natural scale). ``counts`` says the estimate counts people or events ("more" or
    "fewer" children), rather than a score ("higher" or "lower")."""

    code: str
    name: str
    abbreviation: str
    ratio: bool
    counts: bool

    @property
    def label(self) -> str:
        return f"{self.name[:1].upper()}{self.name[1:]} ({self.abbreviation})"


#: The effect measures an editor chooses from, in words (codes as ``escalc``'s, plus HR, which
#: only an estimate with its interval or standard error can give).
ENTRY_MEASURES: dict[str, EffectMeasure] = {m.code: m for m in [
    EffectMeasure("RR", "risk ratio", "RR", ratio=True, counts=True),
    EffectMeasure("OR", "odds ratio", "OR", ratio=True, counts=True),
    EffectMeasure("RD", "risk difference", "RD", ratio=False, counts=True),
    EffectMeasure("HR", "hazard ratio", "HR", ratio=True, counts=True),
    EffectMeasure("IRR", "rate ratio (incidence rate ratio)", "IRR", ratio=True, counts=True),
    EffectMeasure("SMD", "standardised mean difference (Hedges' g)", "SMD", ratio=False,
                  counts=False),
    EffectMeasure("MD", "mean difference", "MD", ratio=False, counts=False),
    EffectMeasure("COR", "correlation (r)", "r", ratio=False, counts=False),
    EffectMeasure("ZCOR", "correlation as Fisher's z", "z", ratio=False, counts=False),
]}

_OTHER_RATIOS = {"PETO", "ROM"}     # escalc measures on the log scale besides the ones above


@dataclass(frozen=True)
class Field:
    """One input: its argument name (``escalc``'s, or the entry's own), its plain label, a hint,
    whether it may be left empty, and its kind: ``number``, ``sizes`` (a list of cluster sizes)
    or ``choice`` (with ``choices``: value, words)."""

    name: str
    label: str
    hint: str = ""
    required: bool = True
    kind: str = "number"
    choices: tuple[tuple[str, str], ...] = ()


#: How the estimate and its limits are written when the measure is a ratio.
ENTERED_AS = (("ratio", "As ratios, as they are usually published (for example 0.50, 95% CI 0.31 "
                        "to 0.81)"),
              ("log", "As logarithms of the ratio (for example a logistic or Cox regression "
                      "coefficient, -0.69)"))

#: Every field an entry can have, by name, with its plain label.
FIELDS: dict[str, Field] = {f.name: f for f in [
    Field("ai", "Children in the intervention group with the outcome"),
    Field("n1i", "Number in the intervention group"),
    Field("ci", "Children in the comparison group with the outcome"),
    Field("n2i", "Number in the comparison group"),
    Field("m1i", "Mean (intervention group)"),
    Field("sd1i", "Standard deviation (intervention group)"),
    Field("m2i", "Mean (comparison group)"),
    Field("sd2i", "Standard deviation (comparison group)"),
    Field("x1i", "Events in the intervention group"),
    Field("t1i", "Time at risk in the intervention group (e.g. person-years)"),
    Field("x2i", "Events in the comparison group"),
    Field("t2i", "Time at risk in the comparison group (e.g. person-years)"),
    Field("estimate", "The estimate (intervention compared with comparison)",
          "as published: the ratio itself (0.50), or its logarithm if you choose that below"),
    Field("ci_lower", "Lower limit of the 95% CI"),
    Field("ci_upper", "Upper limit of the 95% CI"),
    Field("se", "Standard error of the estimate",
          "for a ratio, the standard error of its logarithm (as regression output gives it)"),
    Field("entered_as", "How are the estimate and its limits written?",
          "only for ratios (odds, risk, hazard and rate ratios)", required=False, kind="choice",
          choices=ENTERED_AS),
    Field("ri", "Correlation (r) between receiving the intervention and the outcome"),
    Field("ni", "Number of children in the study"),
    Field("yi", "Effect size (log scale for ratios)"),
    Field("vi", "Its sampling variance (the standard error squared)"),
]}

_OPTIONAL_SIZES = tuple(Field(f.name, f.label + " (optional)",
                              "needed only to adjust a standardised mean difference for "
                              "clustering with the mean cluster size", required=False)
                        for f in (FIELDS["n1i"], FIELDS["n2i"]))


@dataclass(frozen=True)
class ReportedAs:
    """What a study reports, in words, with its fields and the measures it can give."""

    key: str
    label: str
    fields: tuple[Field, ...]
    measures: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _fields(*names) -> tuple[Field, ...]:
    return tuple(FIELDS[n] for n in names)


_ESTIMATE_MEASURES = ("OR", "RR", "HR", "IRR", "RD", "MD", "SMD")

#: What a study can report, in the order the editor sees it. ``other`` takes metafor's escalc
#: argument names for any measure (t statistics, p-values, proportions...).
REPORTED_AS: dict[str, ReportedAs] = {r.key: r for r in [
    ReportedAs("counts", "Numbers of children with and without the outcome in each group "
               "(2x2 table)", _fields("ai", "n1i", "ci", "n2i"), ("RR", "OR", "RD")),
    ReportedAs("means", "Means and standard deviations in each group",
               _fields("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), ("SMD", "MD")),
    ReportedAs("estimate_ci", "An adjusted estimate with its confidence interval (odds ratio, "
               "risk ratio, hazard ratio, mean difference, standardised mean difference...)",
               _fields("estimate", "ci_lower", "ci_upper", "entered_as") + _OPTIONAL_SIZES,
               _ESTIMATE_MEASURES),
    ReportedAs("estimate_se", "An estimate with its standard error (for example a regression "
               "coefficient)", _fields("estimate", "se", "entered_as") + _OPTIONAL_SIZES,
               _ESTIMATE_MEASURES),
    ReportedAs("rates", "Numbers of events and the time at risk in each group (rates)",
               _fields("x1i", "t1i", "x2i", "t2i"), ("IRR",)),
    ReportedAs("correlation", "A correlation", _fields("ri", "ni"), ("ZCOR", "COR")),
    ReportedAs("effect", "An effect size already computed, with its sampling variance",
               _fields("yi", "vi"), ("RR", "OR", "RD", "IRR", "SMD", "MD", "ZCOR", "COR")),
    ReportedAs("other", "Other statistics, by metafor's escalc argument names (t or F "
               "statistics, p-values, proportions...)", (), ()),
]}

#: Inputs of the cluster-trial adjustment (a cluster-randomised trial analysed as if
#: individually randomised), stored with the finding's other reported statistics.
CLUSTER_FIELDS: dict[str, Field] = {f.name: f for f in [
    Field("icc", "Intraclass correlation (ICC)", "between 0 and 1, e.g. 0.05", required=False),
    Field("cluster_sizes1", "Cluster sizes in the intervention group",
          "each cluster's number of children, separated by commas: 12, 30, 8", required=False,
          kind="sizes"),
    Field("cluster_sizes2", "Cluster sizes in the comparison group",
          "each cluster's number of children, separated by commas", required=False,
          kind="sizes"),
    Field("cluster_size", "Or: the mean cluster size", "when the sizes of each cluster are not "
          "reported", required=False),
    Field("cluster_cv", "Coefficient of variation of cluster size (with the mean; optional)",
          "the SD of the cluster sizes divided by their mean; 0 or empty for equal clusters",
          required=False),
]}


def measure_name(code: str) -> str:
    """A measure's name as a reader sees it before a number: "Risk ratio"; escalc's description
    for the others; the code itself when nothing describes it."""
    if code in ENTRY_MEASURES:
        name = ENTRY_MEASURES[code].name
    else:
        from whatworks.effects.escalc import MEASURES

        name = code
        if code in MEASURES:  # the description's first clause, without its asides
            plain = re.sub(r"\s*\([^)]*\)", "", MEASURES[code].description)
            name = plain.split(";")[0].split(":")[0].strip()
            if code in _OTHER_RATIOS and name.startswith("log "):
                name = name[4:]  # preview shows these on the natural scale
    return f"{name[:1].upper()}{name[1:]}"


def measure_label(code: str) -> str:
    """A measure in words: "Risk ratio (RR)"; escalc's description for the others."""
    if code in ENTRY_MEASURES:
        return ENTRY_MEASURES[code].label
    from whatworks.effects.escalc import MEASURES

    if code in MEASURES:
        text = MEASURES[code].description
        return f"{text[:1].upper()}{text[1:]} ({code})"
    return code


def _escalc_arguments() -> tuple[str, ...]:
    from whatworks.effects.escalc import EFFECT_ARGUMENTS

    return tuple(a for a in EFFECT_ARGUMENTS if a != "sign")


def reported_as_of(measure: str, reported: Mapping) -> str:
    """Which entry a stored finding's reported statistics are (a key of :data:`REPORTED_AS`)."""
    given = {k for k, v in reported.items() if v not in (None, "") and k not in CLUSTER_FIELDS
             and k != "entered_as"}
    if {"yi", "vi"} <= given:
        return "effect"
    if measure in _ESTIMATE_MEASURES and "estimate" in given:
        return "estimate_se" if "se" in given and "ci_lower" not in given else "estimate_ci"
    for key in ("counts", "means", "rates", "correlation"):
        entry = REPORTED_AS[key]
        if measure in entry.measures and given and given <= set(entry.names):
            return key
    if measure in REPORTED_AS["counts"].measures and given <= {"ai", "bi", "ci", "di", "n1i",
                                                               "n2i"}:
        return "counts"
    return "other"


@dataclass(frozen=True)
class Entered:
    """An effect size from an entry: ``yi``/``vi`` on the analysis scale (log for ratios); with a
    cluster adjustment, the values before it and the method applied."""

    measure: str
    reported_as: str
    yi: float
    vi: float
    unadjusted_yi: float | None = None
    unadjusted_vi: float | None = None
    adjustment: str | None = None

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)

    @property
    def se_growth(self) -> float | None:
        """How much the cluster adjustment multiplied the standard error (1.25: 25% larger)."""
        if self.unadjusted_vi is None:
            return None
        return math.sqrt(self.vi / self.unadjusted_vi)


def _number(reported: Mapping, name: str) -> float:
    value = reported.get(name)
    if isinstance(value, bool):
        raise InputError(f"{value!r} is not a number", column=name)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{str(value)[:40]!r} is not a number", column=name) from None
    if not math.isfinite(x):
        raise InputError("must be a finite number", column=name)
    return x


def parse_sizes(value, name: str = "cluster_sizes1") -> list[float]:
    """A list of cluster sizes: a JSON list, or text "12, 30, 8" (commas, semicolons or spaces)."""
    from whatworks.effects.cluster import cluster_sizes

    if isinstance(value, str):
        parts = value.replace(";", " ").replace(",", " ").split()
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise InputError("give each cluster's size as a number, separated by commas (12, 30, "
                             "8)", column=name) from None
    elif isinstance(value, (list, tuple)):
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value):
            raise InputError("must be a list of numbers (each cluster's size)", column=name)
        numbers = [float(x) for x in value]
    else:
        raise InputError("must be a list of cluster sizes, e.g. [12, 30, 8]", column=name)
    try:
        return [float(x) for x in cluster_sizes(numbers)]
    except InputError as exc:
        raise InputError(exc.message, column=name) from None


def _given(reported: Mapping, name: str) -> bool:
    value = reported.get(name)
    return value is not None and value != "" and value != []


def effect_from_reported(measure: str, reported: Mapping, *,
                         reported_as: str | None = None) -> Entered:
    """The effect size and sampling variance of one finding from what its study reports.

    ``reported`` holds the entry's fields under their argument names (``ai``, ``n1i``, ...;
    ``estimate``, ``ci_lower``, ``ci_upper`` or ``se`` with ``entered_as`` for ratios; ``yi``,
    ``vi``) and, for a cluster trial analysed as if individually randomised, ``icc`` with each
    arm's cluster sizes (``cluster_sizes1``, ``cluster_sizes2``) or the mean ``cluster_size``
    (and ``cluster_cv``). ``reported_as`` (a key of :data:`REPORTED_AS`) says which entry the
    editor chose: the measure must be one it gives and its required fields filled in; without
    it the entry is read from the fields given (:func:`reported_as_of`). Raises
    :class:`~whatworks.errors.InputError` whose ``column`` names the field to correct.
    """
    from whatworks.effects.escalc import MEASURES, escalc

    if not isinstance(measure, str) or (measure not in ENTRY_MEASURES and measure not in MEASURES):
        raise InputError("choose the effect measure", column="measure")
    if not isinstance(reported, Mapping) or not reported:
        raise InputError("enter the reported statistics", column="reported")
    allowed = set(_escalc_arguments()) | {"yi", "vi", "entered_as"} | set(CLUSTER_FIELDS)
    unknown = [k for k in reported if k not in allowed]
    if unknown:
        raise InputError(f"is not a reported statistic; use {', '.join(sorted(allowed))}",
                         column=unknown[0])
    if reported_as is None:
        kind = reported_as_of(measure, reported)
    else:
        kind = _check_entry(reported_as, measure, reported)
    stats = {k: _number(reported, k) for k, v in reported.items()
             if k not in CLUSTER_FIELDS and k != "entered_as" and v not in (None, "")}
    if kind == "effect":
        yi, vi = stats["yi"], stats["vi"]
        if vi <= 0:
            raise InputError("the sampling variance must be greater than 0", column="vi")
    elif measure == "HR" and kind not in ("estimate_ci", "estimate_se"):
        raise InputError("a hazard ratio is entered as an estimate with its confidence interval "
                         "or standard error", column="estimate")
    else:
        yi, vi = _escalc(escalc, measure, kind, stats, reported)
    entered = Entered(measure=measure, reported_as=kind, yi=yi, vi=vi)
    if any(_given(reported, k) for k in CLUSTER_FIELDS):
        entered = _adjust(entered, stats, reported)
    return entered


def _check_entry(kind: str, measure: str, reported: Mapping) -> str:
    """The chosen entry: the measure is one it gives, its required fields are there, and no
    field of another entry was sent."""
    entry = REPORTED_AS.get(kind)
    if entry is None:
        raise InputError("choose what the study reports", column="reported_as")
    if entry.key == "other":
        return kind
    if measure not in entry.measures:
        names = [ENTRY_MEASURES[m].name for m in entry.measures]
        words = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise InputError(f"{entry.label[:1].lower()}{entry.label[1:]} gives a {words}: choose "
                         f"{'it' if len(names) == 1 else 'one of them'}", column="measure")
    for name in reported:
        if name not in entry.names and name not in CLUSTER_FIELDS:
            raise InputError(f"is not one of this entry's fields ({', '.join(entry.names)})",
                             column=name)
    spec = ENTRY_MEASURES[measure]
    for f in entry.fields:
        if f.required and not _given(reported, f.name):
            raise InputError(f"enter a value for \u201c{f.label}\u201d", column=f.name)
    if "entered_as" in entry.names and spec.ratio and not _given(reported, "entered_as"):
        raise InputError("say whether the estimate is written as a ratio or as its logarithm",
                         column="entered_as")
    return kind


def _escalc(escalc, measure, kind, stats, reported) -> tuple[float, float]:
    options = {}
    arguments = dict(stats)
    if kind in ("estimate_ci", "estimate_se"):
        spec = ENTRY_MEASURES[measure]
        entered_as = reported.get("entered_as") or ""
        if spec.ratio and entered_as not in ("ratio", "log"):
            # never guessed: 0.3 (0.1 to 0.5) is a plausible odds ratio and a plausible log one
            raise InputError(f"say how the {spec.name} and its limits are written: \"ratio\" "
                             "(as published, e.g. 0.50) or \"log\" (its logarithm, e.g. a "
                             "regression coefficient)", column="entered_as")
        if not spec.ratio and entered_as not in ("", "identity"):
            raise InputError(f"a {spec.name} is a difference, not a ratio: leave this empty",
                             column="entered_as")
        options["scale"] = "log" if spec.ratio and entered_as == "ratio" else "identity"
        arguments = {k: v for k, v in stats.items() if k in ("estimate", "ci_lower", "ci_upper",
                                                             "se")}
        if "se" in arguments and "ci_lower" in arguments and kind == "estimate_ci":
            arguments.pop("se")
        name = "GEN"
    else:
        name = measure
        if reported.get("entered_as"):
            raise InputError("only an estimate of a ratio is written as a ratio or its logarithm",
                             column="entered_as")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = escalc(name, **{k: [v] for k, v in arguments.items()}, **options)
    except InputError as exc:
        raise InputError(exc.message, column=exc.column or "reported") from None
    except WhatWorksError as exc:
        raise InputError(str(exc), column="reported") from None
    yi, vi = float(out["yi"].iloc[0]), float(out["vi"].iloc[0])
    if not (math.isfinite(yi) and math.isfinite(vi)):
        if kind in REPORTED_AS and kind != "other":
            missing = [f.label for f in REPORTED_AS[kind].fields
                       if f.required and f.name not in stats]
            if missing:
                raise InputError("enter a value for " + "; ".join(missing), column=next(
                    f.name for f in REPORTED_AS[kind].fields if f.required and f.name not in stats))
        from whatworks.effects.escalc import MEASURES

        needs = " or ".join(", ".join(g) for g in MEASURES[name].groups)
        raise InputError(f"{measure} needs {needs}", column="reported")
    return yi, vi


def _adjust(entered: Entered, stats: dict, reported: Mapping) -> Entered:
    """The cluster adjustment of :func:`whatworks.effects.adjust_for_clustering`, every input
    required (no silent "left unadjusted")."""
    import pandas as pd

    from whatworks.effects.cluster import adjust_for_clustering

    if not _given(reported, "icc"):
        raise InputError("give the intraclass correlation (ICC) to adjust for clustering, or "
                         "leave every cluster field empty", column="icc")
    icc = _number(reported, "icc")
    lists = [_given(reported, f"cluster_sizes{g}") for g in "12"]
    mean = _given(reported, "cluster_size")
    if any(lists) and mean:
        raise InputError("give either each group's cluster sizes or the mean cluster size, not "
                         "both", column="cluster_size")
    if any(lists) and not all(lists):
        missing = "cluster_sizes2" if lists[0] else "cluster_sizes1"
        raise InputError("give the cluster sizes of both groups", column=missing)
    if not any(lists) and not mean:
        raise InputError("give each group's cluster sizes, or the mean cluster size",
                         column="cluster_sizes1")
    if _given(reported, "cluster_cv") and not mean:
        raise InputError("the coefficient of variation goes with the mean cluster size; with "
                         "each cluster's size it is computed from them", column="cluster_cv")
    measure = entered.measure
    frame = pd.DataFrame({"yi": [entered.yi], "vi": [entered.vi]})
    frame.attrs["measure"] = "SMD" if measure in ("SMD", "SMDH") else measure
    n1, n2 = stats.get("n1i"), stats.get("n2i")
    kwargs = {"icc": [icc], "n1i": None if n1 is None else [n1],
              "n2i": None if n2 is None else [n2]}
    if mean:
        kwargs["cluster_size"] = [_number(reported, "cluster_size")]
        if _given(reported, "cluster_cv"):
            kwargs["cv"] = [_number(reported, "cluster_cv")]
    else:
        s1 = parse_sizes(reported["cluster_sizes1"], "cluster_sizes1")
        s2 = parse_sizes(reported["cluster_sizes2"], "cluster_sizes2")
        for g, sizes, n in (("1", s1, n1), ("2", s2, n2)):
            if n is not None and abs(sum(sizes) - n) > 1e-9 * max(n, 1):
                raise InputError(f"these cluster sizes add up to {sum(sizes):g} but the number in "
                                 f"the {'intervention' if g == '1' else 'comparison'} group is "
                                 f"{n:g}; correct one of them", column=f"cluster_sizes{g}")
        kwargs["cluster_sizes"] = [";".join(f"{x:g}" for x in s1) + "|"
                                   + ";".join(f"{x:g}" for x in s2)]
    columns = {"cluster_size": "cluster_size", "cluster_sizes": "cluster_sizes1",
               "cv": "cluster_cv", "icc": "icc", "n1i": "n1i", "n2i": "n2i", "sizes1":
               "cluster_sizes1", "sizes2": "cluster_sizes2"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = adjust_for_clustering(frame, **kwargs)
    except InputError as exc:
        message = exc.message
        if exc.column == "n1i" and "Hedges" in message:
            message = ("Hedges (2007) needs the number in each group to adjust a standardised "
                       "mean difference with the mean cluster size: give them, or each group's "
                       "cluster sizes")
        raise InputError(message, column=columns.get(exc.column, "icc")) from None
    yi, vi = float(out["yi"].iloc[0]), float(out["vi"].iloc[0])
    return Entered(measure=measure, reported_as=entered.reported_as, yi=yi, vi=vi,
                   unadjusted_yi=entered.yi, unadjusted_vi=entered.vi,
                   adjustment=out.attrs["cluster"])


# -- what a reader is shown --------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    """An entered effect in words: ``summary`` ("RR 0.50 (95% CI 0.31 to 0.81)"), ``in_words``
    (the same with the measure's name: "Risk ratio 0.50 (95% CI 0.31 to 0.81)"), ``sentence``
    (its direction, read with the outcome's direction when known) and ``adjustment`` (what the
    cluster adjustment did, or "")."""

    summary: str
    sentence: str
    adjustment: str
    estimate: float
    ci_lower: float
    ci_upper: float
    direction_word: str
    in_words: str = ""

    def to_dict(self) -> dict:
        return {"summary": self.summary, "sentence": self.sentence,
                "adjustment": self.adjustment, "estimate": self.estimate,
                "ci_lower": self.ci_lower, "ci_upper": self.ci_upper}


def _ratio(measure: str) -> bool:
    spec = ENTRY_MEASURES.get(measure)
    return spec.ratio if spec else measure in _OTHER_RATIOS


def _counts(measure: str) -> bool:
    spec = ENTRY_MEASURES.get(measure)
    if spec:
        return spec.counts
    from whatworks.effects.escalc import MEASURES

    m = MEASURES.get(measure)
    return m is not None and m.family in ("binary", "rate", "proportion")


def _format(x: float) -> str:
    from whatworks.ratings._text import number

    return number(x)


def preview(entered: Entered, *, outcome: str | None = None, direction: str | None = None,
            unit: str = "children", level: float = 95.0) -> Preview:
    """The entered effect for a reader: the estimate on its natural scale with its abbreviation
    and confidence interval, and a sentence saying which way it points.

    A positive effect (analysis scale) means the outcome is higher, or more common, with the
    intervention. ``direction`` ("increase" or "decrease": which is better for this outcome)
    adds whether the estimate favours the intervention, and whether the interval includes no
    difference.
    """
    ratio = _ratio(entered.measure)
    z = NormalDist().inv_cdf(1 - (1 - level / 100) / 2)
    lo, hi = entered.yi - z * entered.se, entered.yi + z * entered.se
    shown = [math.exp(x) if ratio else x for x in (entered.yi, lo, hi)]
    spec = ENTRY_MEASURES.get(entered.measure)
    abbreviation = spec.abbreviation if spec else entered.measure
    numbers = f"{_format(shown[0])} ({level:g}% CI {_format(shown[1])} to {_format(shown[2])})"
    summary = f"{abbreviation} {numbers}"
    counts = _counts(entered.measure)
    if entered.yi > 0:
        word = "more" if counts else "higher"
    elif entered.yi < 0:
        word = "fewer" if counts else "lower"
    else:
        word = "no difference"
    what = (outcome or "the outcome").strip()
    what_lower = what[:1].lower() + what[1:] if len(what) > 1 and not what[1].isupper() else what
    if word == "no difference":
        sentence = f"No difference between the groups in {what_lower}."
    elif counts:
        sentence = (f"{word.capitalize()} {unit} in the intervention group than in the comparison "
                    f"group had the outcome ({what_lower}).")
    else:
        sentence = (f"{word.capitalize()} {what_lower} in the intervention group than in the "
                    "comparison group.")
    if direction in ("increase", "decrease") and word != "no difference":
        better = (entered.yi > 0) == (direction == "increase")
        sentence += (f" For this outcome {'an increase' if direction == 'increase' else 'a decrease'}"
                     f" is better, so the estimate favours the "
                     f"{'intervention' if better else 'comparison group'}")
        sentence += (f"; the {level:g}% CI includes no difference." if lo <= 0 <= hi else ".")
    adjustment = ""
    if entered.adjustment:
        growth = entered.se_growth
        adjustment = (f"Adjusted for clustering ({entered.adjustment}): the standard error grew by "
                      f"{100 * (growth - 1):.0f}% (from {math.sqrt(entered.unadjusted_vi):.3g} to "
                      f"{entered.se:.3g}).")
    return Preview(summary=summary, sentence=sentence, adjustment=adjustment,
                   estimate=shown[0], ci_lower=shown[1], ci_upper=shown[2], direction_word=word,
                   in_words=f"{measure_name(entered.measure)} {numbers}")
