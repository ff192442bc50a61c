"""Search pages: results for an uploaded query image, "more like this" for a stored one, and a
corpus's near-duplicate groups."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods
from PIL import Image

from corpora import selectors
from corpora.models import Corpus, ImageRecord
from corpora.validation import validate_image_bytes
from crier_site.errors import (
    CrierError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from crier_site.views import page_errors
from search.duplicates import DEFAULT_THRESHOLD, DuplicateReport, find_duplicates
from search.regions import Region
from search.services import SearchResult, search_image, search_similar

DEFAULT_K = 24
PREVIEW_SIDE = 320
DUPLICATE_GROUPS_SHOWN = 60


@dataclass(frozen=True)
class Row:
    rank: int
    record: ImageRecord
    score: float


@require_http_methods(["GET", "POST"])
@page_errors
def results(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """GET shows the search form; POST searches with the uploaded ``image``."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    if request.method == "GET":
        return _render(request, corpus)
    try:
        _check_rate(request)
        k = _parse_k(request.POST.get("k"))
        region = Region.parse(request.POST["region"]) if request.POST.get("region") else None
        data = _read_upload(request)
        result = search_image(corpus=corpus, image=io.BytesIO(data), k=k, region=region)
    except NotFound:
        raise
    except CrierError as exc:
        return _render(request, corpus, error=exc, status=exc.status_code)
    preview = _preview_data_url(data, region)
    return _render(request, corpus, result=result, query_src=preview, region=region)


@require_GET
@page_errors
def similar(request: HttpRequest, corpus_id: int, image_id: int) -> HttpResponse:
    """Images most like one of the corpus's own, itself left out."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    try:
        k = _parse_k(request.GET.get("k"))
        result = search_similar(corpus=corpus, record_id=record.pk, k=k)
    except NotFound:
        raise
    except CrierError as exc:
        return _render(request, corpus, query_record=record, error=exc, status=exc.status_code)
    return _render(request, corpus, query_record=record, result=result)


@dataclass(frozen=True)
class DuplicateRow:
    score: float
    records: list[ImageRecord]


@require_GET
@page_errors
def duplicates(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """Groups of near-duplicate images in the corpus, at a threshold the visitor can change."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    raw = request.GET.get("threshold") or DEFAULT_THRESHOLD
    report: DuplicateReport | None = None
    error: CrierError | None = None
    try:
        _check_rate(request)
        report = find_duplicates(corpus=corpus, threshold=raw)
    except CrierError as exc:
        error = exc
    rows: list[DuplicateRow] = []
    if report is not None:
        shown = report.groups[:DUPLICATE_GROUPS_SHOWN]
        records = corpus.images.in_bulk([pk for group in shown for pk in group.record_ids])
        for group in shown:
            members = [records[pk] for pk in group.record_ids if pk in records]
            if len(members) > 1:
                rows.append(DuplicateRow(group.score, members))
    context = {
        "corpus": corpus,
        "report": report,
        "rows": rows,
        "hidden_groups": len(report.groups) - len(rows) if report else 0,
        "threshold": report.threshold if report else raw,
        "is_owner": corpus.owner_id == request.user.pk,
        "error": error,
        "counts": selectors.corpus_counts(corpus=corpus) if error else None,
    }
    return render(
        request, "search/duplicates.html", context, status=error.status_code if error else 200
    )


def _render(
    request: HttpRequest,
    corpus: Corpus,
    *,
    result: SearchResult | None = None,
    query_src: str | None = None,
    query_record: ImageRecord | None = None,
    region: Region | None = None,
    error: CrierError | None = None,
    status: int = 200,
) -> HttpResponse:
    rows: list[Row] = []
    if result is not None:
        records = corpus.images.in_bulk([hit.record_id for hit in result.hits])
        rows = [
            Row(rank, records[hit.record_id], hit.score)
            for rank, hit in enumerate(result.hits, start=1)
            if hit.record_id in records
        ]
    context = {
        "corpus": corpus,
        "result": result,
        "rows": rows,
        "query_src": query_src,
        "query_record": query_record,
        "region": region,
        "error": error,
        "counts": selectors.corpus_counts(corpus=corpus) if error else None,
    }
    return render(request, "search/results.html", context, status=status)


def _check_rate(request: HttpRequest) -> None:
    """Anonymous searches share the API's budget (CRIER_ANON_SEARCH_RATE) per client address."""
    from search.api import AnonymousSearchThrottle

    throttle = AnonymousSearchThrottle()
    if not throttle.allow_request(request, None):
        wait = throttle.wait()
        raise TooManyRequests(
            "Too many searches from your address; try again in "
            f"{int(wait or 60)} seconds, or log in."
        )


def _parse_k(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_K
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput("The number of results must be a whole number.") from None


def _read_upload(request: HttpRequest) -> bytes:
    upload = request.FILES.get("image")
    if upload is None:
        raise InvalidInput("Choose an image to search with.")
    limit = settings.CRIER_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise PayloadTooLarge(f"The image is larger than the {limit // 2**20} MiB allowed.")
    data = upload.read()
    validate_image_bytes(data)  # the same checks and messages as for images added to a corpus
    return data


def _preview_data_url(data: bytes, region: Region | None = None) -> str | None:
    """A small re-encoded copy of the query (of its region, if one was searched) for the page;
    never the uploaded bytes themselves."""
    from search.preprocessing import open_image

    try:
        image = open_image(data)
        if region is not None:
            image = region.crop(image)
    except CrierError:
        return None
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
