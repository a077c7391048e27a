"""One-time form tokens: every editor's form carries one (a hidden field); saving the form records
it in the same transaction as the write, so Back-and-resubmit saves nothing twice and the editor
is told it was already saved.

A token is a random nonce signed by the site with the time it was issued (so only tokens this
site issued are accepted, for ``WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS``); it is stored server-side
(``FormSubmission``) when it is used, with where the saved object lives. A record older than the
maximum age can only answer a token that has expired anyway, so :func:`prune` deletes those
records: ``whatworks manage prune_form_tokens``, and after one saved form in
:data:`PRUNE_EVERY` (chosen at random; after the write's transaction commits).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import FormSubmission

FIELD = "form_token"
_SIGNER = signing.TimestampSigner(salt="whatworks.form-token")
#: About one saved form in this many also prunes the expired records.
PRUNE_EVERY = 100


def max_age() -> timedelta:
    """How long a form token is accepted after it was issued."""
    return timedelta(hours=settings.WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS)


def _unsign(token: str) -> str:
    return _SIGNER.unsign(token, max_age=max_age())


def prune(now: datetime | None = None) -> int:
    """Delete the records of tokens used more than :func:`max_age` ago (their tokens have expired:
    issued before they were used), returning how many were deleted."""
    cutoff = (now or timezone.now()) - max_age()
    deleted, _ = FormSubmission.objects.filter(created__lt=cutoff).delete()
    return deleted


class AlreadySaved(Exception):
    """This form was saved before; ``url`` is where its result lives."""

    def __init__(self, url: str):
        self.url = url
        super().__init__("already saved")


class BadToken(Exception):
    """The form has no token, or one this site did not issue."""


def issue() -> str:
    return _SIGNER.sign(secrets.token_urlsafe(18))


def nonce(request) -> str:
    """The nonce of the request's form token (``BadToken`` if missing or forged)."""
    try:
        return _unsign(request.POST.get(FIELD, ""))
    except signing.SignatureExpired:
        hours = settings.WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS
        raise BadToken(f"this form was opened more than {hours} hours ago and has expired: open "
                       "it again and submit it") from None
    except signing.BadSignature:
        raise BadToken("this form has expired or was not sent by this site: reload the page and "
                       "submit it again") from None


def token_for(request) -> str:
    """The token to render in a form: the one posted (a redisplay after an error), else a new one."""
    posted = request.POST.get(FIELD, "") if request.method == "POST" else ""
    try:
        _unsign(posted)
        return posted
    except signing.BadSignature:
        return issue()


def replayed(request) -> str | None:
    """Where the object lives if this POST's token was used before (a resubmission), else None."""
    try:
        key = nonce(request)
    except BadToken:
        return None
    row = FormSubmission.objects.filter(token=key).values_list("url", flat=True)
    return next(iter(row), None)


def once(request, write: Callable[[], str]) -> str:
    """Run ``write() -> url`` once per form token, in one transaction with the token's record.
    Raises ``AlreadySaved(url)`` on a resubmission, ``BadToken`` without a valid token; an
    exception from ``write`` rolls back both (the form can be corrected and sent again)."""
    key = nonce(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                submission = FormSubmission.objects.create(token=key, user=request.user)
        except IntegrityError:
            previous = FormSubmission.objects.filter(token=key).values_list("url", flat=True).first()
            raise AlreadySaved(previous or "") from None
        url = write()
        submission.url = url[:300]
        submission.save(update_fields=["url"])
        if secrets.randbelow(PRUNE_EVERY) == 0:
            transaction.on_commit(prune)
        return url
