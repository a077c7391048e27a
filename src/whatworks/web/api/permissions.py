"""Who may do what through the API: reading is public; writing needs an editor (token or session)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..accounts.roles import is_admin, is_editor


class ReadOnlyOrEditor(BasePermission):
    message = "sign in as an editor (Authorization: Token <key>) to change the store"

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and is_editor(request.user))


class AdminOnly(BasePermission):
    message = "only an administrator may do this"

    def has_permission(self, request, view):
        return bool(request.user and is_admin(request.user))


class EditorOnly(BasePermission):
    message = "only an editor may do this (Authorization: Token <key>)"

    def has_permission(self, request, view):
        return bool(request.user and is_editor(request.user))
