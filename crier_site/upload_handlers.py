"""Django's upload handlers, reading request bodies 1 MiB at a time instead of 64 KiB.

The multipart parser reads ``wsgi.input`` in its handlers' chunk size. gunicorn buffers up to
1 MiB per recv() and, on each smaller read, copies what it still holds: read 64 KiB at a time,
a 3.4 MB camera photo cost the web process ~4 ms of CPU before the view ran, 1 MiB reads about a
third of that (docs/benchmarks.md "Camera photos"). Everything else is Django's behaviour: a
request up to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` is kept in memory, larger ones go to temporary
files.
"""

from __future__ import annotations

from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

CHUNK_SIZE = 1024 * 1024


class MemoryUploadHandler(MemoryFileUploadHandler):
    chunk_size = CHUNK_SIZE


class TemporaryUploadHandler(TemporaryFileUploadHandler):
    chunk_size = CHUNK_SIZE
