"""Docs that ship with the code: the demo notebook is committed clean and linked."""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_notebook_is_valid_and_committed_without_outputs() -> None:
    notebook = nbformat.read(ROOT / "docs" / "demo.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_readme_links_the_demo_notebook_and_the_api_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/demo.ipynb)" in readme
    assert "](docs/api.md)" in readme
