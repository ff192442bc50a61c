"""``manage.py qcluster``: django-q's cluster behind a small supervisor that stops it on a signal.

django-q2's own command hangs when SIGTERM or SIGINT reaches every process of its group, as
systemd's default ``KillMode=control-group``, container runtimes and Ctrl-C deliver it: its
sentinel process resets SIGTERM to the default action and dies at once, and the main process
then waits forever in ``stop_event.set()`` (a multiprocessing Condition's notify waits for the
dead sleeper to wake up). Its workers die mid-task with the corpus's lease held.

This command replaces django-q's (``search`` is listed before ``django_q`` in INSTALLED_APPS)
with the same cluster started one process down, in a process group of its own, while this
process stays in front of it as a supervisor. A SIGTERM or SIGINT to the supervisor, alone or
with its group:

1. sets the shared stop flag (``search.encoding.shutdown``): a running encoding job hands the
   rest of its corpus to a fresh task at the next batch, releases its lease and returns;
2. forwards one SIGTERM to the cluster's main process only — django-q's orderly path: the
   pusher stops taking tasks, the workers finish (soon, thanks to the flag), the monitor saves
   and acknowledges their results;
3. after ``CRIER_WORKER_STOP_TIMEOUT`` seconds, or at a second signal, kills whatever of the
   cluster still runs (SIGKILL). A job killed that way (e.g. in the middle of a long index
   build) leaves its lease to run out, and the recovery schedule resumes the corpus.

The supervisor exits 0 after a requested stop, and with the cluster's exit code (non-zero) if the
cluster ended by itself, so a service manager restarts it.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess

from django import db
from django.conf import settings
from django_q.management.commands.qcluster import Command as DjangoQClusterCommand

from search.encoding import shutdown

POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Command(DjangoQClusterCommand):
    help = (
        "Starts the django-q cluster (the background worker) behind a supervisor that stops it "
        "within CRIER_WORKER_STOP_TIMEOUT seconds on SIGTERM or SIGINT, even when the signal "
        "reaches the whole process group."
    )

    def handle(self, *args, **options) -> None:
        context = multiprocessing.get_context("fork")
        stop = context.Event()
        shutdown.install(stop)  # inherited by every process the cluster forks
        db.connections.close_all()  # the cluster must not share this process's connections
        cluster = context.Process(
            target=self._run_cluster, args=(args, options), name="qcluster-main", daemon=False
        )
        signals: list[int] = []
        previous = {
            signum: signal.signal(signum, lambda signum, frame: signals.append(signum))
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            cluster.start()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.setpgid(cluster.pid, cluster.pid)  # also done in the child: no race
            code = supervise(cluster, stop, signals, settings.CRIER_WORKER_STOP_TIMEOUT)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if code:
            raise SystemExit(code)

    def _run_cluster(self, args, options) -> None:
        supervisor = os.getppid()
        with contextlib.suppress(PermissionError):
            os.setpgid(0, 0)
        for signum in (signal.SIGTERM, signal.SIGINT):  # not the supervisor's, inherited
            signal.signal(signum, signal.SIG_DFL)
        _stop_when_parent_dies(supervisor)
        super().handle(*args, **options)


def supervise(cluster: BaseProcess, stop, signals: list[int], stop_timeout: float) -> int:
    """Wait for a signal (or the cluster's own end), then stop the cluster; its exit status."""
    while cluster.is_alive() and not signals:
        cluster.join(POLL_SECONDS)
    if not signals:
        _kill_group(cluster.pid)  # the cluster ended by itself: leave no orphan behind
        return cluster.exitcode or 1
    stop.set()
    with contextlib.suppress(ProcessLookupError):
        os.kill(cluster.pid, signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    while cluster.is_alive() and time.monotonic() < deadline and len(signals) < 2:
        cluster.join(POLL_SECONDS)
    _kill_group(cluster.pid)
    cluster.join()
    return 0


def _stop_when_parent_dies(parent: int) -> None:
    """Linux: SIGTERM this process (django-q's orderly stop) if the supervisor is killed, so no
    cluster runs on unsupervised."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of the cluster's process group (workers that outlived it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
