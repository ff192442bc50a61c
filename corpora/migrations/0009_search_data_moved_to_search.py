"""Vectors, labels and index state now live in search's own tables (search's migration 0002
copied them there first, ``run_before`` this one). The text-search document keeps the owner's
words (tags, caption, file name); the labels' words are search's (ImageVector.label_words)."""

import django.contrib.postgres.search
from django.db import migrations, models

import corpora.models

INDEX = "corpora_imagerecord_search_document_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON corpora_imagerecord USING gin (search_document)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0008_trash"),
    ]

    operations = [
        migrations.RunPython(drop_index, create_index, elidable=False),
        migrations.RemoveField(model_name="imagerecord", name="search_document"),
        migrations.RemoveField(model_name="imagerecord", name="label_document"),
        migrations.RemoveField(model_name="imagerecord", name="labels"),
        migrations.RemoveField(model_name="imagerecord", name="label_text"),
        migrations.RemoveField(model_name="imagerecord", name="embedding"),
        migrations.RemoveField(model_name="imagerecord", name="encoder_fingerprint"),
        migrations.RemoveField(model_name="corpus", name="index_version"),
        migrations.RemoveField(model_name="corpus", name="indexed_count"),
        migrations.RemoveField(model_name="corpus", name="index_stale"),
        migrations.RemoveField(model_name="corpus", name="indexing_lease_token"),
        migrations.RemoveField(model_name="corpus", name="indexing_lease_until"),
        migrations.AddField(
            model_name="imagerecord",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=corpora.models.SearchDocument(),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
