"""Reading settings from the environment: small pure functions, unit-tested in tests/site."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"Setting {name} must be an integer, got {value!r}") from exc


def env_choice(name: str, choices: set[str], default: str) -> str:
    """A lower-cased value that must be one of ``choices``; empty or unset gives ``default``."""
    value = (os.environ.get(name) or "").strip().lower() or default
    if value not in choices:
        raise ValueError(
            f"Setting {name} must be one of {', '.join(sorted(choices))}, got {value!r}"
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_database_url(url: str | None, data_dir: Path) -> dict[str, Any]:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES['default']`` entry.

    Empty → a SQLite file in the data dir. Supported schemes: ``sqlite:///path``,
    ``postgres://`` / ``postgresql://`` (user, password, host, port, name, ``?sslmode=`` etc).
    """
    if not url:
        return _sqlite_config(data_dir / "crier.sqlite3")
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite://:memory:
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if parsed.netloc == ":memory:" or path == ":memory:":
            return _sqlite_config(":memory:")
        return _sqlite_config(Path(path) if path else data_dir / "crier.sqlite3")
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "crier",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ValueError(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)"
    )


def _sqlite_config(path: Path | str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # The web server and the django-q worker write to the same file: wait for locks instead of
        # failing, take the write lock up front, and let readers go on during writes (WAL).
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def q_cluster_config(redis_url: str | None, *, workers: int, timeout: int) -> dict[str, Any]:
    """django-q2 settings: the ORM broker by default, Redis when ``CRIER_REDIS_URL`` is set."""
    config: dict[str, Any] = {
        "name": "crier",
        "workers": workers,
        "recycle": 50,
        "timeout": timeout,
        # retry must exceed timeout, or a long encoding task is handed out twice
        "retry": timeout + 60,
        "max_attempts": 3,
        "queue_limit": 50,
        "bulk": 10,
        "catch_up": False,
        "label": "Tasks",
    }
    if redis_url:
        config["redis"] = redis_url
    else:
        config["orm"] = "default"
        config["poll"] = 0.5
    return config


def load_or_create_secret_key(data_dir: Path) -> str:
    """Return ``SECRET_KEY`` from the environment, else from ``<data dir>/secret_key``.

    The file is created (mode 600) with a fresh random key the first time.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    tmp = key_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    os.replace(tmp, key_file)
    return key


CACHE_TABLE = "crier_cache"


def cache_config(redis_url: str | None) -> dict[str, Any]:
    """Django ``CACHES``: Redis when ``CRIER_REDIS_URL`` is set, else the database.

    Either way every web and worker process shares one cache, so throttles, sign-in attempt
    counters, django-q's cluster stats and cached reports are the same in all of them. The
    database table is created by a migration (``crier_site/migrations``), so it needs no
    extra service or command.
    """
    if redis_url:
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        }
    else:
        backend = {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    return {"default": {**backend, "KEY_PREFIX": "crier", "TIMEOUT": 300}}

