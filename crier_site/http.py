"""HTTP helpers shared by the apps' API and pages: the request-size check, and the one place
where page views turn domain errors into HTTP answers.

No business logic lives here; the API's error envelope is
``crier_site.api.envelope.api_exception_handler``, the image URLs ``crier_site.api.links``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

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
