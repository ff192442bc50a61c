"""Settings for the test suite: the real settings, with tasks run inline and fast hashing.

The e2e tests start a real server and worker with ``crier_site.settings`` instead.
"""

import os

from crier_site.settings import *  # noqa: F403
from crier_site.settings import DATA_DIR, DATABASES, Q_CLUSTER

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Each test starts with an empty cache of its own (pytest-django's ``settings`` fixture and
# tests/conftest.py clear it); the production selection (Redis or the database) is tested in
# tests/site/test_cache.py, and the e2e tests' server and worker use it for real.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    # Django's file system storage, writing each file under a temporary name first.
    "default": {"BACKEND": "corpora.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# SQLite's default test database lives in memory, where the e2e tests' server and worker
# (subprocesses) cannot see it: use a file instead, one per test run so that concurrent runs in
# the same checkout do not clobber each other. pytest-django deletes it at the end of the run.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-crier-{os.getpid()}.sqlite3")}

# The encoding job runs inline right after each upload here: it must not wait for more images
# (tests/search/test_encoding.py turns the wait on where it tests it).
CRIER_INDEX_BUILD_INTERVAL = 0
