"""12-megapixel camera photos end to end, against a real server and worker, in one run.

    .venv/bin/python benchmarks/camera.py [--images 200] [--queries 30]
        [--database-url postgres://...] [--encoder efficientnet-lite0] [--baseline REF]
        [--copy-search-off]

Figures (docs/benchmarks.md "Camera photos"), all from the same run:
  1. the encoder alone: ``encode_batch`` on preprocessed arrays in batches of the encoding job
     (inference only), and raw LiteRT (an ``Interpreter`` on the same .tflite, same threads,
     same images one call per image) — their ratio; and, per camera JPEG, what each step of
     ingest costs in this process (the upload's one decode with its thumbnail and model input,
     the job's read of that model input, and the decode the job does without one);
  2. ingest: the camera JPEGs uploaded through the REST API (10 files a request, one request
     after another) to gunicorn (crier_site/gunicorn_conf.py, as `make run`: 2 workers × 4
     threads by default), encoded and indexed by a ``qcluster`` worker, until the corpus is
     ``ready`` with every image encoded: img/s, and that divided by (1)'s inference-only img/s;
  3. search by one 12-MP JPEG over HTTP (``POST …/search/``, k=10, token auth): the first
     request (loads encoder + index) and p50/p90 of the rest;
  4. bytes a browser loads for the corpus page (48 tiles): the HTML plus every <img>, script
     and stylesheet it references (lazy images counted as if scrolled through);
  5. resident memory (VmRSS) of the web process after its first search and of the worker
     process after encoding.

With ``--baseline REF`` (a git commit, e.g. ``main`` before a change), 2-5 are measured a
second time in the same run with the server and worker running REF's code (``git archive``
into a temporary folder; same database, photos, encoder and machine state), so a busy shared
machine does not decide the comparison. With ``--copy-search-off``, 2-5 are measured three
times on this tree: with ``CRIER_COPY_SEARCH=0`` (main's work), on, and off again. The load
average is printed with each phase.

The photos come from ``benchmarks/camera_photos.py`` (4000×3000, JPEG quality 90, ~3.3 MB,
made once into ``var/bench-camera/``, not committed); the server runs in a throw-away data
dir. The last lines are a Markdown table to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bootstrap import ROOT, setup_django, timed_runs

VENV_BIN = Path(sys.executable).parent
USER, PASSWORD = "bench", "a-long-benchmark-passphrase"


# --- the photos -----------------------------------------------------------------------------


def camera_photos(count: int) -> list[Path]:
    """``count`` distinct 4000×3000 JPEGs (quality 90), made once and kept in var/."""
    from camera_photos import write_camera_photos

    return write_camera_photos(ROOT / "var" / "bench-camera", count)


# --- the encoder alone ----------------------------------------------------------------------


def encoder_alone(name: str, files: list[Path], batch: int) -> dict[str, float]:
    """Inference-only img/s of the project's encoder and of raw LiteRT on the same model."""
    import numpy as np

    from search.encoders import get_encoder
    from search.encoding.preprocessing import open_image

    encoder = get_encoder(name)
    arrays = np.stack([encoder.preprocess(open_image(path)) for path in files[:64]])
    arrays = np.concatenate([arrays] * 4)  # 256 images: long enough to time
    n = len(arrays)

    def project() -> None:
        for start in range(0, n, batch):
            encoder.encode_batch(arrays[start : start + batch])

    figures = {"encoder": encoder.name, "runtime": encoder.runtime}
    figures["inference_img_s"] = n / best_of(project, 3)
    figures.update(decode_costs(encoder, files[:20]))
    if encoder.runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(encoder.model_path), num_threads=encoder.threads)
        interpreter.allocate_tensors()
        (source,) = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
        features = next(d for d in outputs if d["shape"][-1] == encoder.dim)

        def raw() -> None:
            for i in range(n):
                interpreter.set_tensor(source["index"], arrays[i : i + 1])
                interpreter.invoke()
                interpreter.get_tensor(features["index"])

        figures["raw_litert_img_s"] = n / best_of(raw, 3)
        figures["project_vs_raw"] = figures["inference_img_s"] / figures["raw_litert_img_s"]
        figures["threads"] = encoder.threads
        figures["litert_batch"] = encoder.inference_slice
    return figures


def decode_costs(encoder, files: list[Path]) -> dict[str, float]:
    """Median ms per camera JPEG of each step of ingest, in this process: the upload's
    preparation in the web process (its one decode, the thumbnail, the model input), the
    encoding job's read of that model input, and the decode + preprocess the job does where
    there is none (another encoder, a re-encode) — what every upload cost the job before."""
    import io

    from django.core.files.storage import FileSystemStorage

    from corpora import preparation, thumbnails
    from corpora.validation import decode_image
    from search.encoding import model_inputs
    from search.encoding.job import stored_model_input
    from search.encoding.preprocessing import open_image

    plan = preparation.plan_for(encoder.name)
    storage = FileSystemStorage(location=tempfile.mkdtemp(prefix="crier-camera-inputs-"))
    steps: dict[str, list[float]] = {}
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        steps.setdefault(step, []).append((now - clock[0]) * 1000)
        clock[0] = now

    for index, data in enumerate(path.read_bytes() for path in files):
        name = f"photo-{index}.jpg"
        clock[0] = time.perf_counter()
        prepared = preparation.prepare(data, plan)
        lap("upload_prepare_ms")
        decoded = decode_image(data, min_side=plan.decode_side)
        lap("upload_decode_ms")
        thumbnails.render(decoded.image)
        lap("thumbnail_ms")
        if prepared.derived is not None:
            derived = prepared.derived
            model_inputs.write(
                storage, name, encoder.fingerprint, derived.pixels,
                copy_picture=derived.copy_picture,
            )  # fmt: skip
            lap("model_input_write_ms")
            pixels = stored_model_input(encoder, storage, name)
            encoder.input_from_pixels(pixels)
            lap("job_from_model_input_ms")
        encoder.preprocess(open_image(io.BytesIO(data), min_side=encoder.decode_side))
        lap("job_decode_preprocess_ms")
    shutil.rmtree(storage.location, ignore_errors=True)
    return {step: statistics.median(values) for step, values in steps.items()}


def best_of(run, repeats: int) -> float:
    return min(timed_runs(run, repeats))


# --- HTTP -----------------------------------------------------------------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.headers: dict[str, str] = {}
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes = b"", headers=None, timeout=600):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = {**self.headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        connection.close()
        return response.status, data

    def json(self, method: str, path: str, payload=None, expect=(200, 201, 202)):
        body = json.dumps(payload).encode() if payload is not None else b""
        status, data = self.request(method, path, body, {"Content-Type": "application/json"})
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data) if data else None

    def multipart(self, path: str, files: list[tuple[str, str, bytes]], fields=None):
        boundary = uuid.uuid4().hex
        parts = []
        for key, value in (fields or {}).items():
            disposition = f'Content-Disposition: form-data; name="{key}"'
            parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
        for field, filename, content in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            )
            parts += [content, b"\r\n"]
        parts.append(f"--{boundary}--\r\n".encode())
        content_type = f"multipart/form-data; boundary={boundary}"
        status, data = self.request("POST", path, b"".join(parts), {"Content-Type": content_type})
        if status >= 300:
            raise RuntimeError(f"POST {path}: {status} {data[:500]!r}")
        return json.loads(data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


# --- processes and memory -------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    result = []
    for child in children(pid):
        result += [child, *descendants(child)]
    return result


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and all its descendants (live ones)."""
    total = 0.0
    for process in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, of all PostgreSQL processes) so far: the
    database's work for an upload is in neither the web's nor the worker's figure."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(fields) - fields[3] - fields[4]) / ticks  # all but idle and iowait
    database = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, _, rest = (entry / "stat").read_text().partition(" (")[2].partition(")")
            except OSError:
                continue
            if name == "postgres":
                values = rest.split()
                database += (int(values[11]) + int(values[12])) / ticks
    return busy, database


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--per-request", type=int, default=10)
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument(
        "--database-url", default="", help="default: SQLite in the throw-away data dir"
    )
    parser.add_argument(
        "--baseline", default="", help="a git commit whose server and worker are measured too"
    )
    parser.add_argument(
        "--copy-search-off",
        action="store_true",
        help="measure this tree with CRIER_COPY_SEARCH=0 too (main's work), before and after on",
    )
    args = parser.parse_args()

    os.environ.pop("CRIER_REDIS_URL", None)  # the ORM broker, in the benchmark's database
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("CRIER_MODEL_DIR", str(ROOT / "var" / "models"))
    if args.database_url:
        workdir = Path(tempfile.mkdtemp(prefix="crier-camera-"))
        os.environ.update(CRIER_DATA_DIR=str(workdir), DATABASE_URL=args.database_url)
        setup_django()
    else:
        workdir = setup_django(scratch_prefix="crier-camera-")
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.conf import settings

    call_command("collectstatic", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username=USER).delete()
    get_user_model().objects.create_user(USER, password=PASSWORD)

    files = camera_photos(args.images + args.queries)
    corpus_files, query_files = files[: args.images], files[args.images :]
    megabytes = sum(p.stat().st_size for p in corpus_files) / len(corpus_files) / 1e6
    print(f"{len(corpus_files)} camera JPEGs, 4000x3000, q90, mean {megabytes:.1f} MB")
    print(f"start: {uptime()}", flush=True)

    alone = encoder_alone(args.encoder, corpus_files, settings.CRIER_ENCODE_BATCH_SIZE)
    print(f"encoder alone: {json.dumps(alone)}", flush=True)

    phases: dict[str, dict] = {}
    trees: list[tuple[str, Path, dict[str, str]]] = [("this tree", ROOT, {})]
    if args.copy_search_off:  # off, on, off: the on phase between two of main's work
        off = {"CRIER_COPY_SEARCH": "0"}
        trees = [("copy search off", ROOT, off), ("copy search on", ROOT, {}),
                 ("copy search off again", ROOT, off)]  # fmt: skip
    if args.baseline:
        trees.insert(0, (f"baseline {args.baseline}", export_tree(args.baseline, workdir), {}))
    for label, tree, env in trees:
        logs = workdir / label.replace(" ", "-")
        results = run_phase(tree, logs, args, corpus_files, query_files, env)
        results["ingest_vs_inference"] = results["ingest_img_s"] / alone["inference_img_s"]
        print(f"{label}: {json.dumps(results)}", flush=True)
        phases[label] = results
    summary = {
        "encoder_alone": alone,
        "phases": phases,
        "cpus": len(os.sched_getaffinity(0)),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "commit": git_describe(),
    }
    report(summary)
    shutil.rmtree(workdir, ignore_errors=True)


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load average {one:.2f}, {five:.2f}, {fifteen:.2f}"  # noqa: E501


def git_describe() -> str:
    run = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return run.stdout.strip()[:72] + (" (+ uncommitted changes)" if dirty else "")


def export_tree(ref: str, workdir: Path) -> Path:
    """The files of commit ``ref`` in a folder of their own (no git state is touched)."""
    target = workdir / "baseline-tree"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_phase(tree: Path, logs: Path, args, corpus_files, query_files, env=None) -> dict:
    """Start ``tree``'s server and worker (``env`` added to their environment), ingest and
    search, stop them."""
    env = {**os.environ, **(env or {})}  # what the server and the worker get
    port = free_port()
    logs.mkdir(parents=True)
    web_log, worker_log = (logs / "web.log").open("wb"), (logs / "worker.log").open("wb")
    web = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "crier_site/gunicorn_conf.py", "crier_site.wsgi"],
        cwd=tree, env={**env, "CRIER_BIND": f"127.0.0.1:{port}"}, stdout=web_log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=tree, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_server(port, web)
        load_before = uptime()
        results = run_client(port, args, corpus_files, query_files, web.pid, worker.pid)
        results["load_before"], results["load_after"] = load_before, uptime()
    finally:
        for process in (web, worker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    worker_log.close()
    log = (logs / "worker.log").read_text(errors="replace")
    results["index_builds"] = len(re.findall(r"corpus \d+: index v\S+ \(", log))
    return results


def run_client(port, args, corpus_files, query_files, web_pid, worker_pid) -> dict:
    client = Client(port)
    token = client.json("POST", "/api/v1/auth/token/", {"username": USER, "password": PASSWORD})
    client.headers["Authorization"] = f"Token {token['token']}"
    corpus = client.json(
        "POST",
        "/api/v1/corpora/",
        {"name": "camera", "visibility": "private", "encoder": args.encoder},
    )
    corpus_path = f"/api/v1/corpora/{corpus['id']}/"
    contents = [path.read_bytes() for path in corpus_files]  # read before the clock starts
    cpu_before = cpu_seconds(web_pid), cpu_seconds(worker_pid), *machine_cpu_seconds()
    started = time.perf_counter()
    for start in range(0, len(contents), args.per_request):
        chunk = list(enumerate(contents[start : start + args.per_request], start))
        report = client.multipart(
            corpus_path + "images/", [("images", f"camera-{i:04d}.jpg", c) for i, c in chunk]
        )
        assert len(report["accepted"]) == len(chunk), report
    uploaded = time.perf_counter() - started
    while True:
        state = client.json("GET", corpus_path)
        if state["status"] == "ready" and state["encoded_count"] == len(contents):
            break
        if state["status"] == "failed":
            raise RuntimeError(f"indexing failed: {state}")
        time.sleep(0.05)
    ingest_seconds = time.perf_counter() - started
    web_cpu, worker_cpu = cpu_seconds(web_pid), cpu_seconds(worker_pid)
    machine_cpu, database_cpu = machine_cpu_seconds()
    results = {
        "images": len(contents),
        "upload_seconds": round(uploaded, 2),
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_img_s": len(contents) / ingest_seconds,
        # CPU per photo while ingesting, from /proc (web: gunicorn; worker: the qcluster).
        "web_cpu_ms_per_image": (web_cpu - cpu_before[0]) * 1000 / len(contents),
        "worker_cpu_ms_per_image": (worker_cpu - cpu_before[1]) * 1000 / len(contents),
        "database_cpu_ms_per_image": (database_cpu - cpu_before[3]) * 1000 / len(contents),
        "machine_cpu_ms_per_image": (machine_cpu - cpu_before[2]) * 1000 / len(contents),
    }
    worker_processes = descendants(worker_pid)
    results["worker_rss_mib"] = max(rss_mib(pid) for pid in worker_processes)
    results["worker_cluster_rss_mib"] = sum(rss_mib(pid) for pid in [worker_pid, *worker_processes])

    timings = []
    for path in query_files:
        content = path.read_bytes()
        begun = time.perf_counter()
        answer = client.multipart(
            corpus_path + "search/", [("image", path.name, content)], {"k": 10}
        )
        timings.append((time.perf_counter() - begun) * 1000)
        assert len(answer["results"]) == min(10, len(contents)), answer
    results["first_search_ms"] = timings[0]
    rest = sorted(timings[1:])
    results["search_p50_ms"] = statistics.median(rest)
    results["search_p90_ms"] = rest[int(0.9 * (len(rest) - 1))]
    results["search_queries"] = len(rest)
    web_processes = descendants(web_pid)
    results["web_rss_mib"] = max(rss_mib(pid) for pid in web_processes or [web_pid])
    results["page"] = page_bytes(port, corpus["id"])
    client.request("DELETE", corpus_path)
    return results


def page_bytes(port: int, corpus_id: int) -> dict:
    """Log in with a browser session and add up what the corpus page makes a browser fetch."""
    browser = Client(port)
    status, login_page = browser.request("GET", "/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = f"username={USER}&password={PASSWORD}&csrfmiddlewaretoken={token.decode()}"
    status, _ = browser.request(
        "POST",
        "/accounts/login/",
        form.encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/"},
    )
    assert status == 302, f"login failed: {status}"
    status, html = browser.request("GET", f"/corpora/{corpus_id}/")
    assert status == 200
    images = re.findall(rb'<img[^>]*\ssrc="([^"]+)"', html)
    assets = re.findall(rb'<(?:script|link)[^>]*\s(?:src|href)="(/static/[^"]+)"', html)
    totals = {"html": len(html), "images": 0, "assets": 0}
    for kind, urls in (("images", images), ("assets", assets)):
        for url in dict.fromkeys(urls):
            status, data = browser.request("GET", url.decode().replace("&amp;", "&"))
            assert status == 200, (url, status)
            totals[kind] += len(data)
    totals["image_count"] = len(images)
    totals["total"] = totals["html"] + totals["images"] + totals["assets"]
    return totals


def report(summary: dict) -> None:
    """The Markdown tables for docs/benchmarks.md: one column per phase."""
    alone, phases = summary["encoder_alone"], summary["phases"]
    labels = list(phases)
    print(f"\n{summary['cpus']} CPUs, {summary['database']}, {alone['runtime']} "
          f"({alone.get('threads', '-')} threads), commit {summary['commit']}")  # fmt: skip
    for label, phase in phases.items():
        print(f"{label}: {phase['load_before']} → {phase['load_after']}")
    steps = [
        ("encoder alone, inference only (batches of the encoding job)",
         f"{alone['inference_img_s']:.0f} img/s"),
        ("raw LiteRT, same model and images, one image per call",
         f"{alone.get('raw_litert_img_s', 0):.0f} img/s"),
        ("**project encoder / raw LiteRT** (goal ≥ 0.9)",
         f"**{alone.get('project_vs_raw', 0):.2f}**"),
        ("inference of one image (from the inference-only rate)",
         f"{1000 / alone['inference_img_s']:.1f} ms"),
        ("upload: the one decode (`decode_image` at the encoder's scale)",
         f"{alone['upload_decode_ms']:.1f} ms"),
        ("upload: WebP thumbnail from that decode", f"{alone['thumbnail_ms']:.1f} ms"),
        ("upload: decode + thumbnail + model input (`preparation.prepare`)",
         f"{alone['upload_prepare_ms']:.1f} ms"),
        ("upload: write the model input", f"{alone.get('model_input_write_ms', 0):.1f} ms"),
        ("job: read the model input and scale it",
         f"{alone.get('job_from_model_input_ms', 0):.1f} ms"),
        ("job without a model input: decode the original + preprocess",
         f"{alone['job_decode_preprocess_ms']:.1f} ms"),
    ]  # fmt: skip
    print("\n| step, per camera JPEG, median of 20, in the benchmark process | |\n|---|---:|")
    for label, value in steps:
        print(f"| {label} | {value} |")

    def row(label: str, value) -> None:
        print(f"| {label} | " + " | ".join(value(phases[name]) for name in labels) + " |")

    print("\n| figure | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    row("load average (1 min) before → after", lambda r: (
        f"{r['load_before'].split('load average ')[1].split(',')[0]} → "
        f"{r['load_after'].split('load average ')[1].split(',')[0]}"))
    images = next(iter(phases.values()))["images"]
    row(f"ingest of {images} camera JPEGs, upload → ready",
        lambda r: f"{r['ingest_img_s']:.1f} img/s ({r['ingest_seconds']:.1f} s)")
    row("of which uploading (the last upload answered)", lambda r: f"{r['upload_seconds']:.1f} s")
    row("CPU per photo while ingesting: web / worker / PostgreSQL / whole machine", lambda r: (
        f"{r['web_cpu_ms_per_image']:.0f} / {r['worker_cpu_ms_per_image']:.0f} / "
        f"{r['database_cpu_ms_per_image']:.0f} / {r['machine_cpu_ms_per_image']:.0f} ms"))
    row("index builds during ingest", lambda r: str(r["index_builds"]))
    row("**ingest / inference only** (goal ≥ 0.5)", lambda r: f"**{r['ingest_vs_inference']:.3f}**")
    row("search by one 12-MP JPEG over HTTP, first request",
        lambda r: f"{r['first_search_ms']:.0f} ms")
    row(f"**search p50** (goal ≤ 60 ms) / p90, {next(iter(phases.values()))['search_queries']} "
        "queries", lambda r: f"**{r['search_p50_ms']:.0f} ms** / {r['search_p90_ms']:.0f} ms")
    row("**corpus page**, 48 tiles (goal ≤ 3 MB)", lambda r: (
        f"**{r['page']['total'] / 1e6:.2f} MB** (images {r['page']['images'] / 1e6:.2f} MB)"))
    row("web process RSS after its first search", lambda r: f"{r['web_rss_mib']:.0f} MiB")
    row("worker process RSS after encoding (whole qcluster)", lambda r: (
        f"{r['worker_rss_mib']:.0f} MiB ({r['worker_cluster_rss_mib']:.0f} MiB)"))  # fmt: skip


if __name__ == "__main__":
    main()
