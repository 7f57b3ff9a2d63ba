"""Fail on broken internal links in a built HTML site (run by .ci/docs.sh after Sphinx).

Sphinx's -W does not see these: a viewcode ``[docs]`` link on a ``_modules`` page, or a
reference to an object documented under another path, points at an ``id`` that no page
defines, and the browser silently lands at the top of the page. Every ``href`` of every
built ``.html`` that stays inside the site (``#id``, ``page.html#id``, ``../x/page.html``)
is checked: the target file must exist, and its fragment must be an ``id`` (or an
``<a name=...>``) on the target page.

Usage: python .ci/check_anchors.py docs/_build/html  (exit status 1 on any broken link)
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name == "href" and tag in ("a", "area"):
                self.hrefs.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    page.close()
    return page


def broken_links(site: Path) -> tuple[int, list[str]]:
    """``(links checked, broken ones as 'page: href (why)')`` for every page under ``site``."""
    root = site.resolve()
    pages = {path.resolve(): _parse(path) for path in sorted(root.rglob("*.html"))}
    checked = 0
    broken: list[str] = []
    for path, page in pages.items():
        for href in page.hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue  # external: not this check's business
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if target.suffix != ".html" and not parts.fragment:
                if not target.exists():
                    broken.append(f"{path.relative_to(root)}: {href} (no such file)")
                checked += 1
                continue
            if target.suffix != ".html":
                continue  # a fragment into a non-HTML file (an image, a notebook)
            checked += 1
            if target not in pages:
                broken.append(f"{path.relative_to(root)}: {href} (no such page)")
            elif parts.fragment and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{path.relative_to(root)}: {href} (no such anchor)")
    return checked, broken


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python .ci/check_anchors.py BUILT_HTML_DIR", file=sys.stderr)
        return 2
    checked, broken = broken_links(Path(argv[0]))
    print(f"check_anchors: {checked} internal links checked, {len(broken)} broken")
    for line in broken[:20]:
        print(f"  {line}")
    if len(broken) > 20:
        print(f"  ... and {len(broken) - 20} more")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
