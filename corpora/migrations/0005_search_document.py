import django.contrib.postgres.search
from django.db import migrations, models

import corpora.models

INDEX = "corpora_imagerecord_search_document_gin"


def create_index(apps, schema_editor):
    # A GIN index exists on PostgreSQL only (declared in Meta it would break SQLite's DDL).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON corpora_imagerecord USING gin (search_document)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('corpora', '0004_thumbnails'),
    ]

    operations = [
        migrations.AddField(
            model_name='imagerecord',
            name='search_document',
            field=models.GeneratedField(db_persist=True, expression=corpora.models.SearchDocument(), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
