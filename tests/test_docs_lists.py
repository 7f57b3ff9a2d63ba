"""Lists the docs show are the registries' lists: no name missing, none unknown, right default.

Each place below is a region of a doc or docstring that lists the names of one registry
(schedules, gate shapes, zoo models). The registries are read at test time, so a schedule
added to ``captum_rank.schedules`` (or a default changed in ``attribute``) fails this test
until every list says so. A place that cannot be found fails too: if you move a list, point
its entry here to the new spot.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from captum_rank import schedules, zoo
from captum_rank.attr import RankIntegratedGradients

ROOT = Path(__file__).resolve().parents[1]

# `"name"` in markdown, ``name`` / ``"name"`` in reST docstrings, | `name` | in tables.
QUOTED_MD = r'`"([a-z][a-z0-9_]*)"`'
BACKTICKED_MD = r"`([a-z][a-z0-9_]*)`"
DOUBLE_BACKTICKED = r"``([a-z][a-z0-9_]*)``"
QUOTED_DOUBLE_BACKTICKED = r'``"([a-z][a-z0-9_]*)"``'
TABLE_FIRST_COLUMN = r"^\| `([a-z][a-z0-9_]*)`"
RST_TABLE_FIRST_COLUMN = r"^``([a-z][a-z0-9_]*)``"


def _read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def _between(text: str, start: str, end: str, where: str) -> str:
    """The text from ``start`` (included) to the next ``end`` (excluded)."""
    i = text.find(start)
    if i < 0:
        pytest.fail(f"{where}: cannot find {start!r}; update tests/test_docs_lists.py.")
    j = text.find(end, i + len(start))
    if j < 0:
        pytest.fail(f"{where}: cannot find {end!r} after {start!r}.")
    return text[i:j]


def _markdown_table(text: str, header: str, where: str) -> str:
    """The rows of the markdown table whose header line starts with ``header``."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith(header):
            rows = []
            for row in lines[n + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(row)
            return "\n".join(rows)
    pytest.fail(f"{where}: no table with header {header!r}; update tests/test_docs_lists.py.")


def _docstring_argument(doc: str, name: str, where: str) -> str:
    """One ``name (type): ...`` entry of a Google-style Args: section."""
    lines = doc.splitlines()
    for n, line in enumerate(lines):
        if line.strip().startswith(f"{name} ("):
            indent = len(line) - len(line.lstrip())
            out = [line]
            for nxt in lines[n + 1:]:
                stripped = nxt.strip()
                if stripped and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                out.append(nxt)
            return "\n".join(out)
    pytest.fail(f"{where}: no argument {name!r} documented.")


def _cli_zoo_help() -> str:
    tree = ast.parse(_read("captum_rank/cli.py"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            node.value.startswith("a zoo model (")
        ):
            return _between(node.value, "a zoo model (", ")", "cli --model help")
    pytest.fail("captum_rank/cli.py: no --model help with 'a zoo model (...)'.")


def _schedule_default() -> str:
    default = inspect.signature(RankIntegratedGradients.attribute).parameters["schedule"].default
    return str(default)


def _shape_default() -> str:
    return str(inspect.signature(schedules.RankSchedule.__init__).parameters["shape"].default)


def _is_math(token: str) -> bool:
    """Symbols such as ``k`` or ``s_i`` in the same markup are maths, not names."""
    return re.fullmatch(r"[a-z](_[a-z0-9]+)?", token) is not None


@dataclass(frozen=True)
class Place:
    where: str
    region: Callable[[], str]
    pattern: str
    registry: Callable[[], list[str]]
    default: Callable[[], str] | None = None  # the region marks this name as the default


SCHEDULES = schedules.available_schedules
SHAPES = schedules.available_shapes
MODELS = zoo.available

PLACES = [
    Place(
        "attr.py: the schedule= argument of RankIntegratedGradients.attribute",
        lambda: _docstring_argument(inspect.getdoc(RankIntegratedGradients.attribute) or "",
                                    "schedule", "attribute"),
        DOUBLE_BACKTICKED, SCHEDULES, _schedule_default,
    ),
    Place(
        "schedules.py: the table of the module docstring",
        lambda: _between(schedules.__doc__ or "", "name ", "\n\n", "schedules docstring"),
        RST_TABLE_FIRST_COLUMN, SCHEDULES,
    ),
    Place(
        "README.md: the schedule= option list",
        lambda: _between(_read("README.md"), "`schedule=` (", "`form=`", "README"),
        QUOTED_MD, SCHEDULES, _schedule_default,
    ),
    Place(
        "README.md: the schedule table",
        lambda: _markdown_table(_read("README.md"), "| schedule |", "README"),
        TABLE_FIRST_COLUMN, SCHEDULES,
    ),
    Place(
        "README.md: the layout line of schedules.py",
        lambda: _between(_read("README.md"), "schedules.py ", ")", "README layout"),
        r"\b([a-z][a-z0-9_]*)\b(?=[,)]|$)", SCHEDULES,
    ),
    Place(
        "docs/mathematics.md: the schedule table",
        lambda: _markdown_table(_read("docs/mathematics.md"), "| schedule |", "mathematics"),
        TABLE_FIRST_COLUMN, SCHEDULES, _schedule_default,
    ),
    Place(
        "docs/quickstart.md: the schedule keywords",
        lambda: _between(_read("docs/quickstart.md"), "schedules are keywords (", "`form=",
                         "quickstart"),
        QUOTED_MD, SCHEDULES, _schedule_default,
    ),
    Place(
        "docs/relations.md: the schedules RIG offers",
        lambda: _between(_read("docs/relations.md"), "offers every schedule (", "{class}",
                         "relations"),
        BACKTICKED_MD, SCHEDULES,
    ),
    Place(
        "schedules.py: the shape option in the module docstring",
        lambda: _between(schedules.__doc__ or "", "* ``shape``:", "* ``channels``",
                         "schedules docstring"),
        QUOTED_DOUBLE_BACKTICKED, SHAPES, _shape_default,
    ),
    Place(
        "cli.py: the zoo models in the --model help",
        _cli_zoo_help,
        r"([a-z][a-z0-9]*(?:-[a-z0-9]+)+)", MODELS,
    ),
]


@pytest.mark.parametrize("place", PLACES, ids=[p.where for p in PLACES])
def test_list_matches_the_registry(place: Place) -> None:
    region = place.region()
    found = re.findall(place.pattern, region, flags=re.MULTILINE)
    registered = place.registry()
    missing = [name for name in registered if name not in found]
    unknown = sorted(set(found) - set(registered) - {t for t in found if _is_math(t)})
    assert not missing, f"{place.where}: missing {missing} (registered: {registered})"
    assert not unknown, f"{place.where}: lists {unknown}, which are not registered"


@pytest.mark.parametrize("place", [p for p in PLACES if p.default is not None],
                         ids=[p.where for p in PLACES if p.default is not None])
def test_list_marks_the_real_default(place: Place) -> None:
    assert place.default is not None
    region = place.region()
    at = region.find("default")
    assert at >= 0, f"{place.where}: says nothing about the default"
    before = re.findall(place.pattern, region[:at], flags=re.MULTILINE)
    assert before, f"{place.where}: 'default' comes before any name"
    assert before[-1] == place.default(), (
        f"{place.where}: marks {before[-1]!r} as the default, but it is {place.default()!r}"
    )


def test_the_checker_catches_drift() -> None:
    # The check itself can fail: a list without one registered name, or with an extra one.
    place = PLACES[2]
    text = place.region()
    name = place.registry()[-1]
    dropped = text.replace(f'`"{name}"`', "")
    assert name not in re.findall(place.pattern, dropped)
    extra = text + ' `"no_such_schedule"`'
    assert "no_such_schedule" in re.findall(place.pattern, extra)
    assert _is_math("s_i") and _is_math("k") and not _is_math("no_such_schedule")
