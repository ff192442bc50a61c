"""Forms of the search pages. They only turn what a person typed into the values that
``search.queries.filters.validate_filters`` (the API's rules) checks; errors come back on the
fields."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import QueryDict

from crier_site.errors import InvalidInput
from search.queries.filters import ImageFilters, filter_specs, validate_filters


class FilterForm(forms.Form):
    """The filter controls of every results page: one field per declared filter
    (``search.queries.filters.FILTERS``: tags, label, taken after/before, camera, metadata
    key=value pairs). ``filters()`` answers the validated ``ImageFilters``."""

    def __init__(self, data: QueryDict | None = None, *, id_prefix: str = "filter") -> None:
        super().__init__(_only_filters(data), auto_id=f"{id_prefix}-%s")
        for name, spec in filter_specs().items():
            self.fields[name] = spec.new_form_field()

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
        specs = filter_specs()
        data = {
            name: specs[name].from_form_value(value)
            for name, value in self.cleaned_data.items()
            if name in specs
        }
        try:
            filters = validate_filters(data)
            values = {name: getattr(filters, name) for name in specs}
            for spec in specs.values():
                if spec.form_check is not None:  # a person typed them: say so, not find nothing
                    spec.form_check(values)
        except InvalidInput as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
            return None
        return filters

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
    fields = {name: spec.text_of(data) for name, spec in filter_specs().items()}
    return fields if any(fields.values()) else None
