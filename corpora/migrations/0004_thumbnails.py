"""Thumbnails beside the originals. Images stored before this migration get theirs from a
one-off task it schedules (``corpora.tasks.backfill_thumbnails``): ``make run`` / ``migrate``
on an existing installation makes the worker fill them in."""

from django.db import migrations, models
from django.utils import timezone

import corpora.models

BACKFILL = "crier: make missing thumbnails"


def schedule_backfill(apps, schema_editor):
    ImageRecord = apps.get_model("corpora", "ImageRecord")
    if not ImageRecord.objects.exists():
        return  # a new installation: every image will get its thumbnail at ingest
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=BACKFILL,
        defaults={
            "func": "corpora.tasks.backfill_thumbnails",
            "schedule_type": "O",  # once; django-q deletes it after the run
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def unschedule_backfill(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=BACKFILL).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0003_image_metadata"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="imagerecord",
            name="thumbnail",
            field=models.FileField(
                blank=True,
                editable=False,
                max_length=255,
                upload_to=corpora.models.thumbnail_upload_to,
            ),
        ),
        migrations.RunPython(schedule_backfill, unschedule_backfill),
    ]
