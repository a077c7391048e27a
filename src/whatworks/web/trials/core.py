"""Rows -> the core's objects. The one place the trials pages call `whatworks.trials`."""

from __future__ import annotations

from whatworks.trials import programme as prog
from whatworks.trials.record import TrialRecord, record_from_dict

from .models import Project, Trial


def to_project(p: Project) -> prog.Project:
    return prog.Project(
        slug=p.slug,
        name=p.name,
        summary=p.summary,
        partners=tuple(p.partners),
        stage=p.stage,
        budget_gbp=p.budget_gbp,
        budget_illustrative=p.budget_illustrative,
        intervention=p.intervention,
        notes=p.notes,
        evaluations=tuple(
            prog.Evaluation(
                key=e.key,
                title=e.title,
                stage=e.stage,
                design=e.design,
                status=e.status,
                summary=e.summary,
                trial=e.trial,
                illustrative=e.illustrative,
            )
            for e in p.evaluations.all()
        ),
        criteria=tuple(
            prog.Criterion(
                measure=c.measure,
                label=c.label,
                green=c.green,
                red=c.red,
                direction=c.direction,
                unit=c.unit,
                value=c.value,
                source=c.source,
                illustrative=c.illustrative,
                stage=c.stage,
                from_result=prog.ResultLink(**c.from_result) if c.from_result else None,
            )
            for c in p.criteria.all()
        ),
        decisions=tuple(
            prog.Decision(
                outcome=d.outcome,
                decided_by=d.decided_by,
                decided_on=d.decided_on,
                reason=d.reason,
                from_stage=d.from_stage,
                to_stage=d.to_stage,
                illustrative=d.illustrative,
            )
            for d in p.decisions.all()
        ),
    )


def records() -> dict:
    """Trial id -> record, for the criteria linked to trial results."""
    return {t.slug: t.record for t in Trial.objects.all()}


def programme() -> prog.Programme:
    projects = Project.objects.prefetch_related("criteria", "evaluations", "decisions")
    return prog.Programme(
        name="Change projects programme", projects=tuple(to_project(p) for p in projects), records=records()
    )


def stage_assessments(project: prog.Project) -> list[prog.ProjectAssessment]:
    """One assessment per stage that has criteria, in stage order."""
    recs = records()
    return [prog.assess(project, stage=s, records=recs) for s in prog.stages_with_criteria(project)]


def to_record(t: Trial) -> TrialRecord:
    return record_from_dict(t.record, source=f"trial {t.slug}")


def plan_bytes(t: Trial) -> bytes | None:
    return bytes(t.analysis_plan) if t.analysis_plan is not None else None
