"""Load the demo programme (the centre's change projects) and the demo trial record into the database."""

from __future__ import annotations

import json

from django.db import transaction

from whatworks.trials.programme import DEMO_PATH, demo_programme

from .models import Criterion, Decision, Evaluation, Project, Trial

TRIAL_RECORDS = ("swis-trial.json",)


@transaction.atomic
def load_trials_demo() -> int:
    """Replace the demo projects and trials by the shipped ones; returns the number of projects."""
    prog = demo_programme()
    for p in prog.projects:
        Project.objects.filter(slug=p.slug).delete()
        row = Project.objects.create(
            slug=p.slug,
            name=p.name,
            summary=p.summary,
            partners=list(p.partners),
            stage=p.stage,
            budget_gbp=p.budget_gbp,
            budget_illustrative=p.budget_illustrative,
            intervention=p.intervention,
            notes=p.notes,
        )
        for c in p.criteria:
            Criterion.objects.create(
                project=row,
                measure=c.measure,
                label=c.label,
                stage=c.stage,
                direction=c.direction,
                green=c.green,
                red=c.red,
                unit=c.unit,
                value=c.value,
                source=c.source,
                illustrative=c.illustrative,
                from_result=c.from_result.__dict__ if c.from_result else None,
            )
        for e in p.evaluations:
            Evaluation.objects.create(
                project=row,
                key=e.key,
                title=e.title,
                stage=e.stage,
                design=e.design,
                status=e.status,
                summary=e.summary,
                trial=e.trial,
                illustrative=e.illustrative,
            )
        for d in p.decisions:
            Decision.objects.create(
                project=row,
                outcome=d.outcome,
                from_stage=d.from_stage,
                to_stage=d.to_stage,
                decided_by=d.decided_by,
                decided_on=d.decided_on,
                reason=d.reason,
                illustrative=d.illustrative,
            )
    for name in TRIAL_RECORDS:
        path = DEMO_PATH.parent / name
        data = json.loads(path.read_text(encoding="utf-8"))
        plan = data.get("analysis_plan", {}).get("path")
        content = (path.parent / plan).read_bytes() if plan else None
        Trial.objects.update_or_create(
            slug=data["id"],
            defaults={
                "title": data["title"],
                "status": data.get("status", "planned"),
                "record": data,
                "analysis_plan": content,
                "project": Project.objects.filter(slug=data.get("project", "")).first(),
            },
        )
    return len(prog.projects)
