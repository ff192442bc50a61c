from django.apps import AppConfig


class CrierSiteConfig(AppConfig):
    """The project package as an app: it owns the shared cache table's migration and the
    site-wide pages (home, about, health), never domain models."""

    name = "crier_site"
    verbose_name = "CRIER site"
