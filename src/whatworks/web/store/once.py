"""One-time form tokens: every editor's form carries one (a hidden field); saving the form records
it in the same transaction as the write, so Back-and-resubmit saves nothing twice and the editor
is told it was already saved.

A token is a random nonce signed by the site (so only tokens this site issued are accepted); it is
stored server-side (``FormSubmission``) when it is used, with where the saved object lives.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.core import signing
from django.db import IntegrityError, transaction

from .models import FormSubmission

FIELD = "form_token"
_SIGNER = signing.Signer(salt="whatworks.form-token")


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
        return _SIGNER.unsign(request.POST.get(FIELD, ""))
    except signing.BadSignature:
        raise BadToken("this form has expired or was not sent by this site: reload the page and "
                       "submit it again") from None


def token_for(request) -> str:
    """The token to render in a form: the one posted (a redisplay after an error), else a new one."""
    posted = request.POST.get(FIELD, "") if request.method == "POST" else ""
    try:
        _SIGNER.unsign(posted)
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
        return url
