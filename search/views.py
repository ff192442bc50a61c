"""Search pages: results for an uploaded query image, "more like this" for a stored one, and a
corpus's near-duplicate groups."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from corpora import selectors
from corpora.models import Corpus, ImageRecord
from corpora.validation import read_limited
from crier_site.errors import CrierError, InvalidInput, NotFound, TooManyRequests
from crier_site.http import page_errors
from search.copies.duplicates import DuplicateReport, DuplicateRow, duplicate_rows, find_duplicates
from search.copies.local import Match
from search.copies.matching import COPY, SIMILAR
from search.forms import FilterForm
from search.queries.filters import ImageFilters
from search.queries.params import DEFAULT_THRESHOLD, PAGE_K, Page, validate_page, validate_threshold
from search.queries.preview import query_preview_data_url
from search.queries.regions import Region
from search.selectors import get_searched_corpus
from search.services import (
    SearchResult,
    compare_file,
    compare_images,
    search_image,
    search_similar,
)
from search.text.ranking import TextSearchResult, text_search

DUPLICATE_GROUPS_SHOWN = 60


@dataclass(frozen=True)
class Row:
    rank: int
    record: ImageRecord
    score: float
    match: Match | None = None  # a verified copy of the query: where it matches

    @property
    def kind(self) -> str:
        return COPY if self.match is not None else SIMILAR


@require_http_methods(["GET", "POST"])
@page_errors
def results(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """GET shows the search form; POST searches with the uploaded ``image``."""
    corpus = get_searched_corpus(user=request.user, corpus_id=corpus_id)
    if request.method == "GET":
        return _render(request, corpus)
    filter_form = FilterForm(request.POST)
    try:
        _check_rate(request)
        page = _page(request.POST)
        region = Region.parse(request.POST["region"]) if request.POST.get("region") else None
        filters = _filters(filter_form)
        data = _read_upload(request)
        result = search_image(corpus=corpus, image=data, page=page, region=region, filters=filters)
    except NotFound:
        raise
    except CrierError as exc:
        return _render(request, corpus, filter_form=filter_form, error=exc, status=exc.status_code)
    preview = query_preview_data_url(result.query_picture)
    return _render(
        request,
        corpus,
        result=result,
        query_src=preview,
        region=region,
        page=page,
        filter_form=filter_form,
    )


@require_GET
@page_errors
def similar(request: HttpRequest, corpus_id: int, image_id: int) -> HttpResponse:
    """Images most like one of the corpus's own, itself left out."""
    corpus = get_searched_corpus(user=request.user, corpus_id=corpus_id)
    record = selectors.get_image(corpus=corpus, image_id=image_id)
    filter_form = FilterForm(request.GET)
    shown = {"query_record": record, "filter_form": filter_form}
    try:
        _check_rate(request)
        page = _page(request.GET)
        filters = _filters(filter_form)
        result = search_similar(corpus=corpus, record_id=record.pk, page=page, filters=filters)
    except NotFound:
        raise
    except CrierError as exc:
        return _render(request, corpus, **shown, error=exc, status=exc.status_code)
    return _render(request, corpus, **shown, result=result, page=page)


@require_GET
@page_errors
def text_results(request: HttpRequest, corpus_id: int | None = None) -> HttpResponse:
    """Images found by words (``q``): in one corpus, or in every corpus the visitor may see
    (their own and the public ones), with the same filters and paging as the image search."""
    corpus = None
    if corpus_id is not None:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    corpora = (
        Corpus.objects.filter(pk=corpus.pk)
        if corpus is not None
        else selectors.visible_corpora(user=request.user)
    )
    filter_form = FilterForm(request.GET, id_prefix="text-filter")
    context: dict = {"corpus": corpus, "q": request.GET.get("q", ""), "filter_form": filter_form}
    result: TextSearchResult | None = None
    error: CrierError | None = None
    if "q" in request.GET or filter_form.is_bound:
        try:
            _check_rate(request)
            page = _page(request.GET)
            filters = _filters(filter_form)
            result = text_search(corpora=corpora, q=context["q"], filters=filters, page=page)
            context["search_page"] = page
        except CrierError as exc:
            error = exc
    context |= {
        "result": result,
        "error": error,
        "q_error": error.message if error and error.details.get("field") == "q" else None,
    }
    status = error.status_code if error else 200
    return render(request, "search/text_results.html", context, status=status)


@require_GET
@page_errors
def duplicates(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """Groups of near-duplicate images in the corpus, at a threshold the visitor can change."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    raw = request.GET.get("threshold")
    report: DuplicateReport | None = None
    error: CrierError | None = None
    rows: list[DuplicateRow] = []
    try:
        _check_rate(request)
        report = find_duplicates(corpus=corpus, threshold=validate_threshold(raw))
        rows = duplicate_rows(corpus=corpus, report=report, limit=DUPLICATE_GROUPS_SHOWN)
    except CrierError as exc:
        error = exc
    context = {
        "corpus": corpus,
        "report": report,
        "rows": rows,
        "hidden_groups": len(report.groups) - len(rows) if report else 0,
        "threshold": report.threshold if report else (raw or DEFAULT_THRESHOLD),
        "is_owner": corpus.owner_id == request.user.pk,
        "error": error,
        "counts": selectors.corpus_counts(corpus=corpus) if error else None,
    }
    return render(
        request, "search/duplicates.html", context, status=error.status_code if error else 200
    )


@require_http_methods(["GET", "POST"])
@page_errors
def compare(request: HttpRequest, corpus_id: int) -> HttpResponse:
    """Two pictures side by side: whether the second (``b``, an image of the corpus) is a copy
    of the first (``a``, another image of it; or with POST an uploaded ``image``), with the
    matched region drawn on both and how much of each it covers."""
    corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
    _check_rate(request)
    if request.method == "POST":
        b = _image_id(request.POST, "b")
        comparison = compare_file(corpus=corpus, image=_read_upload(request), other_id=b)
    else:
        a, b = (_image_id(request.GET, name) for name in ("a", "b"))
        comparison = compare_images(corpus=corpus, image_id=a, other_id=b)
    match = comparison.match
    query, picture = comparison.query, comparison.query_picture
    sides = [
        CompareSide("a", query, *(query.width, query.height) if query else picture.size,
                    match.query_box if match else None, query_preview_data_url(picture)),
        CompareSide("b", comparison.target, comparison.target.width, comparison.target.height,
                    match.target_box if match else None),
    ]  # fmt: skip
    context = {"corpus": corpus, "comparison": comparison, "match": match, "sides": sides}
    return render(request, "search/compare.html", context)


@dataclass(frozen=True)
class CompareSide:
    label: str  # "a" or "b"
    record: ImageRecord | None  # None: the uploaded picture
    width: int
    height: int
    box: tuple[float, ...] | None  # where it matches the other, as fractions
    preview: str | None = None  # an upload's preview (data URL)

    @property
    def name(self) -> str:
        return self.record.original_filename if self.record else "your picture"


def _image_id(data: QueryDict, name: str) -> int:
    raw = data.get(name, "")
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise InvalidInput(f"'{name}' must be the id of an image of this corpus.")
    return int(raw)


def _render(
    request: HttpRequest,
    corpus: Corpus,
    *,
    result: SearchResult | None = None,
    query_src: str | None = None,
    query_record: ImageRecord | None = None,
    region: Region | None = None,
    page: Page | None = None,
    filter_form: FilterForm | None = None,
    error: CrierError | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = [
        Row(rank, hit.record, hit.score, hit.match)
        for rank, hit in enumerate(
            result.hits if result is not None else [],
            start=result.offset + 1 if result is not None else 1,
        )
    ]
    query_size = None  # the query picture's proportions, for the copies' query strips
    if query_record is not None:
        query_size = (query_record.thumbnail_width, query_record.thumbnail_height)
    elif result is not None and result.query_picture is not None:
        query_size = result.query_picture.size
    context = {
        "corpus": corpus,
        "result": result,
        "rows": rows,
        # Copies of the query first (the service ranks them so), then the look-alikes.
        "copy_rows": [row for row in rows if row.match is not None],
        "similar_rows": [row for row in rows if row.match is None],
        "query_size": query_size,
        "query_picture_src": query_src
        or (
            reverse("corpora:image_thumbnail", args=[corpus.pk, query_record.pk])
            if query_record is not None
            else None
        ),
        "query_src": query_src,
        "query_record": query_record,
        "region": region,
        "search_page": page,
        "filter_form": filter_form or FilterForm(),
        "restore_query": request.method == "POST",  # search.js puts the kept picture back
        "error": error,
        "counts": selectors.corpus_counts(corpus=corpus) if error else None,
    }
    return render(request, "search/results.html", context, status=status)


def _page(data: QueryDict) -> Page:
    return validate_page(
        k=data.get("k"),
        offset=data.get("offset"),
        min_score=data.get("min_score"),
        default_k=PAGE_K,
    )


def _filters(form: FilterForm) -> ImageFilters:
    """The form's filters, or the refusal that sends the visitor to the fields it names."""
    filters = form.filters()
    if filters is None:
        raise InvalidInput("A filter could not be used; see the filters.")
    return filters


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


def _read_upload(request: HttpRequest) -> bytes:
    upload = request.FILES.get("image")
    if upload is None:
        raise InvalidInput("Choose an image to search with.")
    return read_limited(upload, declared_size=upload.size)
