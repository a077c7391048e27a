"""Django system checks: misconfiguration is caught at start-up with an id and a hint."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_production_settings(app_configs, **kwargs):
    problems = []
    if not settings.DEBUG and settings.SECRET_KEY.startswith("django-insecure"):
        problems.append(Error("SECRET_KEY is an insecure placeholder",
                              hint="set WHATWORKS_SECRET_KEY to a long random value",
                              id="whatworks.E001"))
    if getattr(settings, "HTTPS", False) is False and settings.SESSION_COOKIE_SECURE:
        problems.append(Warning("secure cookies without HTTPS: logins will not stick",
                                hint="set WHATWORKS_HTTPS=1 behind HTTPS", id="whatworks.W001"))
    return problems
