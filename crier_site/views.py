"""Site-wide pages that belong to no app (home, sign-up, API token)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from corpora import selectors
from corpora.examples import get_example_corpus
from corpora.models import ImageStatus
from crier_site import tokens
from crier_site.errors import TooManyRequests
from crier_site.throttling import check_signup_allowed

EXAMPLE_TILES = 8


def home(request: HttpRequest) -> HttpResponse:
    corpus = get_example_corpus()
    examples = []
    if corpus is not None:
        examples = list(corpus.images.filter(status=ImageStatus.ENCODED)[:EXAMPLE_TILES])
    others = selectors.searchable_public_corpora(exclude_ids=(corpus.pk,) if corpus else ())
    context = {"corpus": corpus, "examples": examples, "public_corpora": others}
    return render(request, "home.html", context)


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.CRIER_ALLOW_SIGNUP:
        raise Http404("Sign-up is closed on this site.")
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            check_signup_allowed(request)
        except TooManyRequests as exc:
            form.is_valid()  # so that the form can carry the error
            form.add_error(None, exc.message)
            status = 429
        else:
            if form.is_valid():
                user = form.save()
                login(request, user)
                return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """See, create (or replace) and revoke the user's REST API token."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            tokens.replace_token(user=request.user)
            messages.success(request, "A new API token was created. Keep it secret.")
        elif action == "revoke":
            tokens.revoke_token(user=request.user)
            messages.success(request, "Your API token was revoked; it no longer works.")
        return redirect("token")
    token = tokens.current_token(user=request.user)
    return render(request, "token.html", {"token": token})
