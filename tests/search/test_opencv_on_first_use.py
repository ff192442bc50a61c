"""OpenCV is imported by copy search on first use only (search/copies/opencv.py): a web process
with copy search off never loads it (32-44 MiB of resident memory each, docs/benchmarks.md
"Refactor check"). The URL patterns and the views, on the contrary, are loaded as a web worker
starts (crier_site/wsgi.py), not by its first request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from search.copies.parts import picture_boxes

ROOT = Path(__file__).resolve().parents[2]

LOAD_THE_WEB_APP = """
import sys
import django
django.setup()
import crier_site.wsgi
print("crier_site.urls" in sys.modules)  # the web worker loads its views as it starts
import search.api, search.services, search.encoding.job
print("cv2" in sys.modules)
"""


def test_a_web_worker_loads_its_views_at_start_and_no_opencv():
    env = {
        **os.environ,
        "CRIER_COPY_SEARCH": "0",
        "DJANGO_SETTINGS_MODULE": "crier_site.settings",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", LOAD_THE_WEB_APP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_copy_search_gets_opencv_when_it_runs():
    picture = Image.new("RGB", (400, 300), "white")
    picture.paste(Image.fromarray(np.full((120, 160, 3), 40, np.uint8)), (60, 50))
    boxes = picture_boxes(picture)  # OpenCV's contours
    assert boxes and "cv2" in sys.modules
