"""Every id that a page's aria-describedby (or aria-labelledby) names exists on that page, so
screen readers read the help and the errors of each field; help text is never marked safe."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import make_corpus

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.references: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            elif name in {"aria-describedby", "aria-labelledby"} and value:
                self.references += [(tag, ref) for ref in value.split()]


def dangling_references(html: str) -> list[tuple[str, str]]:
    parser = _Ids()
    parser.feed(html)
    return [(tag, ref) for tag, ref in parser.references if ref not in parser.ids]


def test_the_check_finds_a_dangling_reference():
    assert dangling_references('<input aria-describedby="x_help"><p id="x">') == [
        ("input", "x_help")
    ]


def test_sign_up_with_errors(client):
    response = client.post(reverse("signup"), {"username": "", "password1": "a", "password2": "b"})
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_password1_helptext' in html
    assert dangling_references(html) == []


def test_new_corpus_form_with_errors(client, user):
    client.force_login(user)
    response = client.post(reverse("corpora:list"), {"name": "", "expires_in_minutes": "0"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name_error"' in html and 'id="id_visibility_helptext"' in html
    assert dangling_references(html) == []


def test_corpus_page_with_an_upload_error(client, user, settings):
    settings.CRIER_MAX_FILES_PER_UPLOAD = 1
    client.force_login(user)
    corpus = make_corpus(user)
    files = [SimpleUploadedFile(f"{i}.png", b"x") for i in range(2)]
    response = client.post(reverse("corpora:upload", args=[corpus.pk]), {"images": files})
    assert response.status_code == 400
    assert dangling_references(response.content.decode()) == []


@pytest.mark.parametrize("name", ["login", "signup"])
def test_account_pages(client, name):
    assert dangling_references(client.get(reverse(name)).content.decode()) == []


def test_duplicates_and_search_pages(client, user):
    client.force_login(user)
    corpus = make_corpus(user)
    for url in (
        reverse("corpora:detail", args=[corpus.pk]),
        reverse("search:duplicates", args=[corpus.pk]),
        reverse("search:results", args=[corpus.pk]),
    ):
        assert dangling_references(client.get(url).content.decode()) == [], url


def test_no_template_marks_help_text_safe():
    marked = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if re.search(r"help_text\s*\|\s*safe", path.read_text())
    ]
    assert marked == []
