"""/about/ renders docs/about.md with the markdown package, raw HTML escaped, figures served."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crier_site.about import render_markdown

pytestmark = pytest.mark.django_db


def test_markdown_is_rendered_and_raw_html_is_escaped() -> None:
    html = render_markdown(
        "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        '<script>alert("x")</script>\n\nText with <b onclick="x()">inline</b> HTML.\n'
    )
    assert "<h1>Title</h1>" in html and "<table>" in html and "<td>1</td>" in html
    assert "<script" not in html and "<b " not in html
    assert "&lt;script&gt;" in html and "&lt;b onclick=" in html


def test_the_about_page_shows_the_project_page_and_its_figures(client) -> None:
    response = client.get(reverse("about"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>About CRIER</h1>" in page
    assert "<h2>How it works</h2>" in page and "<h2>The API in brief</h2>" in page
    assert "<table>" in page and "0.815 / 0.741 / 0.700" in page
    figures = re.findall(r'<img alt="[^"]+" src="(img/[^"]+\.png)"', page)
    assert len(figures) >= 2
    for figure in figures:
        image = client.get(reverse("about") + figure)
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        assert b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_only_figures_are_served(client) -> None:
    assert client.get("/about/img/missing.png").status_code == 404
    assert client.get("/about/img/..%2Fabout.md").status_code == 404
    assert client.get("/about/img/about.md").status_code == 404


def test_every_page_links_to_about_in_the_footer(client) -> None:
    page = client.get(reverse("home")).content.decode()
    footer = page[page.index("<footer") :]
    assert f'href="{reverse("about")}"' in footer
