"""Django settings for the whatworks web platform, read from the environment.

SQLite in ``$WHATWORKS_DATA_DIR`` (default ``./var``) unless ``DATABASE_URL`` names PostgreSQL.
Production: set ``WHATWORKS_SECRET_KEY``, ``WHATWORKS_ALLOWED_HOSTS`` and ``WHATWORKS_HTTPS=1``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from .env import env_bool, env_cache, env_choice, env_database, env_int, env_list, env_rate, env_str

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("WHATWORKS_DATA_DIR", "var")).resolve()

DEBUG = env_bool("WHATWORKS_DEBUG", False)
HTTPS = env_bool("WHATWORKS_HTTPS", False)


def _secret_key() -> str:
    key = env_str("WHATWORKS_SECRET_KEY")
    if key:
        return key
    # Local use: a random key kept beside the SQLite database, made on first run.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("WHATWORKS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("WHATWORKS_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/docs/, served as our static files
    "axes",
    "whatworks.web.accounts",
    "whatworks.web.store",
    "whatworks.web.places",
    "whatworks.web.api",
    "whatworks.web.trials",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "whatworks.web.store.middleware.ImportSizeMiddleware",
    "whatworks.web.store.middleware.RefuseNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whatworks.web.store.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# Server-Timing headers (app, database and page-cache figures per request) for benchmarks and
# profiling; off by default (they tell anyone how long the server took).
WHATWORKS_SERVER_TIMING = env_bool("WHATWORKS_SERVER_TIMING", False)
if WHATWORKS_SERVER_TIMING:
    MIDDLEWARE.insert(0, "whatworks.web.store.middleware.ServerTimingMiddleware")

ROOT_URLCONF = "whatworks.web.urls"
WSGI_APPLICATION = "whatworks.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "whatworks.web.store.context.site",
            ],
        },
    },
]

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'whatworks.sqlite3'}",
                            conn_max_age=env_int("WHATWORKS_DB_CONN_MAX_AGE", 60)),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Write transactions begin IMMEDIATE: they queue for SQLite's one write lock (up to `timeout`
    # seconds) instead of failing with "database is locked" when a reader upgrades to a writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if DEBUG else 600
    # Tests use a file (as production does), so several threads can write at once; an in-memory
    # shared-cache database answers concurrent writers with "table is locked" at once.
    # One file per test process, so test runs side by side never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-whatworks-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sign-in throttling (django-axes): after WHATWORKS_SIGNIN_FAILURES wrong passwords for one
# username from one address, that pair is locked out for WHATWORKS_SIGNIN_COOLOFF_MINUTES (429),
# even with the right password. API tokens do not sign in this way and are throttled below.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend",
                           "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("WHATWORKS_SIGNIN_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("WHATWORKS_SIGNIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in our audit log (accounts.AuditEvent)
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "store:home"
LOGOUT_REDIRECT_URL = "store:home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic in local use
WHITENOISE_AUTOREFRESH = DEBUG

# Redis shared by every host when WHATWORKS_CACHE_URL is set (the page cache's generation lives there,
# so an edit on one host empties every host's pages at once); this process's memory otherwise.
CACHES = {"default": env_cache("WHATWORKS_CACHE_URL")}

# Security: safe defaults everywhere; HTTPS-only cookies and HSTS when served over HTTPS.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the finding editor's script reads it for fetch()
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("WHATWORKS_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["whatworks.web.api.permissions.ReadOnlyOrEditor"],
    "DEFAULT_PAGINATION_CLASS": "whatworks.web.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "whatworks.web.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["whatworks.web.api.throttling.AnonThrottle",
                                 "whatworks.web.api.throttling.UserThrottle"],
}


# API throttling (DRF): requests per client address (anonymous) or per user, e.g. "300/minute";
# "off" turns one off. Counted in the cache (shared by every host with WHATWORKS_CACHE_URL).
WHATWORKS_API_RATES = {"anon": env_rate("WHATWORKS_API_ANON_RATE", "300/minute"),
                       "user": env_rate("WHATWORKS_API_USER_RATE", "1200/minute")}
SPECTACULAR_SETTINGS = {
    "TITLE": "whatworks Evidence Store API",
    "DESCRIPTION": "Rated evidence on interventions in children's social care. Ratings are computed "
                   "from the findings by published, versioned rules.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR",  # nothing from a CDN
    # no call to swagger.io; no deep links (a link inside each operation's button is nested interaction)
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "whatworks.web.api.errors.document_errors"],
}

# Imports (editors' /editor/import/ and POST /api/imports): limits on the upload, on what a zip
# expands to and on rows; above WHATWORKS_IMPORT_BACKGROUND_ROWS an import runs as a background job.
WHATWORKS_IMPORT_MAX_BYTES = env_int("WHATWORKS_IMPORT_MAX_BYTES", 20 * 2**20)
WHATWORKS_IMPORT_MAX_EXPANDED_BYTES = env_int("WHATWORKS_IMPORT_MAX_EXPANDED_BYTES", 100 * 2**20)
WHATWORKS_IMPORT_MAX_ROWS = env_int("WHATWORKS_IMPORT_MAX_ROWS", 200_000)
WHATWORKS_IMPORT_BACKGROUND_ROWS = env_int("WHATWORKS_IMPORT_BACKGROUND_ROWS", 2_000)
WHATWORKS_IMPORT_JOBS_INLINE = False  # tests set True: jobs run in the request's thread
# a job with no progress for this long is reported as stopped (the server restarted under it)
WHATWORKS_IMPORT_STALE_SECONDS = env_int("WHATWORKS_IMPORT_STALE_SECONDS", 600)
# Trials pages: an uploaded outcome file is analysed in a child process while the request waits,
# up to this many rows and seconds (then stopped, with a message pointing to the CLI).
WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS = env_int("WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS", 10_000)
WHATWORKS_TRIAL_ANALYSIS_TIMEOUT = env_int("WHATWORKS_TRIAL_ANALYSIS_TIMEOUT", 20)
# Editors' one-time form tokens are accepted for this long after the form was opened; the records
# of used tokens older than that are pruned (store/once.py).
WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS = env_int("WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS", 168, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice(
        "WHATWORKS_LOG_LEVEL", "WARNING", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))},
}
