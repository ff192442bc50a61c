"""Quiet start-up: TensorFlow's and ScaNN's native logging (CUDA probes, oneDNN notices,
cpu_feature_guard, ScaNN's tree-training lines) is silenced unless ``LOG_LEVEL=DEBUG``.
``quiet_native_logging`` is called first thing by ``manage.py`` (every command and the
worker), ``wsgi.py`` and ``asgi.py``; settings.LOGGING quiets the Python-side loggers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

# C++ logging of TensorFlow (and ScaNN, which logs through it): 3 = errors that also surface as
# Python exceptions are the only thing left, so the "failed call to cuInit" probe is hidden too.
NATIVE_QUIET_LEVELS = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}


def debug_logging(environ: MutableMapping[str, str] = os.environ) -> bool:
    return environ.get("LOG_LEVEL", "").strip().upper() == "DEBUG"


def quiet_native_logging(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the native libraries' log levels in ``environ`` (keeping any value already set
    there) and absl's Python verbosity, before TensorFlow is imported."""
    if debug_logging(environ):
        return
    for name, value in NATIVE_QUIET_LEVELS.items():
        environ.setdefault(name, value)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)


# absl's C++ log line: severity letter, MMDD, time, thread, file:line] message.
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} ")
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called"
_LEVELS = {"I": logging.DEBUG, "W": logging.DEBUG, "E": logging.ERROR, "F": logging.CRITICAL}
_redirect_lock = threading.Lock()


@contextmanager
def native_stderr_to_log(logger_name: str) -> Iterator[None]:
    """Catch what native code (ScaNN's absl C++ logging, which no setting reaches) writes to
    file descriptor 2 while the block runs, and pass it to the Python logger ``logger_name``:
    absl's info and warning lines at DEBUG, errors at ERROR, anything else unchanged to stderr.
    With ``LOG_LEVEL=DEBUG`` nothing is redirected."""
    if debug_logging():
        yield
        return
    with _redirect_lock, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            _forward(sink.read().decode(errors="replace"), logging.getLogger(logger_name))


def _forward(text: str, logger: logging.Logger) -> None:
    for line in text.splitlines():
        if not line.strip() or line.startswith(_ABSL_PREINIT):
            continue
        match = _ABSL_LINE.match(line)
        if match:
            logger.log(_LEVELS[match.group(1)], line)
        else:  # another thread's output, or a library's own: not ours to hide
            sys.stderr.write(line + "\n")
