"""Forms of the corpora pages. They only parse input; services do the checking that matters."""

from __future__ import annotations

from django import forms
from django.conf import settings

from corpora.encoder_options import encoder_choices
from corpora.models import Corpus, Visibility


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
        help_text="What turns your images into vectors; it cannot change later. Lite0 is "
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
