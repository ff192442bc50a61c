"""Serving stored image bytes, one image or a whole corpus as a ZIP. Callers check permissions
first (see corpora.selectors)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseNotModified, StreamingHttpResponse

from corpora import thumbnails
from corpora.filenames import ascii_header_name
from corpora.models import Corpus, ImageRecord
from crier_site.errors import NotFound

# Only the browser may keep a copy (never a shared cache: a corpus can turn private). The
# bytes behind a URL never change while the image exists, so a day is safe; after that the
# browser revalidates with If-None-Match and gets a 304.
CACHE_CONTROL = "private, max-age=86400"


def image_file_response(
    request: HttpRequest,
    corpus: Corpus,
    record: ImageRecord,
    *,
    thumbnail: bool = False,
    attachment: bool = False,
) -> FileResponse | HttpResponseNotModified:
    """The image's stored bytes (or its thumbnail), with an ETag; 304 when the client's copy
    is current; ``attachment``: saved under its own name rather than shown. Callers check that
    the user may read ``corpus``."""
    etag = f'"{record.sha256}{f"-thumb{thumbnails.VERSION}" if thumbnail else ""}"'
    current = _etags(request.headers.get("If-None-Match", ""))
    if etag in current or "*" in current:
        response = HttpResponseNotModified()
    else:
        response = _file(record, thumbnail=thumbnail, attachment=attachment)
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    return response


def _file(record: ImageRecord, *, thumbnail: bool, attachment: bool = False) -> FileResponse:
    if thumbnail and not thumbnails.ensure(record):  # made now if the backfill has not yet
        raise NotFound("The image file is missing.")
    field, content_type = (
        (record.thumbnail, thumbnails.CONTENT_TYPE)
        if thumbnail
        else (record.file, record.content_type)
    )
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise NotFound("The image file is missing.") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    filename = ascii_header_name(record.original_filename)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, weak ones compared as strong (RFC 9110)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def corpus_zip_response(corpus: Corpus) -> StreamingHttpResponse:
    from corpora.export import archive_filename, stream_corpus_zip

    response = StreamingHttpResponse(stream_corpus_zip(corpus), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive_filename(corpus)}"'
    response["Cache-Control"] = "private, no-store"
    return response
