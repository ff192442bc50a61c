"""Turn a run's results into a JSON file, a markdown table and mAP@k / mAR@k plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI
import matplotlib.pyplot as plt

PLOTS = {"map": "mAP@k", "mar": "mAR@k"}


def run_label(run: dict[str, Any]) -> str:
    label = f"{run['encoder']} / {run['index']}"
    return label if run.get("postprocess", "none") == "none" else f"{label} / {run['postprocess']}"


def table_ks(k: int) -> list[int]:
    return sorted({c for c in (1, 5, 10) if c <= k} | {k})


def markdown_table(results: dict[str, Any]) -> str:
    """One row per run: mAP at 1, 5, 10 and K, mAR, precision and recall at K."""
    k = results["k"]
    ks = table_ks(k)
    header = ["encoder", "index", "post-processing"]
    header += [f"mAP@{c}" for c in ks] + [f"mAR@{k}", f"P@{k}", f"R@{k}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in results["runs"]:
        m = run["metrics"]
        cells = [run["encoder"], run["index_config"], run.get("postprocess", "none")]
        cells += [f"{m['map'][c - 1]:.3f}" for c in ks]
        cells += [f"{m[name][k - 1]:.3f}" for name in ("mar", "precision", "recall")]
        lines.append("| " + " | ".join(cells) + " |")
    d = results["dataset"]
    seeds = ", ".join(str(s) for s in d["seeds"])
    caption = (
        f"{d['name']}: {d['images']} images, {d['classes']} classes, {d['protocol']} "
        f"({d['indexed']} indexed, {d['queries']} queries per split, seeds {seeds})"
    )
    return caption + "\n\n" + "\n".join(lines) + "\n"


def plot(results: dict[str, Any], metric: str, path: Path) -> Path:
    k = results["k"]
    xs = list(range(1, k + 1))
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    for run in results["runs"]:
        style = "--" if run["index"] == "exact" else "-"
        ax.plot(xs, run["metrics"][metric], style, marker=".", label=run_label(run))
    ax.set_xlabel("k")
    ax.set_ylabel(PLOTS[metric])
    ax.set_ylim(0, 1.02)
    ax.set_xlim(1, k)
    ax.set_title(f"{PLOTS[metric]} on {results['dataset']['name']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """results.json, results.md, map_at_k.png and mar_at_k.png under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "table": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["table"].write_text(markdown_table(results))
    for metric in PLOTS:
        paths[metric] = plot(results, metric, out_dir / f"{metric}_at_k.png")
    return paths
