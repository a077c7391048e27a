"""Issue 7, defects 9 and 10: sign-in and API throttling, token rotation and revocation, and the
audit log of sign-ins."""

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from whatworks.web.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _sign_in(client, username, password):
    return client.post("/accounts/sign-in/", {"username": username, "password": password})


def test_wrong_passwords_lock_the_sign_in_even_for_the_right_one(client, editor, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        r = _sign_in(client, "edna", "wrong password!")
        assert r.status_code in (200, 429)
    r = _sign_in(client, "edna", PASSWORD)
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="sign-in-failed", username="edna").count() >= 4
    assert AuditEvent.objects.filter(action="locked-out", username="edna").exists()


def test_a_right_password_signs_in_and_is_audited(client, editor):
    r = _sign_in(client, "edna", PASSWORD)
    assert r.status_code == 302
    event = AuditEvent.objects.get(action="sign-in")
    assert event.user == editor and event.ip == "127.0.0.1"


def test_the_api_is_throttled_with_the_error_shape(client, settings):
    settings.WHATWORKS_API_RATES = {"anon": "3/minute", "user": "5/minute"}
    codes = [client.get("/api/outcomes").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/outcomes")
    assert r.json()["error"]["code"] == "throttled" and "Retry-After" in r


def test_signed_in_api_users_have_their_own_rate(client, editor, settings):
    settings.WHATWORKS_API_RATES = {"anon": "1/minute", "user": "3/minute"}
    token = Token.objects.create(user=editor)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert [client.get("/api/outcomes", **auth).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_an_admin_revokes_a_token_on_the_users_page(client, admin, editor):
    token = Token.objects.create(user=editor)
    client.force_login(admin)
    assert client.post(f"/accounts/users/{editor.pk}/token/revoke/").status_code == 302
    assert not Token.objects.filter(key=token.key).exists()
    assert AuditEvent.objects.filter(action="token-revoked", target="edna").exists()
    r = client.post("/api/findings", data="{}", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 401


def test_editors_cannot_revoke_tokens(client, editor):
    token = Token.objects.create(user=editor)
    client.force_login(editor)
    assert client.post(f"/accounts/users/{editor.pk}/token/revoke/").status_code == 403
    assert Token.objects.filter(key=token.key).exists()


def _whatworks(tmp_path, *args, password=PASSWORD):
    env = {**os.environ, "WHATWORKS_DATA_DIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [os.path.join(os.path.dirname(__file__), "..", "..", "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("DATABASE_URL", None)
    if password is None:
        env.pop("WHATWORKS_PASSWORD", None)
    else:
        env["WHATWORKS_PASSWORD"] = password
    r = subprocess.run([sys.executable, "-m", "whatworks.cli", "user", *args], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


@pytest.mark.slow
def test_whatworks_user_rotates_and_revokes_tokens(tmp_path):
    code, out, err = _whatworks(tmp_path, "ruth", "--role", "admin")
    assert code == 0, err
    assert out.startswith("ruth: role admin; new API token ")
    first = out.split()[-1]
    code, out, _ = _whatworks(tmp_path, "ruth", password=None)  # re-run: token and role kept
    assert out == f"ruth: role admin; API token (unchanged; --rotate-token replaces it) {first}"
    code, out, _ = _whatworks(tmp_path, "ruth", "--rotate-token", password=None)
    assert code == 0 and out.startswith("ruth: role admin; new API token ")
    second = out.split()[-1]
    assert second != first
    code, out, _ = _whatworks(tmp_path, "ruth", "--revoke-token", password=None)
    assert code == 0 and out == "ruth: role admin; API token revoked"
    code, out, err = _whatworks(tmp_path, "ruth", "--rotate-token", "--revoke-token", password=None)
    assert code == 2 and "not allowed with argument" in err


def test_admins_read_the_audit_log_and_others_cannot(client, admin, editor):
    client.force_login(editor)
    assert client.get("/accounts/audit/").status_code == 403
    _sign_in(client, "ada", "wrong password!")
    client.force_login(admin)
    page = client.get("/accounts/audit/").content.decode()
    assert "Sign-in failed" in page and "ada" in page


def test_anonymous_clients_are_counted_by_the_anonymous_rate_only(client, settings):
    settings.WHATWORKS_API_RATES = {"anon": None, "user": "2/minute"}
    assert [client.get("/api/outcomes").status_code for _ in range(4)] == [200] * 4
