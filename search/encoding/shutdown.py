"""A cooperative stop for background jobs: set when the worker process is told to stop.

The ``qcluster`` command (``search/management/commands/qcluster.py``) installs a
multiprocessing event before it forks the django-q cluster, so every worker process shares it;
long jobs (the encoding job) check ``stop_requested()`` between batches, hand the rest of their
work to a fresh task and return, and the worker exits within seconds instead of being killed
with its task half done. Outside such a worker (the web server, tests) nothing sets it.
"""

from __future__ import annotations

from typing import Protocol


class _Event(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


_event: _Event | None = None


def install(event: _Event) -> None:
    global _event
    _event = event


def request_stop() -> None:
    if _event is not None:
        _event.set()


def stop_requested() -> bool:
    return _event is not None and _event.is_set()
