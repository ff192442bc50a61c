from __future__ import annotations

from pathlib import Path

import pytest

from crier_site.env import load_or_create_secret_key, parse_database_url, q_cluster_config


def test_sqlite_is_the_default_database(tmp_path: Path):
    config = parse_database_url(None, tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "crier.sqlite3")
    assert parse_database_url("", tmp_path)["NAME"] == str(tmp_path / "crier.sqlite3")


def test_sqlite_url_with_absolute_path(tmp_path: Path):
    config = parse_database_url("sqlite:////srv/crier/db.sqlite3", tmp_path)
    assert config["NAME"] == "/srv/crier/db.sqlite3"


def test_postgres_url(tmp_path: Path):
    config = parse_database_url(
        "postgres://crier:s%40cret@db.example:6543/crier_prod?sslmode=require", tmp_path
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("crier", "s@cret")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", "6543", "crier_prod")
    assert config["OPTIONS"] == {"sslmode": "require"}
    assert parse_database_url("postgresql://localhost/x", tmp_path)["NAME"] == "x"


def test_unknown_database_scheme_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="mysql"):
        parse_database_url("mysql://localhost/x", tmp_path)


def test_orm_broker_by_default_and_redis_when_set():
    orm = q_cluster_config(None, workers=1, timeout=600)
    assert orm["orm"] == "default" and "redis" not in orm
    redis = q_cluster_config("redis://127.0.0.1:6379/0", workers=2, timeout=600)
    assert redis["redis"] == "redis://127.0.0.1:6379/0" and "orm" not in redis
    assert redis["retry"] > redis["timeout"]


def test_secret_key_is_generated_once_and_kept(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_or_create_secret_key(tmp_path)
    assert len(first) >= 50
    assert load_or_create_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert load_or_create_secret_key(tmp_path) == "from-env"
