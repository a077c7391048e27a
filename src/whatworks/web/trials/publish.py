"""Publish a trial's results into the Evidence Store: the core (``whatworks.trials.publish``) says what
the study and findings are; the store's write services (``store/changes.py``) save them and recompute
the synthesis and rating of every intervention x outcome touched, with a line in the rating history.

Administrators only (publication is theirs by the store's rules). Idempotent: the study's key is
``trial-<slug>``, findings are matched by outcome and time point, so publishing again updates them,
and publishing the same record again writes nothing; a finding this trial published before whose
result is no longer mapped is removed. All or nothing: one transaction.

Never a second copy: if the trial's study is already in the store under another key (curated from
the trial's report), the core's ``existing_study`` refuses with a message offering to update that
study instead (``update=`` here, or ``evidence_store.study`` in the record); see
``whatworks.trials.publish`` for the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from whatworks.errors import WhatWorksError
from whatworks.trials.publish import (
    Existing,
    Publication,
    StoredFinding,
    StoredStudy,
    existing_study,
    match_findings,
    publication,
    published_note,
)

from ..store import changes
from ..store.models import Finding, Intervention, Outcome, Study
from . import core
from .models import Trial


class PublishError(WhatWorksError):
    """The trial cannot be published as it stands (the message says what to change)."""


@dataclass(frozen=True)
class Published:
    publication: Publication
    intervention: Intervention
    study: Study
    created: bool
    saved: int
    removed: int
    existing: Existing | None = None  # the existing study updated, and why (None: its own new study)
    changed: bool = True  # False when the store already held exactly this publication


def prepare(trial: Trial, *, intervention: str | None = None, update: str | None = None,
            check: bool = True) -> Publication:
    """What publishing would write (nothing is saved). The intervention is the one chosen, else the
    record's ``evidence_store.intervention``, else the trial's project's. With ``check``, raises the
    core's ``DuplicateStudyError`` if the trial's study is already in the store under another key
    (so the trial page says so before anyone publishes)."""
    record = core.to_record(trial)
    declared = record.get("evidence_store.intervention")
    if not intervention and not declared and trial.project_id:
        intervention = trial.project.intervention or None
    pub = publication(record, intervention=intervention)
    if check:
        existing_study(pub, candidates(pub, update=update), update=update)
    return pub


def _stored(study: Study) -> StoredStudy:
    return StoredStudy(key=study.key, citation=study.citation, year=study.year,
                       intervention=study.intervention.slug,
                       findings=tuple(_stored_finding(f) for f in study.findings.all()))


def _stored_finding(f: Finding) -> StoredFinding:
    return StoredFinding(outcome=f.outcome.slug, timepoint_months=f.timepoint_months, measure=f.measure,
                         yi=f.yi, vi=f.vi, notes=f.notes)


def candidates(pub: Publication, *, update: str | None = None) -> list[StoredStudy]:
    """The store studies that could be this trial's (the core's ``existing_study`` decides): those under
    the intervention published to, its own key, the one named, those holding its findings, and those
    whose citation may carry its identifiers or title."""
    q = Q(key=pub.study.key) | Q(findings__notes__startswith=published_note(pub.trial))
    if pub.intervention:
        q |= Q(intervention__slug=pub.intervention)
    for key in (update, pub.identity.get("study")):
        if key:
            q |= Q(key=key)
    for ident in pub.identity.get("registration", ()) + pub.identity.get("doi", ()):
        q |= Q(citation__icontains=ident)  # the core compares without punctuation: a coarse first pass
    if pub.study.year is not None:
        q |= Q(year=pub.study.year)
    rows = Study.objects.filter(q).distinct().select_related("intervention") \
        .prefetch_related("findings__outcome")
    return [_stored(s) for s in rows]


def publish(trial: Trial, *, user, intervention: str | None = None, update: str | None = None) -> Published:
    """Create or update the trial's study and findings through the store's services.

    ``update``: the key of an existing store study that is this trial's ("update the existing
    study"); needed when the trial's study is already in the store under another key.
    """
    changes.require_admin(user, "publish trial results to the Evidence Store")
    pub = prepare(trial, intervention=intervention, check=False)
    if not pub.intervention:
        raise PublishError("choose the Evidence Store intervention this trial evaluates (or declare "
                           "evidence_store.intervention in the record)")
    target = Intervention.objects.filter(slug=pub.intervention).first()
    if target is None:
        raise PublishError(f"no Evidence Store intervention '{pub.intervention}'; add it first or "
                           "choose another")
    slugs = {f.outcome for f in pub.findings}
    outcomes = {o.slug: o for o in Outcome.objects.filter(slug__in=slugs)}
    missing = sorted(slugs - set(outcomes))
    if missing:
        raise PublishError(f"evidence_store.outcomes names {', '.join(missing)}, not Evidence Store "
                           "outcomes; use the slugs on the outcomes page")
    reason = (f"trial {pub.trial} published (record SHA-256 {pub.record_sha256[:12]})")

    study_fields = ["design", "sample_size", "unit_of_randomisation", "follow_up_months", "risk_of_bias",
                    "illustrative", "source"]

    def work():
        found = existing_study(pub, candidates(pub, update=update), update=update)
        study = Study.objects.filter(key=found.key if found else pub.study.key).first()
        created = study is None
        study = study or Study(key=pub.study.key)
        s = pub.study
        names = list(study_fields)
        keep_curated = found is not None and found.key != pub.study.key
        for name, field in (("citation", "citation"), ("year", "year"), ("country", "country")):
            # an existing study keeps its own citation, year and country unless the record declares them
            if not keep_curated or (trial.record.get("evidence_store") or {}).get(field) is not None:
                names.append(name)
        before = {n: getattr(study, n) for n in names + ["intervention_id"]} if not created else None
        for name in names:
            setattr(study, name, getattr(s, name))
        study.intervention = target
        study_changed = created or before != {n: getattr(study, n) for n in names + ["intervention_id"]}
        if study_changed:
            _valid(study, exclude=["intervention"])
            changes.save_study(study, user=user, reason=reason)
        rows = list(study.findings.select_related("outcome").order_by("pk"))
        matched, stale = match_findings(pub, found, [_stored_finding(f) for f in rows])
        saved = 0
        for i, fi in enumerate(pub.findings):
            finding = rows[matched[i]] if i in matched else Finding(study=study)
            new = {"outcome_id": outcomes[fi.outcome].pk, "timepoint_months": fi.timepoint_months,
                   "measure": fi.measure, "reported": fi.reported, "notes": fi.notes,
                   "illustrative": s.illustrative, "intervention_id": target.pk}
            if finding.pk and all(getattr(finding, k) == v for k, v in new.items()):
                continue  # already exactly this: publishing again writes nothing
            for k, v in new.items():
                setattr(finding, k, v)
            changes.save_finding(finding, reason=f"{reason}: {fi.result_outcome}", user=user)
            saved += 1
        for j in stale:
            changes.delete_finding(rows[j], reason=f"{reason}: result no longer published", user=user)
        return study, created, saved, len(stale), found, study_changed

    # one transaction for the whole publication, retried from the start on a lock or deadlock
    study, created, saved, removed, found, study_changed = changes.retrying(work)
    return Published(publication=pub, intervention=target, study=study, created=created, saved=saved,
                     removed=removed, existing=found, changed=bool(study_changed or saved or removed))


def _valid(obj, *, exclude) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise PublishError(f"the study cannot be saved ({text})") from None
