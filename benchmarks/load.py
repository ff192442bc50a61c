"""Multi-process load: gunicorn + two django-q clusters on PostgreSQL with the Redis broker, under
concurrent searches while uploads keep re-indexing the corpus; runserver in the same run as the
baseline.

    .venv/bin/python benchmarks/load.py --database-url postgres://USER:PW@HOST/DB \\
        [--redis-url redis://127.0.0.1:6379/5] [--images 1000] [--duration 60] [--clients 8]

1. starts two ``manage.py qcluster`` (one worker process each) and gunicorn (2 workers,
   ``crier_site/gunicorn_conf.py``), all with the production settings, a throw-away data dir,
   the given PostgreSQL database (a new user and corpus are added to it; use a database of its
   own) and Redis as broker and cache (its queue key is emptied first);
2. uploads ``--images`` generated pictures through the API and waits until the corpus is ready;
3. for ``--duration`` seconds runs ``--clients`` threads searching by file (multipart
   ``/search/``) and as many asking for more like an image (``/search/similar/``), while one
   more thread uploads a few images every ``--upload-every`` seconds, so the workers encode and
   swap in new index versions during the run;
4. does the same against ``manage.py runserver`` (threaded, one process) as the baseline;
5. prints per server and kind: requests, p50/p95/p99 latency, throughput and every non-2xx
   answer; ``--json`` writes them to a file too.

Everything it starts runs in its own session and is stopped (SIGTERM, then SIGKILL) at the end,
on an error, on Ctrl-C and after ``--max-seconds`` at the latest.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
START_TIMEOUT_S = 180
STOP_GRACE_S = 15
UPLOAD_BATCH = 100


# --- the processes -----------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path


class Services:
    """Everything this benchmark started; ``stop_all`` leaves nothing behind."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: list[Service] = []

    def start(self, name: str, command: list[str], **extra_env: str) -> Service:
        log_path = self.log_dir / f"{name}.log"
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        service = Service(name, process, log_path)
        self.running.append(service)
        return service

    def stop(self, service: Service) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=STOP_GRACE_S)
        for pid in _session_pids(service.process.pid):  # e.g. a cluster in its own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=STOP_GRACE_S)
        if service in self.running:
            self.running.remove(service)

    def stop_all(self) -> None:
        for service in list(reversed(self.running)):
            self.stop(service)


def _session_pids(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == session and fields[0] not in {"Z", "X"}:
                    pids.append(int(entry.name))
    return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str) -> list[str]:
    return [PYTHON, str(ROOT / "manage.py"), *args]


def wait_until(condition, *, timeout: float, what: str, services: list[Service]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                tail = service.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service.name} exited while waiting for {what}:\n{tail}")
        with contextlib.suppress(requests.RequestException):
            if condition():
                return
        time.sleep(0.5)
    raise RuntimeError(f"no {what} within {timeout:.0f} s")


# --- the corpus --------------------------------------------------------------------------------


def picture(seed: int, size: int = 128) -> bytes:
    """A distinct JPEG: a coloured background with a few random shapes."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        box = [x0, y0, x0 + rng.randrange(10, size // 2), y0 + rng.randrange(10, size // 2)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    noise = np.random.default_rng(seed).integers(-12, 12, (size, size, 3))
    array = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def edited_copy(data: bytes) -> bytes:
    """The picture cropped by a tenth, scaled back and saved at another JPEG quality."""
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    cropped = image.crop((width // 20, height // 20, width - width // 20, height - height // 20))
    buffer = io.BytesIO()
    cropped.resize((width, height)).save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def make_owner(env: dict[str, str]) -> str:
    """A fresh user with an API key (through manage.py shell, on the benchmark's settings)."""
    username = f"bench-{uuid.uuid4().hex[:8]}"
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from accounts.keys import create_key\n"
        f"user = get_user_model().objects.create_user({username!r}, password=None)\n"
        "print(create_key(user=user, name='benchmark').secret)\n"
    )
    out = subprocess.run(
        manage("shell", "-c", code), cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
    )
    return out.stdout.decode().strip().splitlines()[-1]


def upload(session: requests.Session, base: str, corpus_id: int, seeds: range) -> list[int]:
    files = [("images", (f"img-{seed}.jpg", picture(seed), "image/jpeg")) for seed in seeds]
    answer = session.post(f"{base}/api/v1/corpora/{corpus_id}/images/", files=files, timeout=300)
    answer.raise_for_status()
    return [image["id"] for image in answer.json()["accepted"]]


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    seconds: float
    status: int
    body: str = ""


@dataclass
class Run:
    server: str
    duration: float
    samples: list[Sample] = field(default_factory=list)
    uploads: int = 0
    versions: set[str] = field(default_factory=set)


def run_load(
    *,
    server: str,
    base: str,
    token: str,
    corpus_id: int,
    image_ids: list[int],
    query_seeds: list[int],
    clients: int,
    duration: float,
    upload_every: float,
    think: float,
    next_seed: list[int],
) -> Run:
    run = Run(server=server, duration=duration)
    lock = threading.Lock()
    stop = threading.Event()
    headers = {"Authorization": f"Token {token}"}
    queries = [edited_copy(picture(seed)) for seed in query_seeds]

    def record(kind: str, started: float, answer: requests.Response | None, error: str = ""):
        status = answer.status_code if answer is not None else 0
        body = "" if 200 <= status < 300 else (answer.text[:300] if answer is not None else error)
        with lock:
            run.samples.append(Sample(kind, time.perf_counter() - started, status, body))
            if answer is not None and status == 200:
                run.versions.add(answer.json().get("index_version", ""))

    def client(kind: str, number: int) -> None:
        rng = random.Random(number)
        with requests.Session() as session:
            session.headers.update(headers)
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    if kind == "search_by_file":
                        data = queries[rng.randrange(len(queries))]
                        answer = session.post(
                            f"{base}/api/v1/corpora/{corpus_id}/search/",
                            files={"image": ("query.jpg", data, "image/jpeg")},
                            data={"k": "10"},
                            timeout=60,
                        )
                    else:
                        answer = session.post(
                            f"{base}/api/v1/corpora/{corpus_id}/search/similar/",
                            json={"image_id": rng.choice(image_ids), "k": 10},
                            timeout=60,
                        )
                    record(kind, started, answer)
                except requests.RequestException as exc:
                    record(kind, started, None, f"{type(exc).__name__}: {exc}")
                if think:
                    stop.wait(rng.uniform(0.5, 1.5) * think)

    def uploader() -> None:
        with requests.Session() as session:
            session.headers.update(headers)
            while not stop.wait(upload_every):
                seeds = range(next_seed[0], next_seed[0] + 5)
                next_seed[0] += 5
                try:
                    upload(session, base, corpus_id, seeds)
                    with lock:
                        run.uploads += len(seeds)
                except requests.RequestException as exc:
                    print(f"  upload failed: {exc}", flush=True)

    threads = [
        threading.Thread(target=client, args=(kind, n), daemon=True)
        for kind in ("search_by_file", "more_like_this")
        for n in range(clients)
    ]
    threads.append(threading.Thread(target=uploader, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    return run


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarise(run: Run) -> list[dict]:
    rows = []
    for kind in ("search_by_file", "more_like_this"):
        samples = [s for s in run.samples if s.kind == kind]
        ok = [s.seconds * 1000 for s in samples if 200 <= s.status < 300]
        failed = Counter(s.status for s in samples if not 200 <= s.status < 300)
        rows.append(
            {
                "server": run.server,
                "kind": kind,
                "requests": len(samples),
                "non_2xx": dict(failed),
                "p50_ms": percentile(ok, 50),
                "p95_ms": percentile(ok, 95),
                "p99_ms": percentile(ok, 99),
                "mean_ms": statistics.fmean(ok) if ok else float("nan"),
                "per_second": len(samples) / run.duration,
            }
        )
    return rows


def print_table(rows: list[dict], runs: list[Run]) -> None:
    print("\n| server | kind | requests | p50 ms | p95 ms | p99 ms | req/s | non-2xx |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['server']} | {row['kind']} | {row['requests']} | {row['p50_ms']:.0f} "
            f"| {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['per_second']:.1f} "
            f"| {sum(row['non_2xx'].values())} {row['non_2xx'] or ''} |"
        )
    for run in runs:
        print(
            f"\n{run.server}: {run.uploads} images uploaded during the run; "
            f"{len(run.versions)} index versions answered searches"
        )
        for sample in [s for s in run.samples if not 200 <= s.status < 300][:20]:
            print(f"  {sample.kind} {sample.status}: {sample.body}")


# --- main --------------------------------------------------------------------------------------


def app_env(args, data_dir: Path) -> dict[str, str]:
    """The live app's environment (this and benchmarks/soak.py): production settings on
    ``args.database_url`` and ``args.redis_url``, its files under ``data_dir``, one task worker
    process per cluster, ``args.web_workers`` gunicorn workers, no anonymous search limit."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crier_site.settings",
        "DATABASE_URL": args.database_url,
        "CRIER_REDIS_URL": args.redis_url,
        "CRIER_DATA_DIR": str(data_dir),
        "CRIER_MODEL_DIR": os.environ.get("CRIER_MODEL_DIR", str(ROOT / "var" / "models")),
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CRIER_WORKERS": "1",
        "CRIER_WEB_WORKERS": str(args.web_workers),
        "CRIER_ANON_SEARCH_RATE": "100000/minute",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("CRIER_INDEX_DIR", None)
    return env


def stop_after(seconds: float) -> threading.Timer:
    """SIGTERM (from the watchdog after ``seconds``, or from outside) raises KeyboardInterrupt,
    so the caller's ``finally`` stops every service; cancel the returned watchdog there."""

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    watchdog = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGTERM))
    watchdog.daemon = True
    watchdog.start()
    return watchdog


def empty_broker(redis_url: str) -> None:
    """Drop django-q's queues left in Redis by an earlier run."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter("django_q:*"):
            client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL, a database of its own")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8, help="threads per kind of search")
    parser.add_argument("--upload-every", type=float, default=5.0)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause (s) between a client's requests; 0: each client sends the next at once",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--skip-runserver", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=1500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")

    work = Path(tempfile.mkdtemp(prefix="crier-load-"))
    env = app_env(args, work / "data")
    services = Services(env, work)
    print(f"work dir {work}", flush=True)

    watchdog = stop_after(args.max_seconds)
    try:
        runs = benchmark(args, env, services)
        rows = [row for run in runs for row in summarise(run)]
        print_table(rows, runs)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        watchdog.cancel()
        services.stop_all()


def benchmark(args, env: dict[str, str], services: Services) -> list[Run]:
    subprocess.run(manage("migrate", "--noinput"), cwd=ROOT, env=env, check=True, timeout=300)
    empty_broker(args.redis_url)
    token = make_owner(env)
    workers = [services.start(f"qcluster-{n}", manage("qcluster")) for n in (1, 2)]

    port = free_port()
    gunicorn = services.start(
        "gunicorn",
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "-c",
            str(ROOT / "crier_site" / "gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "crier_site.wsgi",
        ],
    )
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    wait_until(
        lambda: session.get(f"{base}/healthz", timeout=5).ok,
        timeout=START_TIMEOUT_S,
        what="gunicorn",
        services=[gunicorn],
    )
    answer = session.post(
        f"{base}/api/v1/corpora/",
        json={"name": f"load {time.strftime('%H:%M:%S')}", "encoder": "efficientnet-lite0"},
        timeout=30,
    )
    answer.raise_for_status()
    corpus_id = answer.json()["id"]

    started = time.monotonic()
    image_ids: list[int] = []
    for start in range(0, args.images, UPLOAD_BATCH):
        image_ids += upload(
            session, base, corpus_id, range(start, min(start + UPLOAD_BATCH, args.images))
        )
    wait_until(
        lambda: (
            session.get(f"{base}/api/v1/corpora/{corpus_id}/", timeout=10).json()["status"]
            == "ready"
        ),
        timeout=args.max_seconds / 2,
        what="a ready corpus",
        services=[gunicorn, *workers],
    )
    print(
        f"{len(image_ids)} images uploaded, encoded and indexed by 2 qclusters in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    # Queries: edited copies of 50 corpus pictures (see edited_copy), never the same bytes.
    query_seeds = list(range(args.images))[:: max(1, args.images // 50)]
    next_seed = [args.images]
    common = dict(
        token=token,
        corpus_id=corpus_id,
        image_ids=image_ids,
        query_seeds=query_seeds,
        clients=args.clients,
        upload_every=args.upload_every,
        think=args.think,
        next_seed=next_seed,
    )

    runs = []
    for server, server_base, web in [("gunicorn", base, gunicorn)]:
        warm_up(session, server_base, corpus_id, image_ids, query_seeds, workers=args.web_workers)
        print(f"{server}: {args.duration:.0f} s of load", flush=True)
        runs.append(run_load(server=server, base=server_base, duration=args.duration, **common))
        services.stop(web)
    if not args.skip_runserver:
        port = free_port()
        web = services.start(
            "runserver", manage("runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}")
        )
        server_base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: session.get(f"{server_base}/healthz", timeout=5).ok,
            timeout=START_TIMEOUT_S,
            what="runserver",
            services=[web],
        )
        warm_up(session, server_base, corpus_id, image_ids, query_seeds, workers=1)
        print(f"runserver: {args.duration:.0f} s of load", flush=True)
        runs.append(
            run_load(server="runserver", base=server_base, duration=args.duration, **common)
        )
    return runs


def warm_up(session, base, corpus_id, image_ids, query_seeds, *, workers: int) -> None:
    """Load TensorFlow, the encoder and the searcher in every web process before measuring:
    rounds of concurrent searches (which process answers is the kernel's choice) until a whole
    round answers within 2 s."""
    headers = dict(session.headers)

    def one(n: int) -> float:
        started = time.perf_counter()
        query = edited_copy(picture(query_seeds[n % len(query_seeds)]))
        requests.post(
            f"{base}/api/v1/corpora/{corpus_id}/search/",
            files={"image": ("q.jpg", query, "image/jpeg")},
            headers=headers,
            timeout=120,
        ).raise_for_status()
        requests.post(
            f"{base}/api/v1/corpora/{corpus_id}/search/similar/",
            json={"image_id": image_ids[n % len(image_ids)], "k": 10},
            headers=headers,
            timeout=120,
        ).raise_for_status()
        return time.perf_counter() - started

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=4 * workers) as pool:
            if max(pool.map(one, range(8 * workers))) < 2:
                return
    raise RuntimeError("the web processes did not warm up within 300 s")


if __name__ == "__main__":
    main()
