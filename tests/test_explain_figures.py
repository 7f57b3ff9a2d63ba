"""Tests of captum_rank.audit.explain_figures and the report's photo figures (no browser)."""

from __future__ import annotations

import html.parser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt
from PIL import Image
from torch import nn

from captum_rank.audit import (
    AuditReport,
    ExplainResult,
    explain,
    explained_image_alt,
    plot_explained_image,
    write_report,
)
from captum_rank.checks import UserInputError


class Smooth(nn.Module):
    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 3, 3, padding=1)
        self.fc = nn.Linear(3 * size * size, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.softplus(self.conv(x)).flatten(1))


@pytest.fixture(autouse=True)
def _close() -> None:
    yield
    plt.close("all")


def _result(channels: int = 3, size: int = 32, **kwargs: object) -> ExplainResult:
    torch.manual_seed(0)
    models = {"a": Smooth(channels, size).eval(), "b": Smooth(channels, size).eval()}
    return explain(models, torch.rand(2, channels, size, size), n_steps=32,
                   names=["cat.png", "cup.png"], class_names=["w", "x", "y", "z"],
                   **kwargs)  # type: ignore[arg-type]


class _Images(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def test_one_column_per_model_and_method_with_map_errors_under_them() -> None:
    result = _result(map_tolerance=10.0)
    fig, axes = plot_explained_image(result, 1, view="absolute", share="attribution",
                                     use_pyplot=False)
    assert axes.shape == (1, 1 + 2 * 2)
    titles = [ax.get_title() for ax in axes[0, 1:]]
    assert titles[0].startswith("a\n") and titles[2].startswith("b\n")
    for ax, (m, attribution) in zip(axes[0, 1:], [(m, k) for m in "ab" for k in ("rig", "ig")],
                             strict=True):
        vals = result.items[m][1]["attributions"][attribution]
        assert ax.get_xlabel() == f"map err {vals['map_error']:.2g}, {vals['evaluations']} evals"
        # 32 x 32 maps are drawn 7 x 32 = 224 pixels a side.
        assert round(ax.get_window_extent().width) == 224
    text = "\n".join(t.get_text() for t in fig.texts)
    assert "cup.png: predicted" in text and "Colour scale: each column its own" in text


def test_a_map_that_did_not_converge_is_not_drawn_and_the_alt_text_says_so() -> None:
    result = _result(map_tolerance=0.0, method="gausslegendre")
    assert result.unconverged_maps()
    _, axes = plot_explained_image(result, 0, use_pyplot=False)
    assert all("not drawn" in [t.get_text() for t in ax.texts] for ax in axes[0, 1:])
    assert "not drawn (not converged): a RIG" in explained_image_alt(result, 0)


def test_report_draws_one_readable_figure_per_image_with_alt_text(tmp_path: Path) -> None:
    result = _result(map_tolerance=10.0)
    written = write_report(tmp_path, AuditReport(None, None, explanation=result),
                           view="signed", share="both")
    figures = [written[f"explain_png:{name}"] for name in result.image_names]
    assert [p.name for p in figures] == ["explain_00_cat_png.png", "explain_01_cup_png.png"]
    for path in figures:
        width, height = Image.open(path).size
        assert width >= 5 * 224 and height >= 2 * 224  # image + 4 maps, two scale rows
    parser = _Images()
    parser.feed((tmp_path / "index.html").read_text())
    assert parser.images and all(img.get("alt") for img in parser.images)
    alts = {img["src"]: img["alt"] or "" for img in parser.images}
    for i, path in enumerate(figures):
        alt = alts[path.name]
        assert alt == explained_image_alt(result, i, view="signed", share="both")
        assert result.image_names[i] in alt and "attribution maps" in alt
        assert "signed heat maps" in alt and "one shared scale" in alt
    page = (tmp_path / "index.html").read_text()
    assert "name='viewport'" in page and 'class="scroll"' in page


def test_bad_arguments(tmp_path: Path) -> None:
    result = _result(map_tolerance=10.0)
    with pytest.raises(UserInputError, match="`image`"):
        plot_explained_image(result, 2, use_pyplot=False)
    with pytest.raises(UserInputError, match="`view`"):
        plot_explained_image(result, 0, view="overlay", use_pyplot=False)
    with pytest.raises(UserInputError, match="holds no images"):
        plot_explained_image(ExplainResult.from_json(result.to_json()), 0, use_pyplot=False)
    with pytest.raises(UserInputError, match="`share`"):
        write_report(tmp_path, AuditReport(None, None, explanation=result), share="own")
    with pytest.raises(UserInputError, match="choose one of 'attribution', 'all', 'both'"):
        plot_explained_image(result, 0, share="method", use_pyplot=False)
    assert not list(tmp_path.iterdir())  # checked before anything is written
    assert np.isfinite(result.items["a"][0]["attributions"]["ig"]["map_error"])
