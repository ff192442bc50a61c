from django.conf import settings
from django.http import HttpRequest


def site_flags(request: HttpRequest) -> dict[str, bool]:
    """Site-wide switches the templates need (the sign-up links)."""
    return {"signup_open": settings.CRIER_ALLOW_SIGNUP}
