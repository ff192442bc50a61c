"""API shapes both apps show: ``corpora`` lists images with their predicted labels, ``search``
returns them with hits (and ``corpora`` may not import ``search``)."""

from __future__ import annotations

from rest_framework import serializers


class LabelSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="ImageNet class name, e.g. 'tabby cat'.")
    synonyms = serializers.ListField(child=serializers.CharField())
    probability = serializers.FloatField(min_value=0, max_value=1)
