"""/about/: the project page, rendered from docs/about.md with the ``markdown`` package.

Raw HTML in the markdown is escaped, never passed through: the page shows exactly what the text
says, and nothing in a document can add markup or scripts to the site. Figures are referenced
as ``img/<name>.png`` and served from docs/img/.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import markdown
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

ABOUT_PAGE = Path(settings.BASE_DIR) / "docs" / "about.md"
FIGURES = Path(settings.BASE_DIR) / "docs" / "img"
FIGURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.png$")


def render_markdown(text: str) -> SafeString:
    """Markdown (tables and fenced code included) to HTML, with any raw HTML escaped."""
    converter = markdown.Markdown(extensions=["tables", "fenced_code"], output_format="html")
    # Python-Markdown passes raw HTML through by default; without these two it is text.
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    return mark_safe(converter.convert(text))  # safe: raw HTML was escaped above


@lru_cache(maxsize=4)
def _about_html(modified_ns: int) -> SafeString:
    return render_markdown(ABOUT_PAGE.read_text(encoding="utf-8"))


def about(request: HttpRequest) -> HttpResponse:
    html = _about_html(ABOUT_PAGE.stat().st_mtime_ns)
    return render(request, "about.html", {"content": html})


def about_figure(request: HttpRequest, name: str) -> FileResponse:
    path = FIGURES / name
    if not FIGURE_NAME.match(name) or not path.is_file():
        raise Http404("No such figure.")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response
