"""Search's own tables: ImageVector (per image, encoder and kind) and CorpusIndex (per corpus),
filled from the fields corpora's models held until now, byte for byte: no image is encoded again
and no index rebuilt (the live version, its count and lease carry over). Runs before corpora's
0009, which drops those fields."""

import django.db.models.deletion
from django.contrib.postgres.search import SearchVectorField
from django.db import migrations, models, transaction

import search.models

BATCH = 2_000
LABEL_WORDS_GIN = "search_imagevector_label_words_gin"
LABEL_TEXT_TRGM = "search_imagevector_label_text_trgm"


def copy_from_corpora(apps, schema_editor):
    Corpus = apps.get_model("corpora", "Corpus")
    ImageRecord = apps.get_model("corpora", "ImageRecord")
    ImageVector = apps.get_model("search", "ImageVector")
    CorpusIndex = apps.get_model("search", "CorpusIndex")
    db = schema_editor.connection.alias
    CorpusIndex.objects.using(db).bulk_create(
        CorpusIndex(
            corpus_id=pk,
            encoder=encoder,
            version=version,
            indexed_count=count,
            stale=stale,
            lease_token=token,
            lease_until=until,
        )
        for pk, encoder, version, count, stale, token, until in Corpus.objects.using(db)
        .order_by("pk")
        .values_list(
            "pk",
            "encoder",
            "index_version",
            "indexed_count",
            "index_stale",
            "indexing_lease_token",
            "indexing_lease_until",
        )
    )
    # Encoded records (a vector) and failed ones (the error): pending ones have no row yet.
    rows = (
        ImageRecord.objects.using(db)
        .filter(status__in=("encoded", "failed"))
        .order_by("pk")
        .values_list(
            "pk",
            "corpus_id",
            "corpus__encoder",
            "status",
            "error",
            "embedding",
            "encoder_fingerprint",
            "labels",
            "label_text",
        )
    )
    batch = []
    for pk, corpus_id, encoder, status, error, blob, fingerprint, labels, text in rows.iterator(
        chunk_size=BATCH
    ):
        encoded = status == "encoded" and blob is not None
        batch.append(
            ImageVector(
                image_id=pk,
                corpus_id=corpus_id,
                encoder=encoder,
                kind="image",
                fingerprint=fingerprint,
                vector=bytes(blob) if encoded else None,
                status="encoded" if encoded else "failed",
                error="" if encoded else error,
                labels=labels or [],
                label_text=text or "",
            )
        )
        if len(batch) == BATCH:
            ImageVector.objects.using(db).bulk_create(batch)
            batch = []
    ImageVector.objects.using(db).bulk_create(batch)


def copy_back(apps, schema_editor):
    ImageRecord = apps.get_model("corpora", "ImageRecord")
    Corpus = apps.get_model("corpora", "Corpus")
    ImageVector = apps.get_model("search", "ImageVector")
    CorpusIndex = apps.get_model("search", "CorpusIndex")
    db = schema_editor.connection.alias
    for index in CorpusIndex.objects.using(db).iterator():
        Corpus.objects.using(db).filter(pk=index.corpus_id).update(
            index_version=index.version,
            indexed_count=index.indexed_count,
            index_stale=index.stale,
            indexing_lease_token=index.lease_token,
            indexing_lease_until=index.lease_until,
        )
    vectors = ImageVector.objects.using(db).filter(
        kind="image", encoder=models.F("corpus__encoder")
    )
    for row in vectors.iterator(chunk_size=BATCH):
        ImageRecord.objects.using(db).filter(pk=row.image_id).update(
            embedding=row.vector,
            encoder_fingerprint=row.fingerprint if row.status == "encoded" else "",
            labels=row.labels,
            label_text=row.label_text,
        )


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX {LABEL_WORDS_GIN} ON search_imagevector USING gin (label_words)"
    )
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - without the privilege the label filter reads the rows
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {LABEL_TEXT_TRGM} ON search_imagevector "
        "USING gin (label_text gin_trgm_ops)"
    )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in (LABEL_WORDS_GIN, LABEL_TEXT_TRGM):
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0008_trash"),
        ("search", "0001_resume_indexing_schedule"),
    ]
    run_before = [("corpora", "0009_search_data_moved_to_search")]

    operations = [
        migrations.CreateModel(
            name="CorpusIndex",
            fields=[
                (
                    "corpus",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_index",
                        serialize=False,
                        to="corpora.corpus",
                    ),
                ),
                (
                    "encoder",
                    models.CharField(
                        blank=True,
                        help_text="The encoder whose vectors the live index holds (the corpus's "
                        "own encoder unless a change of encoder is under way).",
                        max_length=100,
                    ),
                ),
                (
                    "version",
                    models.CharField(
                        blank=True,
                        help_text="Directory name of the live index; empty if none.",
                        max_length=40,
                    ),
                ),
                (
                    "indexed_count",
                    models.PositiveIntegerField(default=0, help_text="Vectors in the live index."),
                ),
                (
                    "stale",
                    models.BooleanField(
                        default=False,
                        help_text="Images were removed or added since the live index was built.",
                    ),
                ),
                ("lease_token", models.CharField(blank=True, editable=False, max_length=32)),
                ("lease_until", models.DateTimeField(blank=True, editable=False, null=True)),
                ("build_started_at", models.DateTimeField(blank=True, null=True)),
                ("build_finished_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
            ],
            options={"verbose_name_plural": "corpus indices"},
        ),
        migrations.CreateModel(
            name="ImageVector",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "encoder",
                    models.CharField(help_text="Name of the encoder that made it.", max_length=100),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("image", "Whole image")], default="image", max_length=20
                    ),
                ),
                (
                    "fingerprint",
                    models.CharField(
                        help_text="The encoder version it was made with (or tried, if failed).",
                        max_length=64,
                    ),
                ),
                ("vector", models.BinaryField(blank=True, editable=False, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("encoded", "Encoded"), ("failed", "Failed")], max_length=10
                    ),
                ),
                ("error", models.TextField(blank=True)),
                ("labels", models.JSONField(blank=True, default=list)),
                ("label_text", models.TextField(blank=True, editable=False)),
                (
                    "label_words",
                    models.GeneratedField(
                        db_persist=True,
                        expression=search.models.LabelWords(),
                        output_field=SearchVectorField(),
                    ),
                ),
                (
                    "label_document",
                    models.GeneratedField(
                        db_persist=True,
                        expression=search.models.LabelDocument(),
                        output_field=SearchVectorField(),
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "corpus",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="corpora.corpus",
                    ),
                ),
                (
                    "image",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="vectors",
                        to="corpora.imagerecord",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["corpus", "encoder", "kind", "status"],
                        name="vector_corpus_encoder_kind",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("image", "encoder", "kind"),
                        name="one_vector_per_image_encoder_kind",
                    )
                ],
            },
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
        migrations.RunPython(copy_from_corpora, copy_back, elidable=False),
    ]
