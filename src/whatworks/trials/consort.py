"""CONSORT reporting: the 2025 checklist with the cluster-trial extension, which items a trial record
already answers, and the flow diagram (enrolment, allocation, follow-up, analysis) drawn as SVG.

The checklist items are data (:data:`CONSORT_2025`, :data:`CLUSTER_EXTENSION`): each has its number,
section and topic, a short paraphrase in our own words (read the statement itself for the wording), and
the record fields that answer it. :func:`checklist` says, for a :class:`~whatworks.trials.record.
TrialRecord`, which items the record answers and with which field, or where the authors said the item
is reported (``reporting: {"6": "Introduction"}``).

The cluster extension (Campbell et al. 2012) was written against CONSORT 2010's numbering; we attach
each of its additions to the CONSORT 2025 item that now carries the topic (our mapping: 2010 item 2a ->
6, 3a -> 9, 4a -> 12a, 5 -> 13, 6a -> 14, 7a -> 16a, 8b -> 17b, 9 -> 18, 10 -> 19, 12a -> 21a,
13a -> 22a, 13b -> 22b, 15 -> 25, 17a -> 26, 21 -> 30), and give the extension's items ids such as
``"16a-cluster"``.

The flow diagram is built from counts (:class:`Flow`), checked for consistency (randomised = assessed
- excluded; received + not received = allocated; analysed + excluded from analysis = allocated; losses
no more than allocated; reasons no more than their count), with clusters and individuals per arm for
cluster trials.

References
----------
Hopewell S, Chan A-W, Collins GS, et al. (2025). CONSORT 2025 statement: updated guideline for
reporting randomised trials. BMJ 389:e081123.
Campbell MK, Piaggio G, Elbourne DR, Altman DG (2012). Consort 2010 statement: extension to cluster
randomised trials. BMJ 345:e5661.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from xml.sax.saxutils import escape

from .._results import Result
from ..errors import InputError
from .record import TrialRecord

__all__ = [
    "ChecklistItem",
    "CONSORT_2025",
    "CLUSTER_EXTENSION",
    "checklist",
    "Checklist",
    "Count",
    "ArmFlow",
    "Flow",
    "flow_from_dict",
    "flow_from_record",
    "allocated_counts",
    "flow_svg",
    "STAGE_NAMES",
]

Check = Callable[[TrialRecord], "str | None"]


def _any(*paths: str) -> Check:
    def check(r: TrialRecord) -> str | None:
        for p in paths:
            if r.get(p) is not None:
                return p
        return None

    return check


def _all(*paths: str) -> Check:
    def check(r: TrialRecord) -> str | None:
        return " + ".join(paths) if all(r.get(p) is not None for p in paths) else None

    return check


def _title_says(*words: str) -> Check:
    def check(r: TrialRecord) -> str | None:
        t = r.title.lower()
        return "title" if any(w in t for w in words) else None

    return check


def _flow(levels: tuple[str, ...], stages: tuple[str, ...]) -> Check:
    def check(r: TrialRecord) -> str | None:
        arms = r.get("flow.arms")
        if not isinstance(arms, Mapping) or not arms:
            return None
        for a in arms.values():
            if not isinstance(a, Mapping):
                return None
            for s in stages:
                if not any(isinstance(a.get(s), Mapping) and a[s].get(lv) is not None for lv in levels):
                    return None
        return "flow"

    return check


def _flow_losses(levels: tuple[str, ...], need_all: bool) -> Check:
    """Losses recorded (lost, discontinued, excluded or not received) at all / any of ``levels``."""

    def check(r: TrialRecord) -> str | None:
        arms = r.get("flow.arms")
        if not isinstance(arms, Mapping):
            return None
        found = [
            any(
                isinstance(a, Mapping) and isinstance(a.get(s), Mapping) and a[s].get(lv) is not None
                for a in arms.values()
                for s in ("lost", "discontinued", "excluded", "not_received")
            )
            for lv in levels
        ]
        return "flow" if (all(found) if need_all else any(found)) else None

    return check


def _results(need: tuple[str, ...]) -> Check:
    def check(r: TrialRecord) -> str | None:
        rows = r.get("results") or []
        prim = [x for x in rows if isinstance(x, Mapping) and x.get("primary", True)]
        ok = prim and all(all(x.get(k) is not None for k in need) for x in prim)
        return "results" if ok else None

    return check


@dataclass(frozen=True)
class ChecklistItem:
    """One checklist item: number, section, topic, our paraphrase, and how a record answers it."""

    item: str
    section: str
    topic: str
    text: str
    check: Check = field(repr=False, compare=False)


def _i(item, section, topic, text, check) -> ChecklistItem:
    return ChecklistItem(item, section, topic, text, check)


T, O, INTRO, M, RAND, RES, DISC = (
    "Title and abstract",
    "Open science",
    "Introduction",
    "Methods",
    "Randomisation",
    "Results",
    "Discussion",
)
#: CONSORT 2025: 30 numbered items (42 with their parts), paraphrased.
CONSORT_2025: tuple[ChecklistItem, ...] = (
    _i("1a", T, "Title", "Say in the title that the trial was randomised.", _title_says("random")),
    _i(
        "1b",
        T,
        "Abstract",
        "A structured summary of design, methods, results and conclusions.",
        _any("abstract"),
    ),
    _i(
        "2",
        O,
        "Trial registration",
        "Registry name, trial number (with a link) and registration date.",
        _all("registration.registry", "registration.id"),
    ),
    _i(
        "3",
        O,
        "Protocol and analysis plan",
        "Where the protocol and statistical analysis plan can be read.",
        _any("analysis_plan.url", "analysis_plan.path", "analysis_plan.sha256", "protocol_url"),
    ),
    _i(
        "4",
        O,
        "Data sharing",
        "Where and how the de-identified data, code and materials can be had.",
        _any("data_sharing"),
    ),
    _i("5a", O, "Funding", "Who funded the trial and what part the funders played.", _any("funding")),
    _i("5b", O, "Conflicts of interest", "The authors' financial and other interests.", _any("conflicts")),
    _i("6", INTRO, "Background and rationale", "Why the trial was needed.", _any("background")),
    _i(
        "7",
        INTRO,
        "Objectives",
        "What the trial set out to find, for benefits and for harms.",
        _any("objectives"),
    ),
    _i(
        "8",
        M,
        "Patient and public involvement",
        "How people with lived experience shaped the trial.",
        _any("public_involvement"),
    ),
    _i(
        "9",
        M,
        "Trial design",
        "Type of trial, allocation ratio and framework (superiority, ...).",
        _any("design.type", "design.name"),
    ),
    _i(
        "10",
        M,
        "Changes to the protocol",
        "Important changes after the start, with reasons.",
        _any("changes"),
    ),
    _i("11", M, "Trial setting", "Where the trial took place.", _any("setting")),
    _i("12a", M, "Eligibility of participants", "Who could take part.", _any("eligibility.participants")),
    _i(
        "12b",
        M,
        "Eligibility of sites and deliverers",
        "Who could deliver it and where, if that applies.",
        _any("eligibility.sites", "eligibility.deliverers"),
    ),
    _i(
        "13",
        M,
        "Intervention and comparator",
        "What each arm received, in enough detail to repeat it.",
        _any("interventions"),
    ),
    _i(
        "14",
        M,
        "Outcomes",
        "The pre-specified outcomes: measure, metric, aggregation and time point.",
        _any("outcomes"),
    ),
    _i("15", M, "Harms", "How harms were defined and assessed.", _any("harms.definition")),
    _i(
        "16a",
        M,
        "Sample size",
        "How the sample size was set, with every assumption.",
        _any("design.sample_size", "design.mdes"),
    ),
    _i("16b", M, "Interim analyses", "Any interim analyses and stopping rules.", _any("interim")),
    _i(
        "17a",
        RAND,
        "Sequence generation",
        "Who generated the allocation sequence, and how.",
        _all("randomisation.method", "randomisation.seed"),
    ),
    _i(
        "17b",
        RAND,
        "Type of randomisation",
        "Type of randomisation and any restriction (strata, blocks).",
        _any("randomisation.method"),
    ),
    _i(
        "18",
        RAND,
        "Allocation concealment",
        "How the sequence was kept hidden until assignment.",
        _any("randomisation.concealment"),
    ),
    _i(
        "19",
        RAND,
        "Implementation",
        "Whether those enrolling and assigning could see the sequence.",
        _any("randomisation.implementation"),
    ),
    _i(
        "20a", M, "Blinding", "Who was kept unaware of the allocation after assignment.", _any("blinding.who")
    ),
    _i(
        "20b",
        M,
        "How blinding was done",
        "How blinding was achieved, and how alike the arms looked.",
        _any("blinding.how"),
    ),
    _i(
        "21a",
        M,
        "Statistical methods",
        "How the arms were compared for each outcome, harms included.",
        _any("statistical_methods"),
    ),
    _i(
        "21b",
        M,
        "Analysis population",
        "Who was included in each analysis, and in which arm.",
        _any("analysis_population"),
    ),
    _i("21c", M, "Missing data", "How missing data were handled.", _any("missing_data")),
    _i(
        "21d",
        M,
        "Additional analyses",
        "Subgroup and sensitivity analyses, pre-specified or not.",
        _any("additional_analyses"),
    ),
    _i(
        "22a",
        RES,
        "Participant flow",
        "Per arm: numbers randomised, receiving the intervention, analysed "
        "(a flow diagram is strongly recommended).",
        _flow(("clusters", "individuals"), ("allocated", "analysed")),
    ),
    _i(
        "22b",
        RES,
        "Losses and exclusions",
        "Per arm: losses and exclusions after randomisation, with reasons.",
        _flow_losses(("clusters", "individuals"), need_all=False),
    ),
    _i(
        "23a",
        RES,
        "Recruitment and follow-up",
        "Dates of recruitment and follow-up.",
        _all("dates.recruitment_start", "dates.followup_end"),
    ),
    _i(
        "23b",
        RES,
        "Why the trial ended",
        "If relevant, why the trial ended or was stopped.",
        _any("dates.ended_reason"),
    ),
    _i("24a", RES, "Intervention delivery", "What each arm actually received.", _any("delivery")),
    _i(
        "24b",
        RES,
        "Concomitant care",
        "Other care received during the trial, by arm.",
        _any("concomitant_care"),
    ),
    _i("25", RES, "Baseline data", "A table of baseline characteristics by arm.", _any("balance")),
    _i(
        "26",
        RES,
        "Outcomes and estimation",
        "Per outcome and arm: numbers, results, the effect with its "
        "precision (absolute and relative for binary outcomes).",
        _results(("estimate", "ci_lower", "ci_upper")),
    ),
    _i("27", RES, "Harms", "Important harms or unintended effects in each arm.", _any("harms.results")),
    _i("28", RES, "Ancillary analyses", "Other analyses, pre-specified or not.", _any("additional_results")),
    _i(
        "29",
        DISC,
        "Interpretation",
        "Interpretation consistent with the results, benefits against harms.",
        _any("interpretation"),
    ),
    _i(
        "30",
        DISC,
        "Limitations",
        "Limitations: bias, imprecision, generalisability, multiplicity.",
        _any("limitations"),
    ),
)

#: The cluster-trial extension's additions, attached to the CONSORT 2025 items (our mapping, above).
CLUSTER_EXTENSION: tuple[ChecklistItem, ...] = (
    _i("1a-cluster", T, "Title", "Say that the trial randomised clusters.", _title_says("cluster")),
    _i(
        "6-cluster",
        INTRO,
        "Rationale for clusters",
        "Why clusters rather than individuals were randomised.",
        _any("cluster_rationale"),
    ),
    _i(
        "9-cluster",
        M,
        "Trial design",
        "What a cluster is, and how the design applies to clusters.",
        _all("units.cluster", "cluster"),
    ),
    _i(
        "12a-cluster",
        M,
        "Eligibility of clusters",
        "Which clusters could take part.",
        _any("eligibility.clusters"),
    ),
    _i(
        "13-cluster",
        M,
        "Level of the intervention",
        "Whether the intervention acts on clusters, individuals or both.",
        _any("interventions_level"),
    ),
    _i(
        "14-cluster",
        M,
        "Level of the outcomes",
        "Whether outcomes are measured on clusters or individuals.",
        _any("outcomes_level"),
    ),
    _i(
        "16a-cluster",
        M,
        "Sample size for clusters",
        "The calculation's allowance for clustering: number "
        "and size of clusters (and their variation), the ICC or CV with its uncertainty.",
        _any("design.icc", "design.parameters.rho2", "design.cv"),
    ),
    _i(
        "17b-cluster",
        RAND,
        "Stratification or matching",
        "Details of stratification or matching of clusters.",
        _any("randomisation.block", "randomisation.strata", "randomisation.matching"),
    ),
    _i(
        "18-cluster",
        RAND,
        "Concealment at both levels",
        "Concealment of allocation for clusters and for individuals.",
        _any("randomisation.concealment_individuals"),
    ),
    _i(
        "19-cluster",
        RAND,
        "Recruitment and consent",
        "Who enrolled and assigned clusters; how individuals were included; from whom consent was sought.",
        _any("recruitment_of_individuals"),
    ),
    _i(
        "21a-cluster",
        M,
        "Clustering in the analysis",
        "How the analysis took clustering into account.",
        _any("clustering_in_analysis"),
    ),
    _i(
        "22a-cluster",
        RES,
        "Flow of clusters and individuals",
        "Clusters and individuals randomised, treated and analysed, per arm.",
        _flow(("clusters",), ("allocated", "analysed")),
    ),
    _i(
        "22b-cluster",
        RES,
        "Losses of clusters and individuals",
        "Clusters and individuals lost or excluded, per arm, with reasons.",
        _flow_losses(("clusters", "individuals"), need_all=True),
    ),
    _i(
        "25-cluster",
        RES,
        "Baseline at both levels",
        "Baseline characteristics of clusters and of individuals, as relevant.",
        _any("balance"),
    ),
    _i(
        "26-cluster",
        RES,
        "ICC of primary outcomes",
        "Results at the cluster or individual level, and the ICC or CV for each primary outcome.",
        _results(("icc",)),
    ),
    _i(
        "30-cluster",
        DISC,
        "Generalisability",
        "Generalisability to clusters and/or individuals.",
        _any("generalisability"),
    ),
)


@dataclass(frozen=True, repr=False)
class Checklist(Result):
    """Which checklist items a trial record answers, and how (a field, or where the authors report it)."""

    trial: str
    cluster: bool
    items: tuple[dict[str, Any], ...]

    @property
    def answered(self) -> int:
        return sum(r["answered"] for r in self.items)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self.items))

    def summary_text(self) -> str:
        lines = [
            f"CONSORT 2025{' + cluster extension' if self.cluster else ''} for {self.trial}: "
            f"{self.answered} of {len(self.items)} items answered"
        ]
        for r in self.items:
            mark = "yes" if r["answered"] else " - "
            lines.append(f"  [{mark}] {r['item']:<12} {r['topic']}: {r['by'] or 'not yet in the record'}")
        return "\n".join(lines)


def checklist(record: TrialRecord) -> Checklist:
    """The CONSORT 2025 items (with the cluster extension for a cluster trial) and, for each, whether
    the record answers it: ``by`` names the record field, or ``reported: ...`` from ``reporting``."""
    reporting = record.get("reporting") or {}
    items = CONSORT_2025 + (CLUSTER_EXTENSION if record.cluster else ())
    rows = []
    for it in items:
        by = it.check(record)
        if by is None and reporting.get(it.item):
            by = f"reported: {reporting[it.item]}"
        rows.append(
            {
                "item": it.item,
                "section": it.section,
                "topic": it.topic,
                "text": it.text,
                "answered": by is not None,
                "by": by,
            }
        )
    return Checklist(record.id, record.cluster, tuple(rows))


# ------------------------------------------------------------------------------------------ flow

STAGE_NAMES = ("Enrolment", "Allocation", "Follow-up", "Analysis")
ARM_STAGES = ("allocated", "received", "not_received", "lost", "discontinued", "analysed", "excluded")


@dataclass(frozen=True)
class Count:
    """Clusters and individuals at one box of the diagram (either may be unknown), with reasons
    (counts of the cluster trial's clusters, or of individuals in an individually randomised trial)."""

    clusters: int | None = None
    individuals: int | None = None
    reasons: tuple[tuple[str, int], ...] = ()

    def get(self, level: str) -> int | None:
        return getattr(self, level)

    @property
    def known(self) -> bool:
        return self.clusters is not None or self.individuals is not None


@dataclass(frozen=True)
class ArmFlow:
    """One arm's counts: allocated, received / did not receive, lost / discontinued, analysed /
    excluded from analysis."""

    arm: str
    label: str
    allocated: Count
    received: Count = Count()
    not_received: Count = Count()
    lost: Count = Count()
    discontinued: Count = Count()
    analysed: Count = Count()
    excluded: Count = Count()


@dataclass(frozen=True)
class Flow:
    """The participant flow: enrolment (assessed, excluded) and each arm's counts."""

    cluster: bool
    cluster_unit: str
    individual_unit: str
    assessed: Count
    excluded: Count
    arms: tuple[ArmFlow, ...]

    def randomised(self, level: str) -> int | None:
        vals = [a.allocated.get(level) for a in self.arms]
        return None if any(v is None for v in vals) else sum(vals)

    @property
    def levels(self) -> tuple[str, ...]:
        return ("clusters", "individuals") if self.cluster else ("individuals",)

    def to_dict(self) -> dict[str, Any]:
        from .._results import jsonable

        out = {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}
        out["randomised"] = {lv: self.randomised(lv) for lv in self.levels}
        return out


def _count(d: Any, where: str, source: str | None, *, reasons_level: str) -> Count:
    if d is None:
        return Count()
    if isinstance(d, int) and not isinstance(d, bool):
        d = {reasons_level: d}
    if not isinstance(d, Mapping):
        raise InputError(
            'expected {"clusters": n, "individuals": n, "reasons": {...}}', file=source, column=where
        )
    vals = {}
    for lv in ("clusters", "individuals"):
        v = d.get(lv)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise InputError(f"expected a whole number >= 0, got {v!r}", file=source, column=f"{where}.{lv}")
        vals[lv] = v
    reasons = d.get("reasons") or {}
    if not isinstance(reasons, Mapping):
        raise InputError("reasons must be an object {reason: count}", file=source, column=f"{where}.reasons")
    for k, v in reasons.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InputError(
                f"expected a whole number >= 0, got {v!r}", file=source, column=f"{where}.reasons.{k}"
            )
    total, base = sum(reasons.values()), vals[reasons_level]
    if reasons and base is not None and total > base:
        raise InputError(
            f"the reasons add up to {total}, more than the {base} {reasons_level} they explain",
            file=source,
            column=f"{where}.reasons",
        )
    return Count(vals["clusters"], vals["individuals"], tuple((str(k), int(v)) for k, v in reasons.items()))


def _check_flow(flow: Flow, source: str | None) -> None:
    def bad(msg, where):
        raise InputError(msg + "; correct the counts", file=source, column=where)

    for lv in ("clusters", "individuals"):
        a, e, r = flow.assessed.get(lv), flow.excluded.get(lv), flow.randomised(lv)
        if a is not None and e is not None and r is not None and a - e != r:
            bad(
                f"{a} {lv} assessed - {e} excluded = {a - e}, but the arms' allocated {lv} add up to {r}",
                "flow.assessed",
            )
        if a is not None and r is not None and r > a:
            bad(f"{r} {lv} randomised is more than the {a} assessed", "flow.assessed")
    for arm in flow.arms:
        w = f"flow.arms.{arm.arm}"
        for lv in ("clusters", "individuals"):
            n = arm.allocated.get(lv)
            rec, nrec = arm.received.get(lv), arm.not_received.get(lv)
            if n is not None and rec is not None and nrec is not None and rec + nrec != n:
                bad(
                    f"{arm.arm}: received {rec} + did not receive {nrec} = {rec + nrec} {lv}, "
                    f"not the {n} allocated",
                    w,
                )
            an, ex = arm.analysed.get(lv), arm.excluded.get(lv)
            if n is not None and an is not None and ex is not None and an + ex != n:
                bad(
                    f"{arm.arm}: analysed {an} + excluded from analysis {ex} = {an + ex} {lv}, "
                    f"not the {n} allocated",
                    w,
                )
            for stage in ("received", "not_received", "lost", "discontinued", "analysed", "excluded"):
                v = getattr(arm, stage).get(lv)
                if n is not None and v is not None and v > n:
                    bad(f"{arm.arm}: {stage.replace('_', ' ')} {v} {lv} is more than the {n} allocated", w)
            lost = [getattr(arm, s).get(lv) for s in ("lost", "discontinued")]
            if n is not None and all(x is not None for x in lost) and sum(lost) > n:
                bad(
                    f"{arm.arm}: lost {lost[0]} + discontinued {lost[1]} {lv} is more than the {n} allocated",
                    w,
                )


def flow_from_dict(
    d: Mapping[str, Any],
    *,
    cluster: bool,
    arms: Iterable[tuple[str, str]],
    cluster_unit: str = "cluster",
    individual_unit: str = "participant",
    source: str | None = None,
) -> Flow:
    """A :class:`Flow` from the record's ``flow`` object (see :mod:`whatworks.trials.record`);
    counts may be ``{"clusters": n, "individuals": n, "reasons": {...}}`` or a bare number (clusters
    in a cluster trial, else individuals). Inconsistent counts raise with the sum that fails."""
    if not isinstance(d, Mapping):
        raise InputError("flow must be an object with 'arms'", file=source, column="flow")
    lvl = "clusters" if cluster else "individuals"
    arms = list(arms)
    arm_data = d.get("arms") or {}
    if not isinstance(arm_data, Mapping):
        raise InputError("flow.arms must be an object {arm key: counts}", file=source, column="flow.arms")
    unknown = set(arm_data) - {k for k, _ in arms}
    if unknown:
        raise InputError(
            f"flow has arm(s) {sorted(unknown)} that the record's arms {[k for k, _ in arms]} do not have",
            file=source,
            column="flow.arms",
        )
    out = []
    for key, label in arms:
        a = arm_data.get(key)
        if not isinstance(a, Mapping) or a.get("allocated") is None:
            raise InputError(
                f"arm '{key}' needs its 'allocated' counts", file=source, column=f"flow.arms.{key}.allocated"
            )
        extra = set(a) - set(ARM_STAGES)
        if extra:
            raise InputError(
                f"unknown stage(s) {sorted(extra)}; allowed: {', '.join(ARM_STAGES)}",
                file=source,
                column=f"flow.arms.{key}",
            )
        out.append(
            ArmFlow(
                key,
                label,
                **{
                    s: _count(a.get(s), f"flow.arms.{key}.{s}", source, reasons_level=lvl) for s in ARM_STAGES
                },
            )
        )
    flow = Flow(
        cluster,
        cluster_unit,
        individual_unit,
        _count(d.get("assessed"), "flow.assessed", source, reasons_level=lvl),
        _count(d.get("excluded"), "flow.excluded", source, reasons_level=lvl),
        tuple(out),
    )
    _check_flow(flow, source)
    return flow


def flow_from_record(record: TrialRecord) -> Flow:
    """The record's flow (raises, naming the field, when it has none)."""
    d = record.get("flow")
    if d is None:
        raise InputError(
            "the record has no 'flow'; add the counts per arm (see whatworks.trials.record)",
            file=record.source,
            column="flow",
        )
    return flow_from_dict(
        d,
        cluster=record.cluster,
        arms=record.arms,
        cluster_unit=record.cluster_unit,
        individual_unit=record.individual_unit,
        source=record.source,
    )


def allocated_counts(
    allocation, *, arm: str = "arm", cluster: str | None = None, size: str | None = None
) -> dict[str, dict[str, int]]:
    """Allocated counts per arm from an allocation table (a DataFrame or rows of dicts: one row per
    unit, as the randomisation writes it): ``{arm: {"clusters": ..., "individuals": ...}}``.

    With ``cluster`` the distinct clusters per arm are counted, and individuals are the rows (or the sum
    of the ``size`` column when each row is a whole cluster); without it, rows are individuals. Feed the
    result into the record's ``flow.arms.<arm>.allocated``."""
    import pandas as pd

    df = allocation if isinstance(allocation, pd.DataFrame) else pd.DataFrame(list(allocation))
    for col in (arm, cluster, size):
        if col is not None and col not in df.columns:
            raise InputError(
                f"no column '{col}'; the columns are {', '.join(map(str, df.columns))}", column=col
            )
    out: dict[str, dict[str, int]] = {}
    for key, g in df.groupby(arm, sort=True):
        c: dict[str, int] = {}
        if cluster is not None:
            c["clusters"] = int(g[cluster].nunique())
        c["individuals"] = int(g[size].sum()) if size is not None else int(len(g))
        out[str(key)] = c
    return out


# ------------------------------------------------------------------------------------------- SVG


def _n(x: int | None) -> str:
    return "n = ?" if x is None else f"n = {x:,}"


def count_text(c: Count, flow: Flow) -> str:
    """'134 schools; 9,000 pupils' (or one level in an individually randomised trial)."""
    parts = []
    if flow.cluster:
        parts.append(f"{_n(c.clusters)} {flow.cluster_unit}s")
    if c.individuals is not None or not flow.cluster:
        parts.append(f"{_n(c.individuals)} {flow.individual_unit}s")
    return "; ".join(parts)


#: How boxes and lines are painted: presentation attributes, not a ``<style>`` element, so the
#: diagram looks the same standalone and inside a page whose Content-Security-Policy allows no
#: inline styles (the web's trial page; text takes the root's ``fill``).
BOX_PAINT = 'fill="#fff" stroke="#333" stroke-width="1"'
LINE_PAINT = 'stroke="#333" stroke-width="1.2"'


def _box(x, y, w, lines, *, cls="box") -> tuple[str, float]:
    h = 14 + 16 * len(lines)
    out = [f'<rect class="{cls}" x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="3"'
           f' {BOX_PAINT}/>']
    for i, (text, weight) in enumerate(lines):
        fw = ' font-weight="bold"' if weight else ""
        out.append(f'<text x="{x + 8:.0f}" y="{y + 20 + 16 * i:.0f}"{fw}>{escape(text)}</text>')
    return "\n".join(out), h


def _arrow(x1, y1, x2, y2) -> str:
    return (f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" {LINE_PAINT} '
            'marker-end="url(#arrow)"/>')


def _lines(head: str, c: Count, flow: Flow, *, bold: bool = True) -> list[tuple[str, bool]]:
    out = [(head, bold), ("  " + count_text(c, flow), False)]
    out += [(f"    {r}: {n:,}", False) for r, n in c.reasons]
    return out


def _arm_boxes(a: ArmFlow, flow: Flow) -> list[list[tuple[str, bool]]]:
    alloc = _lines(f"Allocated to {a.label}", a.allocated, flow)
    if a.received.known:
        alloc += _lines("Received the allocated intervention", a.received, flow, bold=False)
    if a.not_received.known:
        alloc += _lines("Did not receive it", a.not_received, flow, bold=False)
    follow = _lines("Lost to follow-up", a.lost, flow)
    if a.discontinued.known:
        follow += _lines("Discontinued", a.discontinued, flow)
    analysis = _lines("Analysed", a.analysed, flow)
    if a.excluded.known:
        analysis += _lines("Excluded from analysis", a.excluded, flow, bold=False)
    return [alloc, follow, analysis]


def flow_svg(flow: Flow, *, title: str = "CONSORT flow diagram") -> str:
    """The CONSORT flow diagram as standalone SVG text: enrolment, allocation, follow-up and analysis,
    one column per arm, clusters and individuals in each box of a cluster trial."""
    k = len(flow.arms)
    col_w, gap, left = 360, 20, 110
    width = left + k * col_w + (k - 1) * gap + 20
    mid = left + (width - left - 20) / 2
    parts: list[str] = []
    stage_y = {"Enrolment": 20.0}
    y = 20.0
    b, h = _box(mid - 150, y, 300, _lines("Assessed for eligibility", flow.assessed, flow))
    parts.append(b)
    ex_w = min(340.0, width - (mid + 30) - 10)
    b, h2 = _box(mid + 30, y + h + 12, ex_w, _lines("Excluded", flow.excluded, flow))
    parts.append(b)
    parts.append(_arrow(mid, y + h, mid, y + h + 12 + h2 + 24))
    parts.append(_arrow(mid, y + h + 12 + h2 / 2, mid + 30, y + h + 12 + h2 / 2))
    y = y + h + 12 + h2 + 24
    rand = Count(flow.randomised("clusters"), flow.randomised("individuals"))
    b, h = _box(mid - 150, y, 300, _lines("Randomised", rand, flow))
    parts.append(b)
    y += h
    xs = [left + i * (col_w + gap) for i in range(k)]
    parts.append(
        f'<line x1="{xs[0] + col_w / 2:.0f}" y1="{y + 15:.0f}" x2="{xs[-1] + col_w / 2:.0f}" '
        f'y2="{y + 15:.0f}" {LINE_PAINT}/>'
    )
    parts.append(f'<line x1="{mid:.0f}" y1="{y:.0f}" x2="{mid:.0f}" y2="{y + 15:.0f}" {LINE_PAINT}/>')
    y += 15
    for x in xs:
        parts.append(_arrow(x + col_w / 2, y, x + col_w / 2, y + 20))
    y += 20
    columns = [_arm_boxes(a, flow) for a in flow.arms]
    for row, stage in enumerate(STAGE_NAMES[1:]):
        stage_y[stage] = y
        boxes = [col[row] for col in columns]
        hmax = max(14 + 16 * len(bl) for bl in boxes)
        for x, bl in zip(xs, boxes, strict=True):
            parts.append(_box(x, y, col_w, bl)[0])
            if stage != "Analysis":
                parts.append(_arrow(x + col_w / 2, y + 14 + 16 * len(bl), x + col_w / 2, y + hmax + 25))
        y += hmax + 25
    for name in STAGE_NAMES:
        sy = stage_y[name]
        parts.append(
            f'<rect class="stage" x="8" y="{sy:.0f}" width="92" height="24" rx="3" fill="#dce6f0"/>'
            f'<text class="stage" x="54" y="{sy + 16:.0f}" text-anchor="middle">{name}</text>'
        )
    height = y + 5
    desc = "; ".join(
        f"{a.label}: allocated {count_text(a.allocated, flow)}, analysed {count_text(a.analysed, flow)}"
        for a in flow.arms
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-labelledby="consort-title consort-desc" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12" fill="#111">'
        f'<title id="consort-title">{escape(title)}</title><desc id="consort-desc">{escape(desc)}</desc>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>'
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>'
    )
    return head + "\n" + "\n".join(parts) + "\n</svg>\n"
