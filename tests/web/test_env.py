"""Typed settings from the environment: every value is checked loudly, and a bad one stops
``whatworks serve`` / ``manage`` with one line naming the variable, the value and what is allowed."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from whatworks.web.env import EnvError, env_bool, env_cache, env_choice, env_database, env_int, env_rate


def test_no_cache_url_means_this_process_memory(monkeypatch):
    monkeypatch.delenv("WHATWORKS_CACHE_URL", raising=False)
    assert env_cache("WHATWORKS_CACHE_URL")["BACKEND"].endswith("LocMemCache")
    monkeypatch.setenv("WHATWORKS_CACHE_URL", "")
    assert env_cache("WHATWORKS_CACHE_URL")["BACKEND"].endswith("LocMemCache")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380", "redis://h"])
def test_a_redis_url_means_redis(monkeypatch, url):
    monkeypatch.setenv("WHATWORKS_CACHE_URL", url)
    config = env_cache("WHATWORKS_CACHE_URL")
    assert config["BACKEND"] == "whatworks.web.cache.RedisCache"  # Django's, one client per pool
    assert config["LOCATION"] == url


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "memcached://h:11211", "redis://", "redis://h:6379/x",
                                 "redis://h:port/0"])
def test_a_bad_cache_url_is_refused_naming_the_variable_and_the_fix(monkeypatch, url):
    monkeypatch.setenv("WHATWORKS_CACHE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"WHATWORKS_CACHE_URL=.*redis://HOST:PORT/DB"):
        env_cache("WHATWORKS_CACHE_URL")


@pytest.mark.parametrize(("helper", "raw", "allowed"), [
    (lambda: env_int("WW_X", 60), "sixty", "a whole number of at least 0, e.g. 60"),
    (lambda: env_int("WW_X", 60), "-1", "a whole number of at least 0, e.g. 60"),
    (lambda: env_int("WW_X", 5, minimum=1), "0", "a whole number of at least 1, e.g. 5"),
    (lambda: env_bool("WW_X", False), "maybe", "a boolean: 1/0, true/false, yes/no, on/off"),
    (lambda: env_rate("WW_X", "300/minute"), "lots", "requests per period such as '300/minute'"),
    (lambda: env_rate("WW_X", "300/minute"), "300 per minute", "requests per period"),
    (lambda: env_choice("WW_X", "INFO", ("INFO", "ERROR")), "loud", "one of INFO, ERROR"),
    (lambda: env_database("WW_X", "sqlite:///x.db", conn_max_age=0), "bogus://", "postgresql://"),
    (lambda: env_database("WW_X", "sqlite:///x.db", conn_max_age=0), "mysql://h/db", "postgresql://"),
    (lambda: env_database("WW_X", "sqlite:///x.db", conn_max_age=0), "postgresql://h:5432",
     "the database name is missing"),
    (lambda: env_database("WW_X", "sqlite:///x.db", conn_max_age=0), "postgresql://h:port/db",
     "postgresql://"),
])
def test_a_bad_value_is_refused_naming_the_variable_the_value_and_what_is_allowed(
        monkeypatch, helper, raw, allowed):
    monkeypatch.setenv("WW_X", raw)
    with pytest.raises(EnvError) as caught:
        helper()
    message = str(caught.value)
    assert message.startswith(f"WW_X={raw!r} is not allowed; expected ") and allowed in message
    assert "\n" not in message and isinstance(caught.value, ImproperlyConfigured)


def test_good_values_are_read(monkeypatch):
    for raw, value in [(" 7 ", 7), ("0", 0)]:
        monkeypatch.setenv("WW_X", raw)
        assert env_int("WW_X", 60) == value
    for raw in ["300/minute", "10/s", "5/hour", "1000/day"]:
        monkeypatch.setenv("WW_X", raw)
        assert env_rate("WW_X", "1/s") == raw
    for raw in ["off", "0", "", "None"]:
        monkeypatch.setenv("WW_X", raw)
        assert env_rate("WW_X", "1/s") is None
    monkeypatch.setenv("WW_X", "error")
    assert env_choice("WW_X", "INFO", ("INFO", "ERROR")) == "ERROR"
    monkeypatch.setenv("WW_X", "postgresql://postgres@127.0.0.1:5432/whatworks")
    config = env_database("WW_X", "sqlite:///x.db", conn_max_age=60)
    assert config["NAME"] == "whatworks" and config["PORT"] == 5432 and config["CONN_MAX_AGE"] == 60
    monkeypatch.delenv("WW_X")
    assert env_database("WW_X", "sqlite:////tmp/x.db", conn_max_age=0)["NAME"] == "/tmp/x.db"


def _whatworks(args, tmp_path, **env):
    full = dict(os.environ, WHATWORKS_DATA_DIR=str(tmp_path), **env)
    full.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "-m", "whatworks.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("name", "raw"), [
    ("WHATWORKS_CACHE_URL", "nonsense"), ("DATABASE_URL", "bogus://"),
    ("WHATWORKS_DB_CONN_MAX_AGE", "a minute"), ("WHATWORKS_DEBUG", "maybe"),
    ("WHATWORKS_API_ANON_RATE", "lots"), ("WHATWORKS_LOG_LEVEL", "loud"),
])
@pytest.mark.parametrize("command", [["manage", "check"], ["serve", "--port", "1", "--no-demo"]])
def test_whatworks_serve_and_manage_refuse_a_bad_environment_value_in_one_line(
        tmp_path, name, raw, command):
    done = _whatworks(command, tmp_path, **{name: raw})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"whatworks: error: bad setting: {name}={raw!r} is not allowed; "
                               "expected ")


@pytest.mark.parametrize("command", [["manage", "migrate"], ["serve", "--port", "1", "--no-demo"],
                                     ["user", "someone", "--role", "editor"]])
def test_an_unreachable_database_is_one_line_naming_it_and_the_fix(tmp_path, command):
    # port 9 on loopback: nothing listens there, so the connection is refused at once
    done = _whatworks(command, tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:9/nothing",
                      WHATWORKS_PASSWORD="a long enough password 123")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("whatworks: error: cannot open the postgresql database "
                               "127.0.0.1:9/nothing (DATABASE_URL): ")
    assert lines[0].endswith("start the database server or fix DATABASE_URL")
