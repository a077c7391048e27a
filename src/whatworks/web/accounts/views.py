"""Administrators manage users and their roles (editor, admin) from the site."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .roles import ADMINS, EDITORS, is_admin

ROLES = [("editor", "Editor: drafts and edits content and findings"),
         ("admin", "Administrator: also publishes and manages users"),
         ("none", "No role (cannot edit)")]


class NewUserForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]{2,150}$", max_length=150,
                                help_text="letters, digits and @ . + - _")
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="at least 10 characters")
    role = forms.ChoiceField(choices=ROLES)

    def clean_username(self):
        name = self.cleaned_data["username"]
        if User.objects.filter(username=name).exists():
            raise ValidationError("a user with this username already exists")
        return name

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


def set_role(user: User, role: str) -> None:
    user.groups.remove(*Group.objects.filter(name__in=[EDITORS, ADMINS]))
    if role in ("editor", "admin"):
        user.groups.add(Group.objects.get_or_create(name=EDITORS if role == "editor" else ADMINS)[0])


def role_of(user: User) -> str:
    names = {g.name for g in user.groups.all()}
    return "admin" if ADMINS in names or user.is_superuser else (
        "editor" if EDITORS in names else "none")


def _admin_only(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_admin(request.user):
        raise PermissionDenied("administrators only")
    return None


def users(request):
    denied = _admin_only(request)
    if denied:
        return denied
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = User.objects.create_user(form.cleaned_data["username"],
                                            email=form.cleaned_data["email"],
                                            password=form.cleaned_data["password"])
            set_role(user, form.cleaned_data["role"])
        messages.success(request, f"Added {user.username} ({form.cleaned_data['role']}).")
        return redirect("accounts:users")
    people = [(u, role_of(u)) for u in User.objects.prefetch_related("groups")
              .select_related("auth_token").order_by("username")]
    return render(request, "accounts/users.html", {"form": form, "people": people, "roles": ROLES})


@require_POST
def change_role(request, user_id):
    denied = _admin_only(request)
    if denied:
        return denied
    user = get_object_or_404(User, pk=user_id)
    role = request.POST.get("role")
    if role not in dict(ROLES):
        messages.error(request, "Choose a role from the list.")
    elif user == request.user and role != "admin":
        messages.error(request, "You cannot remove your own administrator role.")
    else:
        set_role(user, role)
        messages.success(request, f"{user.username} is now: {role}.")
    return redirect("accounts:users")


@require_POST
def revoke_token(request, user_id):
    """An administrator revokes a user's API token (recorded in the audit log)."""
    from rest_framework.authtoken.models import Token

    from .audit import record

    denied = _admin_only(request)
    if denied:
        return denied
    user = get_object_or_404(User, pk=user_id)
    if Token.objects.filter(user=user).delete()[0]:
        record("token-revoked", user=request.user, request=request, target=user.username)
        messages.success(request, f"Revoked the API token of {user.username}.")
    return redirect("accounts:users")


def audit(request):
    """The audit log (administrators): sign-ins, lock-outs, publications, token changes."""
    from .models import AuditEvent

    denied = _admin_only(request)
    if denied:
        return denied
    events = AuditEvent.objects.select_related("user")[:500]
    return render(request, "accounts/audit.html", {"events": events})
