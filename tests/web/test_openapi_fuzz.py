"""Issue 7, defect 11: the API does what its OpenAPI document says. A bounded schemathesis run
over every operation, as an anonymous reader, an editor and an administrator (on whichever
database DATABASE_URL names): no server errors, and every status code, content type, header and
body matches the document. Inputs valid and invalid by the document, on made-up and on existing
objects; a few examples each keep the whole run to a few hundred requests."""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from whatworks.web.store.models import Finding, Rating, Synthesis

pytestmark = pytest.mark.django_db
application = get_wsgi_application()  # the app without whatworks.web.wsgi's start-up warming
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# per operation, persona, mode (valid/invalid) and target (made up/existing); raise it for a
# deeper run, e.g. WHATWORKS_FUZZ_EXAMPLES=50
EXAMPLES = int(os.environ.get("WHATWORKS_FUZZ_EXAMPLES", "2"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calls through WSGI would close the test's database connection at the end of each request
    (Django's request signals); Django's own test client disconnects them the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _existing() -> dict:
    return {"slug": "family-group-conferences", "key": "fgc-study-b",
            "id": Finding.objects.filter(study__key="fgc-study-b").first().pk,
            "job_id": 1}


def _fuzz(settings, headers) -> int:
    settings.WHATWORKS_API_RATES = {"anon": None, "user": None}  # throttling has its own test
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    existing = _existing()
    failures, requests = [], 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 24
    for op in operations:
        names = {p.name for p in op.path_parameters}
        targets = [None] + ([{n: existing[n] for n in names}] if names else [])
        if "id" in names and "ratings" in op.path:
            targets[-1]["id"] = Rating.objects.first().pk
        if "id" in names and "syntheses" in op.path:
            targets[-1]["id"] = Synthesis.objects.first().pk
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for target in targets:
                strategy = op.as_strategy(generation_mode=mode, path_parameters=target)

                @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                                     database=None, suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case):
                    nonlocal requests
                    requests += 1
                    response = case.call(headers=headers)
                    case.validate_response(response, checks=CHECKS, headers=headers)

                try:
                    run()
                except Unsatisfiable:  # no input invalid by the document exists here (e.g. a
                    pass  # fixed path and no parameters): nothing to send
                except Exception as exc:  # noqa: BLE001 - collected, reported together below
                    failures.append(f"{op.label} ({mode}, {'existing' if target else 'made up'}): "
                                    f"{str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
    print(f"{requests} requests over {len(operations)} operations")
    return requests


def _token(user) -> dict:
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


def test_every_operation_matches_the_document_for_readers(settings):
    assert _fuzz(settings, {}) > 50


def test_every_operation_matches_the_document_for_editors(settings, editor):
    assert _fuzz(settings, _token(editor)) > 50


def test_every_operation_matches_the_document_for_admins(settings, admin):
    assert _fuzz(settings, _token(admin)) > 50
