"""Security headers on every response (beyond Django's own), and NUL bytes refused everywhere."""

from __future__ import annotations

import io
import json
import re

from django.http import HttpResponse, HttpResponseBadRequest, QueryDict


class SecurityHeadersMiddleware:
    CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    #: An SVG chart opened on its own ("open full size") is a document: matplotlib styles it with
    #: inline styles, which the page policy would block (drawing it all black). It may use those
    #: and nothing else: no script, no fetch, no frame.
    SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        svg = response.get("Content-Type", "").startswith("image/svg+xml")
        response.setdefault("Content-Security-Policy", self.SVG_CSP if svg else self.CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


def _nul_in(value, where: str) -> str | None:
    """The name of the first parameter or field holding a NUL byte, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = (where or str(k)) if "\x00" in str(k) else _nul_in(
                v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_in(v, f"{where}[{i}]")
            if found:
                return found
    return None


class RefuseNulBytesMiddleware:
    """A NUL byte in a URL, query parameter, form field or JSON value is never meaningful (and
    PostgreSQL text cannot hold one): the request is answered 400, naming the parameter.

    Uploaded files are not looked at here: imports check their own cells."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = self.find(request)
        if where is not None:
            message = f"{where}: NUL bytes (\\0) are not allowed; remove them"
            if request.path.startswith("/api/"):
                from ..api.errors import json_error

                return json_error(400, "invalid", message)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def find(request) -> str | None:
        if "\x00" in request.path:
            return "path"
        for key, values in request.GET.lists():
            found = _nul_in([key, *values], key)
            if found:
                return key or "query"
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("application/json"):
            try:
                body = request.body
            except Exception:  # noqa: BLE001 - too large etc.: the view answers
                return None
            if b"\\u0000" not in body and b"\x00" not in body:
                return None
            try:
                return _nul_in(json.loads(body), "") or None
            except ValueError:
                return "body" if b"\x00" in body else None
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                if request.method == "POST":
                    fields = request.POST
                elif content_type.startswith("application/x-www-form-urlencoded"):
                    fields = QueryDict(request.body, encoding=request.encoding)
                else:  # Django parses forms of POSTs only; PATCH, PUT, DELETE here
                    fields, _ = request.parse_file_upload(request.META, io.BytesIO(request.body))
            except Exception:  # noqa: BLE001 - the view reports a malformed body
                return None
            for key, values in fields.lists():
                if _nul_in([key, *values], key):
                    return key
        return None


IMPORT_PATHS = ("/editor/import/", "/api/imports")
# the trials pages' uploads (units to randomise, outcomes to analyse) share the limit
UPLOAD_PATH = re.compile(r"^/trials/[-\w]+/(randomise|analyse)/?$")


class ImportSizeMiddleware:
    """An upload to an import larger than ``WHATWORKS_IMPORT_MAX_BYTES`` (plus room for the form
    around it) is answered 413 from its Content-Length, before its body is read."""

    SLACK = 64 * 1024  # the multipart boundaries and the other fields

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and (
                request.path.rstrip("/") in {p.rstrip("/") for p in IMPORT_PATHS}
                or UPLOAD_PATH.match(request.path)):
            from django.conf import settings

            limit = settings.WHATWORKS_IMPORT_MAX_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit + self.SLACK:
                message = (f"the upload is {length:,} bytes; imports are limited to {limit:,} "
                           "(WHATWORKS_IMPORT_MAX_BYTES); split the file; nothing was imported")
                if request.path.startswith("/api/"):
                    from ..api.errors import json_error

                    return json_error(413, None, message)
                return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ServerTimingMiddleware:
    """``Server-Timing`` on every response (``WHATWORKS_SERVER_TIMING=1``; off by default): the time
    spent inside Django for this request (``app``; wall time), the CPU time of the thread that served
    it (``cpu``: what the request itself cost, less disturbed by other processes on a busy machine),
    in database queries (``db``, with their count)
    and whether the page cache answered (``cache``: hit, miss or bypass). For benchmarks and
    profiling (benchmarks/bench_store_cluster.py reads it); the W3C Server Timing format, so a
    browser's developer tools show it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        from django.db import connection

        queries = [0, 0.0]

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries[0] += 1
                queries[1] += time.perf_counter() - started

        started, cpu = time.perf_counter(), time.thread_time()
        with connection.execute_wrapper(timed):
            response = self.get_response(request)
        app = (time.perf_counter() - started) * 1000
        cpu = (time.thread_time() - cpu) * 1000
        cache = getattr(request, "page_cache", "bypass")
        response["Server-Timing"] = (f'app;dur={app:.2f}, cpu;desc="CPU of this thread";dur={cpu:.2f}, '
                                     f'db;desc="{queries[0]} queries";dur={queries[1] * 1000:.2f}, '
                                     f'cache;desc={cache}')
        return response
