"""REST endpoints of corpora and their images (/api/v1/corpora/...). Thin: parse, check
permissions through selectors, call one service, shape the answer with a serializer."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from corpora import selectors, services
from corpora.files import corpus_zip_response, image_file_response
from corpora.metadata import parse_metadata_field
from corpora.serializers import (
    CorpusCreateSerializer,
    CorpusSerializer,
    CorpusUpdateSerializer,
    ImageBulkDeleteResultSerializer,
    ImageBulkDeleteSerializer,
    ImageSerializer,
    ImageUpdateSerializer,
    IngestReportSerializer,
)
from crier_site import tokens
from crier_site.errors import InvalidInput
from crier_site.http import check_request_size


class CorpusListApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(
        parameters=[OpenApiParameter("public", bool, description="Also list public corpora.")],
        responses=CorpusSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        include_public = request.query_params.get("public") in {"1", "true", "yes"}
        listed = selectors.visible_corpora if include_public else selectors.owned_corpora
        corpora = (
            listed(user=request.user)
            .select_related("owner")
            .with_counts()
        )
        return Response(CorpusSerializer(corpora, many=True, context={"request": request}).data)

    @extend_schema(request=CorpusCreateSerializer, responses={201: CorpusSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(CorpusCreateSerializer, request.data)
        corpus = services.create_corpus(owner=request.user, **data)
        body = CorpusSerializer(corpus, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CorpusDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=CorpusSerializer)
    def get(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        return Response(CorpusSerializer(corpus, context={"request": request}).data)

    @extend_schema(request=CorpusUpdateSerializer, responses=CorpusSerializer)
    def patch(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        data = _valid(CorpusUpdateSerializer, request.data, partial=True)
        corpus = services.update_corpus(corpus=corpus, **data)
        return Response(CorpusSerializer(corpus, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        services.delete_corpus(corpus=corpus)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ImageListApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=ImageSerializer(many=True))
    def get(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        paginator = ImagePagination()
        page = paginator.paginate_queryset(corpus.images.order_by("-id"), request, view=self)
        data = ImageSerializer(page, many=True, context=_image_context(request, corpus)).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ImageUpload",
                {
                    "images": serializers.ListField(child=serializers.FileField()),
                    "metadata": serializers.CharField(
                        required=False,
                        help_text='JSON text: {"<filename>": {"tags": ["..."], "caption": '
                        '"...", "metadata": {...}}}. A file whose entry is invalid, and a '
                        "name that matches no file, are listed in 'rejected'.",
                    ),
                },
            )
        },
        responses={202: IngestReportSerializer},
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        check_request_size(request)
        uploads = request.FILES.getlist("images")
        if not uploads:
            raise InvalidInput("Send one or more image files in the multipart field 'images'.")
        raw_metadata = request.data.get("metadata")
        annotations = parse_metadata_field(raw_metadata) if raw_metadata else None
        report = services.ingest_files(
            corpus=corpus, files=[(f.name, f) for f in uploads], annotations=annotations
        )
        body = IngestReportSerializer(report, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImageBulkDeleteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ImageBulkDeleteSerializer,
        responses=ImageBulkDeleteResultSerializer,
        description="Delete many images of one's own corpus at once (the index follows).",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        ids = _valid(ImageBulkDeleteSerializer, request.data)["ids"]
        deletion = services.delete_images_by_id(corpus=corpus, image_ids=ids)
        return Response({"deleted": deletion.deleted, "not_found": deletion.not_found})


class ImageDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=ImageSerializer)
    def get(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        return Response(ImageSerializer(record, context=_image_context(request, corpus)).data)

    @extend_schema(
        request=ImageUpdateSerializer,
        responses=ImageSerializer,
        description="Change an image's tags, caption or free metadata (owner only).",
    )
    def patch(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        data = _valid(ImageUpdateSerializer, request.data, partial=True)
        record = services.update_image(record=record, **data)
        return Response(ImageSerializer(record, context=_image_context(request, corpus)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        services.delete_images(corpus=corpus, image_ids=[record.pk])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageFileApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    thumbnail = False

    @extend_schema(
        responses={(200, "image/*"): bytes, 304: None},
        description="The stored original, as uploaded. Sends an ETag; If-None-Match → 304.",
    )
    def get(self, request: Request, corpus_id: int, image_id: int) -> HttpResponse:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        return image_file_response(request, corpus, record, thumbnail=self.thumbnail)


class ImageThumbnailApi(ImageFileApi):
    thumbnail = True

    @extend_schema(
        responses={(200, "image/webp"): bytes, 304: None},
        description="A WebP thumbnail, 320 px on the long side (the picture upright). Sends an "
        "ETag; If-None-Match → 304.",
    )
    def get(self, request: Request, corpus_id: int, image_id: int) -> HttpResponse:
        return super().get(request, corpus_id, image_id)


class CorpusExportApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={(200, "application/zip"): bytes},
        description="Every image of the corpus and a manifest.json, as one ZIP (owner only).",
    )
    def get(self, request: Request, corpus_id: int) -> StreamingHttpResponse:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        return corpus_zip_response(corpus)


class TokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        tokens.revoke_token(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _image_context(request: Request, corpus) -> dict:
    return {
        "request": request,
        "show_location": selectors.may_see_location(user=request.user, corpus=corpus),
    }

def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
