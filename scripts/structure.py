"""The package's structure as numbers: modules, imports against the layers, cycles, repeats.

Usage::

    python scripts/structure.py                # this checkout
    python scripts/structure.py --root DIR     # another checkout (e.g. a git worktree)

It prints the layers with their modules, every import that runs against the intended flow
(``ground -> schedules -> kernel -> path -> attribution -> metrics, visualisation, audit
-> application``; data and the model zoo stand beside the ground), every import cycle, and
the runs of six or more identical code lines that two places share (blank lines, comments
and import lines left out, white space folded). Docstring lines count as code here: a
repeated docstring example is listed so that someone decides whether it must stay.
Nothing is imported or run: the files are read with :mod:`ast`.
tests/test_structure.py holds the package to 0 upward imports and 0 cycles, and makes
every new module take a place in ``LAYERS``.
"""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "captum_rank"

# The intended flow, bottom up: a module may import its own layer and those below it.
LAYERS: dict[str, list[str]] = {
    "ground": ["_captum", "checks", "_validation", "_files", "defaults", "_model_checks",
               "_layer_checks"],
    "supplies": ["data", "zoo"],
    "schedules": ["schedules", "quadrature"],
    "kernel": ["svd"],
    "path": ["path", "rank_path"],
    "attribution": ["model_call", "options", "exact", "fixed", "adaptive", "bands", "engine",
                    "attr", "layer", "llm", "rank_space", "baselines", "summaries", "__init__"],
    "metrics, visualisation, audit": ["metrics", "visualization", "audit"],
    "application": ["demo", "cli"],
}
LEVEL = {name: level for level, names in enumerate(LAYERS.values()) for name in names}
MIN_LINES = 6


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    found = {}
    for file in sorted((root / PACKAGE).rglob("*.py")):
        parts = file.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = file
    return found


def structure_file(root: Path, module: str) -> Path:
    """The file of a dotted module name (a package's ``__init__.py``)."""
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def layer_of(module: str) -> str:
    """The layer's key in ``LEVEL``: the first part below the package (a folder or a file)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at any depth, ``TYPE_CHECKING`` included)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, file in known.items():
        is_package = file.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                candidates = [[f"{base}.{alias.name}", base] for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [[alias.name] for alias in node.names]
            else:
                continue
            for options in candidates:
                # `from pkg import mod` names a module; `from pkg.mod import f` names its file.
                target = next((c for c in options if c in known), None)
                if target is not None and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a module to one in a higher layer than its own."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if LEVEL[layer_of(b)] > LEVEL[layer_of(a)])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _line_kinds(tree: ast.AST) -> dict[int, str]:
    """Line -> ``docstring``, ``signature`` or ``import``; other lines are ``code``."""
    kinds: dict[int, str] = {}

    def mark(first: int, last: int | None, kind: str) -> None:
        for line in range(first, (last or first) + 1):
            kinds.setdefault(line, kind)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            mark(node.lineno, node.end_lineno, "import")
        body = getattr(node, "body", None)
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef) or not body:
            continue
        first = body[0]
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            mark(first.lineno, first.end_lineno, "docstring")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stub = len(body) == 1 and isinstance(first, ast.Expr) and isinstance(
                first.value, ast.Constant) and first.value.value is Ellipsis
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            # An @overload's body is the `...` on its last line: all of it is signature.
            mark(start, node.end_lineno if stub else first.lineno - 1, "signature")
    return kinds


def layer_lines(root: Path, graph: dict[str, set[str]]) -> list[str]:
    """The layers from the top down, each with its files and folders (docs/architecture.md)."""
    packages = {m for m in graph if structure_file(root, m).name == "__init__.py"}
    lines: list[str] = []
    for level, (layer, names) in reversed(list(enumerate(LAYERS.items()))):
        lines.append(f"  {level} {layer}")
        files = [m for m in sorted(graph) if layer_of(m) in names and m.count(".") < 2
                 and not (m.count(".") == 1 and m in packages)]
        if files:
            shown = ", ".join(
                "__init__.py" if m == PACKAGE else f"{m.removeprefix(PACKAGE + '.')}.py"
                for m in files)
            lines.append(textwrap.fill(shown, 96, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6))
        for folder in sorted(m for m in packages if m.count(".") == 1 and layer_of(m) in names):
            inside = ["__init__", *(m.rpartition(".")[2] for m in sorted(graph)
                                    if m.startswith(folder + "."))]
            shown = f"{folder.removeprefix(PACKAGE + '.')}/ ({len(inside)}): " + ", ".join(inside)
            lines.append(textwrap.fill(shown, 96, initial_indent=" " * 6,
                                       subsequent_indent=" " * 8))
    return lines


def _code_lines(file: Path) -> list[tuple[int, str, str]]:
    source = file.read_text(encoding="utf-8")
    kinds = _line_kinds(ast.parse(source))
    kept = []
    for number, line in enumerate(source.splitlines(), 1):
        text = " ".join(line.split())
        if (not text or text.startswith("#") or text.startswith(("import ", "from "))
                or not any(ch.isalnum() for ch in text)):
            continue
        kept.append((number, text, kinds.get(number, "code")))
    return kept


def repeats(files: Iterable[Path], root: Path) -> list[tuple[int, str, str, str]]:
    """Pairs of places sharing ``MIN_LINES`` or more identical code lines, longest first.

    Returns ``(lines, "file:first-last", "file:first-last", kind)`` for the longest shared
    run of each pair of places, where ``kind`` says what the run is made of on its first
    side: ``code`` when any line is in a body, else ``signature`` (a ``def``'s parameters),
    ``docstring`` or ``import``, joined by ``+`` where it spans several. A window that
    stands in more than eight places is too common to list.
    """
    lines = {file: _code_lines(file) for file in files}
    windows: dict[tuple[str, ...], list[tuple[Path, int]]] = defaultdict(list)
    for file, kept in lines.items():
        for start in range(len(kept) - MIN_LINES + 1):
            windows[tuple(t for _, t, _ in kept[start:start + MIN_LINES])].append((file, start))
    # Grow each pair of window starts into a maximal run (diagonal), then keep one per pair.
    runs: dict[tuple[Path, int, Path, int], int] = {}
    for places in windows.values():
        if len(places) < 2 or len(places) > 8:
            continue
        for i, (fa, sa) in enumerate(places):
            for fb, sb in places[i + 1:]:
                if fa == fb and abs(sa - sb) < MIN_LINES:
                    continue
                a, b = lines[fa], lines[fb]
                while sa > 0 and sb > 0 and a[sa - 1][1] == b[sb - 1][1]:
                    sa, sb = sa - 1, sb - 1
                length = 0
                while (sa + length < len(a) and sb + length < len(b)
                       and a[sa + length][1] == b[sb + length][1]
                       and (fa != fb or sa + length < sb)):
                    length += 1
                runs[(fa, sa, fb, sb)] = length
    rows = []
    for (fa, sa, fb, sb), length in runs.items():
        if length < MIN_LINES:  # a window that overlapped itself
            continue
        a, b = lines[fa], lines[fb]
        found = {kind for _, _, kind in a[sa:sa + length]}
        kind = "code" if "code" in found else "+".join(sorted(found))
        rows.append((length,
                     f"{fa.relative_to(root)}:{a[sa][0]}-{a[sa + length - 1][0]}",
                     f"{fb.relative_to(root)}:{b[sb][0]}-{b[sb + length - 1][0]}", kind))
    return sorted(rows, key=lambda row: (-row[0], row[1], row[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout to measure (default: this one)")
    parser.add_argument("--most", type=int, default=12, help="repeated runs to list")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    graph = imports(root)
    unplaced = sorted({layer_of(m) for m in graph} - set(LEVEL))
    if unplaced:
        print(f"modules with no layer in LAYERS: {', '.join(unplaced)}")
        return 1
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    print("\n".join(layer_lines(root, graph)))
    up = upward(graph)
    print(f"{len(up)} upward imports" + "".join(f"\n  {a} -> {b}" for a, b in up))
    loops = cycles(graph)
    print(f"{len(loops)} import cycles" + "".join(f"\n  {' <-> '.join(c)}" for c in loops))
    for folder in (PACKAGE, "tests"):
        rows = repeats(sorted((root / folder).rglob("*.py")), root)
        pairs = {(a.partition(":")[0], b.partition(":")[0]) for _, a, b, _ in rows}
        kinds = Counter(kind for *_, kind in rows)
        print(f"{folder}/: {len(rows)} runs of {MIN_LINES}+ identical code lines stand in two"
              f" places ({sum(r[0] for r in rows)} lines), in {len(pairs)} pairs of files;"
              f" by kind: {dict(sorted(kinds.items())) or 'none'}")
        for length, a, b, kind in rows[: args.most]:
            print(f"  {length:3d}  {a} ~ {b}  ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
