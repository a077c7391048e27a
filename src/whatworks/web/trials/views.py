"""Trials pages: the programme and its projects, the trial registry, the power calculator (all public,
read-only); editors create projects, criteria, results, decisions and trial records. Short views over
`core.py` and `whatworks.trials`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from whatworks.errors import WhatWorksError

from ..accounts.roles import is_admin, is_editor
from ..store.editor import editor_required
from . import core
from .forms import CriterionForm, DecisionForm, EvaluationForm, PowerForm, ProjectForm, ResultForm, TrialForm
from .models import Criterion, Project, Trial


@require_GET
def programme(request):
    prog = core.programme()
    return render(request, "trials/programme.html", {"rows": prog.summary(), "totals": prog.totals()})


@require_GET
def project(request, slug):
    row = get_object_or_404(
        Project.objects.prefetch_related("criteria", "evaluations", "decisions"), slug=slug
    )
    p = core.to_project(row)
    trials = {t.slug: t for t in Trial.objects.filter(slug__in=[e.trial for e in p.evaluations if e.trial])}
    criteria = {c.measure: c.pk for c in row.criteria.all()}
    return render(
        request,
        "trials/project.html",
        {
            "project": p,
            "row": row,
            "assessments": core.stage_assessments(p),
            "criteria_ids": criteria,
            "trials": trials,
            "decisions": sorted(p.decisions, key=lambda d: d.decided_on, reverse=True),
        },
    )


@require_GET
def registry(request):
    from whatworks.trials.consort import checklist

    rows = []
    for t in Trial.objects.select_related("project"):
        c = checklist(core.to_record(t))
        rows.append({"trial": t, "answered": c.answered, "items": len(c.items)})
    return render(request, "trials/registry.html", {"rows": rows})


@require_GET
def trial(request, slug):
    from whatworks.trials.consort import checklist, flow_from_record, flow_svg

    t = get_object_or_404(Trial, slug=slug)
    record = core.to_record(t)
    flow_svg_text = error = None
    try:
        if record.get("flow") is not None:
            flow_svg_text = flow_svg(flow_from_record(record), title=f"CONSORT flow diagram: {record.title}")
    except WhatWorksError as e:
        error = str(e)
    return render(
        request,
        "trials/trial.html",
        {
            "trial": t,
            "record": record,
            "checklist": checklist(record),
            "flow_svg": flow_svg_text,
            "error": error,
            **_publication_context(request, t),
        },
    )


def _publication_context(request, t: Trial) -> dict:
    """The published study (for everyone); what publishing would write (editors prepare the record,
    administrators publish)."""
    from whatworks.trials.publish import study_key

    from ..store.models import Intervention, Study
    from .publish import prepare

    study = Study.objects.filter(key=study_key(t.slug)).select_related("intervention").first()
    out = {"published_study": study}
    if not is_editor(request.user):
        return out
    try:
        out["publication"] = prepare(t)
    except WhatWorksError as e:
        out["publication_error"] = str(e)
    if is_admin(request.user):
        out["can_publish"] = True
        out["interventions"] = Intervention.objects.only("slug", "name").order_by("name")
    return out


@require_POST
def trial_publish(request, slug):
    """Publish the trial's results to the Evidence Store (administrators)."""
    from .publish import publish

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_admin(request.user):
        raise PermissionDenied("only an administrator may publish trial results to the Evidence Store")
    t = get_object_or_404(Trial, slug=slug)
    try:
        done = publish(t, user=request.user, intervention=request.POST.get("intervention") or None)
    except WhatWorksError as e:
        messages.error(request, f"Not published: {e}")
        return redirect("trials:trial", slug=slug)
    messages.success(
        request,
        f"{'Published' if done.created else 'Updated'} {t.title} in the Evidence Store under "
        f"{done.intervention.name}: {done.saved} finding(s)"
        + (f", {done.removed} removed" if done.removed else "")
        + "; the synthesis and rating were recomputed.",
    )
    return redirect(done.intervention.get_absolute_url())


@require_GET
def trial_report(request, slug):
    from whatworks.trials.report import report_html

    t = get_object_or_404(Trial, slug=slug)
    try:
        html = report_html(core.to_record(t), plan_content=core.plan_bytes(t))
    except WhatWorksError as e:
        return HttpResponse(f"The report cannot be made: {e}", status=409, content_type="text/plain")
    return HttpResponse(html)


@require_GET
def trial_report_pdf(request, slug):
    import tempfile
    from pathlib import Path

    from whatworks.trials.report import report_pdf

    t = get_object_or_404(Trial, slug=slug)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            body = report_pdf(
                core.to_record(t), Path(tmp) / "report.pdf", plan_content=core.plan_bytes(t)
            ).read_bytes()
    except WhatWorksError as e:
        return HttpResponse(f"The PDF cannot be made: {e}", status=409, content_type="text/plain")
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{t.slug}-report.pdf"'
    return response


@require_GET
def power(request):
    from whatworks.trials.design import DESIGNS, solve

    form = PowerForm(request.GET or None)
    result = error = None
    if form.is_bound and form.is_valid():
        try:
            result = solve(**form.calculation())
        except WhatWorksError as e:
            error = str(e)
    return render(
        request,
        "trials/power.html",
        {
            "form": form,
            "result": result,
            "error": error,
            "designs": DESIGNS.values(),
            "query": request.GET.urlencode(),
        },
    )


@require_GET
def power_curve_svg(request):
    from . import calculator

    form = PowerForm(request.GET)
    if not form.is_valid():
        return HttpResponse("bad parameters", status=400, content_type="text/plain")
    try:
        body = calculator.curve_svg(form.calculation())
    except WhatWorksError as e:
        return HttpResponse(str(e), status=400, content_type="text/plain")
    return HttpResponse(body, content_type="image/svg+xml")


# ------------------------------------------------------------------------------------------ editors


@editor_required
def project_new(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        saved = form.save()
        messages.success(request, f"Added {saved.name}.")
        return redirect("trials:project", slug=saved.slug)
    return render(
        request,
        "trials/form.html",
        {"form": form, "heading": "Add a change project", "button": "Add project"},
    )


@editor_required
def project_edit(request, slug):
    p = get_object_or_404(Project, slug=slug)
    form = ProjectForm(request.POST or None, instance=p)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Saved {saved.name}.")
        return redirect("trials:project", slug=saved.slug)
    return render(
        request,
        "trials/form.html",
        {"form": form, "heading": f"Edit {p.name}", "button": "Save", "project": p},
    )


@editor_required
def evaluation_new(request, slug):
    p = get_object_or_404(Project, slug=slug)
    form = EvaluationForm(request.POST or None, initial={"stage": p.stage})
    if request.method == "POST" and form.is_valid():
        form.instance.project = p
        form.save()
        messages.success(request, "Evaluation added.")
        return redirect("trials:project", slug=slug)
    return render(
        request,
        "trials/form.html",
        {"form": form, "heading": f"Add an evaluation of {p.name}", "button": "Add evaluation", "project": p},
    )


@editor_required
def criterion_new(request, slug):
    p = get_object_or_404(Project, slug=slug)
    form = CriterionForm(request.POST or None, project=p, initial={"stage": p.stage})
    if request.method == "POST" and form.is_valid():
        form.instance.project = p
        form.save()
        messages.success(request, "Criterion added.")
        return redirect("trials:project", slug=slug)
    return render(
        request,
        "trials/form.html",
        {
            "form": form,
            "heading": f"Add a progression criterion to {p.name}",
            "button": "Add criterion",
            "project": p,
        },
    )


@editor_required
def criterion_result(request, slug, pk):
    c = get_object_or_404(Criterion, project__slug=slug, pk=pk)
    form = ResultForm(request.POST or None, instance=c)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Result recorded for {c.label}.")
        return redirect("trials:project", slug=slug)
    return render(
        request,
        "trials/form.html",
        {
            "form": form,
            "heading": f"Record the result: {c.label}",
            "button": "Save result",
            "project": c.project,
        },
    )


@editor_required
def decision_new(request, slug):
    p = get_object_or_404(Project, slug=slug)
    form = DecisionForm(request.POST or None, initial={"from_stage": p.stage})
    if request.method == "POST" and form.is_valid():
        form.instance.project = p
        form.instance.recorded_by = request.user
        decision = form.save()
        note = ""
        if decision.outcome == "progress" and decision.to_stage and decision.to_stage != p.stage:
            p.stage = decision.to_stage  # progressing moves the project; said in the message
            p.save(update_fields=["stage"])
            note = f" The project is now at the {p.get_stage_display().lower()} stage."
        messages.success(request, "Decision recorded." + note)
        return redirect("trials:project", slug=slug)
    return render(
        request,
        "trials/form.html",
        {
            "form": form,
            "heading": f"Record a decision on {p.name}",
            "button": "Record decision",
            "project": p,
        },
    )


@editor_required
def trial_new(request):
    form = TrialForm(request.POST or None, request.FILES or None, initial={"record_json": "{}"})
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        saved = form.save()
        messages.success(request, f"Added {saved.title} to the registry.")
        return redirect("trials:trial", slug=saved.slug)
    return render(
        request,
        "trials/form.html",
        {"form": form, "heading": "Add a trial record", "button": "Add trial", "multipart": True},
    )
