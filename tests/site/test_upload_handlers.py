"""Request bodies are read 1 MiB at a time (crier_site/upload_handlers.py): gunicorn copies its
read-ahead buffer on every smaller read, which cost ~4 ms of CPU per camera photo."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import RequestFactory

from crier_site.upload_handlers import CHUNK_SIZE
from tests.factories import image_bytes


def test_uploads_are_parsed_in_chunks_of_a_mebibyte():
    data = image_bytes(seed=1, size=(1200, 1000), fmt="BMP")  # 3.6 MB, several chunks
    request = RequestFactory().post("/", {"image": io.BytesIO(data)})
    parser = MultiPartParser(
        request.META, io.BytesIO(request.body), request.upload_handlers, "utf-8"
    )
    assert parser._chunk_size == CHUNK_SIZE == 1 << 20
    _, files = parser.parse()
    assert files["image"].read() == data


@pytest.mark.parametrize("memory_limit", [10 << 20, 1 << 20])  # in memory, in a temporary file
def test_both_handlers_keep_the_bytes(settings, memory_limit):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
    data = image_bytes(seed=2, size=(1200, 1000), fmt="BMP")
    request = RequestFactory().post("/", {"image": io.BytesIO(data)})
    upload = request.FILES["image"]
    kind = InMemoryUploadedFile if memory_limit > len(data) else TemporaryUploadedFile
    assert isinstance(upload, kind) and upload.read() == data
