"""What copy search adds to the ingest of a 12-MP camera JPEG, step by step, interleaved.

    .venv/bin/python benchmarks/copy_ingest.py [--photos 8] [--rounds 3]
        [--encoder efficientnet-lite0] [--sides 640,480,400,320]

Each photo goes through the work ingest does for it, in one process, with copy search off
(``main``'s work) and on, the order alternating photo by photo and round by round:

  upload (the web process): the upload check's preparation (one decode at the encoder's scale,
      the thumbnail, the model input; with copy search on also the copy picture,
      ``search.copies.store.copy_picture``), then the model-input file's write;
  job (the worker): reading that file, the encoder's forward pass (batch of 1) and, with copy
      search on, the copy data: picture boxes, local features (``local.extract_sets``), the
      boxes' vectors.

It prints the median wall and CPU ms of each step, the per-photo sums on and off and their
ratios (off / on: the img/s ratio if one core did all of it), what the job did before copy
data came from the encoder's decode (its own decode of the original at 1/8), the feature
extraction alone at other long sides (``--sides``) on the same copy pictures, and the load
average before and after.
Photos come from ``camera_photos.py`` (4000×3000, quality 90), made once into
var/bench-camera/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from bootstrap import ROOT, setup_django


def load() -> str:
    return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--sides", default="640,480,400,320")
    args = parser.parse_args()
    setup_django()

    import numpy as np
    from camera_photos import write_camera_photos
    from django.conf import settings
    from django.core.files.storage import FileSystemStorage
    from PIL import Image

    from corpora import preparation
    from search.copies import local, parts, store
    from search.encoders import get_encoder
    from search.encoding import job, model_inputs
    from search.encoding.preprocessing import open_image

    encoder = get_encoder(args.encoder)
    plan = preparation.plan_for(encoder.name)
    assert plan.companion is not None, f"{encoder.name} makes no model input at upload"
    files = write_camera_photos(ROOT / "var" / "bench-camera", args.photos)
    photos = [path.read_bytes() for path in files]
    storage = FileSystemStorage(location=tempfile.mkdtemp(prefix="crier-copy-ingest-"))
    steps: dict[str, list[tuple[float, float]]] = {}  # (wall, CPU) ms
    sums: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    keypoints: list[int] = []
    pictures: list[Image.Image] = []

    def timed(step: str, run):
        started, cpu = time.perf_counter(), time.process_time()
        result = run()
        elapsed = time.perf_counter() - started, time.process_time() - cpu
        steps.setdefault(step, []).append((elapsed[0] * 1000, elapsed[1] * 1000))
        return result

    def ingest(index: int, data: bytes, on: bool) -> tuple[float, float]:
        """One photo's ingest work; returns its (wall, CPU) ms."""
        tag = "on" if on else "off"
        settings.CRIER_COPY_SEARCH = on
        name = f"photo-{index}.jpg"
        started, cpu = time.perf_counter(), time.process_time()
        prepared = timed(f"upload: prepare ({tag})", lambda: preparation.prepare(data, plan))
        derived = prepared.derived
        timed(f"upload: write the model input ({tag})", lambda: model_inputs.write(
            storage, name, encoder.fingerprint, derived.pixels, copy_picture=derived.copy_picture
        ))  # fmt: skip
        stored = timed(f"job: read it ({tag})", lambda: job.stored_input(
            encoder, storage, name))  # fmt: skip
        pixels = encoder.input_from_pixels(stored.pixels)
        timed(f"job: encode ({tag})", lambda: encoder.encode_batch(pixels[np.newaxis]))
        if on:
            picture = Image.fromarray(stored.copy_picture)
            boxes = timed("job: picture boxes", lambda: parts.picture_boxes(picture))
            sets = timed("job: local features", lambda: local.extract_sets(picture, boxes))
            timed("job: pack", lambda: local.pack_sets(sets))
            crops = [encoder.preprocess(parts.crop(picture, box)) for box in boxes]
            described = store.Described(0, 0, boxes, b"", 0)
            timed("job: box vectors", lambda: store.with_box_vectors(described, crops, encoder))
            keypoints.append(sum(len(s) for s in sets))
            if len(pictures) < len(photos):
                pictures.append(picture)
        model_inputs.delete(storage, name)
        return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000

    print(f"{len(photos)} camera JPEGs (4000×3000, q90), {encoder.name}; load average {load()}")
    for data in photos[:2]:  # warm-up: the model, OpenCV, the page cache
        ingest(0, data, True)
        ingest(0, data, False)
    steps.clear()
    keypoints.clear()
    for round_ in range(args.rounds):
        for index, data in enumerate(photos):
            for on in (True, False) if (round_ + index) % 2 else (False, True):
                sums[on].append(ingest(index, data, on))
            # Before 9f25a4a the job decoded each original again, at 1/8, for its copy data.
            timed("(before 9f25a4a: the job's decode at 1/8)", lambda data=data: open_image(
                data, min_side=store.DECODE_SIDE))  # fmt: skip

    for side in [int(s) for s in args.sides.split(",") if s]:
        for picture in pictures:
            grey = local.working_picture(picture, side)
            timed(f"SIFT at long side {side} (of {picture.width})", lambda grey=grey: (
                local._detector().detectAndCompute(grey, None)))  # fmt: skip

    def median(values: list[tuple[float, float]], which: int) -> float:
        return statistics.median(value[which] for value in values)

    print("| step | median ms | median CPU ms |\n|---|---:|---:|")
    for step, values in steps.items():
        print(f"| {step} | {median(values, 0):.1f} | {median(values, 1):.1f} |")
    for on in (False, True):
        label = f"**per photo, copy search {'on' if on else 'off'}**"
        print(f"| {label} | **{median(sums[on], 0):.1f}** | **{median(sums[on], 1):.1f}** |")
    wall = median(sums[False], 0) / median(sums[True], 0)
    cpu = median(sums[False], 1) / median(sums[True], 1)
    print(f"\nratio off / on: wall {wall:.2f}, CPU {cpu:.2f} (one core's img/s with copy search")
    print("on, against off, if one core did all of it; end to end, the worker's share runs")
    print("beside the web process's: benchmarks/camera.py --copy-search-off);")
    print(f"keypoints per photo: median {statistics.median(keypoints):.0f}; load average {load()}")


if __name__ == "__main__":
    main()
