"""REST endpoints of corpora and their images (/api/v1/corpora/...). Thin: parse, check
permissions through selectors, call one service, shape the answer with a serializer."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from corpora import selectors, services, trash
from corpora.files import corpus_zip_response, image_file_response
from corpora.serializers import (
    CorpusCreateSerializer,
    CorpusListQuerySerializer,
    CorpusSerializer,
    CorpusUpdateSerializer,
    ImageBulkDeleteResultSerializer,
    ImageBulkDeleteSerializer,
    ImageSerializer,
    ImageUpdateSerializer,
    ImageUploadSerializer,
    IngestReportSerializer,
    TrashedImagesRestoredSerializer,
    TrashedImagesSerializer,
    TrashEmptiedSerializer,
    TrashSerializer,
    trash_response,
)
from crier_site.api.operations import api_operation
from crier_site.api.pagination import paginated_response
from crier_site.http import check_request_size


def _binary(status_code: int, media_type: str) -> dict:
    """Bytes of ``media_type`` (the Content-Type sent). Also documented as
    application/octet-stream, the binary type that generated clients (openapi-python-client)
    read as bytes rather than leaving unparsed."""
    return {
        (status_code, media_type): OpenApiTypes.BINARY,
        (status_code, "application/octet-stream"): OpenApiTypes.BINARY,
    }


class CorpusListApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [JSONParser]

    @api_operation(query=CorpusListQuerySerializer, responses=CorpusSerializer(many=True))
    def get(self, request: Request, query: dict) -> Response:
        listed = selectors.visible_corpora if query["public"] else selectors.owned_corpora
        corpora = listed(user=request.user).select_related("owner").with_counts()
        return Response(CorpusSerializer(corpora, many=True, context={"request": request}).data)

    @api_operation(request=CorpusCreateSerializer, responses={201: CorpusSerializer}, errors=[409])
    def post(self, request: Request) -> Response:
        data = _valid(CorpusCreateSerializer, request.data)
        corpus = services.create_corpus(owner=request.user, **data)
        body = CorpusSerializer(corpus, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CorpusDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [JSONParser]

    @api_operation(responses=CorpusSerializer)
    def get(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        return Response(CorpusSerializer(corpus, context={"request": request}).data)

    @api_operation(request=CorpusUpdateSerializer, responses=CorpusSerializer, errors=[409])
    def patch(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        data = _valid(CorpusUpdateSerializer, request.data, partial=True)
        corpus = services.update_corpus(corpus=corpus, **data)
        return Response(CorpusSerializer(corpus, context={"request": request}).data)

    @api_operation(
        responses={204: None},
        description="Move the corpus, with its images, to your trash (GET /api/v1/trash/): "
        "hidden everywhere, restorable for CRIER_TRASH_DAYS days, then deleted for good.",
    )
    def delete(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        services.delete_corpus(corpus=corpus)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CorpusRetryApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        request=None,
        responses={202: CorpusSerializer},
        description="Index the corpus again (owner only): after a failure, its `status_message` "
        "says why; images that could not be encoded are tried again and the index is rebuilt.",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        corpus = services.retry_indexing(corpus=corpus)
        body = CorpusSerializer(corpus, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImageListApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [MultiPartParser]

    @api_operation(responses=ImageSerializer(many=True), paginated=True)
    def get(self, request: Request, corpus_id: int, query: dict) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=corpus.images.order_by("-id"),
            serializer_class=ImageSerializer,
            context=_image_context(request, corpus),
        )

    @api_operation(
        request={"multipart/form-data": ImageUploadSerializer},
        responses={202: IngestReportSerializer},
        errors=[503, 507],
        description="Upload image files; each is accepted, a duplicate of one already in the "
        "corpus, or rejected (with the reason). Accepted images are then indexed in the "
        "background: watch the corpus's `status`. A fault of the server (a full disk: 507, a "
        "read-only disk or the database unavailable: 503, with `Retry-After`) stops the "
        "storing: the files it kept from being stored are rejected with its message, and if "
        "none was stored the answer is that error, with `rejected` listing every file.",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        check_request_size(request)
        annotations = _valid(ImageUploadSerializer, request.data).get("metadata")
        uploads = request.FILES.getlist("images")
        report = services.ingest_files(
            corpus=corpus, files=[(f.name, f) for f in uploads], annotations=annotations
        )
        body = IngestReportSerializer(report, context={"request": request}).data
        fault = services.nothing_stored_because(report)
        if fault is not None:  # 507 or 503 with what to do, and each file's fate
            raise type(fault)(fault.message, **fault.details, rejected=body["rejected"])
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImageBulkDeleteApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @api_operation(
        request=ImageBulkDeleteSerializer,
        responses=ImageBulkDeleteResultSerializer,
        description="Move many images of one's own corpus to the trash at once (the index "
        "follows; restore them from GET /api/v1/trash/).",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        ids = _valid(ImageBulkDeleteSerializer, request.data)["ids"]
        deletion = services.delete_images_by_id(corpus=corpus, image_ids=ids)
        return Response({"deleted": deletion.deleted, "not_found": deletion.not_found})


class ImageDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [JSONParser]

    @api_operation(responses=ImageSerializer)
    def get(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        return Response(ImageSerializer(record, context=_image_context(request, corpus)).data)

    @api_operation(
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

    @api_operation(
        responses={204: None},
        description="Move the image to your trash (restorable for CRIER_TRASH_DAYS days).",
    )
    def delete(self, request: Request, corpus_id: int, image_id: int) -> Response:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        services.delete_images(corpus=corpus, image_ids=[record.pk])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageFileApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    thumbnail = False

    @api_operation(
        responses={**_binary(200, "image/*"), 304: None},
        description="The stored original, as uploaded. Sends an ETag; If-None-Match → 304.",
    )
    def get(self, request: Request, corpus_id: int, image_id: int) -> HttpResponse:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
        return image_file_response(request, corpus, record, thumbnail=self.thumbnail)


class ImageThumbnailApi(ImageFileApi):
    thumbnail = True

    @api_operation(
        responses={**_binary(200, "image/webp"), 304: None},
        description="A WebP thumbnail, 320 px on the long side (the picture upright). Sends an "
        "ETag; If-None-Match → 304.",
    )
    def get(self, request: Request, corpus_id: int, image_id: int) -> HttpResponse:
        return super().get(request, corpus_id, image_id)


class CorpusExportApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        responses=_binary(200, "application/zip"),
        errors=[403],
        description="Every image of the corpus and a manifest.json, as one ZIP (owner only).",
    )
    def get(self, request: Request, corpus_id: int) -> StreamingHttpResponse:
        corpus = selectors.get_writable_corpus(user=request.user, corpus_id=corpus_id)
        return corpus_zip_response(corpus)


def _image_context(request: Request, corpus) -> dict:
    return {
        "request": request,
        "show_location": selectors.may_see_location(user=request.user, corpus=corpus),
    }


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- the trash (corpora/trash.py): the owner's own, nobody else's --------------------------------


class TrashApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        responses=TrashSerializer,
        description="What you deleted and can still restore: corpora, and images of your other "
        "corpora, newest first, each with when it will be deleted for good.",
    )
    def get(self, request: Request) -> Response:
        contents = trash.trash_of(owner=request.user)
        context = {"request": request}
        return Response(trash_response(contents, days=trash.trash_days(), context=context))


class TrashEmptyApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        request=None,
        responses=TrashEmptiedSerializer,
        description="Delete everything in your trash for good, at once (files, vectors, rows).",
    )
    def post(self, request: Request) -> Response:
        purged = trash.empty_trash(owner=request.user)
        return Response({"corpora": purged.corpora, "images": purged.images})


class TrashedCorpusApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        responses={204: None},
        description="Delete a corpus in your trash for good, with its images.",
    )
    def delete(self, request: Request, corpus_id: int) -> Response:
        corpus = trash.trashed_corpus(owner=request.user, corpus_id=corpus_id)
        trash.purge_corpus(corpus=corpus)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrashedCorpusRestoreApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        request=None,
        responses=CorpusSerializer,
        description="Take a corpus out of the trash as it was (images, vectors, index). If "
        "another of your corpora took its name meanwhile it comes back as '<name> (restored)'.",
    )
    def post(self, request: Request, corpus_id: int) -> Response:
        corpus = trash.trashed_corpus(owner=request.user, corpus_id=corpus_id)
        corpus = trash.restore_corpus(corpus=corpus)
        return Response(CorpusSerializer(corpus, context={"request": request}).data)


class TrashedImageApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(responses={204: None}, description="Delete an image in your trash for good.")
    def delete(self, request: Request, image_id: int) -> Response:
        record = trash.trashed_image(owner=request.user, image_id=image_id)
        trash.purge_images(records=[record])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrashedImageRestoreApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        request=None,
        responses=ImageSerializer,
        description="Take an image out of the trash as it was (file, vector, tags): its corpus "
        "finds it again once the index has taken it back, without encoding it again.",
    )
    def post(self, request: Request, image_id: int) -> Response:
        record = trash.trashed_image(owner=request.user, image_id=image_id)
        trash.restore_images(records=[record])
        record.refresh_from_db()
        context = _image_context(request, record.corpus)
        return Response(ImageSerializer(record, context=context).data)


class TrashedImagesRestoreApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @api_operation(
        request=TrashedImagesSerializer,
        responses=TrashedImagesRestoredSerializer,
        description="Take many images out of the trash at once, as they were (no re-encoding); "
        "ids not in your trash are named in not_found.",
    )
    def post(self, request: Request) -> Response:
        ids = _valid(TrashedImagesSerializer, request.data)["ids"]
        records = trash.trashed_images(owner=request.user, image_ids=ids)
        restored = trash.restore_images(records=records)
        found = {record.pk for record in records}
        return Response({"restored": restored, "not_found": sorted(set(ids) - found)})


class TrashedImageThumbnailApi(APIView):
    permission_classes = [IsAuthenticated]

    @api_operation(
        responses={(200, "image/webp"): bytes, 304: None},
        description="The thumbnail of an image in your trash.",
    )
    def get(self, request: Request, image_id: int) -> HttpResponse:
        record = trash.trashed_image(owner=request.user, image_id=image_id)
        return image_file_response(request, record.corpus, record, thumbnail=True)
