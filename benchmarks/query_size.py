"""A 12-MP phone photo as a search query over a phone's uplink, in Chromium: the page scaling
the picture before sending it (issue 23) against the file sent whole (the page before it), in
the same run, on the same server.

    .venv/bin/python benchmarks/query_size.py [--runs 5] [--uplink-mbit 10] [--side 1024]

What it does: seeds the example corpus into a throw-away data directory (SQLite, the shared
prepared models), serves it with gunicorn as ``make run`` does, and drives Debian's Chromium
(Playwright) with the DevTools protocol's ``Network.emulateNetworkConditions`` (uplink as
given, 40 Mbit/s down, 40 ms latency). Each run opens the home page, chooses the photo
(4000×3000, stored sideways with EXIF orientation 6, ~3-5 MB: ``benchmarks/camera_photos.py``)
in the search form and clicks Search; the time is from choosing the file to the first result's
thumbnail painted. "full" sets the form's ``data-scale-side`` to 0 first: the file is sent as
chosen. The modes alternate, after one untimed search of each (TensorFlow loads on the
first). It also checks that both modes rank the same top 10. The last lines are a Markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bootstrap import ROOT, setup_django

CHROMIUM = Path(os.environ.get("CRIER_CHROMIUM", "/usr/bin/chromium"))
# What the form really sends (file uploads' bodies are not visible to Playwright).
RECORD_SENT_BYTES = """form => {
  form.addEventListener("submit", () => sessionStorage.setItem("submitted", String(Date.now())));
  form.addEventListener("formdata", (event) => {
    sessionStorage.setItem("sent-bytes", String(event.formData.get("image").size));
    sessionStorage.setItem("prepared-ms", String(Date.now() - sessionStorage.getItem("submitted")));
  });
}"""
FIRST_RESULT_PAINTED = """() => {
  const img = document.querySelector("[data-results-list] > li img");
  return img && img.complete && img.naturalWidth > 0;
}"""


def serve(scratch: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)  # the scratch SQLite database setup_django migrated
    env.update(
        DJANGO_SETTINGS_MODULE="crier_site.settings",
        CRIER_DATA_DIR=str(scratch),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CRIER_ANON_SEARCH_RATE="1000/minute",
        CRIER_WEB_WORKERS="1",
        CRIER_WEB_THREADS="4",
    )
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        str(ROOT / "crier_site" / "gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "crier_site.wsgi",
    ]
    log = (scratch / "server.log").open("wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"the server did not start; see {scratch / 'server.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed searches per mode")
    parser.add_argument("--uplink-mbit", type=float, default=10.0)
    parser.add_argument("--side", type=int, default=1024, help="data-scale-side of the form")
    args = parser.parse_args()

    scratch = setup_django(scratch_prefix="crier-bench-query-")
    assert scratch is not None
    from camera_photos import camera_jpeg
    from django.core.management import call_command
    from playwright.sync_api import sync_playwright

    from corpora.examples import SAMPLE_PHOTOS
    from tests.e2e.helpers import slow_link
    from tests.processes import free_port

    call_command("seed_example_corpus", verbosity=0)
    photo = scratch / "IMG_0001.jpg"
    photo.write_bytes(camera_jpeg(SAMPLE_PHOTOS.index("chelsea.png"), orientation=6))
    photo_bytes = photo.stat().st_size
    port = free_port()
    server = serve(scratch, port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
            slow_link(page, up_bits_per_s=args.uplink_mbit * 1e6, down_bits_per_s=40e6)

            def search(side: int) -> tuple[float, list[str], int, dict[str, float]]:
                page.goto("/")
                page.locator("form[data-search-form]").evaluate(
                    f"form => {{ form.dataset.scaleSide = '{side}'; }}"
                )
                page.get_by_label("Results").select_option("10")
                page.locator("form[data-search-form]").evaluate(RECORD_SENT_BYTES)
                started = time.perf_counter()
                page.get_by_label("Image to search with").set_input_files(photo)
                page.get_by_role("button", name="Search", exact=True).click()
                page.wait_for_function(FIRST_RESULT_PAINTED, timeout=120_000)
                seconds = time.perf_counter() - started
                names = page.locator("[data-results-list] > li img").evaluate_all(
                    "els => els.map(e => e.alt)"
                )
                sent = int(page.evaluate("sessionStorage.getItem('sent-bytes')"))
                took = page.get_by_text(re.compile(r"Took \d+ ms")).first.inner_text()
                parts = {
                    "prepare": int(page.evaluate("sessionStorage.getItem('prepared-ms')")) / 1000,
                    "search": int(re.search(r"Took (\d+) ms", took)[1]) / 1000,
                }
                return seconds, names, sent, parts

            modes = {"scaled": args.side, "full": 0}
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            steps: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
            tops: dict[str, list[str]] = {}
            sizes: dict[str, int] = {}
            for side in modes.values():  # warm-up: TensorFlow and the index load
                search(side)
            for _ in range(args.runs):
                for mode, side in modes.items():
                    seconds, names, size, parts = search(side)
                    times[mode].append(seconds)
                    steps[mode].append(parts)
                    tops[mode], sizes[mode] = names, size
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    load = os.getloadavg()[0]
    print(
        f"photo: {photo_bytes:,} bytes; uplink {args.uplink_mbit:g} Mbit/s; "
        f"load average {load:.1f}; {args.runs} runs per mode"
    )
    for mode in modes:
        print(mode, [f"{t:.2f}" for t in times[mode]], f"sent {sizes[mode]:,} bytes")
        for step in ("prepare", "search"):
            values = [parts[step] for parts in steps[mode]]
            print(f"  {step} (median): {statistics.median(values):.2f} s")
    same = set(tops["scaled"]) == set(tops["full"]) and tops["scaled"][0] == tops["full"][0]
    print("same top 10 (set, and the same first):", same)
    print("  scaled:", tops["scaled"])
    print("  full:  ", tops["full"])
    print()
    print(
        f"| query (12-MP JPEG, {args.uplink_mbit:g} Mbit/s up) | bytes sent "
        "| choose → first result, median (min–max) |"
    )
    print("|---|---:|---:|")
    for mode, label in (("full", "sent whole (before)"), ("scaled", f"scaled to {args.side} px")):
        runs = times[mode]
        print(
            f"| {label} | {sizes[mode]:,} | {statistics.median(runs):.2f} s "
            f"({min(runs):.2f}–{max(runs):.2f}) |"
        )
    if not same:
        raise SystemExit("the scaled query ranked a different top 10")


if __name__ == "__main__":
    main()
