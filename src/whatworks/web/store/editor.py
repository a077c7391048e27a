"""Editors' pages: draft and edit content and findings; admins publish. Short views over services."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from whatworks.errors import WhatWorksError

from ..accounts.roles import is_admin, is_editor
from . import changes, imports
from .forms import FindingForm, FindingsUploadForm, InterventionForm, StoreUploadForm, StudyForm
from .models import Finding, ImportJob, Intervention, SlugRedirect


def editor_required(view):
    """Anonymous users are sent to sign in; signed-in non-editors get 403."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_editor(request.user):
            raise PermissionDenied("editors only")
        return view(request, *args, **kwargs)
    return wrapper


@editor_required
def dashboard(request):
    return render(request, "editor/dashboard.html", {
        "interventions": Intervention.objects.order_by("status", "name")})


@editor_required
def intervention_edit(request, slug=None):
    intervention = get_object_or_404(Intervention, slug=slug) if slug else None
    old_slug = intervention.slug if intervention else None
    form = InterventionForm(request.POST or None, instance=intervention)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = changes.save_intervention(form.save(commit=False), user=request.user)
            if old_slug and old_slug != saved.slug:
                SlugRedirect.objects.update_or_create(old_slug=old_slug,
                                                      defaults={"intervention": saved})
        messages.success(request, f"Saved {saved.name}.")
        return redirect("editor:intervention", slug=saved.slug)
    return render(request, "editor/intervention_form.html", {"form": form,
                                                             "intervention": intervention})


@editor_required
def intervention_page(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    return render(request, "editor/intervention.html", {
        "intervention": intervention,
        "findings": intervention.findings.select_related("study", "outcome"),
        "studies": intervention.studies.all()})


@require_POST
@editor_required
def publish(request, slug):
    if not is_admin(request.user):
        raise PermissionDenied("only an administrator may publish")
    intervention = get_object_or_404(Intervention, slug=slug)
    changes.set_status(intervention, Intervention.DRAFT if request.POST.get("action") == "unpublish"
                       else Intervention.PUBLISHED, user=request.user, request=request)
    messages.success(request, f"{intervention.name} is now {intervention.get_status_display()}.")
    return redirect("editor:intervention", slug=slug)


@editor_required
def study_new(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = form.save(commit=False)
        study.intervention = intervention
        changes.save_study(study, user=request.user, reason="study added by an editor")
        messages.success(request, "Study added.")
        return redirect("editor:intervention", slug=slug)
    return render(request, "editor/study_form.html", {"form": form, "intervention": intervention})


@editor_required
def finding_edit(request, slug, finding_id=None):
    intervention = get_object_or_404(Intervention, slug=slug)
    finding = get_object_or_404(Finding, pk=finding_id, intervention=intervention) \
        if finding_id else None
    initial = FindingForm.initial_from(finding) if finding else None
    form = FindingForm(request.POST or None, initial=initial, intervention=intervention)
    saved = None
    if request.method == "POST" and form.is_valid():
        try:
            saved = changes.save_finding(form.to_finding(finding), user=request.user,
                                         reason="finding changed by an editor" if finding
                                         else "finding added by an editor")
        except WhatWorksError as exc:
            form.add_error(None, str(exc))
    if saved is not None:
        messages.success(request, f"Finding saved: {form.preview.summary} (effect size "
                                  f"{saved.yi:.3f}, variance {saved.vi:.4f}); synthesis and "
                                  "rating updated.")
        return redirect("editor:intervention", slug=slug)
    return render(request, "editor/finding_form.html", {"form": form, "intervention": intervention,
                                                        "finding": finding})


@require_POST
@editor_required
def finding_delete(request, slug, finding_id):
    finding = get_object_or_404(Finding, pk=finding_id, intervention__slug=slug)
    changes.delete_finding(finding, reason="finding removed by an editor", user=request.user)
    messages.success(request, "Finding removed; synthesis and rating updated.")
    return redirect("editor:intervention", slug=slug)


@editor_required
def import_data(request):
    """Imports: the whole file is validated before anything is written; a large one runs as a
    background job (``imports.start``) and this page sends the editor to its progress."""
    findings_form = FindingsUploadForm(prefix="findings")
    store_form = StoreUploadForm(prefix="store")
    errors = []
    if request.method == "POST":
        kind = request.POST.get("kind")
        if kind not in ("findings", "store"):
            errors.append("choose what to import: a findings CSV or a store export")
        else:
            form = FindingsUploadForm(request.POST, request.FILES, prefix="findings") \
                if kind == "findings" else StoreUploadForm(request.POST, request.FILES,
                                                           prefix="store")
            if form.is_valid():
                upload = form.cleaned_data["file"]
                raw = upload.read()
                try:
                    if imports.estimate_rows(kind, raw) > settings.WHATWORKS_IMPORT_BACKGROUND_ROWS:
                        job = imports.start(kind, raw, upload.name, user=request.user)
                        return redirect("editor:import_job", job_id=job.pk)
                    counts = imports.run(kind, raw, upload.name, user=request.user)
                    messages.success(request, f"Imported {imports._describe(counts)}.")
                    return redirect("editor:dashboard")
                except WhatWorksError as exc:
                    errors.append(f"{exc}; nothing was imported")
            else:
                name = getattr(request.FILES.get(f"{kind}-file"), "name", "the file")
                errors.extend(f"{name}: {e}; nothing was imported"
                              for e in form.errors.get("file", form.errors.get("__all__", [])))
    return render(request, "editor/import.html", {"findings_form": findings_form,
                                                  "store_form": store_form, "errors": errors},
                  status=400 if errors else 200)


@editor_required
def import_job(request, job_id):
    job = get_object_or_404(ImportJob, pk=job_id)
    stale = imports.mark_if_stale(job)
    return render(request, "editor/import_job.html", {"job": job, "stale": stale})
