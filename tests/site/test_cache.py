"""CACHES comes from the environment: Redis when CRIER_REDIS_URL is set, otherwise the database
table that ``migrate`` creates — shared by every process either way."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from crier_site.env import CACHE_TABLE, cache_config


def test_database_cache_without_redis():
    config = cache_config(None)["default"]
    assert config["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert config["LOCATION"] == CACHE_TABLE


def test_redis_cache_when_redis_is_configured():
    config = cache_config("redis://127.0.0.1:6379/4")["default"]
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://127.0.0.1:6379/4"


def test_the_real_settings_choose_from_the_environment(tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CACHES['default']['BACKEND'])"
    )

    def backend(**env: str) -> str:
        import os

        environment = {
            **{k: v for k, v in os.environ.items() if k != "CRIER_REDIS_URL"},
            "DJANGO_SETTINGS_MODULE": "crier_site.settings",
            "CRIER_DATA_DIR": str(tmp_path),
            **env,
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().rsplit(".", 1)[-1]

    assert backend() == "DatabaseCache"
    assert backend(CRIER_REDIS_URL="redis://127.0.0.1:6379/4") == "RedisCache"


@pytest.mark.django_db
def test_migrate_creates_the_cache_table_and_the_database_cache_works():
    assert CACHE_TABLE in connection.introspection.table_names()
    with override_settings(CACHES=cache_config(None)):
        cache = caches["default"]
        cache.set("greeting", {"hello": [1, 2]}, 30)
        assert cache.get("greeting") == {"hello": [1, 2]}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(CACHE_TABLE)}")
            assert cursor.fetchone()[0] >= 1
