"""DRF's tokens (one per user, stored in clear) become read-write API keys named "API token":
stored as a digest from now on, and still valid — the key a client holds keeps working. The
old rows are deleted. Not reversible into clear tokens (a digest cannot be turned back)."""

import hashlib

from django.db import migrations


def convert_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiKey = apps.get_model("accounts", "ApiKey")
    for token in Token.objects.all().iterator():
        ApiKey.objects.create(
            user_id=token.user_id,
            name="API token",
            prefix=token.key[:8],  # accounts.keys.prefix_of for a key without "crier_"
            digest=hashlib.sha256(token.key.encode()).hexdigest(),
            scope="read-write",
            created_at=token.created,
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_api_keys"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(convert_tokens, migrations.RunPython.noop)]
