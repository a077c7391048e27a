"""Roles: anonymous readers, editors (draft and edit content and findings), admins (publish, users).

Roles are Django groups named here; superusers count as admins.
"""

from __future__ import annotations

EDITORS = "editors"
ADMINS = "admins"


def _in_group(user, name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    cache = getattr(user, "_whatworks_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._whatworks_groups = cache
    return name in cache


def is_admin(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or _in_group(user, ADMINS)


def is_editor(user) -> bool:
    return is_admin(user) or _in_group(user, EDITORS)
