import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from crier_site.quiet import quiet_native_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crier_site.settings")
quiet_native_logging()  # before the apps load (and with them, TensorFlow)
application = get_wsgi_application()
# The URL patterns, and every view and API schema module they import, are loaded as each web
# worker starts rather than by the first request it serves: Django does that lazily, and since
# the views pull in drf-spectacular and search's packages, a fresh worker's first upload waited
# 1.5-2 s longer (docs/benchmarks.md, "Refactor check").
get_resolver().url_patterns  # noqa: B018
