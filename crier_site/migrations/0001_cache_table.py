"""The table of Django's database cache (the default CACHES when no Redis is configured).

Created here rather than by ``createcachetable`` so that ``migrate`` alone prepares a database,
whichever cache backend the settings name today.
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

from crier_site.env import CACHE_TABLE


def create_cache_table(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor):
    quoted = schema_editor.quote_name(CACHE_TABLE)
    schema_editor.execute(f"DROP TABLE IF EXISTS {quoted}")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
