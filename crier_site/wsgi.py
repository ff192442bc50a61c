import os

from django.core.wsgi import get_wsgi_application

from crier_site.quiet import quiet_native_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crier_site.settings")
quiet_native_logging()  # before the apps load (and with them, TensorFlow)
application = get_wsgi_application()
