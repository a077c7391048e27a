"""Optimistic concurrency for the API's writes to an intervention's items: ``ETag`` / ``If-Match``.

Editors' reads of an intervention, a study or a finding, and every write's answer, carry an
``ETag``: the fingerprint (``drafts.item_hash``) of the item as editors' writes see it now (the
intervention's fields, or the study or finding, in its pending draft if there is one, else in the
live tables). A write (PATCH, or DELETE of a finding) may send that tag back in ``If-Match``; if
the item changed since (another editor's write, the web editor's, an import, a publication), nothing
is saved and the answer is 412 with the tag the item has now. Without ``If-Match`` a write behaves
as before (the last write wins); ``If-Match: *`` asks for no check.

The check is made where the write is made, under the same lock: in the draft's locked row
(``drafts.change(base=...)``) for a published intervention, or with the intervention's row locked
for one edited directly (never published, no pending draft).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db import transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from ..accounts.roles import is_editor
from ..store import drafts
from ..store.models import Intervention

HEADER = "If-Match"
_TAG = re.compile(r'"([0-9a-f]{16})"')

#: What the OpenAPI document says about the two headers.
IF_MATCH_DESCRIPTION = (
    "optional: the ETag of the item as you read it (from a GET or a previous write, e.g. "
    '"3f2a9c0d41b7e6a5"). If the item changed since, nothing is saved and the answer is 412 '
    "with the current ETag; without If-Match the write is made whatever changed (the last write "
    "wins); * asks for no check.")
ETAG_DESCRIPTION = (
    "editors only: the item's fingerprint as writes see it now (in the intervention's pending "
    "draft if it has one); send it in If-Match with a write to refuse the write when someone "
    "changed the item since")


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"

    def __init__(self, what: str, current: str | None):
        self.current = current
        gone = current is None
        detail = (f"the {what} was removed since you read it (If-Match); nothing was saved"
                  if gone else
                  f"the {what} changed since you read it (its ETag is now {current}, not the "
                  "If-Match tag); nothing was saved: GET it again, make your change to what is "
                  "there now and send it with the new ETag")
        super().__init__(detail)


def if_match(request) -> str | None:
    """The fingerprint the request's ``If-Match`` names, or None (no header, or ``*``)."""
    raw = request.headers.get(HEADER)
    if raw is None or raw.strip() == "*":
        return None
    m = _TAG.fullmatch(raw.strip())
    if m is None:
        raise ValidationError({HEADER: [
            f"{raw.strip()!r} is not an ETag this API gave: send one tag exactly as the ETag "
            'header had it, in double quotes (e.g. "3f2a9c0d41b7e6a5"), or * for no check']})
    return m.group(1)


def item_of(snapshot: dict, kind: str, ref: int | None) -> dict | None:
    """The intervention's fields (``kind`` "fields") or its study or finding ``ref``."""
    return snapshot["fields"] if kind == "fields" else drafts.find(snapshot[drafts.PLURAL[kind]], ref)


def current_tag(intervention: Intervention, kind: str, ref: int | None = None) -> str | None:
    """The item's ETag now (quoted), or None when it is not there. ``intervention`` must be as
    the database has it (its fields are read from the object when it has no pending draft)."""
    if kind == "fields" and drafts.pending(intervention) is None:
        item = drafts.live_fields(intervention)  # no draft: no need to read its studies
    else:
        item = item_of(drafts.current(intervention)[0], kind, ref)
    return None if item is None else f'"{drafts.item_hash(item)}"'


def tag_item(response, intervention: Intervention, kind: str, ref: int | None, user) -> None:
    """Set the item's ETag on ``response`` for an editor."""
    if is_editor(user) and intervention is not None:
        tag = current_tag(intervention, kind, ref)
        if tag is not None:
            response["ETag"] = tag


def _name(kind: str) -> str:
    return "intervention" if kind == "fields" else kind


def draft_write(request, intervention: Intervention, kind: str, ref: int | None,
                write: Callable[[str | None], object]):
    """Run ``write(base)`` (a ``drafts.put_*`` call given ``base=``) with the If-Match
    fingerprint; the draft's conflict check becomes a 412."""
    seen = if_match(request)
    try:
        return write(seen)
    except drafts.DraftConflict:
        if seen is None:
            raise
        raise PreconditionFailed(_name(kind), current_tag(intervention, kind, ref)) from None


def direct_write(request, intervention: Intervention, kind: str, ref: int | None,
                 write: Callable[[], object]):
    """Run ``write()`` on an intervention edited directly; with If-Match, the item is checked and
    written with the intervention's row locked (two such writes never interleave)."""
    seen = if_match(request)
    if seen is None:
        return write()
    with transaction.atomic():
        locked = Intervention.objects.select_for_update().get(pk=intervention.pk)
        now = item_of(drafts.live_snapshot(locked), kind, ref)
        if now is None or drafts.item_hash(now) != seen:
            raise PreconditionFailed(
                _name(kind), None if now is None else f'"{drafts.item_hash(now)}"')
        return write()
