"""The docs job's link check (.ci/check_anchors.py) on a tiny hand-written site."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from helpers import ROOT, load_script


def _checker() -> ModuleType:
    return load_script(ROOT / ".ci" / "check_anchors.py", "check_anchors")


def test_finds_missing_anchors_and_pages(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "_modules").mkdir()
    (tmp_path / "api" / "mod.html").write_text(
        '<dt id="pkg.mod.f">f</dt><a name="legacy"></a><a href="#pkg.mod.f">self</a>'
    )
    (tmp_path / "_modules" / "mod.html").write_text(
        '<a href="../api/mod.html#pkg.mod.f">ok</a>'
        '<a href="../api/mod.html#legacy">ok, a name</a>'
        '<a href="../api/mod.html#pkg.f">re-export anchor</a>'
        '<a href="../api/gone.html">missing page</a>'
        '<a href="../api/">folder: its index.html</a>'
        '<a href="https://example.org/x.html#nowhere">external</a>'
        '<img src="../_images/none.png">'
    )
    checker = _checker()
    checked, broken = checker.broken_links(tmp_path)
    assert checked == 6
    assert broken == [
        "_modules/mod.html: ../api/mod.html#pkg.f (no such anchor)",
        "_modules/mod.html: ../api/gone.html (no such page)",
        "_modules/mod.html: ../api/ (no such page)",
    ]
    assert checker.main([str(tmp_path)]) == 1
    (tmp_path / "api" / "index.html").write_text("")
    (tmp_path / "api" / "gone.html").write_text('<p id="pkg.f"></p>')
    (tmp_path / "api" / "mod.html").write_text(
        '<dt id="pkg.mod.f">f</dt><dt id="pkg.f"></dt><a name="legacy"></a>'
    )
    assert checker.broken_links(tmp_path)[1] == []
    assert checker.main([str(tmp_path)]) == 0
