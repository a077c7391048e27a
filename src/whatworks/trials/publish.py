"""A trial's results as Evidence Store inputs: one study and its findings, ready for the store's write
services (which compute the synthesis and the rating with ``whatworks.ratings``).

What the record must say, besides its results (errors name the missing field):

- ``evidence_store.outcomes``: which Evidence Store outcome each result answers, by the result's
  ``outcome`` name, e.g. ``{"section 47 enquiries": "section-47-enquiries"}``; ``null`` leaves a
  result out on purpose (listed in :attr:`Publication.left_out`);
- ``flow.arms.<arm>.analysed.individuals`` for every arm: the participants analysed (the study's
  sample size);
- per result, ``family`` and its effect: ``ratio`` (estimate with ``ci_lower``/``ci_upper``) for
  binomial (odds ratio, measure ``OR``) and poisson/negbin (rate ratio, measure ``IRR``), or
  ``effect_size`` (Hedges' g with its CI, measure ``SMD``) for gaussian.

Optional: ``evidence_store.intervention`` (the store intervention's slug; the publisher may choose
another), ``evidence_store.risk_of_bias`` (low, some concerns/moderate, high or unclear; unclear when
absent, which the rating treats as high), ``evidence_store.year``, ``evidence_store.country``,
``evidence_store.citation``, and the time point in months (``results[i].timepoint_months``, else
``evidence_store.timepoint_months``; unrecorded otherwise).

Effect sizes are the generic inverse-variance measure (``escalc("GEN", ...)``): a ratio's log and
its variance from the CI on the log scale, ``vi = ((log(u) - log(l)) / (2 z))^2`` with ``z`` the
normal quantile of the result's ``level`` (95%, ``z_{.975}``, when the result does not say); Hedges'
g with the variance from its CI on the identity scale (Higgins et al. 2023, Cochrane Handbook
section 6.3.1). The study's key is ``trial-<trial id>``, so publishing again updates it.

**The trial's study may already be in the store** (curated from its report before the trial record
was published, say). :func:`existing_study` decides, from plain summaries of the store's studies
(:class:`StoredStudy`; no Django here), which study the publication updates, or refuses:

1. the study the publisher names (``update=`` or ``evidence_store.study`` in the record): update it;
2. the study keyed ``trial-<trial id>``: update it (publishing again);
3. a study holding findings this trial published before (their notes begin ``Published from trial
   <id>,``): update it (a trial linked to an existing study earlier);
4. otherwise, a study that looks like the same trial is a **duplicate**, and publication is refused
   with :class:`DuplicateStudyError`, whose message names the study, says why, and offers "update
   the existing study" (rule 1). A study is the same trial when (a) its citation contains the
   record's registration id or DOI (``registration``, ``evidence_store.registration``,
   ``evidence_store.doi``; compared without case, spaces or punctuation), or (b) under the intervention
   published to, it has a finding on a published outcome with the same measure and the same effect
   (``|Δyi| <= 0.0005``, the same estimate as rounded in a report, and ``vi`` within 25%, as a
   variance derived another way, from a p-value or a rounded interval, can differ), or (c) it
   has the record's ``evidence_store.year`` and its citation contains the record's title (compared
   without case or punctuation). A study named in ``evidence_store.not_same_as`` is never a match:
   the publisher's answer that it is another study.

Only (b) catches the demo: the curated ``swis-westlake2023`` holds the same rate ratio. When a
publication updates an existing study, each published finding updates that study's finding on the
same outcome and time point, else its only finding on that outcome (when the record publishes only
one result there), else it is added (:func:`match_findings`). Findings this trial published before
that it no longer publishes are removed; other findings of the study are kept. An existing study
keeps its key, and its citation, year and country unless the record declares them.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, WhatWorksError
from .record import TrialRecord, result_level

__all__ = ["DuplicateStudyError", "Existing", "FindingInput", "Publication", "StoredFinding",
           "StoredStudy", "StudyInput", "existing_study", "match_findings", "publication", "published_note",
           "record_sha256", "study_key", "trial_of_study_key"]

KEY_PREFIX = "trial-"
RATIO_MEASURES = {"binomial": "OR", "poisson": "IRR", "negbin": "IRR"}
RISK_OF_BIAS = {"low": "low", "some concerns": "some concerns", "moderate": "some concerns",
                "high": "high", "unclear": ""}


@dataclass(frozen=True)
class StudyInput:
    """The Evidence Store study (``store.models.Study`` fields)."""

    key: str
    citation: str
    year: int | None
    design: str  # "rct" or "cluster-rct"
    country: str
    sample_size: int
    unit_of_randomisation: str
    follow_up_months: float | None
    risk_of_bias: str  # "", "low", "some concerns", "high" ("" = unclear)
    illustrative: bool
    source: str = "trial"


@dataclass(frozen=True)
class FindingInput:
    """One Evidence Store finding: the outcome's slug, time point, measure and effect size."""

    result: int  # index in the record's results
    result_outcome: str  # the result's name in the record
    outcome: str  # the store outcome's slug
    primary: bool
    timepoint_months: float | None
    measure: str
    yi: float
    vi: float
    notes: str

    @property
    def reported(self) -> dict[str, float]:
        return {"yi": self.yi, "vi": self.vi}


@dataclass(frozen=True)
class Publication:
    trial: str
    record_sha256: str
    intervention: str | None
    study: StudyInput
    findings: tuple[FindingInput, ...]
    left_out: tuple[str, ...] = field(default=())
    #: what says which store study is this trial's: evidence_store.study / not_same_as, the
    #: registration ids and DOIs, the title (see :func:`existing_study`)
    identity: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def provenance(self) -> dict[str, str]:
        return {"source": "trial", "trial": self.trial, "record_sha256": self.record_sha256}


def record_sha256(record: TrialRecord | Mapping[str, Any]) -> str:
    """The SHA-256 of the record's canonical JSON (sorted keys, no spaces): the version published."""
    data = record.data if isinstance(record, TrialRecord) else record
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def study_key(trial_id: str) -> str:
    return f"{KEY_PREFIX}{trial_id}"[:120]


def trial_of_study_key(key: str) -> str | None:
    """The trial id a published study's key names (None for other studies)."""
    return key[len(KEY_PREFIX):] if key.startswith(KEY_PREFIX) else None


def publication(record: TrialRecord, *, intervention: str | None = None) -> Publication:
    """The study and findings a trial record publishes into the Evidence Store.

    ``intervention`` (a store slug) overrides ``evidence_store.intervention``. Raises
    :class:`~whatworks.errors.InputError` naming the record field when a needed piece is missing.

    References
    ----------
    Higgins JPT, Li T, Deeks JJ (eds) (2023). Chapter 6: Choosing effect measures and computing
    estimates of effect. *Cochrane Handbook for Systematic Reviews of Interventions* 6.4 (the standard
    error from a confidence interval, section 6.3.1).
    """
    src = record.source
    store = record.get("evidence_store")
    if store is not None and not isinstance(store, Mapping):
        raise InputError("must be an object, e.g. {\"outcomes\": {...}}", file=src, column="evidence_store")
    store = store or {}
    results = record.get("results") or []
    if not results:
        raise InputError("the record has no results to publish; add the analysis results "
                         "(whatworks trial analyse --format json)", file=src, column="results")
    mapping = store.get("outcomes")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InputError("say which Evidence Store outcome each result answers, e.g. "
                         f'{{"{results[0].get("outcome")}": "<outcome-slug>"}} (null leaves one out)',
                         file=src, column="evidence_store.outcomes")
    default_months = _months(store.get("timepoint_months"), src, "evidence_store.timepoint_months")
    findings, left_out, seen = [], [], {}
    for i, r in enumerate(results):
        name = str(r["outcome"])
        if name not in mapping:
            raise InputError(f"result '{name}' has no Evidence Store outcome: add \"{name}\": "
                             "\"<outcome-slug>\" (or null to leave it out)", file=src,
                             column="evidence_store.outcomes")
        slug = mapping[name]
        if slug is None:
            left_out.append(name)
            continue
        if not isinstance(slug, str) or not slug.strip():
            raise InputError(f"the outcome for '{name}' must be an Evidence Store outcome's slug",
                             file=src, column=f"evidence_store.outcomes.{name}")
        months = _months(r.get("timepoint_months"), src, f"results[{i}].timepoint_months")
        months = default_months if months is None else months
        if (slug, months) in seen:
            raise InputError(f"results '{seen[(slug, months)]}' and '{name}' both map to outcome "
                             f"'{slug}' at the same time point; map one of them to null or give "
                             "each its timepoint_months", file=src, column="evidence_store.outcomes")
        seen[(slug, months)] = name
        measure, yi, vi, how = _effect(r, i, src)
        notes = (f"{published_note(record.id)} result '{name}' ({how}); trial record SHA-256 "
                 f"{record_sha256(record)}.")
        findings.append(FindingInput(result=i, result_outcome=name, outcome=slug.strip(),
                                     primary=bool(r.get("primary")), timepoint_months=months,
                                     measure=measure, yi=yi, vi=vi, notes=notes))
    if not findings:
        raise InputError("every result is mapped to null: map at least one to an Evidence Store "
                         "outcome", file=src, column="evidence_store.outcomes")
    digest = record_sha256(record)
    months = [f.timepoint_months for f in findings if f.timepoint_months is not None]
    study = StudyInput(
        key=study_key(record.id),
        citation=str(store.get("citation") or
                     f"{record.title}. Trial record '{record.id}' in the whatworks trial registry "
                     f"(record SHA-256 {digest[:12]})."),
        year=_year(store.get("year"), src),
        design="cluster-rct" if record.cluster else "rct",
        country=str(store.get("country") or "")[:80],
        sample_size=_analysed(record),
        unit_of_randomisation=(record.cluster_unit if record.cluster else record.individual_unit)[:40],
        follow_up_months=max(months) if months else None,
        risk_of_bias=_risk_of_bias(store.get("risk_of_bias"), src),
        illustrative=bool(record.get("illustrative")),
    )
    chosen = intervention or store.get("intervention")
    return Publication(trial=record.id, record_sha256=digest, intervention=str(chosen) if chosen else None,
                       study=study, findings=tuple(findings), left_out=tuple(left_out),
                       identity=_identity(record, store, src))


# -- is the trial's study already in the store? ----------------------------------------------------

class DuplicateStudyError(WhatWorksError):
    """The trial's study is already in the Evidence Store under another key: publishing would count
    the same evidence twice. The message offers to update the existing study."""

    def __init__(self, message: str, *, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(message)


@dataclass(frozen=True)
class StoredFinding:
    """What :func:`existing_study` needs of a store finding."""

    outcome: str  # the outcome's slug
    timepoint_months: float | None
    measure: str
    yi: float | None
    vi: float | None
    notes: str = ""


@dataclass(frozen=True)
class StoredStudy:
    """What :func:`existing_study` needs of a store study."""

    key: str
    citation: str
    year: int | None
    intervention: str  # the intervention's slug
    findings: tuple[StoredFinding, ...] = ()


@dataclass(frozen=True)
class Existing:
    """The store study a publication updates, and why (``rule`` is ``named``, ``own key`` or
    ``published before``)."""

    key: str
    rule: str
    reason: str


#: the same estimate, as rounded in a report: |Δ log ratio or g| and the relative difference of vi
SAME_YI, SAME_VI_REL = 0.0005, 0.25


def published_note(trial_id: str) -> str:
    """How the notes of a finding this trial published begin (its provenance)."""
    return f"Published from trial {trial_id},"


def existing_study(pub: Publication, studies, *, update: str | None = None) -> Existing | None:
    """The store study ``pub`` updates (None: add ``pub.study.key``), or :class:`DuplicateStudyError`
    when another study looks like the same trial (rules in the module docstring).

    ``studies`` is an iterable of :class:`StoredStudy`: at least those under the intervention published
    to, the one keyed ``pub.study.key``, those holding this trial's findings, and any whose citation
    may contain the record's identifiers or title (the caller may pass the whole store).
    """
    studies = {s.key: s for s in studies}
    named = update or pub.identity.get("study")
    if named:
        if named not in studies:
            raise InputError(f"there is no Evidence Store study '{named}' to update; give the key of "
                             "an existing study, or leave evidence_store.study out to add the trial "
                             "as a new study", column="evidence_store.study")
        return Existing(named, "named", f"the publisher chose to update study '{named}'")
    if pub.study.key in studies:
        return Existing(pub.study.key, "own key", "published before under its own key")
    note = published_note(pub.trial)
    mine = [s for s in studies.values() if any(f.notes.startswith(note) for f in s.findings)]
    if mine:
        s = min(mine, key=lambda s: s.key)
        return Existing(s.key, "published before", f"study '{s.key}' holds findings this trial published")
    for s in sorted(studies.values(), key=lambda s: s.key):
        if s.key in pub.identity.get("not_same_as", ()):
            continue
        why = _same_trial(pub, s)
        if why:
            raise DuplicateStudyError(
                f"the Evidence Store already holds this trial as study '{s.key}' ({why}); publishing it "
                f"as '{pub.study.key}' would count the same evidence twice. To update the existing "
                f"study with the trial's results, choose \"update the existing study\" (set "
                f"\"evidence_store\": {{\"study\": \"{s.key}\"}} in the trial record); if it is a "
                f"different study, say so with \"evidence_store\": {{\"not_same_as\": [\"{s.key}\"]}}.",
                key=s.key, reason=why)
    return None


def _same_trial(pub: Publication, s: StoredStudy) -> str | None:
    cited = _squash(s.citation)
    for label in ("registration", "doi"):
        for ident in pub.identity.get(label, ()):
            if _squash(ident) and _squash(ident) in cited:
                return f"its citation gives the trial's {label} {ident}"
    if s.intervention == pub.intervention:
        for fi in pub.findings:
            for f in s.findings:
                if (f.outcome == fi.outcome and f.measure == fi.measure and f.yi is not None
                        and f.vi is not None and abs(f.yi - fi.yi) <= SAME_YI
                        and abs(f.vi - fi.vi) <= SAME_VI_REL * fi.vi):
                    return (f"its finding on {f.outcome} has the same effect: {f.measure} yi "
                            f"{f.yi:.4f}, vi {f.vi:.5f} against the trial's {fi.yi:.4f}, {fi.vi:.5f}")
    title = _squash(pub.identity.get("title", ""))
    if pub.study.year is not None and s.year == pub.study.year and len(title) >= 20 and title in cited:
        return f"its citation has the trial's title and year {s.year}"
    return None


def _squash(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _identity(record: TrialRecord, store: Mapping[str, Any], src) -> dict[str, Any]:
    def strings(value, column):
        if value is None:
            return ()
        values = value if isinstance(value, list | tuple) else [value]
        out = []
        for v in values:
            if isinstance(v, Mapping):  # e.g. {"id": "ISRCTN...", "registry": "ISRCTN"}
                v = v.get("id")
            if not isinstance(v, str | int) or isinstance(v, bool):
                raise InputError("give a string (or a list of strings)", file=src, column=column)
            if str(v).strip():
                out.append(str(v).strip())
        return tuple(out)

    study = store.get("study")
    if study is not None and (not isinstance(study, str) or not study.strip()):
        raise InputError("the key of the existing Evidence Store study this trial updates",
                         file=src, column="evidence_store.study")
    return {"study": study.strip() if study else None,
            "not_same_as": strings(store.get("not_same_as"), "evidence_store.not_same_as"),
            "registration": strings(record.get("registration"), "registration")
            + strings(store.get("registration"), "evidence_store.registration"),
            "doi": strings(store.get("doi"), "evidence_store.doi"),
            "title": record.title}


def match_findings(pub: Publication, existing: Existing | None, findings) -> tuple[dict[int, int], list[int]]:
    """Which of the existing study's ``findings`` (a sequence of :class:`StoredFinding`) each
    published finding updates, and which are removed.

    Returns ``({index in pub.findings: index in findings}, [indices removed])``. Matching is by
    outcome and time point; when updating a study that is not this trial's own (``existing.rule`` is
    ``named``) a published finding with no such match takes the study's only finding on its outcome,
    if the record publishes only that one result on it. Removed: findings this trial published
    before (by their notes) that no published finding matched.
    """
    note = published_note(pub.trial)
    free = dict(enumerate(findings))
    out: dict[int, int] = {}
    for i, fi in enumerate(pub.findings):
        j = next((j for j, f in free.items() if f.outcome == fi.outcome
                  and f.timepoint_months == fi.timepoint_months), None)
        if j is not None:
            free.pop(j)
            out[i] = j
    if existing is not None and existing.rule != "own key":
        for i, fi in enumerate(pub.findings):
            if i in out or sum(g.outcome == fi.outcome for g in pub.findings) != 1:
                continue
            same = [j for j, f in free.items() if f.outcome == fi.outcome]
            if len(same) == 1 and sum(f.outcome == fi.outcome for f in findings) == 1:
                out[i] = same[0]
                free.pop(same[0])
    removed = [j for j, f in free.items() if f.notes.startswith(note)]
    return out, removed


# -- pieces --------------------------------------------------------------------------------------

def _effect(r: Mapping[str, Any], i: int, src) -> tuple[str, float, float, str]:
    from ..effects import escalc

    family = r.get("family")
    level = result_level(r, source=src, where=f"results[{i}].level")
    ci = f"{level:g}% CI"
    if family in RATIO_MEASURES:
        ratio = r.get("ratio")
        where = f"results[{i}].ratio"
        if not isinstance(ratio, Mapping):
            raise InputError(f"a {family} result needs its ratio (estimate, ci_lower, ci_upper) as "
                             "whatworks trial analyse prints it", file=src, column=where)
        args = {k: _number(ratio.get(k), src, f"{where}.{k}") for k in ("estimate", "ci_lower", "ci_upper")}
        if min(args.values()) <= 0:
            raise InputError("a ratio and its confidence limits must be greater than 0", file=src,
                             column=where)
        scale, label = "log", ("odds ratio" if family == "binomial" else "rate ratio")
        how = (f"{label} {args['estimate']:g} ({ci} {args['ci_lower']:g} to {args['ci_upper']:g}); "
               "yi = log ratio, vi from the CI on the log scale")
        measure = RATIO_MEASURES[family]
    elif family == "gaussian":
        es = r.get("effect_size")
        where = f"results[{i}].effect_size"
        if not isinstance(es, Mapping):
            raise InputError("a gaussian result needs its effect_size (g, ci_lower, ci_upper) as "
                             "whatworks trial analyse prints it", file=src, column=where)
        args = {"estimate": _number(es.get("g"), src, f"{where}.g"),
                "ci_lower": _number(es.get("ci_lower"), src, f"{where}.ci_lower"),
                "ci_upper": _number(es.get("ci_upper"), src, f"{where}.ci_upper")}
        scale, measure = "identity", "SMD"
        how = (f"Hedges' g {args['estimate']:g} ({ci} {args['ci_lower']:g} to {args['ci_upper']:g}); "
               "vi from the CI")
    else:
        raise InputError(f"family {family!r} is not one of gaussian, binomial, poisson, negbin; "
                         "record the analysis model's family", file=src, column=f"results[{i}].family")
    if not args["ci_lower"] < args["estimate"] < args["ci_upper"]:
        raise InputError("the estimate must lie strictly inside its confidence interval "
                         f"({args['ci_lower']:g} to {args['ci_upper']:g})", file=src, column=where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = escalc("GEN", **{k: [v] for k, v in args.items()}, scale=scale, level=level)
    yi, vi = float(out["yi"].iloc[0]), float(out["vi"].iloc[0])
    if not (math.isfinite(yi) and math.isfinite(vi) and vi > 0):
        raise InputError("no finite effect size with a positive variance from this result", file=src,
                         column=where)
    return measure, yi, vi, how


def _number(value, src, column: str) -> float:
    if isinstance(value, bool) or value is None:
        raise InputError("a number is needed here", file=src, column=column)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"'{value}' is not a number", file=src, column=column) from None
    if not math.isfinite(x):
        raise InputError("must be a finite number", file=src, column=column)
    return x


def _months(value, src, column: str) -> float | None:
    if value is None:
        return None
    x = _number(value, src, column)
    if not 0 <= x <= 1200:
        raise InputError("a time point in months from 0 to 1200", file=src, column=column)
    return x


def _year(value, src) -> int | None:
    if value is None:
        return None
    x = _number(value, src, "evidence_store.year")
    if x != int(x) or not 1900 <= x <= 2100:
        raise InputError("a year from 1900 to 2100", file=src, column="evidence_store.year")
    return int(x)


def _risk_of_bias(value, src) -> str:
    if value is None:
        return ""
    key = str(value).strip().lower()
    if key not in RISK_OF_BIAS:
        raise InputError(f"'{value}' is not one of low, some concerns (moderate), high, unclear",
                         file=src, column="evidence_store.risk_of_bias")
    return RISK_OF_BIAS[key]


def _analysed(record: TrialRecord) -> int:
    total = 0
    for key, _ in record.arms:
        column = f"flow.arms.{key}.analysed.individuals"
        value = record.get(column)
        if value is None:
            raise InputError("the participants analysed in each arm give the study's sample size; "
                             "record them", file=record.source, column=column)
        x = _number(value, record.source, column)
        if x < 0 or x != int(x):
            raise InputError("a whole number of participants, 0 or more", file=record.source, column=column)
        total += int(x)
    if total < 1:
        raise InputError("no participants analysed", file=record.source, column="flow.arms")
    return total
