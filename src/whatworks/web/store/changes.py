"""Every change to the store's content goes through one service per object (findings, studies,
interventions): it checks the actor's role, keeps the invariants, and refreshes every
intervention x outcome the change touched, serialised per intervention x outcome.

Invariants kept here:

- a finding's intervention is its study's intervention (moving a study moves its findings);
- after a write, move or delete, every intervention x outcome whose findings changed (the old and
  the new one) has its synthesis and rating recomputed, in the same transaction;
- publication status changes only by an administrator, by any route (forms, API, import), and
  never to publish an intervention with nothing to show (no summary, or no finding with an
  effect size).

Serialising: refreshes of one intervention x outcome are serialised by a transaction-scoped
advisory lock on PostgreSQL (``pg_advisory_xact_lock``, taken in a fixed order), and by SQLite's
single writer (write transactions begin ``IMMEDIATE``, see settings). A transaction that still
fails with a lock, deadlock or serialisation error is retried from the start (``retrying``).

``user=None`` is the system itself (management commands, demo loading): trusted, never a web
request.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, OperationalError, connection, transaction

from whatworks.errors import WhatWorksError

from ..accounts.roles import is_admin, is_editor
from . import services
from .models import Finding, Intervention, Outcome, Study

log = logging.getLogger(__name__)
T = TypeVar("T")
Pair = tuple[int, int]  # (intervention id, outcome id)

ATTEMPTS = 8
RETRYABLE = ("database is locked", "database table is locked", "deadlock detected",
             "could not serialize access", "lock timeout")


class RefreshError(WhatWorksError):
    """The change would leave an intervention x outcome that cannot be synthesised or rated."""


# -- roles --------------------------------------------------------------------------------------

def require_editor(user) -> None:
    if user is not None and not is_editor(user):
        raise PermissionDenied("only an editor may change the store")


def require_admin(user, what: str = "do this") -> None:
    if user is not None and not is_admin(user):
        raise PermissionDenied(f"only an administrator may {what}")


# -- transactions, locks and the one refresh call site --------------------------------------------

class _Relock(Exception):
    """The set of pairs to lock changed under us: start the transaction again."""


def retrying(work: Callable[[], T]) -> T:
    """Run ``work`` in its own transaction; on a lock/deadlock/serialisation error or a pair set
    that changed, roll back and run it again (a few times, with a short random pause).

    Inside an outer transaction (an import, a test) the outer transaction owns the retry: run once.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            return work()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return work()
        except _Relock:
            pass
        except (OperationalError, DatabaseError) as exc:
            text = str(exc).lower()
            if attempt == ATTEMPTS or not any(m in text for m in RETRYABLE):
                raise
            log.info("store write retried (attempt %d): %s", attempt, exc)
        time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise OperationalError("the store was too busy to save this change; try again")


def lock_pairs(pairs: Iterable[Pair]) -> None:
    """Serialise refreshes of these intervention x outcome pairs until the transaction ends."""
    if connection.vendor != "postgresql":
        return  # SQLite: the write transaction already holds the database's single write lock
    with connection.cursor() as cursor:
        # never wait forever behind a stuck writer: give up after 30 s (retried by ``retrying``)
        cursor.execute("SET LOCAL lock_timeout = '30s'")
        for intervention_id, outcome_id in sorted(set(pairs)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           [f"whatworks-refresh:{intervention_id}:{outcome_id}"])


def refresh_pairs(pairs: Iterable[Pair], *, reason: str, user=None, when=None) -> None:
    """Recompute the synthesis and rating of each pair (the only place the store's writes call
    ``services.refresh``). Forest plots are drawn lazily when a page first shows them."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    lock_pairs(pairs)
    interventions = Intervention.objects.in_bulk({i for i, _ in pairs})
    outcomes = Outcome.objects.in_bulk({o for _, o in pairs})
    for intervention_id, outcome_id in pairs:
        if intervention_id not in interventions:  # deleted: its ratings went with it
            continue
        intervention, outcome = interventions[intervention_id], outcomes[outcome_id]
        try:
            services.refresh(intervention, outcome, reason=reason, user=user, when=when, plot=False)
        except WhatWorksError as exc:
            raise RefreshError(f"{intervention.name} x {outcome.name}: the synthesis or rating "
                               f"could not be computed ({exc}); nothing was saved") from exc


def _finding_pairs(**filters) -> set[Pair]:
    return set(Finding.objects.filter(**filters).values_list("intervention_id", "outcome_id"))


# -- findings -----------------------------------------------------------------------------------

def save_finding(finding: Finding, *, reason: str, user=None) -> Finding:
    """Add or change a finding (its study, outcome or statistics) and refresh the old and new
    intervention x outcome. The finding's intervention is always its study's."""
    require_editor(user)
    finding.yi, finding.vi = services.compute_effect(finding.measure, finding.reported)

    def work():
        study = Study.objects.select_for_update(no_key=True).only("id", "intervention_id") \
            .get(pk=finding.study_id) if connection.vendor == "postgresql" else \
            Study.objects.only("id", "intervention_id").get(pk=finding.study_id)
        finding.intervention_id = study.intervention_id
        refuse_gap_contradiction(study.intervention_id, has_effect_finding=finding.yi is not None
                                 and finding.vi is not None)
        pairs = {(finding.intervention_id, finding.outcome_id)}
        if finding.pk:
            pairs |= _finding_pairs(pk=finding.pk)
        lock_pairs(pairs)
        if finding.pk:  # the stored pair could have moved while we waited: lock it too
            if not _finding_pairs(pk=finding.pk) <= pairs:
                raise _Relock
        finding.save()
        refresh_pairs(pairs, reason=reason, user=user)
        return finding

    return retrying(work)


class GapContradicted(WhatWorksError):
    """A finding with an effect size written live to a published intervention marked as an
    evidence gap (``whatworks.ratings.publication.gap_conflict``)."""


def refuse_gap_contradiction(intervention_id: int, *, has_effect_finding: bool) -> None:
    """Refuse a finding with an effect size (written, or moved with its study) on a published
    intervention marked as an evidence gap (readers would see "no evidence yet" over a rating);
    editors' changes to a published intervention go to its draft, so this is met by writes made
    live: a trial's results published to the store, the system's own."""
    from whatworks.ratings.publication import gap_conflict

    name, status, gap = Intervention.objects.values_list("name", "status", "evidence_gap") \
        .get(pk=intervention_id)
    conflict = gap_conflict(evidence_gap=gap, public=status == Intervention.PUBLISHED,
                            has_effect_finding=has_effect_finding)
    if conflict is not None and conflict.refused:
        raise GapContradicted(f"{name}: {conflict.message}")


def delete_finding(finding: Finding, *, reason: str, user=None) -> None:
    require_editor(user)

    def work():
        pairs = _finding_pairs(pk=finding.pk)
        lock_pairs(pairs)
        if _finding_pairs(pk=finding.pk) != pairs:
            raise _Relock
        Finding.objects.filter(pk=finding.pk).delete()
        refresh_pairs(pairs, reason=reason, user=user)

    retrying(work)


# -- studies ------------------------------------------------------------------------------------

def save_study(study: Study, *, user=None, reason: str = "study changed") -> Study:
    """Add or change a study. Moving it to another intervention moves its findings with it and
    refreshes every intervention x outcome on both sides."""
    require_editor(user)

    def work():
        outcomes = set()
        old_intervention = None
        if study.pk:
            old_intervention = Study.objects.filter(pk=study.pk).values_list(
                "intervention_id", flat=True).first()
            outcomes = set(Finding.objects.filter(study_id=study.pk).values_list("outcome_id",
                                                                                 flat=True))
        moved = old_intervention is not None and old_intervention != study.intervention_id
        pairs = {(i, o) for o in outcomes for i in (old_intervention, study.intervention_id)} \
            if moved else set()
        lock_pairs(pairs)
        if study.pk and connection.vendor == "postgresql":
            Study.objects.select_for_update(no_key=True).filter(pk=study.pk).first()
            if moved and set(Finding.objects.filter(study_id=study.pk).values_list(
                    "outcome_id", flat=True)) - outcomes:
                raise _Relock
        if moved:
            refuse_gap_contradiction(study.intervention_id, has_effect_finding=Finding.objects.filter(
                study_id=study.pk, yi__isnull=False, vi__isnull=False).exists())
        study.save()
        if moved:
            Finding.objects.filter(study_id=study.pk).update(intervention_id=study.intervention_id)
            refresh_pairs(pairs, reason=f"{reason}: study {study.key} moved", user=user)
        return study

    return retrying(work)


def delete_study(study: Study, *, user=None, reason: str = "study removed") -> None:
    require_editor(user)

    def work():
        pairs = _finding_pairs(study_id=study.pk)
        lock_pairs(pairs)
        Study.objects.filter(pk=study.pk).delete()
        refresh_pairs(pairs, reason=reason, user=user)

    retrying(work)


# -- interventions ------------------------------------------------------------------------------

def save_intervention(intervention: Intervention, *, user=None) -> Intervention:
    """Add or change an intervention's content. Its status changes only through ``set_status``
    (administrators): a change of status here is refused."""
    require_editor(user)
    stored = Intervention.objects.filter(pk=intervention.pk).values_list("status", flat=True) \
        .first() if intervention.pk else None
    if stored is not None and stored != intervention.status:
        require_admin(user, "publish or unpublish")
    if stored is None and intervention.status != Intervention.DRAFT:
        require_admin(user, "publish or unpublish")
    intervention.save()
    return intervention


def set_status(intervention: Intervention, status: str, *, user=None, request=None) -> Intervention:
    """Publish or unpublish (administrators only); recorded in the audit log."""
    from ..accounts.audit import record

    require_admin(user, "publish or unpublish")
    if status not in dict(Intervention.STATUSES):
        raise ValueError(f"unknown status {status!r}")
    if status == Intervention.PUBLISHED:
        refuse_if_empty(intervention)
    with transaction.atomic():
        old = Intervention.objects.select_for_update().values_list("status", flat=True) \
            .get(pk=intervention.pk)
        intervention.status = status
        intervention.save()
        if old != status:
            record("publish" if status == Intervention.PUBLISHED else "unpublish", user=user,
                   request=request, target=intervention.slug, detail=f"{old} -> {status}")
    return intervention


class NothingToShow(WhatWorksError):
    """Publishing would show readers an intervention with nothing in it."""


def empty_because(intervention: Intervention) -> str | None:
    """Why the live intervention may not be published, or None: the core's
    ``publication_refusal`` (a summary; a finding with a computable effect size unless it is
    marked as an evidence gap, and none if it is)."""
    from whatworks.ratings.publication import publication_refusal

    return publication_refusal(
        summary=intervention.summary, evidence_gap=intervention.evidence_gap,
        has_effect_finding=Finding.objects.filter(intervention_id=intervention.pk,
                                                  yi__isnull=False, vi__isnull=False).exists())


def refuse_if_empty(intervention: Intervention) -> None:
    why = empty_because(intervention)
    if why:
        raise NothingToShow(f"{intervention.name} cannot be published: {why}")


def delete_intervention(intervention: Intervention, *, user=None) -> None:
    require_admin(user, "delete an intervention")
    intervention.delete()
