"""Publish a trial's results into the Evidence Store: the core (``whatworks.trials.publish``) says what
the study and findings are; the store's write services (``store/changes.py``) save them and recompute
the synthesis and rating of every intervention x outcome touched, with a line in the rating history.

Administrators only (publication is theirs by the store's rules). Idempotent: the study's key is
``trial-<slug>``, findings are matched by outcome and time point, so publishing again updates them;
a finding this trial published before whose result is no longer mapped is removed. All or nothing:
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from whatworks.errors import WhatWorksError
from whatworks.trials.publish import Publication, publication

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


def prepare(trial: Trial, *, intervention: str | None = None) -> Publication:
    """What publishing would write (nothing is saved). The intervention is the one chosen, else the
    record's ``evidence_store.intervention``, else the trial's project's."""
    record = core.to_record(trial)
    declared = record.get("evidence_store.intervention")
    if not intervention and not declared and trial.project_id:
        intervention = trial.project.intervention or None
    return publication(record, intervention=intervention)


def publish(trial: Trial, *, user, intervention: str | None = None) -> Published:
    """Create or update the trial's study and findings through the store's services."""
    changes.require_admin(user, "publish trial results to the Evidence Store")
    pub = prepare(trial, intervention=intervention)
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

    def work():
        study = Study.objects.filter(key=pub.study.key).first()
        created = study is None
        study = study or Study(key=pub.study.key)
        s = pub.study
        for name in ("citation", "year", "design", "country", "sample_size", "unit_of_randomisation",
                     "follow_up_months", "risk_of_bias", "illustrative", "source"):
            setattr(study, name, getattr(s, name))
        study.intervention = target
        _valid(study, exclude=["intervention"])
        changes.save_study(study, user=user, reason=reason)
        mine = [f for f in study.findings.all() if f.notes.startswith(f"Published from trial {pub.trial},")]
        existing = {(f.outcome_id, f.timepoint_months): f for f in mine}
        saved = 0
        for fi in pub.findings:
            outcome = outcomes[fi.outcome]
            finding = existing.pop((outcome.pk, fi.timepoint_months), None) or Finding(study=study)
            finding.outcome, finding.timepoint_months = outcome, fi.timepoint_months
            finding.measure, finding.reported = fi.measure, fi.reported
            finding.notes, finding.illustrative = fi.notes, s.illustrative
            finding.intervention = target
            changes.save_finding(finding, reason=f"{reason}: {fi.result_outcome}", user=user)
            saved += 1
        for stale in existing.values():
            changes.delete_finding(stale, reason=f"{reason}: result no longer published", user=user)
        return study, created, saved, len(existing)

    # one transaction for the whole publication, retried from the start on a lock or deadlock
    study, created, saved, removed = changes.retrying(work)
    return Published(publication=pub, intervention=target, study=study, created=created, saved=saved,
                     removed=removed)


def _valid(obj, *, exclude) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise PublishError(f"the study cannot be saved ({text})") from None
