"""Helpers shared by the API tests."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile


def upload_file(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]


def as_file(data: bytes, name: str = "query.png") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle
