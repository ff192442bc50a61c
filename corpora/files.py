"""Serving stored image bytes, one image or a whole corpus as a ZIP. Callers check permissions
first (see corpora.selectors)."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse

from corpora.filenames import ascii_header_name
from corpora.models import Corpus, ImageRecord
from crier_site.errors import NotFound


def image_file_response(corpus: Corpus, record: ImageRecord) -> FileResponse:
    try:
        handle = record.file.open("rb")
    except FileNotFoundError:
        raise NotFound("The image file is missing.") from None
    response = FileResponse(handle, content_type=record.content_type)
    # Private images must not sit in shared caches.
    response["Cache-Control"] = (
        "public, max-age=3600" if corpus.is_public else "private, max-age=3600"
    )
    response["X-Content-Type-Options"] = "nosniff"
    filename = ascii_header_name(record.original_filename)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def corpus_zip_response(corpus: Corpus) -> StreamingHttpResponse:
    from corpora.export import archive_filename, stream_corpus_zip

    response = StreamingHttpResponse(stream_corpus_zip(corpus), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive_filename(corpus)}"'
    response["Cache-Control"] = "private, no-store"
    return response
