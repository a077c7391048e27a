"""The audit log: who signed in (or failed to), who published or unpublished what, token changes."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One security-relevant event, kept forever (append-only)."""

    ACTIONS = [("sign-in", "Signed in"), ("sign-in-failed", "Sign-in failed"),
               ("sign-out", "Signed out"), ("locked-out", "Locked out after failed sign-ins"),
               ("publish", "Published"), ("unpublish", "Unpublished"),
               ("token-rotated", "API token rotated"), ("token-revoked", "API token revoked"),
               ("import", "Store imported")]

    when = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=ACTIONS, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="audit_events")
    username = models.CharField(max_length=150, blank=True, help_text="as typed or as it was")
    ip = models.GenericIPAddressField(null=True, blank=True)
    target = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-when", "-id"]

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M} {self.action} {self.username} {self.target}"
