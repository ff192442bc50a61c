import django.contrib.postgres.search
from django.db import migrations, models
from django.db.models import F, Func, Value

from corpora.models import TextSearchVector, words


class SearchDocument(TextSearchVector):
    """The document as this migration made it (tags A, labels B, caption C, file name D);
    migration 0008 replaces it with the owner's words alone (the labels moved to search)."""

    def __init__(self) -> None:
        text = models.TextField()

        def bars_to_spaces(field):
            return Func(F(field), Value("|"), Value(" "), function="replace", output_field=text)

        stem = Func(
            F("original_filename"),
            Value(r"\.[[:alnum:]]{1,5}$"),
            Value(""),
            function="regexp_replace",
            output_field=text,
        )
        filename = Func(stem, Value("_.-"), Value("   "), function="translate", output_field=text)
        super().__init__(
            words(bars_to_spaces("tag_text"), "A")
            + words(bars_to_spaces("label_text"), "B")
            + words(F("caption"), "C")
            + words(filename, "D")
        )


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
        ("corpora", "0004_thumbnails"),
    ]

    operations = [
        migrations.AddField(
            model_name="imagerecord",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=SearchDocument(),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
