"""Commands, the worker and the web server start without TensorFlow's or ScaNN's native log
noise unless LOG_LEVEL=DEBUG (crier_site/quiet.py). Checked the way a person sees it: by running
a management command and the WSGI module in a fresh process and reading its stderr."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from crier_site import quiet

# What TensorFlow and ScaNN print while starting on a CPU-only machine.
NOISE = re.compile(
    r"cpu_feature_guard|oneDNN|cuda|cuInit|absl::InitializeLog|partitioner|tensorflow/core"
)
# Imports TensorFlow, then trains a small ScaNN tree (which logs through absl's C++ logging).
LOAD_BOTH = (
    "import numpy as np, tensorflow as tf; from search.indices import scann_index; "
    "v = np.random.default_rng(0).random((600, 16), dtype=np.float32); "
    "v /= np.linalg.norm(v, axis=1, keepdims=True); "
    "scann_index.build_searcher(v, ann_threshold=10); print('built', tf.__version__ != '')"
)


def run_fresh(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TF_CPP_MIN_LOG_LEVEL", "LOG_LEVEL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="crier_site.settings",
        CRIER_DATA_DIR=str(tmp_path),
        CRIER_MODEL_DIR=str(settings.CRIER_MODEL_DIR),
        **extra,
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def manage_shell(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_fresh(["manage.py", "shell", "--no-imports", "-c", LOAD_BOTH], tmp_path, **extra)


def test_management_command_prints_only_its_own_output(tmp_path: Path) -> None:
    done = manage_shell(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "built True"
    assert not NOISE.search(done.stderr), done.stderr


def test_debug_log_level_lets_the_noise_through(tmp_path: Path) -> None:
    """The same command with LOG_LEVEL=DEBUG: proves the check above can fail."""
    done = manage_shell(tmp_path, LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert NOISE.search(done.stderr), done.stderr


def test_wsgi_application_starts_quietly(tmp_path: Path) -> None:
    done = run_fresh(["-c", f"import crier_site.wsgi; {LOAD_BOTH}"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not NOISE.search(done.stderr), done.stderr


def test_explicit_native_levels_are_kept() -> None:
    environ = {"TF_CPP_MIN_LOG_LEVEL": "1"}
    quiet.quiet_native_logging(environ)
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert environ["GRPC_VERBOSITY"] == "ERROR"
    untouched = {"LOG_LEVEL": "debug"}
    quiet.quiet_native_logging(untouched)
    assert untouched == {"LOG_LEVEL": "debug"}


def test_captured_native_lines_go_to_the_logger(monkeypatch, caplog) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.5   42 partitioner_factory_base.cc:58] Size of sampled dataset: 3000\n"
        "E0000 00:00:1.6   42 scann.cc:1] something broke\n"
        "a line that is not absl's\n"
    )
    with caplog.at_level(logging.DEBUG, logger="scann"):
        quiet._forward(text, logging.getLogger("scann"))
    levels = [(record.levelno, record.getMessage()[:1]) for record in caplog.records]
    assert levels == [(logging.DEBUG, "I"), (logging.ERROR, "E")]
    assert stderr.getvalue() == "a line that is not absl's\n"


@pytest.mark.parametrize("debug", [False, True])
def test_native_stderr_is_redirected_only_when_not_debugging(monkeypatch, capfd, debug) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG" if debug else "INFO")
    with quiet.native_stderr_to_log("scann"):
        os.write(2, b"I0000 00:00:1.5   42 native.cc:1] from C++\n")
    captured = capfd.readouterr().err
    assert ("from C++" in captured) is debug
