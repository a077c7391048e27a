"""Typed settings from the environment: loud on bad values (healthchecks' habit)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


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
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a Redis URL; use redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0")
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": raw, "TIMEOUT": 300,
            "KEY_PREFIX": "whatworks"}
