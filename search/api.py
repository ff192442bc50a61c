"""POST /api/v1/corpora/{id}/search/ — by a query image; GET …/search/?q= — by words;
…/search/similar/ — by an image of the corpus; GET /api/v1/search/?q= — by words, in every
corpus the caller may see; GET /api/v1/corpora/{id}/duplicates/ — groups of near-duplicate
images; POST …/compare/ (two images of the corpus) and …/images/{image_id}/compare/ (an
uploaded picture and one image) — is one a copy of the other, and where."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiRequest
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from corpora.models import Corpus
from corpora.selectors import get_readable_corpus, visible_corpora
from corpora.validation import IMAGE_MEDIA_TYPES, read_limited
from crier_site.api.operations import api_operation
from crier_site.http import check_request_size
from search import services
from search.copies.duplicates import duplicate_rows, find_duplicates
from search.selectors import get_searched_corpus
from search.serializers import (
    CompareFileSerializer,
    CompareImagesSerializer,
    CompareResponseSerializer,
    DuplicatesRequestSerializer,
    DuplicatesResponseSerializer,
    SearchImageSerializer,
    SearchResponseSerializer,
    SearchSimilarSerializer,
    TextSearchQuerySerializer,
    TextSearchResponseSerializer,
    compare_response,
    duplicates_response,
    search_response,
    text_search_response,
)
from search.text.ranking import text_search

TEXT_SEARCH_RANKING = (
    "Every word of `q` must be found in an image's tags, predicted labels (with their "
    "synonyms), caption or file name. Ranked by where each word was found and, for labels, by "
    "their predicted probability (docs/metadata.md); equal scores by image id. Needs no index: "
    "images still being encoded are found by their tags, caption and name."
)


class AnonymousSearchThrottle(AnonRateThrottle):
    scope = "anon_search"


class SearchView(APIView):
    permission_classes = [AllowAny]  # public corpora are searchable by anyone
    throttle_classes = [AnonymousSearchThrottle]
    reads_only = True  # its POSTs search: a read-only API key may send them


class SearchApi(SearchView):
    parser_classes = [MultiPartParser]

    @api_operation(
        # The `image` part is a picture: generated requests (schemathesis) and clients can tell.
        request=OpenApiRequest(
            SearchImageSerializer, encoding={"image": {"contentType": IMAGE_MEDIA_TYPES}}
        ),
        responses=SearchResponseSerializer,
        errors=[409],
        description="Search with an uploaded image (optionally a `region` of it). 409 while "
        "the corpus has no index yet (its `status` is in the error).",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = get_searched_corpus(user=request.user, corpus_id=corpus_id)
        check_request_size(request)
        params = _valid(SearchImageSerializer, request.data)
        upload = params["image"]
        data = read_limited(upload, declared_size=upload.size)
        result = services.search_image(
            corpus=corpus,
            image=data,
            page=params["page"],
            region=params.get("region"),
            filters=params["filters"],
        )
        return Response(search_response(result, context={"request": request}))

    @api_operation(
        query=TextSearchQuerySerializer,
        responses=TextSearchResponseSerializer,
        description=f"Find the corpus's images by words. {TEXT_SEARCH_RANKING}",
    )
    def get(self, request: Request, corpus_id: int, query: dict) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        return _text_search(request, Corpus.objects.filter(pk=corpus.pk), query)


class TextSearchApi(SearchView):
    @api_operation(
        query=TextSearchQuerySerializer,
        responses=TextSearchResponseSerializer,
        description="Find images by words in every corpus you may see: your own and the public "
        f"ones (anonymous callers: the public ones). {TEXT_SEARCH_RANKING}",
    )
    def get(self, request: Request, query: dict) -> Response:
        return _text_search(request, visible_corpora(user=request.user), query)


class SimilarSearchApi(SearchView):
    parser_classes = [JSONParser]

    @api_operation(
        request=SearchSimilarSerializer,
        responses=SearchResponseSerializer,
        errors=[409],
        description="More like an image of the corpus (never that image itself). 409 while "
        "the corpus has no index yet.",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = get_searched_corpus(user=request.user, corpus_id=corpus_id)
        params = _valid(SearchSimilarSerializer, request.data)
        result = services.search_similar(
            corpus=corpus,
            record_id=params["image_id"],
            page=params["page"],
            filters=params["filters"],
        )
        return Response(search_response(result, context={"request": request}))


class CompareApi(SearchView):
    parser_classes = [JSONParser]

    @api_operation(
        request=CompareImagesSerializer,
        responses=CompareResponseSerializer,
        errors=[409],
        description="Is `other_id` a copy of `image_id` (two images of the corpus), and where do "
        "they match: `match` as in search results (docs/copies.md). 409 while either image is "
        "not described for copy search yet.",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        params = _valid(CompareImagesSerializer, request.data)
        comparison = services.compare_images(
            corpus=corpus, image_id=params["image_id"], other_id=params["other_id"]
        )
        return Response(compare_response(comparison, context={"request": request}))


class CompareFileApi(SearchView):
    parser_classes = [MultiPartParser]

    @api_operation(
        request=OpenApiRequest(
            CompareFileSerializer, encoding={"image": {"contentType": IMAGE_MEDIA_TYPES}}
        ),
        responses=CompareResponseSerializer,
        errors=[409],
        description="Is image `image_id` of the corpus (the answer's `other_id`) a copy of the "
        "uploaded picture, and where do they match (docs/copies.md).",
    )
    def post(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        check_request_size(request)
        params = _valid(CompareFileSerializer, request.data)
        upload = params["image"]
        data = read_limited(upload, declared_size=upload.size)
        comparison = services.compare_file(corpus=corpus, image=data, other_id=image_id)
        return Response(compare_response(comparison, context={"request": request}))


class DuplicatesApi(APIView):
    permission_classes = [AllowAny]  # whoever may search a corpus may see its duplicates
    throttle_classes = [AnonymousSearchThrottle]

    @api_operation(
        query=DuplicatesRequestSerializer, responses=DuplicatesResponseSerializer, errors=[409]
    )
    def get(self, request: Request, corpus_id: int, query: dict) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        report = find_duplicates(corpus=corpus, threshold=query["threshold"])
        rows = duplicate_rows(corpus=corpus, report=report, limit=query["limit"])
        return Response(duplicates_response(report, rows, context={"request": request}))


def _text_search(request: Request, corpora: QuerySet[Corpus], query: dict) -> Response:
    """The text search both endpoints answer, over the corpora the caller may search."""
    result = text_search(
        corpora=corpora, q=query["q"], filters=query["filters"], page=query["page"]
    )
    return Response(text_search_response(result, context={"request": request}))


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
