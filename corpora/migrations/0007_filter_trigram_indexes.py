"""Trigram (pg_trgm) GIN indexes on the "|a|b|" tag and label copies, so that a selective tag or
label filter (search.queries.filters) finds its few images without reading every row of a large corpus
(docs/metadata.md, "Filters"). PostgreSQL only; where pg_trgm cannot be installed (the role may
not create extensions) the filters still work, by reading the rows."""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    "corpora_imagerecord_tag_text_trgm": "tag_text",
    "corpora_imagerecord_label_text_trgm": "label_text",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - a missing privilege must not stop migrating
        logger.warning("pg_trgm not installed (%s): tag and label filters read every row", exc)
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON corpora_imagerecord "
            f"USING gin ({column} gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("corpora", "0006_label_document"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
