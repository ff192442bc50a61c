"""docs/demo.ipynb, executed headless (nbclient, a real Jupyter kernel) against the live app,
as a reader would run it: sign in, a corpus from a folder of photos, indexing watched, searches
with a photo and a crop of it shown as image grids, near-duplicates. Any cell error fails."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from tests.e2e.conftest import Account, LiveApp
from tests.e2e.helpers import sample_photo

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "demo.ipynb"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]


def photo_folder(target: Path) -> Path:
    """Four sample photos and a re-saved JPEG copy of one of them (a near-duplicate)."""
    target.mkdir()
    for name in PHOTOS:
        (target / name).write_bytes(sample_photo(name).read_bytes())
    with Image.open(sample_photo("coffee.png")) as image:
        image.convert("RGB").save(target / "coffee-resaved.jpg", "JPEG", quality=85)
    return target


def test_the_demo_notebook_runs_against_the_live_app(
    live_app: LiveApp, make_account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account: Account = make_account("notebook-reader")
    monkeypatch.setenv("CRIER_URL", live_app.base_url)
    monkeypatch.setenv("CRIER_USERNAME", account.username)
    monkeypatch.setenv("CRIER_PASSWORD", account.password)
    monkeypatch.setenv("CRIER_PHOTOS", str(photo_folder(tmp_path / "photos")))
    monkeypatch.delenv("CRIER_TOKEN", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        nbformat.write(notebook, live_app.log_dir / "demo-executed.ipynb")

    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert "5 accepted, 0 duplicates, 0 rejected" in text, text
    assert "best match: astronaut.png" in text, text
    assert "best match for the crop: astronaut.png" in text, text
    assert "1 group(s) of near-duplicates among 5 images" in text, text
    group_lines = [line for line in text.splitlines() if re.match(r"\d\.\d{3}: ", line)]
    assert len(group_lines) == 1 and set(group_lines[0].split(": ", 1)[1].split(", ")) == {
        "coffee.png",
        "coffee-resaved.jpg",
    }, text
    assert len(images) == 2  # the two result grids
    assert "deleted Notebook demo" in text
