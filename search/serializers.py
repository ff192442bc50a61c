"""Shapes of search requests and results in the API."""

from __future__ import annotations

from rest_framework import serializers

from corpora.models import ImageRecord
from corpora.serializers import image_file_url, image_url
from search.services import MAX_K, SearchResult


class SearchRequestSerializer(serializers.Serializer):
    image = serializers.FileField(required=False, help_text="A query image (multipart).")
    image_id = serializers.IntegerField(
        required=False, help_text="Search with an image of this corpus (more like this)."
    )
    k = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_K)

    def validate(self, attrs: dict) -> dict:
        if ("image" in attrs) == ("image_id" in attrs):
            raise serializers.ValidationError(
                "Send either a query file in 'image' (multipart) or an 'image_id', not both."
            )
        return attrs


class SearchHitSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    filename = serializers.CharField()
    score = serializers.FloatField()
    url = serializers.CharField()
    file_url = serializers.CharField()
    metadata = serializers.JSONField()


class SearchResponseSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True)
    took_ms = serializers.FloatField()
    index_version = serializers.CharField()


def search_response(result: SearchResult, *, context: dict) -> dict:
    """Results best first, with each record's name, links and metadata (one query)."""
    records = ImageRecord.objects.in_bulk([hit.record_id for hit in result.hits])
    results = []
    for hit in result.hits:
        record = records.get(hit.record_id)
        if record is None:  # deleted between the search and now
            continue
        results.append(
            {
                "image_id": record.pk,
                "filename": record.original_filename,
                "score": round(float(hit.score), 6),
                "url": image_url(context, record),
                "file_url": image_file_url(context, record),
                "metadata": record.metadata,
            }
        )
    return {
        "results": results,
        "took_ms": round(result.took_ms, 2),
        "index_version": result.index_version,
    }
