from django.contrib import admin
from django.urls import include, path

from crier_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("corpora/", include("corpora.urls")),
    path("admin/", admin.site.urls),
]
