"""``whatworks serve``, ``whatworks user`` and ``whatworks manage``: the web platform's commands."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import InputError, WhatWorksError


class SettingsError(WhatWorksError):
    """The web platform's settings could not be read (a bad environment value): the CLI prints the
    one-line message, naming the variable, the value and what is allowed, and exits 2."""


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatworks.web.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise SettingsError(f"bad setting: {exc}") from None


def require_database() -> None:
    """Connect once before a command uses the database, so an unreachable server is one clear line
    (which database, why, the fix) instead of a traceback from deep inside a migration."""
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        settings = connection.settings_dict
        where = (f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}/"
                 f"{settings.get('NAME')}" if connection.vendor == "postgresql"
                 else str(settings.get("NAME")))
        reason = " ".join(str(exc).split())
        raise SettingsError(f"cannot open the {connection.vendor} database {where} (DATABASE_URL): "
                            f"{reason}; start the database server or fix DATABASE_URL") from None


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the Evidence Store web platform",
                       description="Migrate the database, load the demo content the first time, and "
                                   "serve the site (gunicorn). SQLite in ./var by default; set "
                                   "DATABASE_URL for PostgreSQL.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU core)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.add_argument("--no-demo", action="store_true", help="do not load the demo content")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("user", help="add a user, change a user's role, rotate or revoke a token",
                       description="Create or update a user with a role (editor or admin) and "
                                   "print an API token for them. The password is read from "
                                   "WHATWORKS_PASSWORD or asked for on a terminal (an existing "
                                   "user keeps theirs when neither is there). An existing "
                                   "user keeps their token and role unless told otherwise.")
    p.add_argument("username")
    p.add_argument("--role", type=str.lower, choices=["editor", "admin", "none"], default=None,
                   help="the user's role (default: editor for a new user; unchanged otherwise)")
    p.add_argument("--email", default="")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--rotate-token", action="store_true",
                       help="replace the user's API token with a new one (the old one stops "
                            "working at once)")
    token.add_argument("--revoke-token", action="store_true",
                       help="delete the user's API token (API writes need a new one)")
    p.set_defaults(handler=cmd_user)

    p = sub.add_parser("manage", help="run a Django management command (migrate, load_demo, ...)",
                       add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_manage)


def prepare_database(*, demo: bool = True) -> None:
    """Migrate; on an empty store load the outcomes framework and (unless told not to) the demo."""
    setup_django()
    require_database()
    from django.core.management import call_command

    from .store.demo import load_demo, seed_framework
    from .store.models import Intervention

    call_command("migrate", interactive=False, verbosity=0)
    if not Intervention.objects.exists():
        if demo:
            n = load_demo()
            from .trials.demo import load_trials_demo

            k = load_trials_demo()
            print(f"whatworks: loaded the demo content ({n} interventions, {k} change projects)",
                  file=sys.stderr)
        else:
            seed_framework()


def cmd_serve(args) -> int:
    prepare_database(demo=not args.no_demo)
    from django.db import connections
    from gunicorn.app.base import BaseApplication

    from .wsgi import application

    connections.close_all()  # never share a connection across forked workers
    # one worker per core: each keeps its own page cache, and more workers than cores measured
    # clearly worse under load (benchmarks/RESULTS.md)
    workers = args.workers or (os.cpu_count() or 1)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 60)
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)  # several servers may share a host

        def load(self):
            return application

    print(f"whatworks: serving on http://{args.host}:{args.port}/ ({workers} workers)",
          file=sys.stderr)
    Server().run()
    return 0


def cmd_user(args) -> int:
    setup_django()
    require_database()
    from getpass import getpass

    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from .accounts.audit import record

    call_command("migrate", interactive=False, verbosity=0)
    user = User.objects.filter(username=args.username).first()
    password = os.environ.get("WHATWORKS_PASSWORD")
    if password is None and (user is None or sys.stdin.isatty()):
        if not sys.stdin.isatty():
            raise InputError("set WHATWORKS_PASSWORD or run on a terminal to type a password",
                             column="password")
        password = getpass(f"password for {args.username}: ")
    if password is not None and len(password) < 10:
        raise InputError("passwords need at least 10 characters", column="password")
    with transaction.atomic():
        new_user = user is None
        if new_user:
            user = User.objects.create_user(args.username, email=args.email)
        if password is not None:
            user.set_password(password)
        if args.email:
            user.email = args.email
        user.save()
        role = args.role or ("editor" if new_user else None)
        if role is not None:
            user.groups.remove(*Group.objects.filter(name__in=["admins", "editors"]))
            if role != "none":
                user.groups.add(Group.objects.get(name="admins" if role == "admin" else "editors"))
        names = set(user.groups.values_list("name", flat=True))
        shown = "admin" if "admins" in names else ("editor" if "editors" in names else "none")
        if args.revoke_token:
            Token.objects.filter(user=user).delete()
            record("token-revoked", user=user, detail="whatworks user --revoke-token")
            print(f"{args.username}: role {shown}; API token revoked")
            return 0
        if args.rotate_token:
            Token.objects.filter(user=user).delete()
            record("token-rotated", user=user, detail="whatworks user --rotate-token")
        token, created = Token.objects.get_or_create(user=user)
    state = "new API token" if created else "API token (unchanged; --rotate-token replaces it)"
    print(f"{args.username}: role {shown}; {state} {token.key}")
    return 0


def cmd_manage(args) -> int:
    setup_django()
    if args.args and args.args[0] not in ("help", "--help", "-h", "--version", "version"):
        require_database()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["whatworks manage", *args.args])
    return 0
