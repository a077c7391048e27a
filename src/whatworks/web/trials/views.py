"""Trials pages: the programme and its projects, the trial registry, the power calculator (all public,
read-only); editors create projects, criteria, results, decisions and trial records. Short views over
`core.py` and `whatworks.trials`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from whatworks.errors import WhatWorksError

from ..accounts.roles import is_admin, is_editor
from ..store.editor import editor_required
from . import core
from .forms import (
    AnalyseForm,
    CriterionForm,
    DecisionForm,
    EnrolForm,
    EnrolmentStartForm,
    EvaluationForm,
    PowerForm,
    ProjectForm,
    RandomiseForm,
    ResultForm,
    TrialForm,
    UploadForm,
)
from .models import (
    AllocationLogEntry,
    Criterion,
    Project,
    Trial,
    TrialAllocation,
    TrialAnalysisRecord,
    TrialUpload,
)


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
            "analyses": TrialAnalysisRecord.objects.filter(trial=t),
            "is_editor": is_editor(request.user),
            **_allocation_context(request, t),
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
        html = report_html(core.to_record(t, verify=True), plan_content=core.plan_bytes(t),
                           stylesheet=reverse("trials:report_css"))
    except WhatWorksError as e:
        return HttpResponse(f"The report cannot be made: {e}", status=409, content_type="text/plain")
    return HttpResponse(html)


@require_GET
def report_css(request):
    """The report's stylesheet (``trials.report.CSS``), linked from the report page: the site's
    Content-Security-Policy refuses styles written into a page."""
    from whatworks.trials.report import CSS

    response = HttpResponse(CSS, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def trial_report_pdf(request, slug):
    import tempfile
    from pathlib import Path

    from whatworks.trials.report import report_pdf

    t = get_object_or_404(Trial, slug=slug)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            body = report_pdf(
                core.to_record(t, verify=True), Path(tmp) / "report.pdf", plan_content=core.plan_bytes(t)
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


# ------------------------------------------------------------------ randomisation and analysis


def _draw_seed() -> int:
    import secrets

    return secrets.randbelow(10**9)


def _upload_step(request, t, kind, template, ctx, step):
    """The first step both wizards share: take a file (then redirect to ``?upload=N``) or find the
    one named. Returns ``(response, None)`` when the step answers, else ``(None, upload)``."""
    if step == "upload":
        upload, form = _take_upload(request, t, kind)
        if upload is None:
            return render(request, template, {**ctx, "upload_form": form}, status=400), None
        return redirect(f"{request.path}?upload={upload.pk}"), None
    upload_id = request.POST.get("upload") if step else request.GET.get("upload")
    if not upload_id:
        return render(request, template, {**ctx, "upload_form": UploadForm()}), None
    return None, _upload_or_404(t, kind, upload_id)


def _upload_or_404(t: Trial, kind: str, pk) -> TrialUpload:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("no such upload") from None
    return get_object_or_404(TrialUpload, trial=t, kind=kind, pk=pk)


def _take_upload(request, t: Trial, kind: str):
    """Save the upload form's file (or pasted text); the upload, or the form with its errors."""
    from . import allocation as svc

    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return None, form
    name, raw = form.content()
    try:
        return svc.save_upload(t, kind, name, raw, request.user), form
    except WhatWorksError as e:
        form.add_error(None, str(e))
        return None, form


@editor_required
def trial_randomise(request, slug):
    """Upload the units -> choose the method and its columns, the seed -> preview the balance ->
    confirm (stored with its log). Refused once the trial has an allocation."""
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    if TrialAllocation.objects.filter(trial=t).exists():
        messages.error(request, svc.already_message(t) + ".")
        return redirect("trials:trial", slug=slug)
    ctx = {"trial": t, "enrol_form": EnrolmentStartForm(initial={"seed": _draw_seed()})}
    step = request.POST.get("step") if request.method == "POST" else None
    response, upload = _upload_step(request, t, TrialUpload.UNITS, "trials/randomise.html", ctx, step)
    if response is not None:
        return response
    cols = svc.columns(upload)
    if step not in ("preview", "confirm"):
        record_arms = [k for k, _ in core.to_record(t).arms] if t.record.get("arms") else None
        form = RandomiseForm(columns=cols, initial={
            "upload": upload.pk, "seed": _draw_seed(),
            "arms": " ".join(record_arms) if record_arms else "control treatment"})
        return render(request, "trials/randomise.html", {**ctx, "upload": upload, "form": form})
    form = RandomiseForm(request.POST, columns=cols)
    ctx.update(upload=upload, form=form)
    if not form.is_valid():
        return render(request, "trials/randomise.html", ctx, status=400)
    d = form.cleaned_data
    kwargs = {"method": d["method"], "seed": d["seed"], "options": form.options(),
              "balance_columns": d.get("balance") or []}
    try:
        if step == "confirm":
            if not d.get("fingerprint"):
                raise WhatWorksError("preview the allocation before confirming it")
            svc.randomise_trial(t, upload, user=request.user, fingerprint=d["fingerprint"],
                                **kwargs)
            messages.success(request, f"{t.title} is randomised; the allocation and its log are "
                                      "stored.")
            return redirect(reverse("trials:trial", args=[slug]) + "#allocation-h")
        ctx["preview"] = p = svc.preview(upload, **kwargs)
        ctx["preview_balance"] = _balance_rows(svc._records(p.balance), p.allocation.arms)
        ctx["confirm_form"] = RandomiseForm(columns=cols, initial={
            **{k: v for k, v in request.POST.items() if k in form.fields},
            "fingerprint": p.fingerprint, **{k: request.POST.getlist(k) for k in
                                             ("strata", "covariates", "factors", "balance")}})
    except svc.AlreadyRandomised as e:
        messages.error(request, f"{e}.")
        return redirect("trials:trial", slug=slug)
    except WhatWorksError as e:
        ctx["error"] = str(e)
        return render(request, "trials/randomise.html", ctx, status=400)
    return render(request, "trials/randomise.html", ctx)


@editor_required
@require_POST
def trial_enrol_start(request, slug):
    """Start minimisation for units enrolled one at a time (an open log)."""
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    form = EnrolmentStartForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            svc.start_enrolment(t, seed=d["seed"], factors=d["factors"], arms=d["arms"],
                                ratio=d.get("ratio"), weights=d.get("weights"), p_best=d["p_best"],
                                user=request.user)
        except svc.AlreadyRandomised as e:
            messages.error(request, f"{e}.")
            return redirect("trials:trial", slug=slug)
        except WhatWorksError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, "Enrolment by minimisation has started; add units one at a "
                                      "time below.")
            return redirect(reverse("trials:trial", args=[slug]) + "#enrol-h")
    return render(request, "trials/randomise.html",
                  {"trial": t, "upload_form": UploadForm(), "enrol_form": form}, status=400)


@editor_required
@require_POST
def trial_enrol(request, slug):
    """Allocate one more unit by minimisation; its arm is shown and it is appended to the log."""
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    alloc = get_object_or_404(TrialAllocation, trial=t)
    form = EnrolForm(request.POST, factors=alloc.options.get("factors", []))
    if form.is_valid():
        try:
            arm = svc.enrol(t, unit=form.cleaned_data["unit"], levels=form.levels(),
                            user=request.user)
        except WhatWorksError as e:
            messages.error(request, f"Not enrolled: {e}")
        else:
            messages.success(request, f"Unit {form.cleaned_data['unit']} is allocated to {arm}.")
    else:
        messages.error(request, "Not enrolled: " + "; ".join(
            f"{form.fields[k].label if k in form.fields else k}: {' '.join(v)}"
            for k, v in form.errors.items()))
    return redirect(reverse("trials:trial", args=[slug]) + "#enrol-h")


@editor_required
@require_POST
def trial_enrol_close(request, slug):
    """Seal the enrolment log: no more units."""
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    get_object_or_404(TrialAllocation, trial=t)
    try:
        n = svc.close_enrolment(t)
    except WhatWorksError as e:
        messages.error(request, f"Not closed: {e}")
    else:
        messages.success(request, f"Enrolment closed with {n} units; the log is sealed.")
    return redirect(reverse("trials:trial", args=[slug]) + "#log-h")


@require_GET
def allocation_csv(request, slug):
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    alloc = get_object_or_404(TrialAllocation, trial=t)
    response = HttpResponse(svc.allocation_csv(alloc), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{t.slug}-allocation.csv"'
    return response


@require_GET
def allocation_log(request, slug):
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    get_object_or_404(TrialAllocation, trial=t)
    response = HttpResponse(svc.log_text(t).encode("utf-8"),
                            content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{t.slug}-allocation-log.jsonl"'
    return response


def _allocation_context(request, t: Trial) -> dict:
    """The stored allocation, its balance table and log for the trial page (and the verification
    when asked for)."""
    from . import allocation as svc

    alloc = TrialAllocation.objects.filter(trial=t).first()
    if alloc is None:
        return {}
    out = {"allocation": alloc,
           "counts": {a: sum(1 for r in alloc.rows if r["arm"] == a) for a in alloc.arms},
           "alloc_rows": alloc.rows[:500], "alloc_columns": _row_columns(alloc.rows),
           "log_entries": AllocationLogEntry.objects.filter(trial=t).order_by("index")}
    out["log_count"] = out["log_entries"].count()
    last = out["log_entries"].last()
    out["log_head"] = last.hash if last else ""
    balance = alloc.balance if alloc.mode == TrialAllocation.BATCH else svc.enrolment_balance(alloc)
    out["balance_rows"] = _balance_rows(balance, alloc.arms)
    if request.GET.get("verify"):
        out["verification"] = svc.verify(t)
    out["sealed"] = out["log_entries"].filter(kind="seal").exists()
    if alloc.mode == TrialAllocation.ENROLMENT and is_editor(request.user) and not out["sealed"]:
        out["enrol_form"] = EnrolForm(factors=alloc.options.get("factors", []))
    return out


def _balance_rows(records: list[dict], arms) -> list[dict]:
    """balance_table records -> rows of (n, mean, sd) cells in arm order, for the template."""
    return [{"covariate": r["covariate"], "std_diff": r.get("std_diff"),
             "cells": [(r.get(f"n_{a}"), r.get(f"mean_{a}"), r.get(f"sd_{a}")) for a in arms]}
            for r in records]


def _row_columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows[:1]:
        cols = [c for c in r if c != "arm"] + ["arm"]
    return cols


@editor_required
def trial_analyse(request, slug):
    """Upload an outcome file -> choose its columns and the family -> the core's analysis is run
    and stored (nothing is stored when the file or the choices are refused)."""
    from . import allocation as svc

    t = get_object_or_404(Trial, slug=slug)
    alloc = TrialAllocation.objects.filter(trial=t).first()
    ctx = {"trial": t, "allocation": alloc, "max_rows": svc.max_analysis_rows(),
           "timeout": f"{svc.analysis_timeout():g}"}
    step = request.POST.get("step") if request.method == "POST" else None
    response, upload = _upload_step(request, t, TrialUpload.OUTCOMES, "trials/analyse.html", ctx, step)
    if response is not None:
        return response
    cols = svc.columns(upload)
    if step != "analyse":
        form = AnalyseForm(columns=cols, allocation=alloc, initial={
            "upload": upload.pk, "treatment_from": "allocation" if alloc else "file"})
        return render(request, "trials/analyse.html", {**ctx, "upload": upload, "form": form})
    form = AnalyseForm(request.POST, columns=cols, allocation=alloc)
    ctx.update(upload=upload, form=form)
    if not form.is_valid():
        return render(request, "trials/analyse.html", ctx, status=400)
    d = form.cleaned_data
    try:
        done = svc.analyse_upload(t, upload, form.options(),
                                  use_allocation=d.get("treatment_from") == "allocation",
                                  match_by=d.get("match_by"), match_key=d.get("match_key") or "unit")
    except WhatWorksError as e:
        ctx["error"] = str(e)
        return render(request, "trials/analyse.html", ctx, status=400)
    rec = svc.save_analysis(t, upload, done, outcome_name=d.get("outcome_name") or d["outcome"],
                            primary=d.get("primary", False), user=request.user)
    if done.warnings:
        for w in done.warnings:
            messages.warning(request, w)
    messages.success(request, f"Analysed {upload.filename}; the result is stored on the trial.")
    return redirect("trials:analysis", slug=slug, pk=rec.pk)


@require_GET
def trial_analysis(request, slug, pk):
    t = get_object_or_404(Trial, slug=slug)
    rec = get_object_or_404(TrialAnalysisRecord.objects.select_related("upload"), trial=t, pk=pk)
    import json

    from whatworks._results import fmt_p

    r = dict(rec.results)
    r["p_text"] = fmt_p(r.get("p_value"))
    r["coefficients"] = [{**c, "p_text": fmt_p(c.get("p_value"))} for c in r.get("coefficients") or []]
    return render(request, "trials/analysis.html", {
        "trial": t, "a": rec, "r": r, "level": f"{r.get('level', 95.0):g}",
        "options_json": json.dumps(rec.options, sort_keys=True)})
