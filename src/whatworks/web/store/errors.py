"""Error pages: JSON in the API's one error shape under /api/, HTML elsewhere."""

from django.shortcuts import render

from ..api.errors import json_error


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", "no such resource")
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error(500, "server_error", "something went wrong on our side")
    return render(request, "500.html", status=500)
