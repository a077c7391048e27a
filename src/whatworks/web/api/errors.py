"""One error shape for the whole API:

    {"error": {"status": 404, "code": "not_found", "message": "...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from whatworks.errors import WhatWorksError


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                for k, v in detail.items()}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, WhatWorksError):
        exc = exceptions.ValidationError(getattr(exc, "fields", None)
                                         or {"non_field_errors": [str(exc)]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()) or "invalid input"
        if isinstance(exc.detail, list):
            message = " ".join(str(x) for x in exc.detail)
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(response.status_code, str(code), str(detail))
    return response


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(status_code, code, message), status=status_code)


def not_found(request, exception=None):
    """404 for /api/ paths in the same shape (Django's handler404 for unknown API URLs)."""
    return json_error(status.HTTP_404_NOT_FOUND, "not_found", "no such resource")
