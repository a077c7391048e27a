"""Writing the audit log (``AuditEvent``): sign-ins from Django's auth signals, publications and
token changes from the services that make them."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(action: str, *, user=None, username: str = "", request=None, target: str = "",
           detail: str = "") -> None:
    from .models import AuditEvent

    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    AuditEvent.objects.create(action=action, user=user,
                              username=(username or getattr(user, "username", "") or "")[:150],
                              ip=client_ip(request), target=target[:200], detail=detail)


def _signed_in(sender, request, user, **kwargs):
    record("sign-in", user=user, request=request)


def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        record("sign-out", user=user, request=request)


def _failed(sender, credentials, request=None, **kwargs):
    record("sign-in-failed", username=str(credentials.get("username", ""))[:150], request=request)


def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    record("locked-out", username=str(username or "")[:150], request=request)


def connect_signals() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="audit-locked-out")
    user_logged_in.connect(_signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(_signed_out, dispatch_uid="audit-sign-out")
    user_login_failed.connect(_failed, dispatch_uid="audit-sign-in-failed")
