"""The account pages: sign up, log in (limited, ``accounts.forms``), log out and the API token."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import tokens
from accounts.forms import ThrottledAuthenticationForm
from accounts.throttling import check_signup_allowed
from crier_site.errors import TooManyRequests


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "accounts/login.html"

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after_seconds:
            response.status_code = 429
            response.headers["Retry-After"] = str(form.retry_after_seconds)
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
    return render(request, "accounts/token.html", {"token": token})
