"""Settings for the test suite: the real settings, with tasks run inline and fast hashing.

The e2e tests start a real server and worker with ``crier_site.settings`` instead.
"""

from crier_site.settings import *  # noqa: F403
from crier_site.settings import Q_CLUSTER

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
