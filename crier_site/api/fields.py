"""Fields and small serializers the apps' API answers share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Primary keys are 64-bit (BigAutoField): larger numbers can name nothing, and some databases
# refuse them outright, so id fields say so.
MAX_ID = 2**63 - 1


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter: exactly ``true`` or ``false``, as the schema says."""

    TRUE_VALUES = {"true", True}
    FALSE_VALUES = {"false", False}
    NULL_VALUES = set()

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, str) and data in self.TRUE_VALUES | self.FALSE_VALUES:
            return data == "true"
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")


# The example {} is what Swagger UI's "Try it out" pre-fills (not made-up keys).
@extend_schema_field({"type": "object", "additionalProperties": {}, "example": {}})
class JSONObjectPartField(serializers.Field):
    """A multipart part whose text is a JSON object. Documented as an object, which OpenAPI
    clients send as a JSON part; ``parse`` turns the text into the object or raises."""

    def __init__(self, *, parse: Callable[[Any], dict], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parse = parse

    def to_internal_value(self, data: Any) -> dict:
        return self.parse(data)

    def to_representation(self, value: Any) -> Any:
        return value


class LabelSerializer(serializers.Serializer):
    """A predicted ImageNet label (docs/metadata.md), shown by both apps' image answers."""

    label = serializers.CharField(help_text="ImageNet class name, e.g. 'tabby cat'.")
    synonyms = serializers.ListField(child=serializers.CharField())
    probability = serializers.FloatField(min_value=0, max_value=1)
