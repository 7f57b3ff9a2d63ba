"""Open an explain report in headless Chromium and save the screenshot the docs show.

    python scripts/report_screenshot.py [--out docs/figures/report_screenshot.png]

Builds what ``captum-rank explain`` writes for one real photo (scikit-image's ``chelsea``)
with the zoo's ImageNet model (EfficientNet-Lite0, offline), serves the folder on
localhost, opens ``index.html`` in Debian's ``chromium`` driven by ``selenium`` through
Debian's ``chromedriver`` (nothing is downloaded: Selenium Manager never runs), and saves
the top of the page. It prints every figure's size in pixels and the size of its map
panels. The browser helpers here (:func:`browser_missing`, :func:`chromium`,
:func:`serve`) are also what ``tests/test_browser.py`` uses.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Debian's paths (``apt-get install -y chromium chromium-driver``).
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Headless, sandbox-free for containers, and quiet: no network of its own, no updates.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def browser_missing() -> str | None:
    """Why a browser check cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return f"{path} not found (apt-get install -y {package})"
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium under selenium, with a fresh profile, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="captum-rank-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which would download one) never runs.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free localhost port; yields the base URL (ending in ``/``)."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def build_photo_report(out: Path, view: str = "blended", share: str = "both") -> Path:
    """``captum-rank explain``'s folder for one real photo with the zoo's ImageNet model."""
    import torch
    from skimage import data

    from captum_rank import zoo
    from captum_rank.audit import AuditReport, explain, write_report

    name = "imagenet-efficientnet-lite0"
    model = zoo.load(name)
    image = zoo.preprocess(name, data.chelsea())[None]
    torch.manual_seed(0)
    result = explain({name: model}, image, n_steps=256, internal_batch_size=32,
                     names=["chelsea.png"], class_names={name: zoo.class_names(name)})
    report = AuditReport(None, None, {"command": "captum-rank explain --model "
                                      f"{name} chelsea.png --view {view} --scale {share}"},
                         explanation=result, title=f"{name} (3x224x224)")
    write_report(out, report, title="captum-rank explain", view=view, share=share)
    return out


def figure_sizes(folder: Path) -> list[tuple[str, tuple[int, int]]]:
    """Every PNG of a report folder with its size in pixels."""
    from PIL import Image

    return [(p.name, Image.open(p).size) for p in sorted(folder.glob("*.png"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures/report_screenshot.png")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=1500)
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        report = build_photo_report(Path(folder))
        for name, (w, h) in figure_sizes(report):
            print(f"{name}: {w} x {h} px")
        with serve(report) as url, chromium(args.width, args.height) as driver:
            driver.get(url + "index.html")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            panels = driver.execute_script(
                "return [...document.images].map(i => [i.getAttribute('src'), "
                "i.naturalWidth, i.getBoundingClientRect().width]);")
            for src, natural, shown in panels:
                print(f"{src}: {natural} px wide, shown at {shown:.0f} CSS px")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(args.out)
    print(f"console errors: {len(errors)}; wrote {args.out}")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
