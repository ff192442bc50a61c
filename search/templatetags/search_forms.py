"""What the search form (templates/search/_search_form.html) offers on every page it is on."""

from __future__ import annotations

from django import template

from search.forms import FilterForm
from search.queries.params import PAGE_K, PAGE_K_CHOICES, Page

register = template.Library()


@register.simple_tag
def search_options(page: Page | None = None) -> dict:
    """The k choices and the values to pre-select: those of the search just made, if any."""
    if not isinstance(page, Page):  # no search made on this page yet
        return {"k_choices": PAGE_K_CHOICES, "k": PAGE_K, "min_score": ""}
    min_score = "" if page.min_score is None else f"{page.min_score:g}"
    return {"k_choices": PAGE_K_CHOICES, "k": page.k, "min_score": min_score}


@register.simple_tag
def filter_controls(form: FilterForm | None = None) -> FilterForm:
    """The filter form a view made (holding what was sent), else an empty one."""
    return form if isinstance(form, FilterForm) else FilterForm()
