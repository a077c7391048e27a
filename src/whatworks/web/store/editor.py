"""Editors' pages: draft and edit content and findings; admins publish. Short views over services.

Changes to a published intervention go to its draft (``drafts.py``); every form carries a one-time
token (``once.py``); removals are confirmed on a page of their own."""

from __future__ import annotations

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from whatworks.errors import WhatWorksError

from ..accounts.roles import is_admin, is_editor
from . import changes, drafts, imports, once, services
from .forms import FindingForm, FindingsUploadForm, InterventionForm, StoreUploadForm, StudyForm
from .models import Draft, Finding, ImportJob, Intervention, Outcome, SlugRedirect, Study


def editor_required(view):
    """Anonymous users are sent to sign in; signed-in non-editors get 403. A form sent again
    (Back-and-resubmit: its one-time token was used) is told it was already saved, before
    anything else is looked at (the object may be gone, the form now invalid)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_editor(request.user):
            raise PermissionDenied("editors only")
        if request.method == "POST" and once.FIELD in request.POST:
            url = once.replayed(request)
            if url is not None:
                messages.info(request, ALREADY_SAVED)
                return redirect(url or "editor:dashboard")
        return view(request, *args, **kwargs)
    return wrapper


ALREADY_SAVED = "Already saved: this form was sent before, so nothing was saved twice."


@editor_required
def dashboard(request):
    return render(request, "editor/dashboard.html", {
        "interventions": Intervention.objects.order_by("status", "name"),
        "drafts": set(Draft.objects.values_list("intervention_id", flat=True))})


def _saved_once(request, write, form_page: str | None = None):
    """Run a form's write once per form token (see ``once.py``): a resubmission says it was
    already saved and goes to the object; a missing or forged token is refused (400)."""
    try:
        return redirect(once.once(request, write))
    except once.AlreadySaved as done:
        messages.info(request, ALREADY_SAVED)
        return redirect(done.url or "editor:dashboard")
    except once.BadToken as exc:
        return render(request, "editor/expired.html", {"message": str(exc), "back": form_page},
                      status=400)


def _guard(request, base: str | None = None) -> dict:
    """What a form page needs for its hidden fields: the one-time token and what it read."""
    return {"form_token": once.token_for(request),
            "base": request.POST.get("base", base) if request.method == "POST" else base}


def _gap_warning(request, intervention) -> None:
    """The core's warning when the intervention as editors now see it (its draft, if any) has a
    finding with an effect size while marked as an evidence gap."""
    why = drafts.gap_warning(drafts.current(intervention)[0])
    if why:
        messages.warning(request, f"{intervention.name}: {why}.")


def _draft_notice(request, intervention) -> None:
    messages.success(request, "Saved to the draft: readers see the published version until an "
                              "administrator publishes the changes.")


@editor_required
def intervention_edit(request, slug=None):
    intervention = get_object_or_404(Intervention, slug=slug) if slug else None
    if intervention is not None and drafts.uses_draft(intervention):
        return _intervention_edit_draft(request, intervention)
    old_slug = intervention.slug if intervention else None
    form = InterventionForm(request.POST or None, instance=intervention)
    if request.method == "POST" and form.is_valid():
        def write():
            saved = changes.save_intervention(form.save(commit=False), user=request.user)
            if old_slug and old_slug != saved.slug:
                SlugRedirect.objects.update_or_create(old_slug=old_slug,
                                                      defaults={"intervention": saved})
            messages.success(request, f"Saved {saved.name}.")
            return reverse("editor:intervention", args=[saved.slug])
        return _saved_once(request, write, request.path)
    return render(request, "editor/intervention_form.html", {
        "form": form, "intervention": intervention, **_guard(request)})


def _intervention_edit_draft(request, intervention):
    snapshot, _ = drafts.current(intervention)
    form = InterventionForm(request.POST or None,
                            instance=drafts.intervention_object(intervention, snapshot))
    if request.method == "POST" and form.is_valid():
        edited = form.save(commit=False)
        values = {name: getattr(edited, name) for name in form.Meta.fields}
        values = {k: (v.key if k == "review" and v else v) for k, v in values.items()}

        def write():
            drafts.put_fields(intervention, values, user=request.user,
                              base=request.POST.get("base") or None)
            _draft_notice(request, intervention)
            return reverse("editor:intervention", args=[intervention.slug])
        try:
            return _saved_once(request, write, request.path)
        except drafts.DraftError as exc:
            form.add_error(None, str(exc))
    return render(request, "editor/intervention_form.html", {
        "form": form, "intervention": intervention, "in_draft": True,
        **_guard(request, drafts.item_hash(snapshot["fields"]))})


@editor_required
def intervention_page(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    snapshot, draft = drafts.current(intervention)
    studies = {s["ref"]: s for s in snapshot["studies"]}
    outcomes = Outcome.objects.select_related("domain").in_bulk(field_name="slug")
    findings = [{**f, "study_item": studies.get(f["study"]),
                 "outcome_name": outcomes[f["outcome"]].name if f["outcome"] in outcomes
                 else f["outcome"],
                 "words": services.finding_in_words(f, outcomes.get(f["outcome"]))}
                for f in snapshot["findings"]]
    return render(request, "editor/intervention.html", {
        "intervention": intervention, "draft": draft, "in_draft": drafts.uses_draft(intervention),
        "fields": snapshot["fields"], "findings": findings, "studies": snapshot["studies"],
        "gap_warning": drafts.gap_warning(
            snapshot, shown=draft is None and intervention.status == Intervention.PUBLISHED),
        "revisions": drafts.history(intervention)[:1], "form_token": once.issue()})


@editor_required
def changes_page(request, slug):
    """What publishing the draft would change, ratings included; administrators publish here."""
    intervention = get_object_or_404(Intervention, slug=slug)
    snapshot, draft = drafts.current(intervention)
    diff = drafts.diff(intervention, snapshot) if draft else None
    return render(request, "editor/changes.html", {
        "intervention": intervention, "draft": draft, "diff": diff,
        "problem": drafts.shows_something(snapshot), "form_token": once.issue()})


@editor_required
def history_page(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    return render(request, "editor/history.html", {
        "intervention": intervention, "revisions": drafts.history(intervention)})


@require_POST
@editor_required
def publish(request, slug):
    if not is_admin(request.user):
        raise PermissionDenied("only an administrator may publish")
    intervention = get_object_or_404(Intervention, slug=slug)
    back = reverse("editor:intervention", args=[slug])
    unpublish = request.POST.get("action") == "unpublish"
    version = request.POST.get("version", "")

    def write():
        if unpublish:
            changes.set_status(intervention, Intervention.DRAFT, user=request.user,
                               request=request)
            messages.success(request, f"{intervention.name} is now a draft: readers no longer "
                                      "see it.")
        else:
            revision = drafts.publish(intervention, user=request.user, request=request,
                                      expected_version=int(version) if version.isdigit() else None)
            messages.success(request, f"Published {intervention.name}: revision "
                                      f"{revision.number} ({revision.summary}).")
        return reverse("editor:intervention", args=[intervention.slug])
    try:
        return _saved_once(request, write, back)
    except drafts.DraftError as exc:
        messages.error(request, str(exc))
        return redirect("editor:changes", slug=slug)


@editor_required
def discard_draft(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    if request.method == "POST":
        def write():
            drafts.discard(intervention, user=request.user)
            messages.success(request, "The draft's changes were discarded.")
            return reverse("editor:intervention", args=[slug])
        return _saved_once(request, write, request.path)
    return _confirm(request, intervention, "Discard the draft's changes",
                    "Every unpublished change to this intervention will be lost. The published "
                    "version stays as it is.", "Discard the changes")


def _confirm(request, intervention, title, text, button):
    return render(request, "editor/confirm.html", {
        "intervention": intervention, "title": title, "text": text, "button": button,
        "form_token": once.issue()})


@editor_required
def intervention_delete(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    if not is_admin(request.user):
        raise PermissionDenied("only an administrator may delete an intervention")
    if request.method == "POST":
        def write():
            changes.delete_intervention(intervention, user=request.user)
            messages.success(request, f"Deleted {intervention.name}.")
            return reverse("editor:dashboard")
        return _saved_once(request, write, request.path)
    return _confirm(request, intervention, f"Delete {intervention.name}",
                    "The intervention, its studies, findings, ratings and history are deleted "
                    "for good, and its public page disappears.", "Delete the intervention")


@editor_required
def study_new(request, slug):
    intervention = get_object_or_404(Intervention, slug=slug)
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = form.save(commit=False)
        study.intervention = intervention

        def write():
            if drafts.uses_draft(intervention):
                drafts.put_study(intervention, study, user=request.user)
                _draft_notice(request, intervention)
            else:
                changes.save_study(study, user=request.user, reason="study added by an editor")
                messages.success(request, "Study added.")
            return reverse("editor:intervention", args=[slug])
        try:
            return _saved_once(request, write, request.path)
        except drafts.DraftError as exc:
            form.add_error("key", str(exc))
    return render(request, "editor/study_form.html", {"form": form, "intervention": intervention,
                                                      **_guard(request)})


@editor_required
def study_delete(request, slug, ref):
    intervention = get_object_or_404(Intervention, slug=slug)
    snapshot, _ = drafts.current(intervention)
    item = drafts.find(snapshot["studies"], ref)
    if item is None:
        raise Http404("no such study in this intervention")
    if request.method == "POST":
        def write():
            if drafts.uses_draft(intervention):
                drafts.remove_study(intervention, ref, user=request.user)
                _draft_notice(request, intervention)
            else:
                changes.delete_study(Study.objects.get(pk=ref, intervention=intervention),
                                     user=request.user, reason="study removed by an editor")
                messages.success(request, "Study removed; synthesis and rating updated.")
            return reverse("editor:intervention", args=[slug])
        return _saved_once(request, write, request.path)
    n = sum(f["study"] == ref for f in snapshot["findings"])
    return _confirm(request, intervention, f"Remove the study {item['key']}",
                    f"{item['citation']} and its {n} finding{'s' if n != 1 else ''} will be removed "
                    f"from {intervention.name}.", "Remove the study")


@editor_required
def finding_edit(request, slug, finding_id=None):
    intervention = get_object_or_404(Intervention, slug=slug)
    if drafts.uses_draft(intervention):
        return _finding_edit_draft(request, intervention, finding_id)
    finding = get_object_or_404(Finding, pk=finding_id, intervention=intervention) \
        if finding_id else None
    initial = FindingForm.initial_from(finding) if finding else None
    form = FindingForm(request.POST or None, initial=initial, intervention=intervention)
    if request.method == "POST" and form.is_valid():
        def write():
            saved = changes.save_finding(form.to_finding(finding), user=request.user,
                                         reason="finding changed by an editor" if finding
                                         else "finding added by an editor")
            messages.success(request, f"Finding saved: {form.preview.summary} (effect size "
                                      f"{saved.yi:.3f}, variance {saved.vi:.4f}); synthesis and "
                                      "rating updated.")
            _gap_warning(request, intervention)
            return reverse("editor:intervention", args=[slug])
        try:
            return _saved_once(request, write, request.path)
        except WhatWorksError as exc:
            form.add_error(None, str(exc))
    return render(request, "editor/finding_form.html", {
        "form": form, "intervention": intervention, "finding": finding,
        "gap_notice": drafts.gap_warning(drafts.current(intervention)[0], adding=True),
        **_guard(request)})


def _finding_edit_draft(request, intervention, ref):
    snapshot, _ = drafts.current(intervention)
    item = drafts.find(snapshot["findings"], ref) if ref is not None else None
    if ref is not None and item is None:
        raise Http404("no such finding in this intervention")
    finding = drafts.finding_object(intervention, snapshot, item) if item else None
    form = FindingForm(request.POST or None, intervention=intervention,
                       initial=FindingForm.initial_from(finding) if finding else None)
    studies = {s["key"]: drafts.study_object(intervention, s) for s in snapshot["studies"]}
    refs = {s["key"]: s["ref"] for s in snapshot["studies"]}
    form.fields["study"] = forms.TypedChoiceField(
        label=form.fields["study"].label, choices=[("", "---------")] + [
            (key, str(study)) for key, study in studies.items()], coerce=studies.get)
    if request.method == "POST" and form.is_valid():
        edited = form.to_finding(finding)

        def write():
            drafts.put_finding(intervention, edited, user=request.user, ref=ref,
                               study_ref=refs[edited.study.key],
                               base=request.POST.get("base") or None)
            _draft_notice(request, intervention)
            _gap_warning(request, intervention)
            return reverse("editor:intervention", args=[intervention.slug])
        try:
            return _saved_once(request, write, request.path)
        except WhatWorksError as exc:
            form.add_error(None, str(exc))
    return render(request, "editor/finding_form.html", {
        "form": form, "intervention": intervention, "finding": finding, "in_draft": True,
        "gap_notice": drafts.gap_warning(snapshot, adding=True),
        **_guard(request, drafts.item_hash(item) if item else None)})


@editor_required
def finding_delete(request, slug, finding_id):
    intervention = get_object_or_404(Intervention, slug=slug)
    snapshot, _ = drafts.current(intervention)
    item = drafts.find(snapshot["findings"], finding_id)
    if item is None:
        raise Http404("no such finding in this intervention")
    if request.method == "POST":
        def write():
            if drafts.uses_draft(intervention):
                drafts.remove_finding(intervention, finding_id, user=request.user)
                _draft_notice(request, intervention)
            else:
                changes.delete_finding(Finding.objects.get(pk=finding_id),
                                       reason="finding removed by an editor", user=request.user)
                messages.success(request, "Finding removed; synthesis and rating updated.")
            return reverse("editor:intervention", args=[slug])
        try:
            return _saved_once(request, write, request.path)
        except drafts.DraftError as exc:
            messages.error(request, str(exc))
            return redirect("editor:intervention", slug=slug)
    study = drafts.find(snapshot["studies"], item["study"]) or {"key": "?"}
    outcome = Outcome.objects.filter(slug=item["outcome"]).values_list("name", flat=True).first()
    effect = "" if item.get("yi") is None else f", effect size {item['yi']:.3f}"
    return _confirm(request, intervention, "Remove a finding",
                    f"The finding of {study['key']} on {outcome or item['outcome']} "
                    f"({item['measure']}{effect}) will be removed from {intervention.name}.",
                    "Remove the finding")


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
                    result = imports.run(kind, raw, upload.name, user=request.user)
                    messages.success(request, f"Imported {result.describe()}.")
                    for line in _named(result.warnings):
                        messages.warning(request, line)
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


def _named(warnings: list[dict]) -> list[str]:
    """An import's warnings (``imports.Imported.warnings``) as the editor's forms give them
    (``_gap_warning``): each message after the name of the intervention it is about."""
    names = dict(Intervention.objects.filter(slug__in=[w["intervention"] for w in warnings])
                 .values_list("slug", "name"))
    return [f"{names.get(w['intervention'], w['intervention'])}: {w['message']}."
            for w in warnings]


@editor_required
def import_job(request, job_id):
    job = get_object_or_404(ImportJob, pk=job_id)
    stale = imports.mark_if_stale(job)
    return render(request, "editor/import_job.html", {
        "job": job, "stale": stale, "warnings": _named(job.warnings or [])})
