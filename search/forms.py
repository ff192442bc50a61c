"""Forms of the search pages. They only turn what a person typed into the values that
``search.queries.filters.validate_filters`` (the API's rules) checks; errors come back on the
fields."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import QueryDict

from corpora.metadata import split_tags
from crier_site.errors import InvalidInput
from search.queries.filters import METADATA_PREFIX, ImageFilters, metadata_fields, validate_filters


class DateInput(forms.DateInput):
    input_type = "date"


class FilterForm(forms.Form):
    """The filter controls of every results page: tags, label, taken after/before, camera and
    metadata key=value pairs. ``filters()`` answers the validated ``ImageFilters``."""

    tags = forms.CharField(
        required=False,
        help_text="Images with all of these tags; separate several with commas.",
    )
    label = forms.CharField(
        required=False,
        label="Predicted label",
        help_text="A thing the model recognised, e.g. “cat” or “tabby cat”.",
    )
    taken_after = forms.CharField(required=False, label="Taken on or after", widget=DateInput)
    taken_before = forms.CharField(required=False, label="Taken on or before", widget=DateInput)
    camera = forms.CharField(
        required=False, help_text="Words of the camera's make or model, e.g. “canon”."
    )
    metadata = forms.CharField(
        required=False,
        label="Other details",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="key=value, one per line: images whose details hold that key with that value.",
    )

    def __init__(self, data: QueryDict | None = None, *, id_prefix: str = "filter") -> None:
        super().__init__(_only_filters(data), auto_id=f"{id_prefix}-%s")

    @property
    def in_use(self) -> bool:
        """Whether any filter was given (or refused): the controls are then shown open."""
        return self.is_bound and (bool(self.errors) or any(self.data.get(f) for f in self.fields))

    def filters(self) -> ImageFilters | None:
        """The validated filters (empty ones when none are given); ``None`` when they were
        refused, the reason added to the field it concerns."""
        if not self.is_bound:
            return ImageFilters()
        if not self.is_valid():
            return None
        data = dict(self.cleaned_data)
        data["tags"] = split_tags(data["tags"])
        data["metadata"] = [line for line in data["metadata"].splitlines() if line.strip()]
        try:
            return validate_filters(data)
        except InvalidInput as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
            return None

    def as_query(self) -> str:
        """The filters as typed, as a query string (for the next page of these results)."""
        if not self.is_bound:
            return ""
        return urlencode([(name, self.data[name]) for name in self.fields if self.data.get(name)])


def _only_filters(data: QueryDict | None) -> dict | None:
    """The filter fields of a request's data as the form's text (None when it has none: an
    unbound form). The API's spellings work in links too: ``tags`` repeated, ``metadata``
    repeated and ``metadata.<key>=<value>``."""
    if data is None:
        return None
    single = ("label", "taken_after", "taken_before", "camera")
    fields = {name: data.get(name, "") for name in single}
    fields["tags"] = ", ".join(tag for tag in data.getlist("tags") if tag)
    pairs = [pair for pair in data.getlist("metadata") if pair]
    for name, values in metadata_fields(data).items():
        pairs += [f"{name[len(METADATA_PREFIX) :]}={value}" for value in values]
    fields["metadata"] = "\n".join(pairs)
    return fields if any(fields.values()) else None
