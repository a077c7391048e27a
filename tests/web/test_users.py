"""Administrators manage users and roles; nobody else can."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_sign_in(client):
    r = client.get("/accounts/users/")
    assert r.status_code == 302 and "/accounts/sign-in/" in r["Location"]


@pytest.mark.parametrize("persona", ["editor", "outsider"])
def test_editors_and_outsiders_cannot_manage_users(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/accounts/users/").status_code == 403
    assert client.post("/accounts/users/", {"username": "x", "password": "long enough pw",
                                            "role": "admin"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_an_admin_adds_an_editor_and_changes_roles(client, admin):
    client.force_login(admin)
    r = client.post("/accounts/users/", {"username": "newbie", "password": "a long password 1",
                                         "role": "editor"})
    assert r.status_code == 302
    newbie = User.objects.get(username="newbie")
    assert list(newbie.groups.values_list("name", flat=True)) == ["editors"]
    client.post(f"/accounts/users/{newbie.id}/role/", {"role": "admin"})
    assert list(newbie.groups.values_list("name", flat=True)) == ["admins"]
    client.post(f"/accounts/users/{newbie.id}/role/", {"role": "none"})
    assert not newbie.groups.exists()


def test_weak_passwords_and_duplicates_are_refused_on_their_fields(client, admin):
    client.force_login(admin)
    html = client.post("/accounts/users/", {"username": "ada", "password": "short",
                                            "role": "editor"}).content.decode()
    assert "already exists" in html and "too short" in html


def test_an_admin_cannot_demote_themself(client, admin):
    client.force_login(admin)
    client.post(f"/accounts/users/{admin.id}/role/", {"role": "none"})
    assert admin.groups.filter(name="admins").exists()
