"""Int8 post-training quantisation of EfficientNet-Lite0 for LiteRT: speed and retrieval quality
next to the float32 model, in one run.

    .venv/bin/python benchmarks/int8.py [--repeats 10] [--limit-per-class 200]

The int8 model is converted from the same SavedModel with ``tf.lite.Optimize.DEFAULT`` and a
representative dataset of the example corpus's photos (scikit-image samples; crops, flips and
rescales of each, 120 images), weights and activations int8, float32 input and outputs. Both
models run through ``LiteRTEncoder`` with the same threads. Figures:
  * inference-only img/s (256 preprocessed photos, one image per call, best of 3);
  * how close the vectors are (cosine to float32 on the check photos);
  * mAP@1/5/10 on near-duplicates (leave-one-out) and Fashion-MNIST (``--limit-per-class``,
    ``--repeats`` class splits), exact index — the same protocol as ``manage.py evaluate``.
The rule (issue 12): adopt int8 only if both mAPs stay within 0.005 and it is faster.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bootstrap import setup_django

setup_django()

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from corpora.examples import example_photo_paths  # noqa: E402
from search.encoders import get_encoder  # noqa: E402
from search.encoders.base import make_fingerprint  # noqa: E402
from search.encoders.litert import LiteRTEncoder, Verification, check_images  # noqa: E402
from search.encoding.preprocessing import open_image  # noqa: E402

NAME = "efficientnet-lite0"


def representative(encoder, count: int = 120) -> list[np.ndarray]:
    photos = [open_image(path) for path in example_photo_paths()]
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(count):
        image = photos[i % len(photos)]
        w, h = image.size
        scale = rng.uniform(0.6, 1.0)
        left, top = rng.uniform(0, w * (1 - scale)), rng.uniform(0, h * (1 - scale))
        image = image.crop((int(left), int(top), int(left + w * scale), int(top + h * scale)))
        if i % 2:
            image = ImageOps.mirror(image)
        arrays.append(encoder.preprocess(image)[None])
    return arrays


def convert_int8(float_encoder, out: Path) -> Path:
    import tensorflow as tf

    samples = representative(float_encoder)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        float_encoder.source, signature_keys=["serving_default"]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample] for sample in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    out.write_bytes(converter.convert())
    return out


def int8_encoder(float_encoder, model: Path) -> LiteRTEncoder:
    verification = Verification(
        passed=True,
        fingerprint="",  # not a verified conversion; its vectors get their own fingerprint below
        input_size=float_encoder.input_size,
        dim=float_encoder.dim,
        classifier=True,
        min_cosine=0.0,
        min_logits_cosine=None,
        photos=0,
        sha256="",
    )
    encoder = LiteRTEncoder(float_encoder.spec, model, verification, name=f"{NAME}-int8")
    encoder.fingerprint = make_fingerprint(kind="litert-int8", base=float_encoder.fingerprint)
    return encoder


def inference_rate(encoder, arrays: np.ndarray) -> float:
    encoder.encode_batch(arrays[:8])
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for start in range(0, len(arrays), 32):
            encoder.encode_batch(arrays[start : start + 32])
        best = min(best, time.perf_counter() - started)
    return len(arrays) / best


def quality(encoders: dict, dataset_name: str, limit: int | None, repeats: int, cache: Path):
    from search.evaluation.datasets import load_dataset
    from search.evaluation.runner import run_evaluation

    dataset = load_dataset(dataset_name, limit_per_class=limit)
    results = run_evaluation(
        dataset,
        encoders=list(encoders),
        index_kinds=["exact"],
        k=10,
        seed=0,
        repeats=repeats,
        cache_dir=cache,
        progress=False,
        get_encoder=encoders.__getitem__,
    )
    return {
        run["encoder"]: [run["metrics"]["map"][k - 1] for k in (1, 5, 10)]
        for run in results["runs"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--limit-per-class", type=int, default=200)
    args = parser.parse_args()

    float_encoder = get_encoder(NAME)
    assert float_encoder.runtime == "litert", "run `manage.py encoder prepare` first"
    workdir = Path(tempfile.mkdtemp(prefix="crier-int8-"))
    started = time.perf_counter()
    model = convert_int8(float_encoder, workdir / "model-int8.tflite")
    print(f"int8 conversion {time.perf_counter() - started:.1f} s, "
          f"{model.stat().st_size / 1e6:.1f} MB (float32 "
          f"{float_encoder.model_path.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    quantised = int8_encoder(float_encoder, model)

    photos = check_images()
    vectors = float_encoder.encode(photos)
    cosines = np.sum(vectors * quantised.encode(photos), axis=1)
    print(f"cosine int8 vs float32 on {len(photos)} photos: min {cosines.min():.4f}, "
          f"mean {cosines.mean():.4f}")  # fmt: skip
    top1 = [a[0][0] == b[0][0] for a, b in zip(
        float_encoder.classify(photos, top=1), quantised.classify(photos, top=1), strict=True
    )]  # fmt: skip
    print(f"same top-1 ImageNet label: {sum(top1)}/{len(top1)}")

    base = [Image.open(p).convert("RGB") for p in example_photo_paths()]
    arrays = np.stack([float_encoder.preprocess(base[i % len(base)]) for i in range(256)])
    rates = {}
    for label, encoder in (("float32", float_encoder), ("int8", quantised)):
        rates[label] = inference_rate(encoder, arrays)
    # Once more in the other order: the machine is shared, so compare like with like.
    for label, encoder in (("int8", quantised), ("float32", float_encoder)):
        rates[label] = max(rates[label], inference_rate(encoder, arrays))
    print(f"inference img/s ({float_encoder.threads} threads, 1 image per call): "
          f"float32 {rates['float32']:.0f}, int8 {rates['int8']:.0f} "
          f"({rates['int8'] / rates['float32']:.2f}x)")  # fmt: skip

    encoders = {NAME: float_encoder, quantised.name: quantised}
    cache = workdir / "eval-cache"
    print("| dataset | float32 mAP@1/5/10 | int8 mAP@1/5/10 | Δ mAP@10 |")
    print("|---|---|---|---:|")
    deltas = []
    for dataset, limit, repeats in (
        ("near-duplicates", None, 1),
        ("fashion-mnist", args.limit_per_class, args.repeats),
    ):
        maps = quality(encoders, dataset, limit, repeats, cache)
        f, q = maps[NAME], maps[quantised.name]
        deltas.append(max(abs(a - b) for a, b in zip(f, q, strict=True)))
        print(f"| {dataset} | {' / '.join(f'{v:.3f}' for v in f)} | "
              f"{' / '.join(f'{v:.3f}' for v in q)} | {q[2] - f[2]:+.3f} |")  # fmt: skip
    faster = rates["int8"] > rates["float32"]
    verdict = "adopt" if faster and max(deltas) <= 0.005 else "do not adopt"
    print(f"largest |Δ mAP@1/5/10| {max(deltas):.3f}, faster: {faster} → {verdict}")


if __name__ == "__main__":
    main()
