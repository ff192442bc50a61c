"""/accounts/ — the account pages (Django's own password pages included)."""

from django.urls import include, path

from accounts import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("token/", views.api_token, name="token"),
    path("", include("django.contrib.auth.urls")),
]
