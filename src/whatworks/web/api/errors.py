"""One error shape for the whole API:

    {"error": {"status": 404, "code": "not_found", "message": "...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from whatworks.errors import WhatWorksError

#: The one code vocabulary: an error's code follows from its HTTP status.
CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
         405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
         412: "precondition_failed", 413: "too_large",
         415: "unsupported_media_type", 429: "throttled", 500: "server_error"}


def code_for(status_code: int) -> str:
    return CODES.get(status_code, "invalid" if status_code < 500 else "server_error")


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
    from ..store.drafts import DraftConflict, NoChanges

    if isinstance(exc, (DraftConflict, NoChanges)):
        from rest_framework.response import Response

        return Response(error_body(409, "conflict", str(exc)), status=409)
    if isinstance(exc, WhatWorksError):
        exc = exceptions.ValidationError(getattr(exc, "fields", None)
                                         or {"non_field_errors": [str(exc)]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if getattr(exc, "current", None):  # a failed If-Match: the tag the item has now
        response["ETag"] = exc.current
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()) or "invalid input"
        if isinstance(exc.detail, list):
            message = " ".join(str(x) for x in exc.detail)
        response.data = error_body(response.status_code, code_for(response.status_code), message,
                                   fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(response.status_code, code_for(response.status_code), str(detail))
    return response


def json_error(status_code: int, code: str | None, message: str) -> JsonResponse:
    code = code or code_for(status_code)
    return JsonResponse(error_body(status_code, code, message), status=status_code)


def not_found(request, exception=None):
    """404 for /api/ paths in the same shape (Django's handler404 for unknown API URLs)."""
    return json_error(status.HTTP_404_NOT_FOUND, "not_found", "no such resource")


ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["status", "code", "message"], "additionalProperties": False,
        "properties": {
            "status": {"type": "integer", "description": "the HTTP status, repeated"},
            "code": {"type": "string", "enum": sorted(set(CODES.values()))},
            "message": {"type": "string", "description": "what is wrong and how to fix it"},
            "fields": {"type": "object", "description": "messages per field (validation errors)",
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}},
}
ERROR_DESCRIPTIONS = {
    "400": "invalid input (a parameter or field; NUL bytes; page_size out of range)",
    "401": "a token or session was given and is not valid, or signing in is required",
    "403": "signed in without the role this needs (or a missing CSRF token on a session write)",
    "404": "no such resource (drafts are invisible to readers), or no such page of a list",
    "406": "the Accept header asks for something other than JSON",
    "409": "a conflict: nothing to publish, or the draft changed since it was read",
    "412": "If-Match was given and the item changed since that ETag was read: nothing was saved "
           "(the ETag header gives the current one)",
    "413": "the upload is larger than the import limit (WHATWORKS_IMPORT_MAX_BYTES)",
    "415": "the body is not JSON (or multipart/form-data for imports)",
    "429": "too many requests; retry after the Retry-After header's seconds",
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error shape on every operation, each status it can
    answer documented, and public reads marked as needing no authentication."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    editors_only = ("/api/imports",)
    for path, operations in result.get("paths", {}).items():
        for method, op in operations.items():
            public_read = method == "get" and not path.startswith(editors_only) \
                and not path.endswith("/draft")  # an intervention's pending changes: editors
            op["security"] = ([{}, {"tokenAuth": []}, {"cookieAuth": []}] if public_read
                              else [{"tokenAuth": []}, {"cookieAuth": []}])
            codes = ["400", "401", "404", "406", "429"]
            if not public_read:
                codes += ["403", "415"]
            if method == "post" and path.startswith("/api/imports"):
                codes.append("413")
            if method in ("post", "patch", "delete") and not path.startswith("/api/imports"):
                codes.append("409")
            if method in ("patch", "delete") and any(
                    p.get("in") == "header" and p.get("name") == "If-Match"
                    for p in op.get("parameters", [])):
                codes.append("412")
            for code in codes:
                op["responses"].setdefault(code, {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": ref}}})
    return result
