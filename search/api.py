"""POST /api/v1/corpora/{id}/search/ — by a query image or by an image of the corpus;
GET /api/v1/corpora/{id}/duplicates/ — groups of near-duplicate images."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from corpora.selectors import get_readable_corpus
from corpora.validation import read_limited
from crier_site.http import check_request_size
from search import services
from search.duplicates import duplicate_rows, find_duplicates
from search.serializers import (
    DuplicatesRequestSerializer,
    DuplicatesResponseSerializer,
    SearchRequestSerializer,
    SearchResponseSerializer,
    duplicates_response,
    search_response,
)


class AnonymousSearchThrottle(AnonRateThrottle):
    scope = "anon_search"


class SearchApi(APIView):
    permission_classes = [AllowAny]  # public corpora are searchable by anyone
    throttle_classes = [AnonymousSearchThrottle]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=SearchRequestSerializer, responses=SearchResponseSerializer)
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        check_request_size(request)
        serializer = SearchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        if "image_id" in params:
            result = services.search_similar(
                corpus=corpus, record_id=params["image_id"], k=params["k"]
            )
        else:
            upload = params["image"]
            data = read_limited(upload, declared_size=upload.size)
            result = services.search_image(
                corpus=corpus, image=data, k=params["k"], region=params.get("region")
            )
        return Response(search_response(result, context={"request": request}))


class DuplicatesApi(APIView):
    permission_classes = [AllowAny]  # whoever may search a corpus may see its duplicates
    throttle_classes = [AnonymousSearchThrottle]

    @extend_schema(parameters=[DuplicatesRequestSerializer], responses=DuplicatesResponseSerializer)
    def get(self, request: Request, corpus_id: int) -> Response:
        corpus = get_readable_corpus(user=request.user, corpus_id=corpus_id)
        serializer = DuplicatesRequestSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        report = find_duplicates(corpus=corpus, threshold=params["threshold"])
        rows = duplicate_rows(corpus=corpus, report=report, limit=params["limit"])
        return Response(duplicates_response(report, rows, context={"request": request}))
