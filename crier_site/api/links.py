"""The API URLs of an image record, for serializers: absolute with the request in their context."""

from __future__ import annotations

from django.urls import reverse


def absolute_url(context: dict, path: str) -> str:
    """``path`` made absolute with the serializer context's request, if it has one."""
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def image_url(context: dict, record) -> str:
    """The API URL of an image record (anything with ``corpus_id`` and ``pk``)."""
    return absolute_url(context, reverse("api:image-detail", args=[record.corpus_id, record.pk]))


def image_file_url(context: dict, record) -> str:
    """The API URL of an image record's bytes."""
    return absolute_url(context, reverse("api:image-file", args=[record.corpus_id, record.pk]))


def image_thumbnail_url(context: dict, record) -> str:
    """The API URL of an image record's thumbnail (for grids: never load the original)."""
    route = reverse("api:image-thumbnail", args=[record.corpus_id, record.pk])
    return absolute_url(context, route)
