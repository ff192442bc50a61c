"""Django settings for CRIER. Every knob comes from the environment; see README "Settings"."""

from __future__ import annotations

import os
from pathlib import Path

from crier_site.env import (
    cache_config,
    env_bool,
    env_choice,
    env_int,
    env_list,
    load_or_create_secret_key,
    parse_database_url,
    q_cluster_config,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- storage -------------------------------------------------------------------------------------
DATA_DIR = Path(os.environ.get("CRIER_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Uploaded image files. Never served as plain media: every byte goes through a view that checks
# the corpus's permissions, so there is deliberately no MEDIA_URL route.
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media-not-served/"
CRIER_INDEX_DIR = Path(os.environ.get("CRIER_INDEX_DIR") or DATA_DIR / "indices").resolve()
CRIER_MODEL_DIR = Path(os.environ.get("CRIER_MODEL_DIR") or DATA_DIR / "models").resolve()
# /readyz fails when the media or index directory has less free space than this (MB).
CRIER_MIN_FREE_MB = env_int("CRIER_MIN_FREE_MB", 500)

# --- core ----------------------------------------------------------------------------------------
SECRET_KEY = load_or_create_secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crier_site",
    "accounts",
    "corpora",
    "search",
    # After search: its `qcluster` command (a supervisor that stops the cluster on a group
    # signal, see search/management/commands/qcluster.py) must win over django-q's own.
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crier_site.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view's disk or database fault → 507/503 with Retry-After (crier_site/faults.py).
    "crier_site.faults.FaultMiddleware",
]

ROOT_URLCONF = "crier_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crier_site.context_processors.site_flags",
            ],
        },
    },
]

WSGI_APPLICATION = "crier_site.wsgi.application"
ASGI_APPLICATION = "crier_site.asgi.application"

DATABASES = {"default": parse_database_url(os.environ.get("DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = cache_config(os.environ.get("CRIER_REDIS_URL"))

# --- the internet-facing side ---------------------------------------------------------------
# How many reverse proxies in front of CRIER append to X-Forwarded-For. 0: the client address is
# the connection's REMOTE_ADDR and the header is ignored (it is trivially forged).
CRIER_TRUSTED_PROXIES = env_int("CRIER_TRUSTED_PROXIES", 0)
# CRIER_HTTPS=true: the site is only reached over HTTPS, usually through a reverse proxy that
# terminates TLS and sets X-Forwarded-Proto (which must then strip a client's own copy).
CRIER_HTTPS = env_bool("CRIER_HTTPS", False)
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CRIER_HTTPS
SECURE_HSTS_SECONDS = env_int("CRIER_HSTS_SECONDS", 365 * 24 * 3600) if CRIER_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = CRIER_HTTPS
SECURE_HSTS_PRELOAD = CRIER_HTTPS and env_bool("CRIER_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CRIER_HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes may come over plain HTTP
CRIER_ALLOW_SIGNUP = env_bool("CRIER_ALLOW_SIGNUP", True)
# Failed sign-ins (login page and token API together) allowed per client address and per
# username, and sign-up attempts per client address: "count/period", period s, m, h or d,
# optionally with a multiplier ("10/15m").
CRIER_SIGNIN_FAILURES_PER_ADDRESS = os.environ.get("CRIER_SIGNIN_FAILURES_PER_ADDRESS", "30/15m")
CRIER_SIGNIN_FAILURES_PER_USERNAME = os.environ.get("CRIER_SIGNIN_FAILURES_PER_USERNAME", "10/15m")
CRIER_SIGNUP_RATE = os.environ.get("CRIER_SIGNUP_RATE", "10/h")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    # Django's file system storage, writing each file under a temporary name first.
    "default": {"BACKEND": "corpora.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

# --- uploads -------------------------------------------------------------------------------------
CRIER_MAX_UPLOAD_BYTES = env_int("CRIER_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)  # one image file
CRIER_MAX_IMAGE_PIXELS = env_int("CRIER_MAX_IMAGE_PIXELS", 50_000_000)  # width × height
CRIER_MAX_FILES_PER_UPLOAD = env_int("CRIER_MAX_FILES_PER_UPLOAD", 500)
# A whole multipart request may carry many images.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CRIER_MAX_REQUEST_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = CRIER_MAX_FILES_PER_UPLOAD
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_HANDLERS = [  # Django's own, reading 1 MiB at a time (crier_site/upload_handlers.py)
    "crier_site.upload_handlers.MemoryUploadHandler",
    "crier_site.upload_handlers.TemporaryUploadHandler",
]

# --- encoders and indices ------------------------------------------------------------------------
CRIER_ENCODER = os.environ.get("CRIER_ENCODER", "efficientnet-lite0")
CRIER_ENCODE_BATCH_SIZE = env_int("CRIER_ENCODE_BATCH_SIZE", 32)
# Images per network call inside a batch; the fastest value depends on the CPU (README's
# settings table and docs/benchmarks.md; benchmarks/encoder_throughput.py --slices measures it).
CRIER_INFERENCE_SLICE = env_int("CRIER_INFERENCE_SLICE", 4)
# What runs the neural encoders: "litert" (default; the verified .tflite that `encoder prepare`
# converts beside each SavedModel, else TensorFlow) or "tensorflow" (always TensorFlow).
CRIER_RUNTIME = env_choice("CRIER_RUNTIME", {"litert", "tensorflow"}, "litert")
# Threads of each LiteRT interpreter (one interpreter per thread that encodes).
CRIER_LITERT_THREADS = env_int("CRIER_LITERT_THREADS", min(4, len(os.sched_getaffinity(0))))
# Images per LiteRT interpreter call; 1 was fastest for Lite0 on a quiet 2-core machine.
CRIER_LITERT_BATCH = env_int("CRIER_LITERT_BATCH", 1)
# Corpora with at least this many vectors get the tree + asymmetric hashing ScaNN configuration;
# smaller ones are searched by ScaNN's exact brute force.
CRIER_ANN_THRESHOLD = env_int("CRIER_ANN_THRESHOLD", 20_000)
# α-query expansion: re-search with the query averaged with its top N hits (0 = off).
CRIER_QUERY_EXPANSION = env_int("CRIER_QUERY_EXPANSION", 0)
# Copy search (docs/copies.md): a query is also searched turned, mirrored and by its parts, and
# the first CRIER_COPY_VERIFY_DEPTH hits are verified with local features (copies first).
CRIER_COPY_SEARCH = env_bool("CRIER_COPY_SEARCH", True)
CRIER_COPY_VERIFY_DEPTH = env_int("CRIER_COPY_VERIFY_DEPTH", 20)
# ... and the first CRIER_COPY_WORDS_DEPTH candidates by visual words (search.copies.words_index)
# not among them (0: none).
CRIER_COPY_WORDS_DEPTH = env_int("CRIER_COPY_WORDS_DEPTH", 10)
CRIER_TEMP_CORPUS_MAX_MINUTES = env_int("CRIER_TEMP_CORPUS_MAX_MINUTES", 60 * 24 * 30)
# Days a deleted corpus or image stays in its owner's trash before it is purged (docs/trash.md).
CRIER_TRASH_DAYS = env_int("CRIER_TRASH_DAYS", 30)

# --- background tasks (django-q2) ----------------------------------------------------------------
# Seconds one background task may run; the encoding job hands over to a fresh task after half.
CRIER_TASK_TIMEOUT = env_int("CRIER_TASK_TIMEOUT", 1800)
# While uploads keep coming, the encoding job encodes them as they arrive and builds the index
# when they pause, or after this many seconds at most (0: after every batch it finds).
CRIER_INDEX_BUILD_INTERVAL = env_int("CRIER_INDEX_BUILD_INTERVAL", 2)
Q_CLUSTER = q_cluster_config(
    os.environ.get("CRIER_REDIS_URL"),
    workers=env_int("CRIER_WORKERS", 1),
    timeout=CRIER_TASK_TIMEOUT,
)
# Seconds `manage.py qcluster` waits for running tasks after SIGTERM/SIGINT before killing them.
CRIER_WORKER_STOP_TIMEOUT = env_int("CRIER_WORKER_STOP_TIMEOUT", 10)
if env_bool("CRIER_TASKS_SYNC", False):
    Q_CLUSTER["sync"] = True

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # JSON only, as the schema says (the interactive docs are Swagger UI at /api/docs/), and no
    # `?format=` override: every query parameter is declared (crier_site/api/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "crier_site.api.schema.CrierAutoSchema",
    "EXCEPTION_HANDLER": "crier_site.api.envelope.api_exception_handler",
    "NUM_PROXIES": CRIER_TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "anon_search": os.environ.get("CRIER_ANON_SEARCH_RATE", "30/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRIER API",
    "DESCRIPTION": "Custom Reverse Image Extractions Ranked: build and search image corpora.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components apart: uploads are binary in requests (not URLs).
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.schema.optional_security_is_inherited",
    ],
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
# TensorFlow's and absl's Python loggers repeat start-up chatter: warnings only, unless DEBUG
# (their native logging is quieted in crier_site/quiet.py, before TensorFlow loads).
_LIBRARY_LOG_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "ERROR"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "tensorflow": {"level": _LIBRARY_LOG_LEVEL},
        "absl": {"level": _LIBRARY_LOG_LEVEL},
    },
}
