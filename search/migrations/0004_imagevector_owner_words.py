"""Text search reads an encoded image from its vector row alone: ``ImageVector.owner_words`` is a
copy of the image's ``ImageRecord.search_document`` (the owner's words), GIN-indexed, kept by
two PostgreSQL triggers that search owns (corpora knows nothing of them), filled here for every
existing row. docs/benchmarks.md ("Refactor check", text search) has why.

- ``search_owner_words_of_image`` (before a vector row is inserted, or its ``image_id`` or
  ``owner_words`` set): the row takes its image's words. The image's row is read ``FOR SHARE``:
  an edit of the words waits until the new vector row is committed, so its own trigger then
  sees the row (an edit committed first is the one read).
- ``search_owner_words_changed`` (after a record is updated): when its words changed, its
  vector rows take them.

Should ``search_document`` ever be computed differently (a corpora migration that drops and
re-adds it), a search migration refreshes the copies with
``UPDATE search_imagevector SET owner_words = NULL``: the first trigger fills them again. On
other databases the column stays null: text search reads the records there."""

import django.contrib.postgres.search
from django.db import migrations

OWNER_WORDS_GIN = "search_imagevector_owner_words_gin"

FORWARD = [
    """
    CREATE FUNCTION search_owner_words_of_image() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT r.search_document INTO NEW.owner_words
        FROM corpora_imagerecord r WHERE r.id = NEW.image_id FOR SHARE;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION search_owner_words_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.search_document IS DISTINCT FROM OLD.search_document THEN
            UPDATE search_imagevector SET owner_words = NEW.search_document
            WHERE image_id = NEW.id;
        END IF;
        RETURN NULL;
    END $$
    """,
    "UPDATE search_imagevector v SET owner_words = r.search_document "
    "FROM corpora_imagerecord r WHERE r.id = v.image_id",
    "CREATE TRIGGER search_owner_words_of_image "
    "BEFORE INSERT OR UPDATE OF image_id, owner_words ON search_imagevector "
    "FOR EACH ROW EXECUTE FUNCTION search_owner_words_of_image()",
    "CREATE TRIGGER search_owner_words_changed AFTER UPDATE ON corpora_imagerecord "
    "FOR EACH ROW EXECUTE FUNCTION search_owner_words_changed()",
    f"CREATE INDEX {OWNER_WORDS_GIN} ON search_imagevector USING gin (owner_words)",
]
BACKWARD = [
    f"DROP INDEX IF EXISTS {OWNER_WORDS_GIN}",
    "DROP TRIGGER IF EXISTS search_owner_words_changed ON corpora_imagerecord",
    "DROP TRIGGER IF EXISTS search_owner_words_of_image ON search_imagevector",
    "DROP FUNCTION IF EXISTS search_owner_words_changed()",
    "DROP FUNCTION IF EXISTS search_owner_words_of_image()",
]


def keep_owner_words(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def drop_owner_words_keeping(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0009_search_data_moved_to_search"),
        ("search", "0003_copy_features"),
    ]

    operations = [
        migrations.AddField(
            model_name="imagevector",
            name="owner_words",
            field=django.contrib.postgres.search.SearchVectorField(
                blank=True, editable=False, null=True
            ),
        ),
        migrations.RunPython(keep_owner_words, drop_owner_words_keeping),
    ]
