"""Soak: mixed load with faults against gunicorn + two django-q workers on PostgreSQL and Redis,
then a check that nothing was lost, stuck, encoded twice or left behind.

    .venv/bin/python benchmarks/soak.py --database-url postgres://USER:PW@127.0.0.1/DB \\
        [--redis-url redis://127.0.0.1:6379/5] [--duration 3600] [--clients 16] \\
        [--restart-postgres] [--encoder efficientnet-lite0] [--json soak.json]

1. Mounts a data directory of its own (``--data-mb``, an ext4 loop file or else a tmpfs, so the
   disk can be filled without touching the real one), migrates the given PostgreSQL database
   (use one of its own: a user and corpora are added), empties the Redis broker's queue, and
   installs a trigger that logs every vector written for an image, whichever model holds it.
2. Starts two ``manage.py qcluster`` (one worker process each) and gunicorn
   (``crier_site/gunicorn_conf.py``), production settings, Redis as broker and cache; creates
   ``--corpora`` corpora of ``--seed-images`` tagged pictures each and waits until they are
   ready.
3. For ``--duration`` seconds ``--clients`` threads mix, by weight: search by an image, more
   like this, search by words, small uploads (1-4 tagged pictures), camera-size uploads (one
   4000x3000 JPEG from benchmarks/camera_photos.py, made distinct by a comment segment) and
   deletes of their own uploads; each pauses ~``--think`` s between requests. Meanwhile, scaled
   to the duration (an hour gets the issue's schedule): one qcluster SIGKILLed (every process)
   every ``duration/12`` (5 min per hour; at least 45 s), restarted 2 s later as systemd would;
   one gunicorn worker SIGKILLed at 40 %; with ``--restart-postgres`` only, PostgreSQL
   restarted at 60 % (``pg_ctlcluster --skip-systemctl-redirect 15 main restart``: every user
   of that server notices); the data disk filled at 75 % for ``duration/30`` (>= 20 s) and
   freed.
4. Drains: every service alive, every corpus ready, nothing pending, the Redis queue empty
   (``--drain-timeout``).
5. Checks and reports: every accepted image not deleted still there and encoded exactly once
   (the trigger's log), no image pending or failed, deleted images gone (to the trash: out of
   every read, their files kept until purged), no file in the corpora's media folders that no
   record refers to and none missing; the non-2xx answers inside and
   outside the fault windows (a window is the fault's time plus a grace: 10 s after a gunicorn
   worker is killed, 30 s after PostgreSQL is back, 15 s after the disk is freed; a worker kill
   has none, it must not show); p50/p99 per kind and per window of ``duration/12``. Exit code 1
   when a check fails. ``--json`` writes everything.

Only 127.0.0.1 is ever contacted. Everything started runs in its own session and is stopped at
the end, on an error, on Ctrl-C and after ``--max-seconds``; the data dir is unmounted and the
work dir removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from load import (
    PYTHON,
    ROOT,
    Service,
    Services,
    app_env,
    edited_copy,
    empty_broker,
    free_port,
    make_owner,
    manage,
    percentile,
    picture,
    stop_after,
    wait_until,
)

KINDS = ("search_image", "more_like_this", "text_search", "upload_small", "upload_camera", "delete")
WEIGHTS = {
    "search_image": 30,
    "more_like_this": 25,
    "text_search": 20,
    "upload_small": 12,
    "upload_camera": 2,
    "delete": 8,
}
WORDS = ("beach", "dog", "sunset", "city", "forest", "snow", "river", "market", "bridge", "cat")
ENCODE_LOG = "crier_soak_encode_log"
REDIS_QUEUE_KEY = "django_q:crier:q"
PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"]
GRACE_S = {"gunicorn_worker_killed": 10, "postgres_restarted": 30, "disk_full": 15}


# --- the data disk -----------------------------------------------------------------------------


class DataDisk:
    """A small file system of its own for CRIER_DATA_DIR, so filling it never fills the real
    disk: an ext4 loop file (sparse, no reserved blocks: the app runs as whoever runs this) or,
    where loop devices are not allowed, a tmpfs; None of both (not root): no disk fault."""

    def __init__(self, work: Path, size_mb: int) -> None:
        self.path = work / "data"
        self.path.mkdir(parents=True)
        self.image = work / "data.ext4"
        self.kind = ""
        self.fill_path = self.path / "soak-fill"
        self.size_mb = size_mb
        with open(self.image, "wb") as handle:
            handle.truncate(size_mb << 20)
        commands = [
            (
                "ext4 loop file",
                [["mkfs.ext4", "-q", "-F", "-m", "0", str(self.image)]],
                ["mount", "-o", "loop", str(self.image), str(self.path)],
            ),
            (
                "tmpfs",
                [],
                ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(self.path)],
            ),
        ]
        for kind, prepare, mount in commands:
            try:
                for command in prepare:
                    subprocess.run(command, check=True, capture_output=True, timeout=60)
                subprocess.run(mount, check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                continue
            self.kind = kind
            break
        if self.kind != "ext4 loop file":
            self.image.unlink(missing_ok=True)

    def fill(self) -> int:
        """Fill the file system up (bounded by its size); the bytes written."""
        fd = os.open(self.fill_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        written = 0
        try:
            free = shutil.disk_usage(self.path).free
            with contextlib.suppress(OSError):
                os.posix_fallocate(fd, 0, max(free - (1 << 20), 1))
                written = max(free - (1 << 20), 1)
            os.lseek(fd, written, os.SEEK_SET)
            chunk = b"\0" * (64 << 10)
            for _ in range(((self.size_mb + 16) << 20) // len(chunk)):  # at most the disk
                try:
                    written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
        return written

    def free(self) -> None:
        self.fill_path.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.kind:
            subprocess.run(["umount", "-l", str(self.path)], check=False, timeout=60)
        self.image.unlink(missing_ok=True)


# --- what the clients saw ----------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    start: float  # seconds since the load began
    end: float
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: str = ""


@dataclass
class Fault:
    name: str
    start: float
    end: float  # the window's end, grace included
    detail: str = ""


@dataclass
class Ledger:
    """Every request and its outcome, every image accepted and deleted, every fault."""

    t0: float = 0.0
    wall_t0: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    accepted: dict[int, int] = field(default_factory=dict)  # image id -> corpus id
    deleted: set[int] = field(default_factory=set)
    uncertain: set[int] = field(default_factory=set)  # a delete with no answer
    faults: list[Fault] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, text: str) -> None:
        line = f"[{self.now():7.1f} s] {text}"
        print(line, flush=True)
        with self.lock:
            self.events.append(line)


# --- the pictures ------------------------------------------------------------------------------


VECTOR_FIELD = "vector"  # search.models.ImageVector.vector

def tagged_upload(pictures: list[tuple[str, bytes]], rng: random.Random) -> dict:
    """The multipart parts of one upload: the files and their tags."""
    metadata = {name: {"tags": rng.sample(WORDS, 2)} for name, _ in pictures}
    return {
        "files": [("images", (name, data, "image/jpeg")) for name, data in pictures],
        "data": {"metadata": json.dumps(metadata)},
    }


def distinct_jpeg(data: bytes) -> bytes:
    """The same picture with a unique JPEG comment segment, so it is never a duplicate."""
    comment = f"soak {uuid.uuid4()}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def camera_photos(count: int, env: dict[str, str]) -> list[bytes]:
    """``count`` 4000x3000 JPEGs (made once by benchmarks/camera_photos.py into var/)."""
    folder = ROOT / "var" / "bench-camera"
    subprocess.run(
        [PYTHON, str(ROOT / "benchmarks" / "camera_photos.py"), str(folder), "--count", str(count)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return [path.read_bytes() for path in sorted(folder.glob("camera-*-v*.jpg"))[:count]]


# --- the clients -------------------------------------------------------------------------------


def run_clients(
    *,
    ledger: Ledger,
    base: str,
    token: str,
    corpora: dict[int, list[int]],
    queries: list[bytes],
    cameras: list[bytes],
    clients: int,
    think: float,
    stop: threading.Event,
) -> list[threading.Thread]:
    """Start ``clients`` threads; each stops at ``stop``. ``corpora``: corpus id -> the ids of
    its seed images (never deleted: more like this asks about them)."""
    names = list(WEIGHTS)
    weights = [WEIGHTS[name] for name in names]
    corpus_ids = sorted(corpora)
    serial = iter(range(10**9))
    serial_lock = threading.Lock()

    def next_name() -> str:
        with serial_lock:
            return f"soak-{next(serial)}.jpg"

    def client(number: int) -> None:
        rng = random.Random(number)
        mine: list[int] = []  # images this client uploaded and has not deleted
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            while not stop.is_set():
                kind = rng.choices(names, weights)[0]
                if kind == "delete" and not mine:
                    kind = "text_search"
                corpus_id = rng.choice(corpus_ids)
                api = f"{base}/api/v1/corpora/{corpus_id}"
                started = ledger.now()
                answer, error, doomed = None, "", None
                try:
                    if kind == "search_image":
                        answer = session.post(
                            f"{api}/search/",
                            files={"image": ("q.jpg", rng.choice(queries), "image/jpeg")},
                            data={"k": "10"},
                            timeout=120,
                        )
                    elif kind == "more_like_this":
                        answer = session.post(
                            f"{api}/search/similar/",
                            json={"image_id": rng.choice(corpora[corpus_id]), "k": 10},
                            timeout=120,
                        )
                    elif kind == "text_search":
                        url = f"{api}/search/" if rng.random() < 0.7 else f"{base}/api/v1/search/"
                        answer = session.get(url, params={"q": rng.choice(WORDS)}, timeout=120)
                    elif kind == "upload_small":
                        pictures = [
                            (next_name(), picture(rng.randrange(10**6, 10**9)))
                            for _ in range(rng.randint(1, 4))
                        ]
                        answer = session.post(
                            f"{api}/images/", **tagged_upload(pictures, rng), timeout=300
                        )
                    elif kind == "upload_camera":
                        photo = distinct_jpeg(rng.choice(cameras))
                        answer = session.post(
                            f"{api}/images/",
                            **tagged_upload([(next_name(), photo)], rng),
                            timeout=300,
                        )
                    else:
                        doomed = mine.pop(rng.randrange(len(mine)))
                        corpus_of = ledger.accepted[doomed]
                        answer = session.delete(
                            f"{base}/api/v1/corpora/{corpus_of}/images/{doomed}/", timeout=120
                        )
                except requests.RequestException as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                status = answer.status_code if answer is not None else 0
                ok = 200 <= status < 300
                body = "" if ok else (answer.text[:300] if answer is not None else error)
                with ledger.lock:
                    ledger.samples.append(Sample(kind, started, ledger.now(), status, body))
                    if kind.startswith("upload") and ok:
                        for image in answer.json()["accepted"]:
                            ledger.accepted[image["id"]] = corpus_id
                            mine.append(image["id"])
                    elif doomed is not None:
                        if ok:
                            ledger.deleted.add(doomed)
                        elif status == 0:
                            ledger.uncertain.add(doomed)
                        else:
                            mine.append(doomed)  # refused: still there
                stop.wait(rng.uniform(0.5, 1.5) * think)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    return threads


# --- the faults --------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The services, restartable: two qclusters and gunicorn."""

    services: Services
    port: int
    workers: dict[int, Service] = field(default_factory=dict)
    web: Service | None = None
    restarts: Counter = field(default_factory=Counter)

    def start_worker(self, number: int) -> None:
        self.restarts[number] += 1
        self.workers[number] = self.services.start(
            f"qcluster-{number}.{self.restarts[number]}", manage("qcluster")
        )

    def start_web(self) -> None:
        self.web = self.services.start(
            "gunicorn",
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "-c",
                str(ROOT / "crier_site" / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "crier_site.wsgi",
            ],
        )

    def kill_worker(self, number: int) -> None:
        """SIGKILL every process of one qcluster (supervisor, sentinel, workers), as an OOM kill
        of the whole unit would; restart it 2 s later."""
        service = self.workers[number]
        for pid in session_pids(service.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        service.process.wait(timeout=30)
        self.services.stop(service)  # reaps, and sweeps anything that survived
        time.sleep(2)
        self.start_worker(number)

    def kill_web_worker(self) -> int:
        """SIGKILL one gunicorn worker (the master starts another); its pid."""
        master = self.web.process.pid
        children = [pid for pid in session_pids(master) if parent_pid(pid) == master]
        victim = random.Random(master).choice(children)
        os.kill(victim, signal.SIGKILL)
        return victim

    def revive(self) -> list[str]:
        """Start again any service that died by itself; what was restarted."""
        revived = []
        for number, service in list(self.workers.items()):
            if service.process.poll() is not None:
                self.services.stop(service)
                self.start_worker(number)
                revived.append(service.name)
        if self.web is not None and self.web.process.poll() is not None:
            self.services.stop(self.web)
            self.start_web()
            revived.append("gunicorn")
        return revived


def session_pids(session: int) -> list[int]:
    from load import _session_pids

    return _session_pids(session)


def parent_pid(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return 0


def schedule(duration: float, *, restart_postgres: bool, disk: bool) -> list[tuple[float, str]]:
    """When each fault starts, scaled to the duration (an hour: the issue's schedule)."""
    every = max(duration / 12, 45.0)
    plan = [(t, "kill_worker") for t in frange(every, duration - 5, every)]
    plan.append((0.4 * duration, "kill_web_worker"))
    if restart_postgres:
        plan.append((0.6 * duration, "restart_postgres"))
    if disk:
        plan.append((0.75 * duration, "fill_disk"))
    return sorted(plan)


def frange(start: float, stop: float, step: float) -> list[float]:
    values, value = [], start
    while value < stop:
        values.append(value)
        value += step
    return values


def run_faults(
    *,
    ledger: Ledger,
    cluster: Cluster,
    disk: DataDisk | None,
    plan: list[tuple[float, str]],
    hold: float,
    stop: threading.Event,
) -> None:
    killed = 0
    for at, action in plan:
        if stop.wait(max(0.0, at - ledger.now())):
            return
        start = ledger.now()
        if action == "kill_worker":
            number = 1 + killed % 2
            killed += 1
            ledger.note(f"SIGKILL qcluster-{number} (every process); restart in 2 s")
            cluster.kill_worker(number)
            ledger.faults.append(Fault("worker_killed", start, start, f"qcluster-{number}"))
        elif action == "kill_web_worker":
            pid = cluster.kill_web_worker()
            ledger.note(f"SIGKILL gunicorn worker {pid}")
            end = ledger.now() + GRACE_S["gunicorn_worker_killed"]
            ledger.faults.append(Fault("gunicorn_worker_killed", start, end, str(pid)))
        elif action == "restart_postgres":
            ledger.note("restarting PostgreSQL")
            done = subprocess.run(PG_RESTART, capture_output=True, text=True, timeout=180)
            ledger.note(f"PostgreSQL restarted (exit {done.returncode}) {done.stderr.strip()}")
            end = ledger.now() + GRACE_S["postgres_restarted"]
            ledger.faults.append(Fault("postgres_restarted", start, end, done.stderr.strip()))
        elif action == "fill_disk" and disk is not None:
            written = disk.fill()
            ledger.note(f"data disk filled ({written >> 20} MiB); freeing in {hold:.0f} s")
            stop.wait(hold)
            disk.free()
            ledger.note("data disk freed")
            end = ledger.now() + GRACE_S["disk_full"]
            ledger.faults.append(Fault("disk_full", start, end, f"{written >> 20} MiB"))


# --- draining and checking ---------------------------------------------------------------------


def drain(session, base: str, corpus_ids: list[int], cluster: Cluster, redis_url: str, timeout):
    """Wait until every corpus is ready with nothing pending and the queue is empty."""
    import redis

    deadline = time.monotonic() + timeout
    states: dict = {}
    while time.monotonic() < deadline:
        revived = cluster.revive()
        if revived:
            print(f"  drain: restarted {revived}", flush=True)
        with contextlib.suppress(requests.RequestException, ValueError):
            states = {
                cid: session.get(f"{base}/api/v1/corpora/{cid}/", timeout=30).json()
                for cid in corpus_ids
            }
            with redis.Redis.from_url(redis_url) as client:
                queued = client.llen(REDIS_QUEUE_KEY)
            if queued == 0 and all(
                s["status"] == "ready"
                and s["pending_count"] == 0
                and s["indexed_count"] == s["encoded_count"]
                for s in states.values()
            ):
                return states
        time.sleep(2)
    return states


def django_step(step: str, payload: dict) -> dict:
    """Run in a subprocess with the app's environment: ORM work the HTTP API does not offer."""
    from bootstrap import setup_django

    setup_django()
    if step == "install-trigger":
        return install_encode_log()
    if step == "check":
        return check_records(payload)
    raise ValueError(step)


def install_encode_log() -> dict:
    """A trigger that logs each vector written for an image, on the model that holds it
    (search.models.ImageVector's ``vector``)."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist
    from django.db import connection

    from corpora.models import ImageRecord

    for model in apps.get_models():
        try:
            model._meta.get_field(VECTOR_FIELD)
        except FieldDoesNotExist:
            continue
        if model is ImageRecord:
            column = ImageRecord._meta.pk.column
        else:
            links = [
                f
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model is ImageRecord
            ]
            if not links:
                continue
            column = links[0].column
        table = model._meta.db_table
        break
    else:
        raise RuntimeError(f"no model with a {VECTOR_FIELD!r} field that belongs to an image")
    function = f"{ENCODE_LOG}_fn"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {ENCODE_LOG} ON {table}")
        cursor.execute(f"DROP TABLE IF EXISTS {ENCODE_LOG}")
        cursor.execute(f"CREATE TABLE {ENCODE_LOG} (record_id bigint NOT NULL)")
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ BEGIN "
            f"INSERT INTO {ENCODE_LOG} VALUES (NEW.{column}); RETURN NEW; END $$ "
            "LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER {ENCODE_LOG} AFTER INSERT OR UPDATE OF {VECTOR_FIELD} ON {table} "
            f"FOR EACH ROW WHEN (NEW.{VECTOR_FIELD} IS NOT NULL) EXECUTE FUNCTION {function}()"
        )
    return {"table": table, "column": column}


def check_records(payload: dict) -> dict:
    """What the database and the media folders hold for the soak's corpora."""
    from django.conf import settings
    from django.db import connection

    from corpora.models import ImageRecord
    from search.encoding.model_inputs import input_name

    corpus_ids = payload["corpora"]
    records = ImageRecord.objects.filter(corpus_id__in=corpus_ids)  # not those in the trash
    rows = list(records.values_list("pk", "status", "file", "thumbnail"))
    # Deleted images wait in the trash (docs/trash.md) with their files: those are no orphans.
    trashed = ImageRecord.all_objects.in_trash().filter(corpus_id__in=corpus_ids)
    kept_in_trash = {
        name
        for file, thumbnail in trashed.values_list("file", "thumbnail")
        for name in (file, thumbnail, input_name(file) if file else "")
        if name
    }
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT record_id, COUNT(*) FROM {ENCODE_LOG} GROUP BY record_id")
        writes = dict(cursor.fetchall())
    media = Path(settings.MEDIA_ROOT)
    known = {name for _, _, *names in rows for name in names if name}
    on_disk = {
        path.relative_to(media).as_posix()
        for cid in corpus_ids
        for path in (media / "corpora" / str(cid)).glob("*")
        if path.is_file()
    }
    existing = {pk for pk, *_ in rows}
    return {
        "records": len(rows),
        "status": dict(Counter(status for _, status, *_ in rows)),
        "existing": sorted(existing),
        "not_encoded": [pk for pk, status, *_ in rows if status != "encoded"],
        "never_written": [
            pk for pk, status, *_ in rows if status == "encoded" and pk not in writes
        ],
        "written_twice": {pk: n for pk, n in writes.items() if n > 1},
        # name -> when it was last written (epoch seconds): the report places it in time
        "orphan_files": {
            name: (media / name).stat().st_mtime for name in sorted(on_disk - known - kept_in_trash)
        },
        "missing_files": sorted(known - on_disk)[:50],
        "missing_file_count": len(known - on_disk),
    }


def run_django_step(step: str, payload: dict, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "--django-step", step, json.dumps(payload)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report --------------------------------------------------------------------------------


def in_window(sample: Sample, faults: list[Fault]) -> str:
    """The fault whose window the request overlaps, or ""."""
    for fault in faults:
        if fault.end > fault.start and sample.start <= fault.end and sample.end >= fault.start:
            return fault.name
    return ""


def report(ledger: Ledger, duration: float, checks: dict, states: dict) -> dict:
    window = max(duration / 12, 1.0)
    per_window = []
    for index in range(int(-(-duration // window))):
        lo, hi = index * window, (index + 1) * window
        samples = [s for s in ledger.samples if lo <= s.start < hi]
        row: dict = {"window": f"{lo:.0f}-{min(hi, duration):.0f} s", "requests": len(samples)}
        row["non_2xx"] = sum(1 for s in samples if not 200 <= s.status < 300)
        for kind in KINDS:
            ok = [
                1000 * (s.end - s.start) for s in samples if s.kind == kind and s.status // 100 == 2
            ]
            row[kind] = {"n": len(ok), "p50_ms": percentile(ok, 50), "p99_ms": percentile(ok, 99)}
        per_window.append(row)
    failed = [s for s in ledger.samples if not 200 <= s.status < 300]
    unexpected = [s for s in failed if not in_window(s, ledger.faults)]
    expected = Counter(in_window(s, ledger.faults) for s in failed if in_window(s, ledger.faults))
    live = set(ledger.accepted) - ledger.deleted - ledger.uncertain
    # A file written by a gunicorn worker as it was SIGKILLed has nobody left to remove it (the
    # hourly sweep does); any other file no record refers to is a leak.
    orphans = {name: mtime - ledger.wall_t0 for name, mtime in checks["orphan_files"].items()}
    kills = [f for f in ledger.faults if f.name == "gunicorn_worker_killed"]
    killed = sorted(
        n for n, at in orphans.items() if any(k.start - 60 <= at <= k.end for k in kills)
    )
    unexplained = sorted(set(orphans) - set(killed))
    existing = set(checks["existing"])
    result = {
        "duration_s": duration,
        "requests": len(ledger.samples),
        "by_kind": dict(Counter(s.kind for s in ledger.samples)),
        "accepted_images": len(ledger.accepted),
        "deleted_images": len(ledger.deleted),
        "lost": sorted(live - existing),
        "deleted_but_present": sorted(ledger.deleted & existing),
        "not_encoded": checks["not_encoded"],
        "never_written": checks["never_written"],
        "written_twice": checks["written_twice"],
        "orphan_file_count": len(orphans),
        "orphan_files_unexplained": unexplained,
        "orphan_files_of_killed_requests": killed,
        "stored_by_failed_requests": len(existing - set(ledger.accepted)),
        "missing_file_count": checks["missing_file_count"],
        "missing_files": checks["missing_files"],
        "records": checks["records"],
        "corpora": {
            cid: {k: s.get(k) for k in ("status", "image_count", "encoded_count", "index_version")}
            for cid, s in states.items()
        },
        "non_2xx_in_fault_windows": dict(expected),
        "unexpected_non_2xx": len(unexpected),
        "unexpected_examples": [asdict(s) for s in unexpected[:20]],
        "in_window_examples": [asdict(s) for s in failed if in_window(s, ledger.faults)][:10],
        "faults": [asdict(f) for f in ledger.faults],
        "events": ledger.events,
        "windows": per_window,
    }
    result["ok"] = not any(
        result[key]
        for key in (
            "lost",
            "deleted_but_present",
            "not_encoded",
            "never_written",
            "written_twice",
            "orphan_files_unexplained",
            "missing_file_count",
            "unexpected_non_2xx",
        )
    ) and all(s.get("status") == "ready" for s in states.values())
    return result


def print_report(result: dict) -> None:
    print(
        "\n| window | requests | non-2xx | " + " | ".join(f"{k} p50/p99 ms" for k in KINDS) + " |"
    )
    print("|---|---:|---:|" + "---:|" * len(KINDS))
    for row in result["windows"]:
        cells = []
        for kind in KINDS:
            cell = row[kind]
            cells.append(
                "-"
                if not cell["n"]
                else f"{cell['p50_ms']:.0f} / {cell['p99_ms']:.0f} ({cell['n']})"
            )
        print(
            f"| {row['window']} | {row['requests']} | {row['non_2xx']} | "
            + " | ".join(cells)
            + " |"
        )
    print()
    for key in (
        "requests",
        "by_kind",
        "accepted_images",
        "deleted_images",
        "records",
        "lost",
        "deleted_but_present",
        "not_encoded",
        "never_written",
        "written_twice",
        "orphan_file_count",
        "orphan_files_of_killed_requests",
        "orphan_files_unexplained",
        "stored_by_failed_requests",
        "missing_file_count",
        "non_2xx_in_fault_windows",
        "unexpected_non_2xx",
        "corpora",
    ):
        print(f"{key}: {result[key]}")
    for sample in result["unexpected_examples"]:
        print(f"  unexpected: {sample}")
    for fault in result["faults"]:
        print(f"  fault: {fault}")
    print(f"\nsoak {'PASSED' if result['ok'] else 'FAILED'}")


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL, a database of its own (required)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--duration", type=float, default=3600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause (s) between requests")
    parser.add_argument("--corpora", type=int, default=2)
    parser.add_argument("--seed-images", type=int, default=100, help="per corpus")
    parser.add_argument("--camera-photos", type=int, default=8, help="distinct 12-MP photos")
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--data-mb", type=int, default=3072, help="size of the data disk")
    parser.add_argument(
        "--restart-postgres",
        action="store_true",
        help="restart the PostgreSQL server once (every database on it: never on a shared "
        "server without warning its users)",
    )
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--max-seconds", type=float, default=None, help="default: duration + 1 h")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    parser.add_argument("--django-step", nargs=2, metavar=("STEP", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.django_step:
        print(json.dumps(django_step(args.django_step[0], json.loads(args.django_step[1]))))
        return 0
    if not (args.database_url or "").startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")
    for url in (args.database_url, args.redis_url):
        if "@127.0.0.1" not in url and "//127.0.0.1" not in url:
            parser.error(f"only 127.0.0.1 is contacted: {url}")

    work = Path(tempfile.mkdtemp(prefix="crier-soak-"))
    disk = DataDisk(work, args.data_mb)
    env = app_env(args, disk.path)
    services = Services(env, work)
    print(f"work dir {work}; data disk: {disk.kind or 'none (no disk fault)'}", flush=True)

    watchdog = stop_after(args.max_seconds or args.duration + 3600)
    try:
        result = soak(args, env, services, disk)
        print_report(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
        return 0 if result["ok"] else 1
    finally:
        watchdog.cancel()
        services.stop_all()
        disk.free()
        disk.unmount()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def soak(args, env: dict[str, str], services: Services, disk: DataDisk) -> dict:
    subprocess.run(
        manage("migrate", "--noinput", "--verbosity", "0"),
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    empty_broker(args.redis_url)
    trigger = run_django_step("install-trigger", {}, env)
    print(f"vector writes logged from {trigger['table']}.{trigger['column']}", flush=True)
    token = make_owner(env)
    cameras = camera_photos(args.camera_photos, env)
    cluster = Cluster(services, free_port())
    for number in (1, 2):
        cluster.start_worker(number)
    cluster.start_web()
    base = f"http://127.0.0.1:{cluster.port}"
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    wait_until(
        lambda: session.get(f"{base}/healthz", timeout=5).ok,
        timeout=180,
        what="gunicorn",
        services=[cluster.web],
    )
    rng = random.Random(0)
    corpora: dict[int, list[int]] = {}
    ledger = Ledger()
    for n in range(args.corpora):
        answer = session.post(
            f"{base}/api/v1/corpora/",
            json={"name": f"soak {n} {uuid.uuid4().hex[:6]}", "encoder": args.encoder},
            timeout=60,
        )
        answer.raise_for_status()
        corpus_id = answer.json()["id"]
        corpora[corpus_id] = []
        for start in range(0, args.seed_images, 50):
            seeds = range(n * 10**5 + start, n * 10**5 + min(start + 50, args.seed_images))
            pictures = [(f"seed-{seed}.jpg", picture(seed)) for seed in seeds]
            answer = session.post(
                f"{base}/api/v1/corpora/{corpus_id}/images/",
                **tagged_upload(pictures, rng),
                timeout=300,
            )
            answer.raise_for_status()
            for image in answer.json()["accepted"]:
                corpora[corpus_id].append(image["id"])
                ledger.accepted[image["id"]] = corpus_id
    started = time.monotonic()

    def seeded_and_indexed(cid: int) -> bool:
        state = session.get(f"{base}/api/v1/corpora/{cid}/", timeout=30).json()
        return state["status"] == "ready" and state["indexed_count"] == len(corpora[cid])

    wait_until(
        lambda: all(seeded_and_indexed(cid) for cid in corpora),
        timeout=1800,
        what="ready corpora",
        services=[cluster.web, *cluster.workers.values()],
    )
    seeded = sum(map(len, corpora.values()))
    print(f"{seeded} seed images ready in {time.monotonic() - started:.0f} s", flush=True)
    queries = [edited_copy(picture(seed)) for seed in range(0, args.seed_images, 3)][:30]
    for _ in range(2 * args.web_workers):  # load the encoder in the web workers
        for cid, ids in corpora.items():
            session.post(
                f"{base}/api/v1/corpora/{cid}/search/",
                files={"image": ("q.jpg", queries[0], "image/jpeg")},
                timeout=300,
            )
            session.post(f"{base}/api/v1/corpora/{cid}/search/similar/", json={"image_id": ids[0]})

    stop = threading.Event()
    ledger.t0, ledger.wall_t0 = time.monotonic(), time.time()
    plan = schedule(args.duration, restart_postgres=args.restart_postgres, disk=bool(disk.kind))
    ledger.note(f"load: {args.clients} clients for {args.duration:.0f} s; faults {plan}")
    threads = run_clients(
        ledger=ledger,
        base=base,
        token=token,
        corpora=corpora,
        queries=queries,
        cameras=cameras,
        clients=args.clients,
        think=args.think,
        stop=stop,
    )
    faults = threading.Thread(
        target=run_faults,
        kwargs=dict(
            ledger=ledger,
            cluster=cluster,
            disk=disk if disk.kind else None,
            plan=plan,
            hold=max(args.duration / 30, 20.0),
            stop=stop,
        ),
        daemon=True,
    )
    faults.start()
    try:
        while ledger.now() < args.duration:
            time.sleep(min(30.0, max(0.1, args.duration - ledger.now())))
            with ledger.lock:
                done = len(ledger.samples)
                bad = sum(1 for s in ledger.samples if not 200 <= s.status < 300)
            print(f"  {ledger.now():6.0f} s: {done} requests, {bad} non-2xx", flush=True)
    finally:
        stop.set()
        for thread in [*threads, faults]:
            thread.join(timeout=330)
    disk.free()
    ledger.note("load stopped; draining")
    states = drain(session, base, list(corpora), cluster, args.redis_url, args.drain_timeout)
    ledger.note(f"drained: {[(cid, s.get('status')) for cid, s in states.items()]}")
    checks = run_django_step("check", {"corpora": list(corpora)}, env)
    return report(ledger, args.duration, checks, states)


if __name__ == "__main__":
    sys.exit(main())
