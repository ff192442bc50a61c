"""The trash (corpora/trash.py, docs/trash.md): ``trashed_at`` on corpora and images, and a
corpus's name unique only among those not in the trash."""

import django.db.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0007_filter_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="corpus",
            name="trashed_at",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="imagerecord",
            name="trashed_at",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.RemoveConstraint(
            model_name="corpus",
            name="unique_corpus_name_per_owner",
        ),
        migrations.AddConstraint(
            model_name="corpus",
            constraint=models.UniqueConstraint(
                condition=django.db.models.Q(trashed_at__isnull=True),
                fields=("owner", "name"),
                name="unique_corpus_name_per_owner",
            ),
        ),
    ]
