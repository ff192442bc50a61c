"""HTTP helpers shared by the apps' API and pages: request-size checks, the URLs of images,
and the one place where page views turn domain errors into HTTP answers.

No business logic lives here; the API's error envelope is ``crier_site.api.api_exception_handler``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from crier_site.errors import CorpusNotFound, CrierError, NotFound, PayloadTooLarge


def check_request_size(request: HttpRequest) -> None:
    """Refuse (413) a request whose declared body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    before anything reads it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length > limit:
        raise PayloadTooLarge(
            f"The request is {length / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB."
        )


def absolute_url(context: dict, path: str) -> str:
    """``path`` made absolute with the serializer context's request, if it has one."""
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def image_url(context: dict, record) -> str:
    """The API URL of an image record (anything with ``corpus_id`` and ``pk``)."""
    return absolute_url(context, reverse("api:image-detail", args=[record.corpus_id, record.pk]))


def image_file_url(context: dict, record) -> str:
    """The API URL of an image record's bytes."""
    return absolute_url(context, reverse("api:image-file", args=[record.corpus_id, record.pk]))


def image_thumbnail_url(context: dict, record) -> str:
    """The API URL of an image record's thumbnail (for grids: never load the original)."""
    route = reverse("api:image-thumbnail", args=[record.corpus_id, record.pk])
    return absolute_url(context, route)


def page_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """NotFound becomes the 404 page; any other CrierError a page with its message and status.

    A signed-out visitor who reads a corpus the site will not show them (private, or not there:
    both look the same, so nothing leaks) is sent to sign in and back instead; whoever is signed
    in still gets the 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            if (
                isinstance(exc, CorpusNotFound)
                and not request.user.is_authenticated
                and request.method in ("GET", "HEAD")
            ):
                return redirect_to_login(request.get_full_path())
            raise Http404(exc.message) from None
        except CrierError as exc:
            return render(request, "error.html", {"error": exc}, status=exc.status_code)

    return wrapper
