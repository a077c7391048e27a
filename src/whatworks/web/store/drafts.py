"""The editorial workflow: changes to a published intervention wait in a draft until an
administrator publishes them.

The live tables (``Intervention``, ``Study``, ``Finding``, ``Synthesis``, ``Rating``) always hold
the published state, so every public page, the API's reads, exports, search and ratings show it
unchanged. A ``Draft`` holds the pending state of one intervention as a JSON snapshot::

    {"fields": {"name": ..., "summary": ..., "review": "<review key or null>", ...},
     "studies": [{"ref": 12, "key": "fgc-2023", "citation": ..., ...}, ...],
     "findings": [{"ref": 40, "study": 12, "outcome": "entry-to-care", "measure": "RR",
                   "reported": {...}, "yi": ..., "vi": ..., ...}, ...],
     "next_ref": 1}

``ref`` is the live row's id for a study or finding that exists, and a negative number for one the
draft adds (``new_ref``: unique across drafts); a finding names its study by the study's ``ref``
(so renaming a study's key keeps its findings). Editors' writes change the snapshot (one row,
locked while it changes, so two editors never overwrite each other's different edits; an edit to
an item someone else changed since the form was opened is refused with ``DraftConflict``).
``diff`` says what publishing would change, the ratings included (computed by the core's
``rate_evidence`` on the draft's findings, nothing written); ``publish`` applies the snapshot to
the live tables through the write services of ``changes.py`` in one transaction, keeps a
``Revision`` and deletes the draft.

Interventions never published (status draft) with no pending draft are edited directly, as before:
nothing public to protect. Studies belong to one intervention (``Study.intervention``), so a draft
never changes another intervention's study; moving a finding or study between interventions is
refused while either is published (remove it here and add it there).
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass, field

from django.db import connection, models
from django.utils import timezone

from whatworks.errors import WhatWorksError
from whatworks.ratings.publication import gap_conflict, publication_refusal

from . import changes, services
from .models import (
    Draft,
    Finding,
    Intervention,
    Outcome,
    Rating,
    Review,
    Revision,
    SlugRedirect,
    Study,
)

#: The intervention's fields a draft carries (``review`` as the review's key).
FIELDS = ("name", "slug", "aliases", "summary", "what_it_is", "how_it_works", "who_it_is_for",
          "population", "setting", "where_studied", "uk_evidence", "evidence_gap", "who_delivers",
          "training_and_supervision", "fidelity", "what_supports_it", "unit_cost_gbp",
          "cost_notes", "caveats", "review", "last_reviewed")
STUDY_FIELDS = ("key", "citation", "year", "design", "country", "sample_size",
                "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                "illustrative")
FINDING_FIELDS = ("study", "outcome", "timepoint_months", "measure", "reported", "illustrative",
                  "notes")


class DraftError(WhatWorksError):
    """A draft change or publication that cannot be made; the message says why and what to do."""


class DraftConflict(DraftError):
    """Someone else changed the same item of the draft since this form or request read it."""


class NothingToPublish(DraftError, changes.NothingToShow):
    """Publishing would leave an intervention with nothing to show."""


class NoChanges(DraftError):
    """A published intervention with no pending draft: there is nothing to publish."""


# -- snapshots ----------------------------------------------------------------------------------

def _json(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _field_value(intervention: Intervention, name: str):
    if name == "review":
        return intervention.review.key if intervention.review_id else None
    return _json(getattr(intervention, name))


def study_item(study: Study, ref: int) -> dict:
    return {"ref": ref, **{name: _json(getattr(study, name)) for name in STUDY_FIELDS}}


def live_fields(intervention: Intervention) -> dict:
    """The intervention's fields as a snapshot holds them (from the object given)."""
    return {name: _field_value(intervention, name) for name in FIELDS}


def live_snapshot(intervention: Intervention) -> dict:
    """The intervention as the live tables hold it, in the draft's shape."""
    studies = list(Study.objects.filter(intervention=intervention).order_by("key"))
    findings = Finding.objects.filter(intervention=intervention).select_related("outcome") \
        .order_by("id")
    return {"fields": live_fields(intervention),
            "studies": [study_item(s, s.pk) for s in studies],
            "findings": [{"ref": f.pk, "study": f.study_id, "outcome": f.outcome.slug,
                          "timepoint_months": f.timepoint_months, "measure": f.measure,
                          "reported": f.reported, "illustrative": f.illustrative,
                          "notes": f.notes, "yi": f.yi, "vi": f.vi} for f in findings],
            "next_ref": 1}


def pending(intervention: Intervention) -> Draft | None:
    return Draft.objects.filter(intervention=intervention).first()


def uses_draft(intervention: Intervention) -> bool:
    """Whether editors' changes to this intervention go to a draft: it is published, or it has a
    draft pending (returned to draft with changes not yet published)."""
    return intervention.status == Intervention.PUBLISHED or pending(intervention) is not None


def current(intervention: Intervention) -> tuple[dict, Draft | None]:
    """What editors see and change, and what publishing makes public: the live state with the
    pending draft's changes applied (``merge``), or the live state when there is no draft."""
    draft = pending(intervention)
    live = live_snapshot(intervention)
    return (merge(live, draft.base, draft.snapshot), draft) if draft else (live, None)


def merge(live: dict, base: dict, draft: dict) -> dict:
    """The live state with the draft's changes (from ``base``, the live state the draft was last
    rebased on) applied: a field, study or finding the draft changed takes the draft's value,
    one it added is added, one it removed is removed; everything else keeps its live value (a
    change made to the live tables since is kept). A finding whose study is gone goes with it."""
    if not base:  # nothing to compare with
        return copy.deepcopy(draft)
    out = {"fields": {k: (draft["fields"].get(k) if draft["fields"].get(k) != base["fields"].get(k)
                          else v) for k, v in live["fields"].items()},
           "next_ref": draft.get("next_ref", 1)}
    for kind in ("studies", "findings"):
        old = {x["ref"]: x for x in base[kind]}
        new = {x["ref"]: x for x in draft[kind]}
        items = [copy.deepcopy(new.get(x["ref"], x)) if new.get(x["ref"], x) != old.get(x["ref"])
                 else copy.deepcopy(x) for x in live[kind]
                 if not (x["ref"] in old and x["ref"] not in new)]
        kept = {x["ref"] for x in items}
        items += [copy.deepcopy(x) for x in draft[kind] if x["ref"] not in kept
                  and x["ref"] not in old]
        out[kind] = items
    studies = {s["ref"] for s in out["studies"]}
    out["findings"] = [f for f in out["findings"] if f["study"] in studies]
    return out


def item_hash(item) -> str:
    """A short fingerprint of an item (or the fields) as a form read it, for the conflict check."""
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:16]


def find(items: list[dict], ref: int) -> dict | None:
    return next((x for x in items if x["ref"] == ref), None)


# -- objects for forms and the core -------------------------------------------------------------

def intervention_object(intervention: Intervention, snapshot: dict) -> Intervention:
    """An unsaved copy of the intervention with the snapshot's fields (same pk, for forms)."""
    result = Intervention.objects.get(pk=intervention.pk)
    for name, value in snapshot["fields"].items():
        if name == "review":
            result.review = Review.objects.filter(key=value).first() if value else None
        elif name == "last_reviewed" and value:
            result.last_reviewed = dt.date.fromisoformat(value)
        elif name == "unit_cost_gbp" and value is not None:
            result.unit_cost_gbp = decimal.Decimal(str(value))
        else:
            setattr(result, name, value)
    return result


def study_object(intervention: Intervention, item: dict) -> Study:
    study = Study(intervention=intervention, **{n: item[n] for n in STUDY_FIELDS})
    study.pk = item["ref"] if item["ref"] > 0 else None
    study._ref = item["ref"]
    return study


def finding_object(intervention: Intervention, snapshot: dict, item: dict,
                   outcomes: dict | None = None) -> Finding:
    """An unsaved finding for an item (``pk`` is its ref), its study and outcome attached."""
    outcomes = outcomes if outcomes is not None else {}
    outcome = outcomes.get(item["outcome"]) or Outcome.objects.select_related("domain").get(
        slug=item["outcome"])
    study = study_object(intervention, find(snapshot["studies"], item["study"]))
    finding = Finding(intervention=intervention, study=study, outcome=outcome,
                      **{n: item[n] for n in FINDING_FIELDS if n not in ("study", "outcome")},
                      yi=item.get("yi"), vi=item.get("vi"))
    finding.pk = item["ref"]
    return finding


def finding_item(finding: Finding, study_ref: int, ref: int) -> dict:
    """A finding (from a form or the API) as a draft item, its effect size computed."""
    yi, vi = services.compute_effect(finding.measure, finding.reported)
    return {"ref": ref, "study": study_ref, "outcome": finding.outcome.slug,
            "timepoint_months": finding.timepoint_months, "measure": finding.measure,
            "reported": finding.reported, "illustrative": bool(finding.illustrative),
            "notes": finding.notes or "", "yi": yi, "vi": vi}


# -- changing a draft ---------------------------------------------------------------------------

def change(intervention: Intervention, edit, *, user, base: dict | None = None) -> tuple[Draft, object]:
    """Apply ``edit(snapshot) -> result`` to the intervention's draft (made from the live state if
    there is none) with the draft's row locked, and save it. ``base`` maps what the caller read
    (``("finding", ref)``, ``("study", ref)`` or ``("fields", None)``) to its ``item_hash``: if
    that item has changed since, nothing is saved (``DraftConflict``)."""
    changes.require_editor(user)

    def work():
        draft = _locked_draft(intervention)
        if draft is None:  # the first change: lock the intervention, then look again
            Intervention.objects.select_for_update().filter(pk=intervention.pk).first()
            draft = _locked_draft(intervention) or Draft(intervention=intervention, version=0)
        live = live_snapshot(intervention)
        # rebased on the live state now, so a change made to the live tables since (an
        # administrator's import, a trial published) is kept, never reverted by publishing
        draft.snapshot = merge(live, draft.base, draft.snapshot) if draft.pk else \
            copy.deepcopy(live)
        draft.base = live
        snapshot = draft.snapshot
        for (kind, ref), seen in (base or {}).items():
            now = snapshot["fields"] if kind == "fields" else find(snapshot[PLURAL[kind]], ref)
            if now is None:
                raise DraftConflict(f"this {kind} was removed from the draft by someone else "
                                    "since you opened the form; nothing was saved")
            if item_hash(now) != seen:
                raise DraftConflict(f"someone else changed this {kind} in the draft since you "
                                    "opened the form; nothing was saved: reload to see their "
                                    "change, then make yours again")
        result = edit(snapshot)
        draft.version += 1
        name = getattr(user, "username", "") or "system"
        if name not in draft.editors:
            draft.editors = [*draft.editors, name]
        draft.save()
        return draft, result

    return changes.retrying(work)


#: A ref the draft adds is -(intervention id x REF_BLOCK + n): unique across drafts, so the API can
#: address a draft's new finding by its id alone (``owner``).
REF_BLOCK = 10**6


def _locked_draft(intervention: Intervention) -> Draft | None:
    qs = Draft.objects.filter(intervention=intervention)
    return (qs.select_for_update() if connection.vendor == "postgresql" else qs).first()


def new_ref(snapshot: dict, intervention: Intervention) -> int:
    n = snapshot.get("next_ref", 1)
    n = 1 if n < 1 else n  # snapshots made before refs were numbered this way
    snapshot["next_ref"] = n + 1
    return -(intervention.pk * REF_BLOCK + n)


def owner(ref: int) -> int | None:
    """The id of the intervention whose draft added this (negative) ref."""
    return (-ref) // REF_BLOCK if ref < 0 else None


def new_study(key: str) -> tuple[Intervention, dict] | None:
    """A study a pending draft adds, by its key (the API names studies by key)."""
    for draft in Draft.objects.select_related("intervention"):
        for item in draft.snapshot["studies"]:
            if item["key"] == key and item["ref"] < 0:
                return draft.intervention, item
    return None


def put_finding(intervention: Intervention, finding: Finding, *, user, ref: int | None = None,
                study_ref: int, base: str | None = None) -> tuple[Draft, dict]:
    """Add (``ref`` None) or change a finding in the draft."""
    def edit(snapshot):
        if find(snapshot["studies"], study_ref) is None:
            raise DraftError("choose one of this intervention's studies (in the draft)")
        item = finding_item(finding, study_ref,
                            ref if ref is not None else new_ref(snapshot, intervention))
        items = snapshot["findings"]
        if ref is None:
            items.append(item)
        else:
            items[items.index(find(items, ref))] = item
        return item

    return change(intervention, edit, user=user,
                  base={("finding", ref): base} if ref is not None and base else None)


def remove_finding(intervention: Intervention, ref: int, *, user,
                   base: str | None = None) -> tuple[Draft, dict]:
    def edit(snapshot):
        item = find(snapshot["findings"], ref)
        if item is None:
            raise DraftError("that finding is not in the draft (already removed?)")
        snapshot["findings"].remove(item)
        return item

    return change(intervention, edit, user=user, base={("finding", ref): base} if base else None)


def put_study(intervention: Intervention, study: Study, *, user, ref: int | None = None,
              base: str | None = None) -> tuple[Draft, dict]:
    def edit(snapshot):
        taken = Study.objects.filter(key=study.key).exclude(intervention=intervention).exists() \
            or any(s["key"] == study.key and s["ref"] != ref for s in snapshot["studies"])
        if taken:
            raise DraftError(f"a study with the key {study.key!r} already exists; choose another key")
        item = study_item(study, ref if ref is not None else new_ref(snapshot, intervention))
        items = snapshot["studies"]
        if ref is None:
            items.append(item)
        else:
            items[items.index(find(items, ref))] = item
        return item

    return change(intervention, edit, user=user,
                  base={("study", ref): base} if ref is not None and base else None)


def remove_study(intervention: Intervention, ref: int, *, user) -> tuple[Draft, dict]:
    """Remove a study and its findings from the draft."""
    def edit(snapshot):
        item = find(snapshot["studies"], ref)
        if item is None:
            raise DraftError("that study is not in the draft (already removed?)")
        snapshot["studies"].remove(item)
        snapshot["findings"] = [f for f in snapshot["findings"] if f["study"] != ref]
        return item

    return change(intervention, edit, user=user)


def put_fields(intervention: Intervention, values: dict, *, user,
               base: str | None = None) -> tuple[Draft, dict]:
    """Change the intervention's text and other fields in the draft."""
    def edit(snapshot):
        slug = values.get("slug")
        if slug and slug != intervention.slug and Intervention.objects.filter(slug=slug).exists():
            raise DraftError(f"the slug {slug!r} is taken by another intervention")
        if "status" in values:
            raise DraftError("publication status changes only when an administrator publishes")
        for name, value in values.items():
            snapshot["fields"][name] = getattr(value, "key", value) if name == "review" \
                else _json(value)
        return snapshot["fields"]

    return change(intervention, edit, user=user, base={("fields", None): base} if base else None)


def discard(intervention: Intervention, *, user) -> None:
    changes.require_editor(user)
    Draft.objects.filter(intervention=intervention).delete()


# -- what publishing would change ---------------------------------------------------------------

PLURAL = {"study": "studies", "finding": "findings"}


@dataclass
class Diff:
    """What publishing a draft changes, item by item, and the ratings it changes."""

    fields: list[dict] = field(default_factory=list)
    studies: dict = field(default_factory=lambda: {"added": [], "changed": [], "removed": []})
    findings: dict = field(default_factory=lambda: {"added": [], "changed": [], "removed": []})
    ratings: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.fields or any(self.studies.values()) or any(self.findings.values()))

    def to_dict(self) -> dict:
        return {"fields": self.fields, "studies": self.studies, "findings": self.findings,
                "ratings": self.ratings}

    def summary(self) -> str:
        parts = []
        if self.fields:
            parts.append("changed " + ", ".join(f["field"] for f in self.fields))
        for kind, groups in (("study", self.studies), ("finding", self.findings)):
            for what in ("added", "changed", "removed"):
                n = len(groups[what])
                if n:
                    parts.append(f"{what} {n} {kind if n == 1 else PLURAL[kind]}")
        moved = [r for r in self.ratings if r["changed"]]
        if moved:
            parts.append("ratings changed: " + "; ".join(
                f"{r['outcome_name']}: {r['old']['effectiveness_label'] or 'none'} -> "
                f"{r['new']['effectiveness_label'] or 'none'}" for r in moved))
        return "; ".join(parts) or "no changes"


def _compare(old: list[dict], new: list[dict], label) -> dict:
    before = {x["ref"]: x for x in old}
    after = {x["ref"]: x for x in new}
    out = {"added": [], "changed": [], "removed": []}
    for ref, item in after.items():
        if ref not in before:
            out["added"].append({"ref": ref, "label": label(item), "new": item})
        else:
            changed = sorted(k for k in set(item) | set(before[ref])
                             if k not in ("yi", "vi") and item.get(k) != before[ref].get(k))
            if changed:
                out["changed"].append({"ref": ref, "label": label(item), "fields": changed,
                                       "old": before[ref], "new": item})
    for ref, item in before.items():
        if ref not in after:
            out["removed"].append({"ref": ref, "label": label(item), "old": item})
    return out


def _rating_view(rating) -> dict:
    if rating is None:
        return {"effectiveness_label": "", "strength_label": "", "statement": ""}
    return {"effectiveness_label": rating.effectiveness_label,
            "strength_label": rating.strength_label, "statement": rating.statement}


def preview_ratings(intervention: Intervention, snapshot: dict) -> dict[str, object]:
    """The rating per outcome slug the snapshot's findings would get (core's ``rate_evidence``
    through the store's adapter; nothing written). None for an outcome with no usable finding."""
    from . import rating as adapter

    edited = intervention_object(intervention, snapshot)
    slugs = sorted({f["outcome"] for f in snapshot["findings"]})
    outcomes = {o.slug: o for o in Outcome.objects.filter(slug__in=slugs).select_related("domain")}
    out = {}
    for slug in slugs:
        findings = [finding_object(intervention, snapshot, f, outcomes)
                    for f in snapshot["findings"] if f["outcome"] == slug]
        result = adapter.evaluate(outcome=outcomes[slug], intervention=edited, findings=findings)
        out[slug] = adapter.stored(result) if result is not None else None
    return out


def diff(intervention: Intervention, snapshot: dict, live: dict | None = None) -> Diff:
    """What publishing ``snapshot`` would change in the live state (``live``, read if not given)."""
    live = live if live is not None else live_snapshot(intervention)
    result = Diff()
    for name in FIELDS:
        old, new = live["fields"].get(name), snapshot["fields"].get(name)
        if old != new:
            result.fields.append({"field": name, "old": old, "new": new})
    keys = {s["ref"]: s["key"] for s in live["studies"] + snapshot["studies"]}
    result.studies = _compare(live["studies"], snapshot["studies"], lambda s: s["key"])

    def label(f):
        when = "" if f["timepoint_months"] is None else f" at {f['timepoint_months']:g} months"
        return f"{keys.get(f['study'], '?')} x {f['outcome']}{when}"

    result.findings = _compare(live["findings"], snapshot["findings"], label)
    touched = {f["new"]["outcome"] for g in ("added", "changed") for f in result.findings[g]} | \
        {f["old"]["outcome"] for g in ("changed", "removed") for f in result.findings[g]}
    if touched or result.studies["changed"] or any(f["field"] == "review" for f in result.fields):
        touched |= {f["outcome"] for f in snapshot["findings"]}
    if touched:
        new = preview_ratings(intervention, snapshot)
        old = {r.outcome.slug: r for r in Rating.objects.filter(
            intervention=intervention, outcome__slug__in=touched).select_related("outcome")}
        names = dict(Outcome.objects.filter(slug__in=touched).values_list("slug", "name"))
        for slug in sorted(touched, key=lambda s: names.get(s, s)):
            before, after = _rating_view(old.get(slug)), _rating_view(new.get(slug))
            result.ratings.append({"outcome": slug, "outcome_name": names.get(slug, slug),
                                   "old": before, "new": after, "changed": before != after})
    return result


# -- publishing ---------------------------------------------------------------------------------

def shows_something(snapshot: dict) -> str | None:
    """Why an intervention in this state may not be published, or None if it may."""
    return publication_refusal(
        summary=snapshot["fields"].get("summary"),
        has_effect_finding=has_effect_finding(snapshot),
        evidence_gap=bool(snapshot["fields"].get("evidence_gap")))


def has_effect_finding(snapshot: dict) -> bool:
    return any(f.get("yi") is not None and f.get("vi") is not None for f in snapshot["findings"])


def gap_warning(snapshot: dict, *, adding: bool = False, shown: bool = False) -> str | None:
    """The core's warning (``gap_conflict``) when this state's findings contradict its
    evidence-gap marker, or, with ``adding``, would once a finding with an effect is added; None
    otherwise. (Editors' changes go to a draft or to an unpublished intervention: a warning, and
    publication refuses until the marker is unticked or the finding removed.) ``shown``: the
    state is a published intervention's live one, which readers see now."""
    conflict = gap_conflict(evidence_gap=bool(snapshot["fields"].get("evidence_gap")),
                            has_effect_finding=adding or has_effect_finding(snapshot),
                            public=False, shown=shown)
    return None if conflict is None else conflict.message


def gap_warnings(intervention_ids) -> list[dict]:
    """The warnings of ``gap_warning`` on these interventions as editors now see them (each one's
    draft, if any), in the shape the API's writes and imports answer with: ``code``
    (``gap_conflict``), ``field`` (``evidence_gap``), ``intervention`` (its slug) and ``message``;
    in slug order, empty when none is an evidence gap with a finding with an effect size. Only an
    intervention marked as a gap or with a pending draft (which may mark it) can warn, so an
    import that touched thousands of others reads none of their findings."""
    ids = {i for i in intervention_ids if i is not None}
    out = []
    for intervention in Intervention.objects.filter(pk__in=ids).filter(
            models.Q(evidence_gap=True) | models.Q(pending_draft__isnull=False)).order_by("slug"):
        snapshot, draft = current(intervention)
        why = gap_warning(snapshot, shown=draft is None and intervention.status == Intervention.PUBLISHED)
        if why is not None:
            out.append({"code": "gap_conflict", "field": "evidence_gap",
                        "intervention": intervention.slug, "message": why})
    return out


def check_publishable(intervention: Intervention, snapshot: dict | None = None) -> None:
    snapshot = snapshot if snapshot is not None else current(intervention)[0]
    why = shows_something(snapshot)
    if why:
        raise NothingToPublish(f"{intervention.name} cannot be published: {why}")


def publish(intervention: Intervention, *, user, request=None,
            expected_version: int | None = None) -> Revision:
    """Publish an intervention: its pending draft applied to the live tables (or, with no draft, an
    unpublished intervention as it is), in one transaction through the write services; ratings
    refresh as for any write; a ``Revision`` keeps what was published. Administrators only."""
    from ..accounts.audit import record

    changes.require_admin(user, "publish")

    def work():
        live = Intervention.objects.select_for_update().get(pk=intervention.pk)
        draft = _locked_draft(live)
        if draft is None and live.status == Intervention.PUBLISHED:
            raise NoChanges(f"{live.name} has no unpublished changes: nothing to publish")
        if draft is not None and expected_version is not None and draft.version != expected_version:
            raise DraftConflict("the draft changed since you opened this page; review the "
                                "changes again before publishing")
        before = live_snapshot(live)
        snapshot = merge(before, draft.base, draft.snapshot) if draft else before
        check_publishable(live, snapshot)
        change = diff(live, snapshot, before) if draft else Diff()
        when = timezone.now()
        last = Revision.objects.filter(intervention=live).order_by("-number") \
            .values_list("number", flat=True).first()
        if last is None and live.status == Intervention.PUBLISHED:  # published before revisions
            Revision.objects.create(intervention=live, number=1, snapshot=before,
                                    summary="the version published before revisions were kept",
                                    published=live.updated)
            last = 1
        number = (last or 0) + 1
        reason = f"revision {number} published"
        was_published = live.status == Intervention.PUBLISHED
        if draft is not None:
            _apply(live, before, snapshot, change, user=user, reason=reason)
        if not was_published:  # set_status keeps the audit log's line
            changes.set_status(live, Intervention.PUBLISHED, user=user, request=request)
        revision = Revision.objects.create(
            intervention=live, number=number, snapshot=live_snapshot(live), diff=change.to_dict(),
            summary=change.summary() if draft else
            ("first publication" if number == 1 else "published again"),
            published_by=user if getattr(user, "pk", None) else None,
            editors=list(draft.editors) if draft else [], published=when)
        if draft is not None:
            draft.delete()
        if was_published:
            record("publish", user=user, request=request, target=live.slug,
                   detail=f"revision {number}: {revision.summary}"[:2000])
        intervention.refresh_from_db()
        return revision

    return changes.retrying(work)


def _apply(live: Intervention, before: dict, snapshot: dict, change: Diff, *, user,
           reason: str) -> None:
    """Make the live tables hold ``snapshot`` (inside ``publish``'s transaction)."""
    old_slug = live.slug
    if change.fields:
        edited = intervention_object(live, snapshot)
        edited.status = live.status
        changes.save_intervention(edited, user=user)
        if edited.slug != old_slug:
            SlugRedirect.objects.filter(old_slug=edited.slug).delete()
            SlugRedirect.objects.update_or_create(old_slug=old_slug,
                                                  defaults={"intervention": edited})
        live.refresh_from_db()
    kept = {f["ref"] for f in snapshot["findings"]}
    for item in before["findings"]:
        if item["ref"] not in kept:
            changes.delete_finding(Finding.objects.get(pk=item["ref"]), reason=reason, user=user)
    studies_kept = {s["ref"] for s in snapshot["studies"]}
    for item in before["studies"]:
        if item["ref"] not in studies_kept:
            changes.delete_study(Study.objects.get(pk=item["ref"]), user=user, reason=reason)
    study_ids = {}
    changed_studies = {s["ref"] for s in change.studies["changed"]}
    for item in snapshot["studies"]:
        if item["ref"] > 0 and item["ref"] not in changed_studies:
            study_ids[item["ref"]] = item["ref"]
            continue
        study = study_object(live, item)
        if Study.objects.filter(key=study.key).exclude(pk=study.pk).exists():
            raise DraftConflict(f"the draft's study key {study.key!r} is now used by another "
                                "study; change it in the draft, then publish")
        changes.save_study(study, user=user, reason=reason)
        study_ids[item["ref"]] = study.pk
    unchanged = {f["ref"] for f in snapshot["findings"]} - \
        {f["ref"] for g in ("added", "changed") for f in change.findings[g]}
    outcomes = {o.slug: o for o in Outcome.objects.filter(
        slug__in={f["outcome"] for f in snapshot["findings"]})}
    for item in snapshot["findings"]:
        if item["ref"] in unchanged:
            continue
        finding = Finding.objects.get(pk=item["ref"]) if item["ref"] > 0 else Finding()
        finding.study_id = study_ids[item["study"]]
        finding.intervention = live
        finding.outcome = outcomes[item["outcome"]]
        for name in FINDING_FIELDS:
            if name not in ("study", "outcome"):
                setattr(finding, name, item[name])
        changes.save_finding(finding, reason=reason, user=user)
    if change.studies["changed"] or any(f["field"] == "review" for f in change.fields):
        changes.refresh_pairs({(live.pk, o.pk) for o in outcomes.values()}, reason=reason,
                              user=user)


def history(intervention: Intervention):
    return Revision.objects.filter(intervention=intervention).select_related("published_by")

