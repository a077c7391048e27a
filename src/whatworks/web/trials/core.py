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


def to_record(t: Trial, *, verify: bool = False) -> TrialRecord:
    """The trial's record with what was made on these pages laid over it: the stored allocation
    (``randomisation``: method, seed, columns, software, the log's last hash; with ``verify``, the
    result of verifying the log; ``balance`` when the record has none) and the analyses of uploaded
    outcome files (``results``: the latest analysis of each named outcome replaces a result of
    that name). The stored record itself is not changed."""
    return record_from_dict(overlaid(t, verify=verify), source=f"trial {t.slug}")


def overlaid(t: Trial, *, verify: bool = False) -> dict:
    from .models import AllocationLogEntry, TrialAllocation, TrialAnalysisRecord

    data = dict(t.record)
    alloc = TrialAllocation.objects.filter(trial=t).first()
    if alloc is not None:
        last = AllocationLogEntry.objects.filter(trial=t).order_by("-index").first()
        rand = dict(data.get("randomisation") or {})
        rand.update({k: v for k, v in {
            "method": alloc.method + (" (units enrolled one at a time)"
                                      if alloc.mode == TrialAllocation.ENROLMENT else ""),
            "seed": alloc.seed, "block": alloc.options.get("block"),
            "cluster": alloc.options.get("cluster"),
            "software": ", ".join(f"{k} {v}" for k, v in alloc.software.items()),
            "generated_by": f"whatworks trial pages, {alloc.algorithm}, "
                            f"{alloc.created_at:%Y-%m-%d %H:%M} UTC",
            "log_sha256": last.hash if last else None}.items() if v not in (None, "")})
        if verify:
            from .allocation import verify as verify_log

            v = verify_log(t)
            rand["log_verification"] = (
                f"intact: {v.n_entries} entries, {v.n_allocations} allocations"
                + (", each arm replayed from the seed" if v.replayed else "")
                if v.ok else f"BROKEN at entry {v.line}: {v.reason}")
        data["randomisation"] = rand
        if not data.get("arms") and not data.get("flow"):
            data["arms"] = [{"key": a, "label": a} for a in alloc.arms]
        if not data.get("balance") and alloc.balance:
            data["balance"] = [
                {"variable": r["covariate"], "level": "unit",
                 "means": {a: r.get(f"mean_{a}") for a in alloc.arms}, "std_diff": r.get("std_diff")}
                for r in alloc.balance]
    analyses = list(TrialAnalysisRecord.objects.filter(trial=t).order_by("created_at", "id"))
    if analyses:
        latest = {a.outcome_name: a for a in analyses}
        results = [r for r in (data.get("results") or [])
                   if not (isinstance(r, dict) and r.get("outcome") in latest)]
        for name, a in latest.items():
            r = a.results
            results.append({
                "outcome": name, "primary": a.primary, "family": r.get("family"),
                **{k: r.get(k) for k in ("estimate", "se", "ci_lower", "ci_upper", "p_value", "icc",
                                         "effect_size", "ratio", "n", "n_clusters", "level")},
                "note": f"{a.model_text} Input SHA-256 {a.inputs_sha256}."})
        data["results"] = results
    return data


def plan_bytes(t: Trial) -> bytes | None:
    return bytes(t.analysis_plan) if t.analysis_plan is not None else None
