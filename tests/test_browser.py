"""The HTML report in a real browser: headless Chromium driven by selenium.

Two small reports are built (``explain`` on two real photos with a small stand-in model,
and the demo's Fashion-MNIST part at its fastest settings), served on localhost and opened
in Debian's ``chromium`` through Debian's ``chromedriver`` (nothing is downloaded). Each
page must load every image, log no console error, resolve every link, show in its tables
the numbers of its ``report.json``, fit a 390 px wide phone screen without sideways
scrolling, and give every image alt text that says what it shows. Skipped, with the
reason, where selenium, chromium or chromedriver is not installed (``.ci/run`` installs
them).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from helpers import load_script
from torch import nn

from captum_rank.audit import AuditReport, explain, write_report
from captum_rank.audit.spectrum import attribution_label

ROOT = Path(__file__).resolve().parent.parent
browser = load_script(ROOT / "scripts" / "report_screenshot.py", "report_screenshot")
_MISSING = browser.browser_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None,
                                reason=f"no browser to test the report in: {_MISSING}")


class PhotoNet(nn.Module):
    """A small smooth classifier of 3 x 224 x 224 photos (fast, and its maps converge)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 8, stride=8)
        self.fc = nn.Linear(4 * 28 * 28, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.softplus(self.conv(x)).flatten(1))


def _photos() -> tuple[torch.Tensor, list[str]]:
    data = pytest.importorskip("skimage.data")
    from captum_rank import zoo

    name = "imagenet-efficientnet-lite0"
    return torch.stack([zoo.preprocess(name, data.chelsea()),
                        zoo.preprocess(name, data.coffee())]), ["chelsea", "coffee"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    photos, names = _photos()
    result = explain({"photo-net": PhotoNet().eval()}, photos, n_steps=16, names=names,
                     class_names=["cat", "cup", "dog", "fox", "owl"], map_tolerance=0.5)
    explained = tmp_path_factory.mktemp("explain")
    write_report(explained, AuditReport(None, None, {"command": "test"}, explanation=result,
                                        title="photo-net (3x224x224)"),
                 title="captum-rank explain")
    from captum_rank.demo import run_demo

    demo = tmp_path_factory.mktemp("demo")
    run_demo(demo, models=["fmnist-natural"], n_steps=8, attribution_per_class=1,
             grid_images=1, ranks=[0, 1, 28], photos=0, map_tolerance=10.0)
    return {"explain": explained, "demo": demo}


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser.chromium(1280, 1000) as d:
        yield d


def _open(driver: Any, url: str) -> list[dict[str, Any]]:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    driver.execute_script("return document.readyState")
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _tables(driver: Any) -> list[list[dict[str, str]]]:
    return driver.execute_script("""
        return [...document.querySelectorAll('table')].map(t => {
          const head = [...t.querySelectorAll('thead th')].map(th => th.textContent);
          return [...t.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
            [...tr.querySelectorAll('td')].map((td, i) => [head[i], td.textContent])));
        });""")


def _same(text: str, value: Any) -> bool:
    """A table cell shows ``value`` (floats to 3 decimals, None as '-', '*' unreliable)."""
    if value is None:
        return text == "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text == str(value)
    if isinstance(value, float):
        shown = float(text.rstrip("*"))  # '*': unreliable or not converged
        return shown == value or abs(shown - value) <= 5e-4
    return text.rstrip("*") == str(value)


def _check_numbers(tables: list[list[dict[str, str]]], blob: dict[str, Any]) -> int:
    """Compare every table of a report section with its JSON; returns cells compared."""
    compared = 0
    parts = blob["reports"] if blob["kind"] == "rank-audit-set" else [blob]
    summaries = [p["summary"] for p in parts if p["summary"]]
    for table in tables:
        columns = set(table[0]) if table else set()
        if {"model", "accuracy"} <= columns:
            (expected,) = [s for s in summaries if len(s) == len(table)]
            for row, want in zip(table, expected, strict=True):
                for key, value in want.items():
                    assert _same(row[key], value), (key, row[key], value)
                    compared += 1
        elif {"model", "kind"} <= columns:
            (acc,) = [p["accuracy"] for p in parts if p["accuracy"]]
            for row in table:
                curve = ("low_rank_accuracy" if row["kind"].startswith("low")
                         else "high_rank_accuracy")
                for k, value in zip(acc["ranks"], acc[curve][row["model"]], strict=True):
                    assert _same(row[str(k)], value), (row, k, value)
                    compared += 1
        elif {"model", "attribution", "k50", "mean |delta|"} <= columns:
            (spec,) = [p["spectrum"] for p in parts if p["spectrum"]]
            expected = [(m, attribution_label(attribution, vals["schedule"]), vals)
                        for m, per in spec["summary"].items() for attribution, vals in per.items()]
            for row, (m, label, vals) in zip(table, expected, strict=True):
                assert (row["model"], row["attribution"]) == (m, label)
                for column, key in (("k50", "rank_50"), ("k90", "rank_90"),
                                    ("mean |delta|", "mean_abs_delta"),
                                    ("relative error", "relative_error")):
                    assert _same(row[column], vals[key]), (m, label, column)
                    compared += 1
        elif {"model", "image", "p"} <= columns:
            (ex,) = [p["explanation"] for p in parts if p["explanation"]]
            items = [(m, item) for m in ex["models"] for item in ex["items"][m]]
            for row, (m, item) in zip(table, items, strict=True):
                assert row["model"] == m and row["image"] == item["image"]
                assert _same(row["p"], item["probability"])
                compared += 1
                for attribution, vals in item["attributions"].items():
                    label = attribution_label(attribution, ex["attributions"][attribution])
                    for column, key in (("rel.err", "relative_error"), ("evals", "evaluations"),
                                        ("map err", "map_error"), ("k50", "rank_50"),
                                        ("k90", "rank_90")):
                        assert _same(row[f"{label} {column}"], vals[key]), (label, column)
                        compared += 1
                if "exact" in item:
                    assert _same(row["exact k50"], item["exact"]["rank_50"])
                    assert _same(row["exact k90"], item["exact"]["rank_90"])
                    compared += 2
        else:  # every table of the page is one of the above
            raise AssertionError(f"a table this test does not know: {sorted(columns)}")
    return compared


@pytest.mark.parametrize("which", ["explain", "demo"])
def test_report_page_in_chromium(reports: dict[str, Path], driver: Any, which: str,
                                 tmp_path: Path) -> None:
    folder = reports[which]
    with browser.serve(folder) as base:
        errors = _open(driver, base + "index.html")
        assert errors == [], errors
        images = driver.execute_script(
            "return [...document.images].map(i => ({src: i.getAttribute('src'), "
            "complete: i.complete, width: i.naturalWidth, alt: i.alt}));")
        # Every figure in the folder is on the page, and every one of them loaded.
        assert sorted(i["src"] for i in images) == sorted(p.name for p in folder.glob("*.png"))
        for image in images:
            assert image["complete"] and image["width"] > 0, image
            assert len(image["alt"]) > 10, image
        # Each explained image's figure says in its alt text what it shows.
        figures = [i for i in images if "_explain_0" in i["src"] or
                   i["src"].startswith("explain_0")]
        assert figures
        for image in figures:
            assert "attribution maps" in image["alt"] and "colour scale" in image["alt"]
        links = driver.execute_script(
            "return [...document.querySelectorAll('a[href], img[src]')]"
            ".map(e => e.href || e.src);")
        assert any(link.endswith("report.json") for link in links)
        for link in links:
            with urllib.request.urlopen(link) as response:  # a broken link raises here
                assert response.status == 200 and response.read(1), link
        blob = json.loads((folder / "report.json").read_text())
        assert _check_numbers(_tables(driver), blob) > 5

        # A phone: 390 CSS px wide. Wide tables scroll inside their own box; the page
        # itself never scrolls sideways, and every image fits.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        try:
            _open(driver, base + "index.html")
            widths = driver.execute_script(
                "const d = document.documentElement; return [d.scrollWidth, d.clientWidth, "
                "Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))];")
            assert widths[1] == 390 and widths[0] <= widths[1] and widths[2] <= 390, widths
            shot = tmp_path / f"{which}_390px.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_console_error_is_caught(driver: Any, tmp_path: Path) -> None:
    # The check above can fail: a page with a broken image logs a SEVERE entry.
    (tmp_path / "index.html").write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head>"
        "<body><img src='missing.png' alt='x'></body></html>")
    with browser.serve(tmp_path) as base:
        errors = _open(driver, base + "index.html")
        width = driver.execute_script("return document.images[0].naturalWidth")
    assert width == 0 and any("missing.png" in e["message"] for e in errors)
