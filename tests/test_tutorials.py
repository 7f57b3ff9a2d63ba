"""Static checks of the tutorials; executing them is the docs build's job (.ci/docs.sh).

The notebooks are stored without outputs (myst-nb runs them when the site is built), use
no network, and every code cell parses, so a broken notebook shows up in the fast test
suite too, before the slower docs job.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))
EXPECTED = {
    "01_rig_in_five_minutes.ipynb",
    "02_singular_value_perspective.ipynb",
    "03_rig_in_a_model_audit.ipynb",
    "04_rig_on_imagenet_photos.ipynb",
    "05_layer_rig.ipynb",
    "06_rig_on_language_models.ipynb",
}


def _cells(path: Path) -> list[dict]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    return notebook["cells"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_the_tutorials_are_there() -> None:
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], "clear the outputs: the docs build runs it"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_parse_and_use_no_network(path: Path) -> None:
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# ")
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        ast.parse(source)
        for forbidden in ("download=True", "http://", "https://", "urlopen", "requests."):
            assert forbidden not in source, f"{path.name}: tutorials run offline"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_between_tutorials_resolve(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for part in _source(cell).split("](")[1:]:
            target = part.split(")")[0]
            if target.endswith(".ipynb"):
                assert (ROOT / "tutorials" / target).exists(), target
