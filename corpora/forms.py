"""Forms of the corpora pages. They only parse input; services do the checking that matters."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.http import QueryDict

from corpora.encoder_options import encoder_choices
from corpora.metadata import (
    MAX_CAPTION_LENGTH,
    MAX_DATA_BYTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    split_tags,
)
from corpora.models import Corpus, ImageRecord, Visibility


class CorpusForm(forms.Form):
    name = forms.CharField(max_length=Corpus._meta.get_field("name").max_length)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    visibility = forms.ChoiceField(
        choices=Visibility.choices,
        initial=Visibility.PRIVATE,
        help_text="Anyone can search a public corpus and see its photos' details, including "
        "the GPS position a camera stored in them; only you can change it. In a private "
        "corpus the position is shown to you alone.",
    )
    expires_in_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        label="Delete automatically after (minutes)",
        help_text="Leave empty to keep the corpus until you delete it.",
    )

    encoder = forms.ChoiceField(
        required=False,  # empty: the site's default
        label="Model",
        help_text="What turns your images into vectors (changeable later). Lite0 is "
        "the fastest.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["encoder"].choices = encoder_choices()
        self.fields["encoder"].initial = settings.CRIER_ENCODER
        self.fields["expires_in_minutes"].max_value = settings.CRIER_TEMP_CORPUS_MAX_MINUTES
        self.fields["expires_in_minutes"].widget.attrs["max"] = (
            settings.CRIER_TEMP_CORPUS_MAX_MINUTES
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """A file field that takes many files at once and cleans to a list."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        # Each file is judged by the ingestion service, so one empty or bad file is reported
        # next to the others instead of failing the whole upload.
        return files


class UploadForm(forms.Form):
    images = MultipleImageField(
        label="Images to add",
        help_text="Choose one or many images (JPEG, PNG, WebP, GIF, BMP or TIFF).",
    )

    def clean_images(self) -> list:
        images = self.cleaned_data["images"]
        limit = settings.CRIER_MAX_FILES_PER_UPLOAD
        if len(images) > limit:
            raise forms.ValidationError(f"At most {limit} files per upload, please.")
        return images


class ImageEditForm(forms.Form):
    """The image page's form: tags, caption and free metadata as text. It only turns the text
    into values; ``services.update_image`` (the API's PATCH service) checks them."""

    tags = forms.CharField(
        required=False,
        help_text=f"Separated by commas, e.g. “beach, sunset”: at most {MAX_TAGS} tags of "
        f"{MAX_TAG_LENGTH} characters each.",
    )
    caption = forms.CharField(
        required=False,
        strip=False,  # the service trims it, as for the API
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"At most {MAX_CAPTION_LENGTH} characters.",
    )
    metadata = forms.CharField(
        required=False,
        label="Other details (JSON)",
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
        help_text=f'A JSON object, e.g. {{"roll": 3, "place": "Lisbon"}}, of at most '
        f"{MAX_DATA_BYTES} bytes. Empty: none.",
    )

    @classmethod
    def for_record(cls, record: ImageRecord, data: QueryDict | None = None) -> ImageEditForm:
        """The form filled with what the record holds now (``data``: what was sent)."""
        initial = {
            "tags": ", ".join(record.tags),
            "caption": record.caption,
            "metadata": record.metadata_text,
        }
        return cls(data, initial=initial, auto_id="image-%s")

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])

    def clean_metadata(self) -> dict | object:
        text = self.cleaned_data["metadata"].strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}.") from None

    def changes(self) -> dict:
        """The cleaned values of the fields whose text changed: the PATCH this form stands
        for (an untouched field keeps its stored value exactly, e.g. a tag holding a comma)."""
        return {name: self.cleaned_data[name] for name in self.changed_data}
