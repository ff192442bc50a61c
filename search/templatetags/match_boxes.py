"""Where a copy matches, drawn on a picture: an SVG laid over it (class ``match-overlay``) with
the matched box as a rectangle. SVG geometry is attributes, not inline styles, so the
Content-Security-Policy (crier_site/middleware.py) lets it through and no script is needed."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html

register = template.Library()

_RECT = '<rect class="match-rect" data-match-box="{}" x="{}" y="{}" width="{}" height="{}"/>'


def _rect(box: Sequence[float], width: float = 1.0, height: float = 1.0) -> str:
    left, top, right, bottom = (float(v) for v in box)
    return format_html(
        _RECT,
        ",".join(f"{v:.4f}" for v in (left, top, right, bottom)),
        f"{left * width:.4f}",
        f"{top * height:.4f}",
        f"{(right - left) * width:.4f}",
        f"{(bottom - top) * height:.4f}",
    )


@register.simple_tag
def match_overlay(box: Sequence[float]) -> str:
    """An SVG filling its positioned parent (the picture's frame) with ``box`` (fractions
    left, top, right, bottom) outlined."""
    return format_html(
        '<svg class="match-overlay" viewBox="0 0 1 1" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false">{}</svg>',
        _rect(box),
    )


@register.simple_tag
def match_query(box: Sequence[float], width: int, height: int) -> str:
    """A small picture of the query (the page's ``#query-picture``, defined once) with ``box``
    outlined: where a copy matches the query."""
    return format_html(
        '<svg class="match-query" viewBox="0 0 {w} {h}" aria-hidden="true" focusable="false">'
        '<use href="#query-picture"/>{rect}</svg>',
        w=width,
        h=height,
        rect=_rect(box, width, height),
    )


@register.simple_tag
def query_picture(src: str, width: int, height: int) -> str:
    """The query picture once, for every tile's ``match_query`` to show."""
    return format_html(
        '<svg class="query-picture-defs" aria-hidden="true" focusable="false" width="0" '
        'height="0"><defs><image id="query-picture" href="{}" width="{}" height="{}" '
        'preserveAspectRatio="none"/></defs></svg>',
        src,
        width,
        height,
    )
