"""Typed settings from the environment: loud on bad values (healthchecks' habit).

A bad value raises :class:`EnvError` (Django's ``ImproperlyConfigured``) naming the variable, the
value given and what is allowed, in one line; ``whatworks serve`` / ``manage`` print that line and
exit 2 instead of a traceback (``whatworks.web.cli.setup_django``).
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class EnvError(ImproperlyConfigured):
    """A bad environment value: ``NAME='given' is not allowed; expected ALLOWED``."""

    def __init__(self, name: str, given: str, allowed: str):
        self.name, self.given, self.allowed = name, given, allowed
        super().__init__(f"{name}={given!r} is not allowed; expected {allowed}")


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise EnvError(name, raw, "a boolean: 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    allowed = "a whole number" + (f" of at least {minimum}" if minimum is not None else "")
    try:
        value = int(raw.strip())
    except ValueError:
        raise EnvError(name, raw, f"{allowed}, e.g. {default}") from None
    if minimum is not None and value < minimum:
        raise EnvError(name, raw, f"{allowed}, e.g. {default}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared without case; returned as written in ``choices``)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    for choice in choices:
        if raw.strip().lower() == choice.lower():
            return choice
    raise EnvError(name, raw, "one of " + ", ".join(choices))


_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str | None:
    """A throttle rate such as ``300/minute`` (DRF's form), or None for "off"/"0"/"none"/empty."""
    raw = os.environ.get(name, default)
    value = raw.strip().lower()
    if value in ("", "0", "off", "none"):
        return None
    if not _RATE.match(value):
        raise EnvError(name, raw, f"requests per period such as {default!r} (period second, "
                                  "minute, hour or day), or 'off'")
    return value


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")


def env_database(name: str, default: str, *, conn_max_age: int) -> dict:
    """Django's database settings from the URL in ``name`` (``dj_database_url``): SQLite or
    PostgreSQL, the two databases whatworks is tested on."""
    from urllib.parse import urlsplit

    import dj_database_url

    raw = os.environ.get(name)
    url = default if raw is None or not raw.strip() else raw.strip()
    allowed = ("postgresql://USER@HOST:PORT/NAME or sqlite:///PATH, e.g. "
               "postgresql://postgres@127.0.0.1:5432/whatworks")
    try:
        scheme = urlsplit(url).scheme
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(scheme)
        config = dj_database_url.parse(url, conn_max_age=conn_max_age)
    except (ValueError, KeyError, dj_database_url.UnknownSchemeError):
        raise EnvError(name, raw, allowed) from None
    if not config.get("NAME"):
        raise EnvError(name, raw, f"{allowed} (the database name is missing)")
    return config


def env_cache(name: str) -> dict:
    """Django's cache settings: Redis at the ``redis://`` / ``rediss://`` URL in ``name`` (shared by
    every host and process), or this process's memory when it is unset or empty."""
    from urllib.parse import urlsplit

    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": 300,
                "OPTIONS": {"MAX_ENTRIES": 2000}}
    try:
        parts = urlsplit(raw)
        db = parts.path.strip("/")
        ok = parts.scheme in ("redis", "rediss", "unix") and (parts.hostname or parts.scheme == "unix")
        ok = ok and (db == "" or db.isdigit()) and (parts.port is None or parts.port > 0)
    except ValueError:
        ok = False
    if not ok:
        raise EnvError(name, raw, "a Redis URL: redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0")
    return {"BACKEND": "whatworks.web.cache.RedisCache", "LOCATION": raw, "TIMEOUT": 300,
            "KEY_PREFIX": "whatworks"}
