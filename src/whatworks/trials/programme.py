"""The programme of change projects: pilots, their evaluations, progression criteria and decisions.

A What Works centre funds change projects (social workers in schools, devolved budgets, ...) with
partner local authorities. Each project moves through the stages in :data:`STAGES` (pilot ->
feasibility -> efficacy -> effectiveness). Before results arrive, the centre pre-specifies
**progression criteria**: for each named measure (recruitment rate, fidelity, the effect estimate or a
confidence bound) a green and a red threshold. As results arrive, :func:`judge` rates each criterion
by one rule, stated in words by :meth:`Criterion.rule`:

* when higher is better: **green** if value >= green threshold; **red** if value < red threshold;
  **amber** otherwise (red threshold <= value < green threshold);
* when lower is better: **green** if value <= green threshold; **red** if value > red threshold;
  **amber** otherwise;
* **pending** while the measure has no result.

A project's overall rating (:func:`assess`) is red if any criterion is red; otherwise pending if any
has no result; otherwise amber if any is amber; otherwise green. Green suggests *progress*, amber
*modify*, red *stop* (the traffic-light progression criteria used for pilot and feasibility studies,
Avery et al. 2017); the **decision taken** (progress, modify or stop, by whom and when) is recorded
separately, because people decide, and the summary shows both.

Everything is plain data: :func:`load_programme` reads JSON (the demo programme ships in
``whatworks/data/programme/``), each object has ``to_dict()``; no Django.

References
----------
Avery KNL, Williamson PR, Gamble C, et al. (2017). Informing efficient randomised controlled trials:
exploration of challenges in developing progression criteria for internal pilot studies. BMJ Open
7:e013537.
Eldridge SM, Chan CL, Campbell MJ, et al. (2016). CONSORT 2010 statement: extension to randomised
pilot and feasibility trials. BMJ 355:i5239.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._results import Result, jsonable
from ..errors import InputError

__all__ = [
    "STAGES",
    "RATINGS",
    "OUTCOMES",
    "Stage",
    "Criterion",
    "Judgement",
    "Evaluation",
    "Decision",
    "Project",
    "Programme",
    "ProjectAssessment",
    "judge",
    "assess",
    "load_programme",
    "programme_from_dict",
    "demo_programme",
    "DEMO_PATH",
    "stages_with_criteria",
    "overall_rating",
]


@dataclass(frozen=True)
class Stage:
    """A stage of a change project's evaluation."""

    name: str
    order: int
    title: str
    question: str


#: The registry of stages, in order.
STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("pilot", 0, "Pilot", "Can the change be set up and delivered in a few places?"),
        Stage(
            "feasibility",
            1,
            "Feasibility study",
            "Can a trial be run: recruitment, retention, fidelity, outcome data?",
        ),
        Stage("efficacy", 2, "Efficacy trial", "Does it work under good conditions (a randomised trial)?"),
        Stage(
            "effectiveness",
            3,
            "Effectiveness trial",
            "Does it work at scale in routine practice (a large randomised trial)?",
        ),
    )
}
#: Criterion ratings, worst first.
RATINGS = ("red", "pending", "amber", "green")
#: Decisions a project's board can take.
OUTCOMES = {
    "progress": "progress to the next stage",
    "modify": "progress with changes, or repeat the stage",
    "stop": "stop",
}
SUGGESTED = {"green": "progress", "amber": "modify", "red": "stop", "pending": None}
DEMO_PATH = Path(__file__).resolve().parents[1] / "data" / "programme" / "programme.json"


def _where(source: str | None, path: str) -> dict[str, Any]:
    return {"file": source, "column": path}


def _req(d: Mapping[str, Any], key: str, source: str | None, path: str) -> Any:
    if not isinstance(d, Mapping):
        raise InputError(f"expected an object with '{key}', got {type(d).__name__}", **_where(source, path))
    if key not in d or d[key] in (None, ""):
        raise InputError(f"'{key}' is required; add it", **_where(source, f"{path}.{key}".lstrip(".")))
    return d[key]


def _num(value: Any, source: str | None, path: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value!r}", **_where(source, path))
    return float(value)


SCALES = {"as-is": "the value as recorded", "percent-change": "100 x (value - 1): a ratio as a % change"}


@dataclass(frozen=True)
class ResultLink:
    """Where a criterion's result comes from once a trial reports it: the trial record ``trial``, its
    result for ``outcome``, the ``field`` of that result (a dotted path such as ``ratio.ci_upper`` or
    ``effect_size.g``), shown on ``scale`` (``as-is`` or ``percent-change`` for ratios)."""

    trial: str
    outcome: str
    field: str = "estimate"
    scale: str = "as-is"

    def __post_init__(self):
        if self.scale not in SCALES:
            raise InputError(
                f"scale {self.scale!r} is not allowed; expected one of {', '.join(SCALES)}",
                column="from_result.scale",
            )

    def describe(self) -> str:
        scale = " as a % change" if self.scale == "percent-change" else ""
        return f"{self.trial}: {self.outcome}, {self.field}{scale}"

    def value(self, records: Mapping[str, Any]) -> float | None:
        """The linked value from ``records`` (trial id -> record dict or TrialRecord); ``None`` while
        the trial, its result for the outcome or the field is not there yet."""
        from .record import lookup

        rec = records.get(self.trial)
        data = getattr(rec, "data", rec)
        if not isinstance(data, Mapping):
            return None
        for r in data.get("results") or []:
            if isinstance(r, Mapping) and r.get("outcome") == self.outcome:
                v = lookup(r, self.field)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    return None
                if self.scale == "percent-change":  # rounded to 10 decimals: 1.055 -> 5.5, not 5.4999...
                    return round(100.0 * (float(v) - 1.0), 10)
                return float(v)
        return None


@dataclass(frozen=True)
class Criterion:
    """A pre-specified progression criterion: a named measure with green and red thresholds.

    ``direction`` is ``"higher"`` (higher is better, so ``red <= green``) or ``"lower"`` (lower is
    better, so ``red >= green``). ``value`` is the result once it arrives (``None`` until then).
    """

    measure: str
    label: str
    green: float
    red: float
    direction: str = "higher"
    unit: str = ""
    value: float | None = None
    source: str = ""
    illustrative: bool = False
    stage: str = ""
    from_result: ResultLink | None = None

    def __post_init__(self):
        if self.stage and self.stage not in STAGES:
            raise InputError(
                f"stage {self.stage!r} is not allowed; expected one of {', '.join(STAGES)}",
                column=f"criteria.{self.measure}.stage",
            )
        if self.direction not in ("higher", "lower"):
            raise InputError(
                f"direction {self.direction!r} is not allowed; expected 'higher' or 'lower'",
                column=f"criteria.{self.measure}.direction",
            )
        for name in ("green", "red"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(
                    f"threshold must be a finite number, got {v!r}", column=f"criteria.{self.measure}.{name}"
                )
        bad = self.red > self.green if self.direction == "higher" else self.red < self.green
        if bad:
            order = "<=" if self.direction == "higher" else ">="
            raise InputError(
                f"when {self.direction} is better the red threshold must be {order} the green "
                f"one (red={self.red:g}, green={self.green:g}); swap them or change direction",
                column=f"criteria.{self.measure}",
            )

    def rule(self) -> str:
        """The judgement rule in words."""
        u = f" {self.unit}" if self.unit else ""
        if self.direction == "higher":
            if self.red == self.green:
                return f"green if {self.label} is at least {self.green:g}{u}; red if below it"
            return (
                f"green if {self.label} is at least {self.green:g}{u}; amber from {self.red:g} up to "
                f"{self.green:g}{u}; red below {self.red:g}{u}"
            )
        if self.red == self.green:
            return f"green if {self.label} is at most {self.green:g}{u}; red if above it"
        return (
            f"green if {self.label} is at most {self.green:g}{u}; amber above {self.green:g} up to "
            f"{self.red:g}{u}; red above {self.red:g}{u}"
        )

    def with_value(self, value: float | None, source: str = "") -> Criterion:
        """The criterion with a result (a new object; criteria are frozen)."""
        from dataclasses import replace

        return replace(self, value=None if value is None else float(value), source=source or self.source)


@dataclass(frozen=True)
class Judgement:
    """A criterion judged against its result."""

    measure: str
    label: str
    value: float | None
    rating: str
    rule: str
    suggested: str | None
    source: str = ""


def judge(criterion: Criterion, value: float | None = None, *, source: str = "") -> Judgement:
    """Rate ``criterion`` against ``value`` (default its own ``value``) by the rule in the module
    docstring: green / amber / red, or pending while there is no result (``None`` or NaN)."""
    v = criterion.value if value is None else value
    if v is None or (isinstance(v, float) and math.isnan(v)):
        rating = "pending"
        v = None
    elif criterion.direction == "higher":
        rating = "green" if v >= criterion.green else "red" if v < criterion.red else "amber"
    else:
        rating = "green" if v <= criterion.green else "red" if v > criterion.red else "amber"
    return Judgement(
        criterion.measure,
        criterion.label,
        v,
        rating,
        criterion.rule(),
        SUGGESTED[rating],
        source or criterion.source,
    )


def overall_rating(ratings: Sequence[str]) -> str:
    """Red if any is red; else pending if any is pending; else amber if any is amber; else green
    (and pending when there are no criteria at all: nothing has been judged)."""
    if not ratings:
        return "pending"
    for r in ("red", "pending", "amber"):
        if r in ratings:
            return r
    return "green"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a project: a pilot report, a feasibility study, a trial (``trial`` names a
    trial record in the registry when there is one)."""

    key: str
    title: str
    stage: str
    design: str = ""
    evaluator: str = ""
    status: str = "planned"
    year: int | None = None
    summary: str = ""
    citation: str = ""
    trial: str = ""
    illustrative: bool = False


@dataclass(frozen=True)
class Decision:
    """A decision taken on a project: progress, modify or stop; by whom, when, why."""

    outcome: str
    decided_by: str
    decided_on: _dt.date
    reason: str = ""
    from_stage: str = ""
    to_stage: str = ""
    illustrative: bool = False

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise InputError(
                f"decision {self.outcome!r} is not allowed; expected one of {', '.join(OUTCOMES)}",
                column="decisions.outcome",
            )
        for name in ("from_stage", "to_stage"):
            s = getattr(self, name)
            if s and s not in STAGES:
                raise InputError(
                    f"stage {s!r} is not allowed; expected one of {', '.join(STAGES)}",
                    column=f"decisions.{name}",
                )


@dataclass(frozen=True)
class Project:
    """A change project: partner local authorities, budget, stage, evaluations, criteria, decisions."""

    slug: str
    name: str
    summary: str
    partners: tuple[str, ...]
    stage: str
    budget_gbp: float | None = None
    budget_illustrative: bool = False
    evaluations: tuple[Evaluation, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    decisions: tuple[Decision, ...] = ()
    intervention: str = ""
    notes: str = ""

    def __post_init__(self):
        if self.stage not in STAGES:
            raise InputError(
                f"stage {self.stage!r} is not allowed; expected one of {', '.join(STAGES)}",
                column=f"projects.{self.slug}.stage",
            )
        from dataclasses import replace

        # a criterion without a stage judges the project's current stage
        object.__setattr__(
            self, "criteria", tuple(c if c.stage else replace(c, stage=self.stage) for c in self.criteria)
        )
        seen = set()
        for c in self.criteria:
            if c.measure in seen:
                raise InputError(
                    f"criterion {c.measure!r} appears twice; give each measure once",
                    column=f"projects.{self.slug}.criteria",
                )
            seen.add(c.measure)

    @property
    def latest_decision(self) -> Decision | None:
        return max(self.decisions, key=lambda d: d.decided_on) if self.decisions else None

    @property
    def earned_trial(self) -> bool:
        """True when the project reached a randomised trial stage (efficacy or effectiveness), or its
        latest decision was to progress into one."""
        d = self.latest_decision
        reached = STAGES[self.stage].order >= STAGES["efficacy"].order
        progressed = bool(
            d
            and d.outcome == "progress"
            and d.to_stage
            and STAGES[d.to_stage].order >= STAGES["efficacy"].order
        )
        return reached or progressed

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import fields

        out = {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}
        return json.loads(json.dumps(out, default=lambda o: o.isoformat()))  # dates as YYYY-MM-DD


@dataclass(frozen=True, repr=False)
class ProjectAssessment(Result):
    """A project's criteria judged: each judgement, the overall rating and the suggested decision."""

    slug: str
    name: str
    stage: str
    partners: tuple[str, ...]
    budget_gbp: float | None
    judgements: tuple[Judgement, ...]
    overall: str
    suggested: str | None
    decision: Decision | None
    earned_trial: bool

    def summary_text(self) -> str:
        dec = (
            f"{self.decision.outcome} ({self.decision.decided_by}, {self.decision.decided_on})"
            if self.decision
            else "no decision yet"
        )
        return f"{self.name} [{self.stage}]: criteria {self.overall}; decision: {dec}"


def assess(
    project: Project,
    results: Mapping[str, float] | None = None,
    *,
    stage: str | None = None,
    records: Mapping[str, Any] | None = None,
) -> ProjectAssessment:
    """Judge the criteria of ``project`` for ``stage`` (default its current stage) and the stage
    overall (see :func:`overall_rating`). Each criterion's result is, in order: ``results[measure]``
    where given; the linked trial result (``from_result``) once ``records`` (trial id -> record) has
    it; else the criterion's own ``value``; else pending."""
    stage = stage or project.stage
    if stage not in STAGES:
        raise InputError(f"stage {stage!r} is not allowed; expected one of {', '.join(STAGES)}")
    criteria = [c for c in project.criteria if c.stage == stage]
    results = dict(results or {})
    unknown = set(results) - {c.measure for c in criteria}
    if unknown:
        raise InputError(
            f"results for {sorted(unknown)} match no {stage} criterion; they are "
            f"{[c.measure for c in criteria]}",
            column=f"projects.{project.slug}",
        )
    records = records or {}

    def one(c: Criterion) -> Judgement:
        if c.measure in results:
            return judge(c, results[c.measure], source="given")
        if c.from_result is not None:
            v = c.from_result.value(records)
            if v is not None:
                return judge(c, v, source=c.from_result.describe())
            if c.value is None:
                return judge(c, source=f"waiting for {c.from_result.describe()}")
        return judge(c)

    js = tuple(one(c) for c in criteria)
    overall = overall_rating([j.rating for j in js])
    return ProjectAssessment(
        project.slug,
        project.name,
        stage,
        project.partners,
        project.budget_gbp,
        js,
        overall,
        SUGGESTED[overall],
        project.latest_decision,
        project.earned_trial,
    )


def stages_with_criteria(project: Project) -> list[str]:
    """The stages the project has criteria for, in stage order."""
    return sorted({c.stage for c in project.criteria}, key=lambda s: STAGES[s].order)


@dataclass(frozen=True, repr=False)
class Programme(Result):
    """The programme: its projects, and the at-a-glance summary."""

    name: str
    projects: tuple[Project, ...]
    total_budget_gbp: float | None = None
    total_budget_source: str = ""
    records: Mapping[str, Any] = field(default_factory=dict, repr=False)  # trial id -> record

    def project(self, slug: str) -> Project:
        for p in self.projects:
            if p.slug == slug:
                return p
        raise InputError(f"no project {slug!r}; the projects are {', '.join(p.slug for p in self.projects)}")

    def assess(self, slug: str, *, stage: str | None = None) -> ProjectAssessment:
        """:func:`assess` for one project, with the programme's trial records feeding linked criteria."""
        return assess(self.project(slug), stage=stage, records=self.records)

    def totals(self) -> dict[str, Any]:
        """Projects, distinct partner authorities, the budget of the projects that state one (and
        whether any of it is illustrative), and how many projects earned a large trial."""
        budgets = [p.budget_gbp for p in self.projects if p.budget_gbp is not None]
        return {
            "projects": len(self.projects),
            "partners": len({a for p in self.projects for a in p.partners}),
            "budget_gbp": sum(budgets) if budgets else None,
            "budget_illustrative": any(
                p.budget_illustrative for p in self.projects if p.budget_gbp is not None
            ),
            "projects_without_budget": sum(p.budget_gbp is None for p in self.projects),
            "earned_trial": sum(p.earned_trial for p in self.projects),
        }

    def summary(self) -> list[dict[str, Any]]:
        """One row per project: stage, partners, budget, criteria rating, decision, earned a trial."""
        rows = []
        for p in self.projects:
            a = assess(p, records=self.records)
            d = a.decision
            by_stage = {s: assess(p, stage=s, records=self.records).overall for s in stages_with_criteria(p)}
            rows.append(
                {
                    "project": p.slug,
                    "name": p.name,
                    "stage": p.stage,
                    "partners": list(p.partners),
                    "budget_gbp": p.budget_gbp,
                    "budget_illustrative": p.budget_illustrative,
                    "criteria": a.overall,
                    "criteria_by_stage": by_stage,
                    "counts": {r: sum(j.rating == r for j in a.judgements) for r in RATINGS},
                    "suggested": a.suggested,
                    "decision": d.outcome if d else None,
                    "decided_by": d.decided_by if d else None,
                    "decided_on": d.decided_on.isoformat() if d else None,
                    "earned_trial": a.earned_trial,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total_budget_gbp": self.total_budget_gbp,
            "total_budget_source": self.total_budget_source,
            "totals": self.totals(),
            "projects": self.summary(),
        }

    def to_frame(self):
        import pandas as pd

        rows = self.summary()
        for r in rows:
            r["partners"] = "; ".join(r["partners"])
            r.update({f"n_{k}": v for k, v in r.pop("counts").items()})
            r.update({f"criteria_{k}": v for k, v in r.pop("criteria_by_stage").items()})
        return pd.DataFrame(rows)

    def summary_text(self) -> str:
        t = self.totals()
        budget = (
            ""
            if t["budget_gbp"] is None
            else f"; £{t['budget_gbp']:,.0f}" + (" (split illustrative)" if t["budget_illustrative"] else "")
        )
        lines = [
            f"{self.name}: {t['projects']} projects with {t['partners']} local authorities{budget}; "
            f"{t['earned_trial']} earned a large trial"
        ]
        for r in self.summary():
            budget = (
                ""
                if r["budget_gbp"] is None
                else f" £{r['budget_gbp']:,.0f}" + (" (illustrative)" if r["budget_illustrative"] else "")
            )
            dec = f"{r['decision']} ({r['decided_on']})" if r["decision"] else "no decision"
            trial = "; earned a large trial" if r["earned_trial"] else ""
            stages = ", ".join(f"{k} {v}" for k, v in r["criteria_by_stage"].items())
            lines.append(
                f"  {r['name']} [{r['stage']}] {', '.join(r['partners'])}{budget}: criteria "
                f"{stages or 'none'}; {dec}{trial}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------- loading


def _date(value: Any, source, path) -> _dt.date:
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"expected a date as YYYY-MM-DD, got {value!r}", **_where(source, path)) from None


def _criterion(d, source, path) -> Criterion:
    measure = _req(d, "measure", source, path)
    return Criterion(
        measure=str(measure),
        label=str(d.get("label") or measure),
        green=_num(_req(d, "green", source, path), source, f"{path}.green"),
        red=_num(_req(d, "red", source, path), source, f"{path}.red"),
        direction=str(d.get("direction", "higher")),
        unit=str(d.get("unit", "")),
        value=_num(d.get("value"), source, f"{path}.value", allow_none=True),
        source=str(d.get("source", "")),
        illustrative=bool(d.get("illustrative", False)),
        stage=str(d.get("stage", "")),
        from_result=_link(d.get("from_result"), source, path),
    )


def _link(d: Any, source, path) -> ResultLink | None:
    if d is None:
        return None
    where = f"{path}.from_result"
    if not isinstance(d, Mapping):
        raise InputError(
            "from_result must be an object {trial, outcome, field, scale}", **_where(source, where)
        )
    extra = set(d) - {"trial", "outcome", "field", "scale"}
    if extra:
        raise InputError(
            f"unknown field(s) {sorted(extra)}; allowed: trial, outcome, field, scale",
            **_where(source, where),
        )
    try:
        return ResultLink(
            trial=str(_req(d, "trial", source, where)),
            outcome=str(_req(d, "outcome", source, where)),
            field=str(d.get("field", "estimate")),
            scale=str(d.get("scale", "as-is")),
        )
    except InputError as e:
        if e.file is None:
            raise InputError(str(e), **_where(source, where)) from None
        raise


def _evaluation(d, source, path) -> Evaluation:
    stage = str(_req(d, "stage", source, path))
    if stage not in STAGES:
        raise InputError(
            f"stage {stage!r} is not allowed; expected one of {', '.join(STAGES)}",
            **_where(source, f"{path}.stage"),
        )
    known = {f for f in Evaluation.__dataclass_fields__}
    extra = set(d) - known
    if extra:
        raise InputError(
            f"unknown field(s) {sorted(extra)}; allowed: {sorted(known)}", **_where(source, path)
        )
    return Evaluation(
        **{
            **d,
            "key": str(_req(d, "key", source, path)),
            "title": str(_req(d, "title", source, path)),
            "stage": stage,
        }
    )


def _decision(d, source, path) -> Decision:
    try:
        return Decision(
            outcome=str(_req(d, "outcome", source, path)),
            decided_by=str(_req(d, "decided_by", source, path)),
            decided_on=_date(_req(d, "decided_on", source, path), source, f"{path}.decided_on"),
            reason=str(d.get("reason", "")),
            from_stage=str(d.get("from_stage", "")),
            to_stage=str(d.get("to_stage", "")),
            illustrative=bool(d.get("illustrative", False)),
        )
    except InputError as e:
        if e.file is None:
            raise InputError(str(e), file=source, column=path) from None
        raise


def project_from_dict(d: Mapping[str, Any], source: str | None = None, path: str = "project") -> Project:
    """A :class:`Project` from plain data (the JSON shape of the demo programme)."""
    partners = _req(d, "partners", source, path)
    if isinstance(partners, str) or not isinstance(partners, Sequence):
        raise InputError(
            "partners must be a list of local authority names", **_where(source, f"{path}.partners")
        )
    try:
        return Project(
            slug=str(_req(d, "slug", source, path)),
            name=str(_req(d, "name", source, path)),
            summary=str(d.get("summary", "")),
            partners=tuple(str(p) for p in partners),
            stage=str(_req(d, "stage", source, path)),
            budget_gbp=_num(d.get("budget_gbp"), source, f"{path}.budget_gbp", allow_none=True),
            budget_illustrative=bool(d.get("budget_illustrative", False)),
            evaluations=tuple(
                _evaluation(e, source, f"{path}.evaluations[{i}]")
                for i, e in enumerate(d.get("evaluations", []))
            ),
            criteria=tuple(
                _criterion(c, source, f"{path}.criteria[{i}]") for i, c in enumerate(d.get("criteria", []))
            ),
            decisions=tuple(
                _decision(x, source, f"{path}.decisions[{i}]") for i, x in enumerate(d.get("decisions", []))
            ),
            intervention=str(d.get("intervention", "")),
            notes=str(d.get("notes", "")),
        )
    except InputError as e:
        if e.file is None and source is not None:
            raise InputError(str(e), file=source) from None
        raise


def programme_from_dict(
    d: Mapping[str, Any], source: str | None = None, *, records: Mapping[str, Any] | None = None
) -> Programme:
    """A :class:`Programme` from plain data: ``{"name", "projects": [...], "total_budget_gbp"}``;
    ``records`` (trial id -> trial record) feed the criteria linked to trial results."""
    projects = _req(d, "projects", source, "")
    ps = tuple(project_from_dict(p, source, f"projects[{i}]") for i, p in enumerate(projects))
    slugs = [p.slug for p in ps]
    dup = {s for s in slugs if slugs.count(s) > 1}
    if dup:
        raise InputError(
            f"project slug(s) {sorted(dup)} appear twice; make each unique", file=source, column="projects"
        )
    return Programme(
        name=str(d.get("name", "Programme")),
        projects=ps,
        total_budget_gbp=_num(d.get("total_budget_gbp"), source, "total_budget_gbp", allow_none=True),
        total_budget_source=str(d.get("total_budget_source", "")),
        records=dict(records or {}),
    )


def load_programme(path: str | Path) -> Programme:
    """Read a programme from a JSON file (errors name the file and the field). Its ``trials`` list
    names trial record files (relative to it) whose results feed linked criteria."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found; give the path of a programme JSON file", file=str(p)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", file=str(p), row=e.lineno) from None
    from .record import load_record

    trials = data.get("trials") or [] if isinstance(data, Mapping) else []
    records = {}
    for name in trials:
        rec = load_record(p.parent / str(name))
        records[rec.id] = rec
    return programme_from_dict(data, source=str(p), records=records)


def demo_programme() -> Programme:
    """The centre's change projects (the issue's examples; figures not from a source are marked
    illustrative in the data)."""
    return load_programme(DEMO_PATH)
