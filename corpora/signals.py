"""Files follow their rows: when an ImageRecord row is deleted (directly, by a queryset, or by a
corpus cascade), its file is removed once the transaction commits, so a rollback loses nothing."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from corpora.models import ImageRecord


@receiver(post_delete, sender=ImageRecord, dispatch_uid="corpora.delete_image_file")
def delete_image_file(sender, instance: ImageRecord, using: str, **kwargs) -> None:
    if not instance.file:
        return
    storage, name = instance.file.storage, instance.file.name
    transaction.on_commit(lambda: storage.delete(name), using=using)
