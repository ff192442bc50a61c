"""Shapes of search requests and results in the API."""

from __future__ import annotations

from rest_framework import serializers

from corpora.models import ImageRecord
from corpora.selectors import attach_labels
from crier_site.api.fields import MAX_ID, LabelSerializer
from crier_site.api.links import image_file_url, image_thumbnail_url, image_url
from search.copies.duplicates import DuplicateReport, DuplicateRow
from search.copies.matching import COPY, SIMILAR, match_json
from search.queries.filters import (
    METADATA_PREFIX,
    filter_specs,
    metadata_fields,
    validate_filters,
)
from search.queries.params import (
    DEFAULT_K,
    DEFAULT_THRESHOLD,
    MAX_DEPTH,
    MAX_K,
    MIN_THRESHOLD,
    validate_page,
)
from search.queries.regions import FRACTIONS as REGION_FRACTIONS
from search.queries.regions import Region
from search.services import SearchResult
from search.text.ranking import FIELDS as TEXT_FIELDS
from search.text.ranking import MAX_QUERY_LENGTH, TextSearchResult, validate_text_query


class PageOptionsSerializer(serializers.Serializer):
    """Which slice of a ranking: ``k`` hits from ``offset`` on (``search.queries.params.Page``)."""

    k = serializers.IntegerField(
        required=False,
        default=DEFAULT_K,
        min_value=1,
        max_value=MAX_K,
        help_text="Results wanted.",
    )
    offset = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_DEPTH - 1,
        help_text="Skip this many of the best hits: the next page of a query starts at the "
        f"previous response's next_offset. Only the best {MAX_DEPTH} hits can be paged "
        f"through: a page reaching past the {MAX_DEPTH}th is cut short. Hits are ordered by "
        "score, equal scores by image id, so the pages of one query never overlap while the "
        "images do not change (image search: while the index_version is the same).",
    )

    def validate(self, attrs: dict) -> dict:
        # The same check the pages use: offset + k within MAX_DEPTH, which no one field knows.
        attrs["page"] = validate_page(
            k=attrs.pop("k"), offset=attrs.pop("offset"), min_score=attrs.pop("min_score", None)
        )
        return attrs


class SearchOptionsSerializer(PageOptionsSerializer):
    min_score = serializers.FloatField(
        required=False,
        min_value=-1.0,
        max_value=1.0,
        style={"example": -1.0},  # every hit: what Swagger UI pre-fills
        help_text="Only hits scoring at least this (cosine similarity, 1 is identical); the "
        f"response then counts them in 'matched' (among the best {MAX_DEPTH}).",
    )


class SearchFiltersSerializer(serializers.Serializer):
    """The filters every search takes (``search.queries.filters``; docs/metadata.md, "Filters"), for
    query strings, forms and JSON alike: combine it with a search's own serializer (before it in
    the bases). Its fields are the declared filters' API fields. Its validated data holds
    ``filters`` (an ``ImageFilters``) instead of the fields. ``metadata.<key>=<value>`` fields,
    which no schema can list, are read from the raw data; ``api_operation`` lets them through a
    query string (``query_param_prefixes``)."""

    query_param_prefixes = (METADATA_PREFIX,)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, spec in filter_specs().items():
            fields[name] = spec.new_api_field()
        return fields

    def validate(self, attrs: dict) -> dict:
        given: dict = {name: attrs.pop(name) for name in filter_specs() if name in attrs}
        given.update(metadata_fields(self.initial_data))
        attrs["filters"] = validate_filters(given)
        return super().validate(attrs)


class SearchImageSerializer(SearchFiltersSerializer, SearchOptionsSerializer):
    """Multipart: search with an uploaded picture (or a part of it)."""

    # Empty files are judged by the same gate as every image (corpora.validation), so the API
    # and the pages refuse them with the same message.
    image = serializers.FileField(allow_empty_file=True, help_text="The query image.")
    region = serializers.RegexField(
        REGION_FRACTIONS,
        required=False,
        style={"example": "0,0,1,1"},  # the whole image: what Swagger UI pre-fills
        error_messages={
            "invalid": "The region must be four numbers, left,top,right,bottom, as fractions "
            "of the image's width and height (for example 0.1,0.2,0.6,0.9)."
        },
        help_text="Search with this part of the query image only: left,top,right,bottom as "
        "fractions of its width and height, e.g. 0.1,0.2,0.6,0.9. Corners in either order; a "
        "part smaller than 2% of the image (or 8 pixels) is widened to that about its centre.",
    )

    def validate(self, attrs: dict) -> dict:
        if "region" in attrs:
            attrs["region"] = Region.parse(attrs["region"])
        return super().validate(attrs)


class SearchSimilarSerializer(SearchFiltersSerializer, SearchOptionsSerializer):
    """JSON: more like an image already in the corpus."""

    image_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Search with this image of the corpus."
    )

    def validate(self, attrs: dict) -> dict:
        if "region" in self.initial_data:
            raise serializers.ValidationError(
                {"region": "A region applies to an uploaded query image, not to image_id."}
            )
        if "image" in self.initial_data:
            raise serializers.ValidationError(
                {"image": "Send a query image as a file in a multipart request."}
            )
        return super().validate(attrs)


class SearchHitSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    filename = serializers.CharField()
    score = serializers.FloatField()
    url = serializers.CharField()
    file_url = serializers.CharField()
    thumbnail_url = serializers.CharField(help_text="A 320-px WebP: use it in result grids.")
    metadata = serializers.JSONField()
    tags = serializers.ListField(child=serializers.CharField())
    caption = serializers.CharField(allow_blank=True)
    labels = LabelSerializer(many=True, help_text="Predicted ImageNet labels, best first.")
    taken_at = serializers.DateTimeField(allow_null=True)


class MatchSerializer(serializers.Serializer):
    """Whether a hit is a copy of the query, and where (docs/copies.md)."""

    kind = serializers.ChoiceField(
        choices=[COPY, SIMILAR],
        help_text="copy: verified with local features (the same picture, or a part of it, "
        "cropped, scaled, turned, mirrored or recoloured); similar: it only looks alike. "
        "Copies come first.",
    )
    query_box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False,
        help_text="Copies only: the matched region of the query, as fractions left, top, "
        "right, bottom of its width and height.",
    )  # fmt: skip
    target_box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False,
        help_text="Copies only: the matched region of this hit's image, the same way.",
    )  # fmt: skip
    transform = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()), required=False,
        help_text="Copies only: the 3×3 matrix mapping query fractions (x, y, 1) to this "
        "image's fractions.",
    )  # fmt: skip
    query_overlap = serializers.FloatField(
        required=False, help_text="Copies only: the share of the query's area that is matched."
    )
    target_overlap = serializers.FloatField(
        required=False, help_text="Copies only: the share of this image's area that is matched."
    )
    inliers = serializers.IntegerField(
        required=False, help_text="Copies only: local features that agree on the transform."
    )
    mirrored = serializers.BooleanField(
        required=False, help_text="Copies only: this image is a mirror image of the query."
    )


class ImageSearchHitSerializer(SearchHitSerializer):
    match = MatchSerializer()


class SearchResponseSerializer(serializers.Serializer):
    results = ImageSearchHitSerializer(many=True)
    took_ms = serializers.FloatField()
    index_version = serializers.CharField()
    offset = serializers.IntegerField(help_text="Hits skipped before the first result.")
    next_offset = serializers.IntegerField(
        allow_null=True, help_text="The offset of the next page; null when there is none."
    )
    min_score = serializers.FloatField(allow_null=True)
    matched = serializers.IntegerField(
        allow_null=True,
        help_text="With min_score: how many images score at least that much, counted among "
        f"the best {MAX_DEPTH} hits (see matched_capped); null without min_score.",
    )
    matched_capped = serializers.BooleanField(
        help_text=f"True when the count stopped at {MAX_DEPTH}: more images may score as high."
    )


def _hit(record: ImageRecord, score: float, context: dict) -> dict:
    """One hit as SearchHitSerializer shows it: the record's name, links and metadata."""
    return {
        "image_id": record.pk,
        "filename": record.original_filename,
        "score": round(float(score), 6),
        "url": image_url(context, record),
        "file_url": image_file_url(context, record),
        "thumbnail_url": image_thumbnail_url(context, record),
        "metadata": record.metadata,
        "tags": record.tags,
        "caption": record.caption,
        "labels": record.labels,
        "taken_at": record.taken_at.isoformat() if record.taken_at else None,
    }


def search_response(result: SearchResult, *, context: dict) -> dict:
    """Results best first, with each record's name, links and metadata."""
    attach_labels(hit.record for hit in result.hits)
    return {
        "results": [
            {**_hit(hit.record, hit.score, context), "match": match_json(hit.match)}
            for hit in result.hits
        ],
        "took_ms": round(result.took_ms, 2),
        "index_version": result.index_version,
        "offset": result.offset,
        "next_offset": result.next_offset,
        "min_score": result.min_score,
        "matched": result.matched,
        "matched_capped": result.matched_capped,
    }


class TextSearchQuerySerializer(SearchFiltersSerializer, PageOptionsSerializer):
    """The query string of a text search: words, the filters every search takes, a page."""

    q = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text="Words to find in the images' tags, predicted labels (and their synonyms), "
        "captions and file names (stop words such as 'the' are left out). Images holding every "
        "word come first, then those missing one word, and so on. Punctuation only separates "
        "words.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs["q"] = validate_text_query(attrs["q"])
        return super().validate(attrs)


class TextSearchHitSerializer(SearchHitSerializer):
    score = serializers.FloatField(
        min_value=0,
        max_value=1,
        help_text="How surely the image shows the words (docs/metadata.md): 0.95 for a tag, "
        "0.9 x probability for a predicted label, 0.6 for the caption, 0.3 for the file name; "
        "combined over fields and words.",
    )
    corpus_id = serializers.IntegerField()
    corpus_name = serializers.CharField()
    matched = serializers.ListField(
        child=serializers.ChoiceField(choices=TEXT_FIELDS),
        help_text="Where the words were found.",
    )
    matched_words = serializers.ListField(
        child=serializers.CharField(),
        help_text="The words of `words` this image holds: all of them, or (further down the "
        "results) some.",
    )


class TextSearchResponseSerializer(serializers.Serializer):
    results = TextSearchHitSerializer(many=True)
    took_ms = serializers.FloatField()
    q = serializers.CharField(help_text="The query, whitespace collapsed.")
    words = serializers.ListField(
        child=serializers.CharField(),
        help_text="The words searched for, lower case, stop words left out; none: no results.",
    )
    unmatched_words = serializers.ListField(
        child=serializers.CharField(),
        help_text="The words of `words` that no image searched holds (among those the filters "
        "keep): the hits hold the other words only.",
    )
    offset = serializers.IntegerField(help_text="Hits skipped before the first result.")
    next_offset = serializers.IntegerField(
        allow_null=True, help_text="The offset of the next page; null when there is none."
    )


def text_search_response(result: TextSearchResult, *, context: dict) -> dict:
    """Text-search hits best first, each with its corpus and the fields that matched."""
    attach_labels(hit.record for hit in result.hits)
    results = [
        {
            **_hit(hit.record, hit.score, context),
            "corpus_id": hit.corpus.pk,
            "corpus_name": hit.corpus.name,
            "matched": list(hit.matched),
            "matched_words": list(hit.matched_words),
        }
        for hit in result.hits
    ]
    return {
        "results": results,
        "took_ms": round(result.took_ms, 2),
        "q": result.q,
        "words": list(result.words),
        "unmatched_words": list(result.unmatched_words),
        "offset": result.offset,
        "next_offset": result.next_offset,
    }


class DuplicatesRequestSerializer(serializers.Serializer):
    threshold = serializers.FloatField(
        required=False,
        default=DEFAULT_THRESHOLD,
        min_value=MIN_THRESHOLD,
        max_value=1.0,
        help_text="Cosine similarity two images need to count as near-duplicates.",
    )
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=1000, help_text="Groups returned."
    )


class DuplicateImageSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    filename = serializers.CharField()
    url = serializers.CharField()
    file_url = serializers.CharField()
    thumbnail_url = serializers.CharField()
    match = MatchSerializer(
        required=False,
        help_text="Every image but the first: whether it is a verified copy of the first one.",
    )


class DuplicateGroupSerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="The highest similarity between two members.")
    kind = serializers.ChoiceField(
        choices=[COPY, SIMILAR],
        help_text="copy: every other image is a verified copy of the first (the same picture, "
        "edited); similar: some only look alike.",
    )
    images = DuplicateImageSerializer(many=True, help_text="Earliest upload first.")


class DuplicatesResponseSerializer(serializers.Serializer):
    threshold = serializers.FloatField()
    compared = serializers.IntegerField(help_text="Images whose vectors were compared.")
    group_count = serializers.IntegerField(help_text="All groups found, before the limit.")
    groups = DuplicateGroupSerializer(many=True)
    took_ms = serializers.FloatField(help_text="Time of the comparison (when it was made).")
    cached = serializers.BooleanField(help_text="Reused from an earlier identical request.")
    index_version = serializers.CharField()


def duplicates_response(
    report: DuplicateReport, rows: list[DuplicateRow], *, context: dict
) -> dict:
    """The groups shown (``search.copies.duplicates.duplicate_rows``), with each image's name and
    links."""
    groups = [
        {
            "score": round(row.score, 6),
            "kind": row.kind,
            "images": [
                {
                    "image_id": record.pk,
                    "filename": record.original_filename,
                    "url": image_url(context, record),
                    "file_url": image_file_url(context, record),
                    "thumbnail_url": image_thumbnail_url(context, record),
                    **({"match": match_json(row.matches.get(record.pk))} if n else {}),
                }
                for n, record in enumerate(row.records)
            ],
        }
        for row in rows
    ]
    return {
        "threshold": report.threshold,
        "compared": report.compared,
        "group_count": len(report.groups),
        "groups": groups,
        "took_ms": round(report.took_ms, 2),
        "cached": report.cached,
        "index_version": report.index_version,
    }


class CompareImagesSerializer(serializers.Serializer):
    """JSON: two images of the corpus."""

    image_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The query: an image of the corpus."
    )
    other_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The image compared with it."
    )


class CompareFileSerializer(serializers.Serializer):
    """Multipart: an uploaded picture against an image of the corpus."""

    image = serializers.FileField(allow_empty_file=True, help_text="The query picture.")


class CompareResponseSerializer(serializers.Serializer):
    image_id = serializers.IntegerField(
        allow_null=True, help_text="The query image (null for an uploaded picture)."
    )
    other_id = serializers.IntegerField()
    other_url = serializers.CharField()
    other_thumbnail_url = serializers.CharField()
    other_width = serializers.IntegerField(help_text="Pixels, as displayed (EXIF applied).")
    other_height = serializers.IntegerField()
    image_url = serializers.CharField(allow_null=True, help_text="Null for an uploaded picture.")
    image_thumbnail_url = serializers.CharField(allow_null=True)
    image_width = serializers.IntegerField(
        allow_null=True, help_text="Pixels, as displayed; null for an uploaded picture."
    )
    image_height = serializers.IntegerField(allow_null=True)
    match = MatchSerializer(
        help_text="As on a search hit: `query_box` is on the query (`image_id`, or the upload), "
        "`target_box` on `other_id`."
    )
    took_ms = serializers.FloatField()


def compare_response(comparison, *, context: dict) -> dict:
    """A comparison (``search.services.compare_images`` / ``compare_file``) as the API shows
    it."""
    query, target = comparison.query, comparison.target
    return {
        "image_id": query.pk if query is not None else None,
        "other_id": target.pk,
        "other_url": image_url(context, target),
        "other_thumbnail_url": image_thumbnail_url(context, target),
        "other_width": target.width,
        "other_height": target.height,
        "image_url": image_url(context, query) if query is not None else None,
        "image_thumbnail_url": image_thumbnail_url(context, query) if query is not None else None,
        "image_width": query.width if query is not None else None,
        "image_height": query.height if query is not None else None,
        "match": match_json(comparison.match),
        "took_ms": round(comparison.took_ms, 2),
    }
