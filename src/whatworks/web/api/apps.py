from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON HTTP API (read for everyone, write for editors with a token)."""

    name = "whatworks.web.api"
    label = "api"
