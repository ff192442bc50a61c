"""The production settings pass ``check --deploy``; every page carries a strict
Content-Security-Policy that its own markup obeys; CRIER_HTTPS switches the HTTPS settings on."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

from crier_site.middleware import CONTENT_SECURITY_POLICY
from tests.factories import make_corpus

# The production environment README and docs/deployment.md document.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "crier.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://crier.example.org",
    "CRIER_HTTPS": "true",
    "CRIER_TRUSTED_PROXIES": "1",
}


def run_manage(*args: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CRIER_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "crier_site.settings",
        "CRIER_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}
    done = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_warns_without_https(tmp_path):
    env = {**PRODUCTION_ENV, "CRIER_HTTPS": "false", "SECRET_KEY": secrets.token_urlsafe(50)}
    done = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


def test_https_setting_turns_on_redirects_secure_cookies_hsts_and_the_proxy_header(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.CRIER_TRUSTED_PROXIES, "
        "s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    done = run_manage("shell", "-c", code, env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == (
        "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') 1 1"
    ), done.stderr
    done = run_manage("shell", "-c", code, env={"DEBUG": "false"}, tmp_path=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "False False False 0 None 0 0", done.stderr


@pytest.mark.django_db
def test_health_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("home")).status_code == 301
    assert client.get(reverse("healthz")).status_code == 200


INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE),
    re.compile(r"<style", re.IGNORECASE),
    re.compile(r"\sstyle=", re.IGNORECASE),
    re.compile(r"\son[a-z]+=", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
]


@pytest.mark.django_db
def test_pages_carry_the_policy_and_no_inline_code(client, admin_user):
    corpus = make_corpus(admin_user)
    client.force_login(admin_user)
    pages = [
        reverse("home"),
        reverse("login"),
        reverse("signup"),
        reverse("token"),
        reverse("corpora:list"),
        reverse("corpora:detail", args=[corpus.pk]),
        reverse("api-docs"),
        reverse("admin:index"),
    ]
    for page in pages:
        response = client.get(page, follow=True)
        assert response.status_code == 200, page
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        html = response.content.decode()
        if page.startswith("/admin/"):
            continue  # Django's own admin; the browser tests check it against the policy
        for pattern in INLINE:
            assert not pattern.search(html), f"{page}: {pattern.pattern}"


def test_policy_is_strict():
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
