"""Pages of API results: the page query, the paginator, the paged answer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(
        required=False, min_value=1, default=1, help_text="A page number, from 1."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=500, default=50, help_text="Items per page."
    )


class CrierPagination(PageNumberPagination):
    """Page numbers; the query (page, page_size) is validated by :class:`PageQuerySerializer`
    before the paginator runs. A page past the last is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def paginated_response(
    *,
    request: Request,
    view: Any,
    queryset: QuerySet,
    serializer_class: type[serializers.BaseSerializer],
    context: dict[str, Any] | None = None,
) -> Response:
    """One page of ``queryset`` as ``{count, next, previous, results}``."""
    paginator = CrierPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {"request": request}).data
    return paginator.get_paginated_response(data)
