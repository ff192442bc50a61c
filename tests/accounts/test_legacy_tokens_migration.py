"""accounts 0002: DRF tokens made before API keys become read-write keys that still work, and
nothing of them stays in clear."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey, Scope

BEFORE = [("accounts", "0001_api_keys"), ("authtoken", "0004_alter_tokenproxy_options")]
AFTER = [("accounts", "0002_legacy_tokens")]
LEGACY_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's format: 40 hex digits


@pytest.mark.django_db(transaction=True)
def test_a_legacy_token_keeps_working_as_a_read_write_key(django_user_model):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    user = django_user_model.objects.create_user(username="legacy", password="x-long-pass-1")
    old_apps.get_model("authtoken", "Token").objects.create(key=LEGACY_KEY, user_id=user.pk)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    key = ApiKey.objects.get(user=user)
    assert (key.name, key.scope, key.prefix) == ("API token", Scope.READ_WRITE, LEGACY_KEY[:8])
    assert LEGACY_KEY not in key.digest
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0

    api = APIClient()
    for scheme in ("Token", "Bearer"):
        api.credentials(HTTP_AUTHORIZATION=f"{scheme} {LEGACY_KEY}")
        made = api.post(reverse("api:corpus-list"), {"name": f"by {scheme}"}, format="json")
        assert made.status_code == 201, made.content
