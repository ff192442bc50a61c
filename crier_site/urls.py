from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crier_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/token/", views.api_token, name="token"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("corpora/", include("corpora.urls")),
    path("search/", include("search.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("crier_site.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
