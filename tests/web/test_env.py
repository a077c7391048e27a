"""Typed settings from the environment: the shared cache's URL is checked loudly."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from whatworks.web.env import env_cache


def test_no_cache_url_means_this_process_memory(monkeypatch):
    monkeypatch.delenv("WHATWORKS_CACHE_URL", raising=False)
    assert env_cache("WHATWORKS_CACHE_URL")["BACKEND"].endswith("LocMemCache")
    monkeypatch.setenv("WHATWORKS_CACHE_URL", "")
    assert env_cache("WHATWORKS_CACHE_URL")["BACKEND"].endswith("LocMemCache")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380", "redis://h"])
def test_a_redis_url_means_redis(monkeypatch, url):
    monkeypatch.setenv("WHATWORKS_CACHE_URL", url)
    config = env_cache("WHATWORKS_CACHE_URL")
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == url


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "memcached://h:11211", "redis://", "redis://h:6379/x",
                                 "redis://h:port/0"])
def test_a_bad_cache_url_is_refused_naming_the_variable_and_the_fix(monkeypatch, url):
    monkeypatch.setenv("WHATWORKS_CACHE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"WHATWORKS_CACHE_URL=.*redis://HOST:PORT/DB"):
        env_cache("WHATWORKS_CACHE_URL")
