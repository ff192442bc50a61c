"""The account pages: sign up, log in (limited, ``accounts.forms``), log out and API keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import keys
from accounts.forms import ApiKeyForm, ThrottledAuthenticationForm
from accounts.throttling import check_signup_allowed
from crier_site.errors import NotFound, TooManyRequests


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "accounts/login.html"

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        return _throttled(super().form_invalid(form), form)


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin site's own login (its form is ``ThrottledAdminAuthenticationForm``), with the
    login page's 429 when sign-ins are throttled."""
    response = AdminSite.login(admin.site, request, extra_context)
    context = getattr(response, "context_data", None) or {}
    return _throttled(response, context.get("form"))


def _throttled(response: HttpResponse, form: object) -> HttpResponse:
    """A sign-in page refused for too many failures answers 429 with ``Retry-After``."""
    wait = getattr(form, "retry_after_seconds", 0)
    if wait:
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
    return response


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"


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
    return render(request, "accounts/signup.html", {"form": form}, status=status)


NEW_KEY_SESSION_KEY = "accounts:new-api-key"


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """The user's API keys: listed, made (the key is shown once, on the next page view) and
    revoked."""
    form = ApiKeyForm()
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            try:
                keys.revoke_key(user=request.user, key_id=int(request.POST.get("key_id", "")))
            except (ValueError, NotFound):
                messages.error(request, "No such API key.")
            else:
                messages.success(request, "The API key was revoked; it no longer works.")
            return redirect("token")
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            new = keys.create_key(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
            )
            request.session[NEW_KEY_SESSION_KEY] = {"id": new.api_key.pk, "token": new.secret}
            return redirect("token")
    new_key = request.session.pop(NEW_KEY_SESSION_KEY, None)
    context = {"form": form, "keys": keys.keys_of(user=request.user), "new_key": new_key}
    return render(request, "accounts/token.html", context, status=400 if form.errors else 200)
