from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.negotiation import DefaultContentNegotiation

from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.views import admin_login
from crier_site import about, health, views

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.login = admin_login


class FormatParameterNegotiation(DefaultContentNegotiation):
    """``?format=json`` or ``?format=yaml`` picks the schema's format (the API itself takes no
    ``format`` parameter); otherwise the Accept header does, YAML by default."""

    def select_renderer(self, request, renderers, format_suffix=None):
        chosen = format_suffix or request.query_params.get("format")
        return super().select_renderer(request, renderers, format_suffix=chosen)


class SchemaView(SpectacularAPIView):
    content_negotiation_class = FormatParameterNegotiation


urlpatterns = [
    path("", views.home, name="home"),
    path("about/", about.about, name="about"),
    path("about/img/<str:name>", about.about_figure, name="about-figure"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("corpora/", include("corpora.urls")),
    path("search/", include("search.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("crier_site.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/schema.json", SpectacularJSONAPIView.as_view(), name="schema-json"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "crier_site.api.envelope.not_found"
handler500 = "crier_site.api.envelope.server_error"
