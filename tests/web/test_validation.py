"""Issue 7: validation everywhere. NUL bytes refused with a 400 on every parameter and field
(defect 8), list fields are lists of strings (defect 7), numbers are numbers and in range."""

import json

import pytest
from rest_framework.authtoken.models import Token

from whatworks.web.store.models import Finding, Intervention

pytestmark = pytest.mark.django_db


def _api(client, user, method, path, payload):
    token, _ = Token.objects.get_or_create(user=user)
    return getattr(client, method)(path, data=json.dumps(payload), content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.mark.parametrize("url", [
    "/api/findings?intervention=%00", "/api/findings?outcome=%00", "/api/ratings?outcome=%00",
    "/compare/?i=%00", "/api/interventions?q=a%00b", "/interventions/?q=%00",
    "/api/effect-size?measure=RR&ai=%00", "/api/interventions?%00=1",
])
def test_a_nul_byte_in_a_query_parameter_is_a_400(client, url):
    r = client.get(url)
    assert r.status_code == 400
    if url.startswith("/api/"):
        assert r.json()["error"]["code"] == "invalid"
        assert "NUL" in r.json()["error"]["message"]


def test_a_nul_byte_in_a_json_field_is_a_400_naming_it(client, editor):
    n = Finding.objects.count()
    r = _api(client, editor, "post", "/api/findings", {
        "study": "swis-2023", "outcome": "section-47-enquiries", "measure": "IRR",
        "notes": "bad\u0000note", "reported": {"yi": 0.1, "vi": 0.01}})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("notes:")
    assert Finding.objects.count() == n


def test_a_nul_byte_in_a_form_field_is_a_400(editor_client):
    r = editor_client.post("/editor/interventions/new/", {"name": "x\x00", "slug": "x",
                                                          "summary": "s"})
    assert r.status_code == 400
    assert not Intervention.objects.filter(slug="x").exists()


@pytest.mark.parametrize("value", [None, 5, {"a": 1}, [1, 2], "children", [None], [["x"]]])
@pytest.mark.parametrize("field", ["population", "setting", "where_studied"])
def test_list_fields_take_only_lists_of_strings(client, editor, field, value):
    r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds", {field: value})
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"] or any(
        k.startswith(field) for k in r.json()["error"]["fields"])


def test_a_list_of_strings_is_kept(client, editor):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")  # edited directly
    r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds",
             {"setting": ["home", "school"]})
    assert r.status_code == 200, r.content
    assert Intervention.objects.get(slug="schwartz-rounds").setting == ["home", "school"]


@pytest.mark.parametrize("payload, field", [
    ({"timepoint_months": True}, "timepoint_months"),
    ({"timepoint_months": -3}, "timepoint_months"),
    ({"timepoint_months": 1e9}, "timepoint_months"),
    ({"timepoint_months": "abc"}, "timepoint_months"),
    ({"reported": {"yi": True, "vi": 0.01}}, "reported"),
    ({"reported": [1, 2]}, "reported"),
    ({"reported": {"yi": "0.1", "vi": 0.01}}, "reported"),
    ({"notes": 5}, "notes"),
])
def test_finding_numbers_are_numbers_in_range(client, editor, payload, field):
    body = {"study": "swis-2023", "outcome": "section-47-enquiries", "measure": "IRR",
            "reported": {"yi": 0.1, "vi": 0.01}, **payload}
    r = _api(client, editor, "post", "/api/findings", body)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]


@pytest.mark.parametrize("payload, field", [
    ({"year": True}, "year"), ({"year": 20250}, "year"), ({"sample_size": 0}, "sample_size"),
    ({"follow_up_months": -1}, "follow_up_months"), ({"citation": ["x"]}, "citation"),
])
def test_study_numbers_are_numbers_in_range(client, editor, payload, field):
    r = _api(client, editor, "patch", "/api/studies/swis-2023", payload)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]


def test_unit_cost_cannot_be_negative_or_boolean(client, editor):
    for value in (-5, True):
        r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds",
                 {"unit_cost_gbp": value})
        assert r.status_code == 400, (value, r.content)


@pytest.mark.parametrize("value", ["null", "0", "-1", "abc", "501", "1.5", "true"])
def test_page_size_must_be_a_whole_number_in_range(client, value):
    r = client.get(f"/api/interventions?page_size={value}")
    assert r.status_code == 400
    assert "page_size" in r.json()["error"]["fields"]


def test_unknown_fields_are_refused_not_dropped(client, editor):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")
    r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds", {"status": "published"})
    assert r.status_code == 400
    assert "publish" in r.json()["error"]["fields"]["status"][0]
    assert Intervention.objects.get(slug="schwartz-rounds").status == "draft"
    r = _api(client, editor, "patch", "/api/studies/swis-2023", {"yeer": 2020})
    assert r.status_code == 400 and "yeer" in r.json()["error"]["fields"]


def test_a_finding_read_back_can_be_sent_back(client, editor):
    finding = Finding.objects.filter(study__key="swis-2023").first()
    body = client.get(f"/api/findings/{finding.pk}").json()
    r = _api(client, editor, "patch", f"/api/findings/{finding.pk}", body)
    assert r.status_code == 200, r.content


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", "outcome=%00x&notes=a"),
    ("multipart/form-data; boundary=XyZ",
     '--XyZ\r\nContent-Disposition: form-data; name="outcome"\r\n\r\n\x00x\r\n--XyZ--\r\n'),
])
def test_a_nul_byte_in_a_patched_form_field_is_a_400(client, editor, content_type, body):
    """Found by schemathesis on PostgreSQL: Django parses the forms of POSTs only."""
    token, _ = Token.objects.get_or_create(user=editor)
    finding = Finding.objects.filter(study__key="swis-2023").first()
    r = client.patch(f"/api/findings/{finding.pk}", data=body, content_type=content_type,
                     HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("outcome: NUL bytes")
