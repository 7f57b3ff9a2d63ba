"""Sphinx configuration for captum-rank.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The tutorials live in ``tutorials/`` at the repository root and are executed by myst-nb
at build time (outputs are never stored in git). Set ``CAPTUM_RANK_DOCS_EXECUTE=off``
for a quick build that renders them without outputs, or ``cache`` to reuse earlier runs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

project = "captum-rank"
author = "captum-rank developers"
copyright = "2026, captum-rank developers"
try:
    import captum_rank

    release = captum_rank.__version__
except Exception:  # pragma: no cover - the API pages then fail loudly instead
    release = "0.1.0"
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    # MathJax 3 from a PyPI package (sphinx-mathjax-offline, Apache-2.0), copied into
    # _static/mathjax and loaded from there: the mathematics renders offline as well as
    # online, with no CDN. (Its module name has hyphens; Sphinx imports it by name.)
    "sphinx-mathjax-offline",
]

# Sphinx reads .md through myst-nb's parser, which also renders notebooks.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
# _generated/ holds files that pages {include}; built on their own they would be orphan
# duplicates of those pages.
exclude_patterns = [
    "_build", "_generated", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "README.md",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks: executed at build time, errors fail the build. Their kernels inherit this
# environment: a MPLBACKEND such as Agg would override the inline backend and drop every
# figure from the pages, so it is removed here.
os.environ.pop("MPLBACKEND", None)
nb_execution_mode = os.environ.get("CAPTUM_RANK_DOCS_EXECUTE", "force")
nb_execution_timeout = int(os.environ.get("CAPTUM_RANK_NB_TIMEOUT", "600"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# Docstrings are Google style ("Args:", "Returns:") with Captum's hanging indents.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": True, "show-inheritance": True}


html_theme = "alabaster"
html_title = f"captum-rank {release}"
html_theme_options = {
    "description": "Rank Integrated Gradients for Captum",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_static_path: list[str] = []

# --------------------------------------------------------------------------------------
# Generated sources (git-ignored): the tutorials copied from tutorials/, and one API page
# per module of the package that imports here (captum_rank.audit / cli only once they
# exist), so the site never documents a module that is not there.

API_MODULES = [
    ("captum_rank", "The public names"),
    ("captum_rank.attr", "RankIntegratedGradients"),
    ("captum_rank.layer", "LayerRankIntegratedGradients"),
    ("captum_rank.options", "RIG's options in one object"),
    ("captum_rank.defaults", "Named defaults and the n_steps rule"),
    ("captum_rank.rank_space", "Rank-space attributions for NoiseTunnel"),
    ("captum_rank.svd", "The SVD reconstruction kernel"),
    ("captum_rank.schedules", "Rank schedules"),
    ("captum_rank.baselines", "Baselines"),
    ("captum_rank.quadrature", "Quadrature as a path partition"),
    ("captum_rank.path", "The path walk of the fixed rules (internal)"),
    ("captum_rank.exact", "Exact rank attributions"),
    ("captum_rank.summaries", "Spectrum numbers shared by plots and reports"),
    ("captum_rank.rank_path", "The rank path as data"),
    ("captum_rank.visualization", "Visualisation"),
    ("captum_rank.data", "Data"),
    ("captum_rank.zoo", "Model zoo"),
    ("captum_rank.zoo.text", "The text model of the layer examples"),
    ("captum_rank.llm", "Exact rank spectra of language-model prompts"),
    ("captum_rank.zoo.smollm2", "SmolLM2, a language model that installs offline"),
    ("captum_rank.audit", "Model audit"),
    ("captum_rank.metrics", "Faithfulness metrics and sanity checks"),
    ("captum_rank.metrics.perturbation", "Insertion, deletion and DiffID"),
    ("captum_rank.metrics.road_imputation", "ROAD"),
    ("captum_rank.metrics.correlation", "Faithfulness correlation"),
    ("captum_rank.metrics.rank_faithfulness", "Rank-space faithfulness"),
    ("captum_rank.metrics.sanity", "Sanity checks"),
    ("captum_rank.metrics.quantus_adapter", "RIG as a Quantus explain_func"),
    ("captum_rank.metrics.rivals", "Rival attribution methods"),
    ("captum_rank.demo", "The demo"),
    ("captum_rank.cli", "Command line"),
]


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _home(obj: object, name: str, pages: dict[str, ModuleType]) -> str | None:
    """The one API page that documents a class or function: the nearest module with a page
    at or above the one that defines it, and that has it as ``name``. ``None`` for data."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        return None
    parts = str(getattr(obj, "__module__", "")).split(".")
    while parts:
        module = ".".join(parts)
        if module in pages and getattr(pages[module], name, None) is obj:
            return module
        parts.pop()
    return None


def _link_list(names: list[str], homes: dict[str, str]) -> str:
    return "\n".join(f"- {{py:obj}}`{name} <{homes[name]}.{name}>`" for name in names) + "\n"


def _generate_api_pages() -> None:
    """One page per module. Each class and function is documented once, on its home page
    (:func:`_home`): viewcode links every object of a source module to the page and module
    name where that module's objects were first documented, so a re-export documented a
    second time (``captum_rank.metrics.diffid`` beside ``...metrics.perturbation.diffid``)
    sends the ``[source]`` pages' links to anchors that do not exist. Package pages list
    their re-exports as links to the home pages instead."""
    api = DOCS / "api"
    api.mkdir(exist_ok=True)
    for old in api.glob("captum_rank*.md"):
        old.unlink()
    pages: dict[str, ModuleType] = {}
    for module, _ in API_MODULES:
        try:
            pages[module] = importlib.import_module(module)
        except ImportError:
            continue
    # The top page only lists: every public name has a page of its own module.
    documenting = {name: mod for name, mod in pages.items() if name != "captum_rank"}
    # The names a page's `:members:` documents: its __all__, or else (no __all__) the
    # public classes and functions it defines.
    exported = {
        module: [n for n in getattr(mod, "__all__", []) if n != "__version__"]
        if hasattr(mod, "__all__")
        else [n for n, obj in vars(mod).items()
              if not n.startswith("_") and getattr(obj, "__module__", None) == module
              and (inspect.isclass(obj) or inspect.isroutine(obj))]
        for module, mod in pages.items()
    }
    homes: dict[str, dict[str, str]] = {module: {} for module in pages}
    extra: dict[str, list[tuple[str, object]]] = {module: [] for module in pages}
    for module, names in exported.items():
        for name in names:
            obj = getattr(pages[module], name)
            home = _home(obj, name, documenting)
            if home is None:
                continue
            homes[module][name] = home
            if home != module and name not in exported[home] and (name, obj) not in extra[home]:
                extra[home].append((name, obj))  # re-exported, but not in its home's __all__
    for module, title in API_MODULES:
        if module not in pages:
            continue
        elsewhere = [n for n in exported[module] if homes[module].get(n, module) != module]
        heading = f"# `{module}`: {title}\n\n"
        if module == "captum_rank":
            body = (
                f"{heading}```{{eval-rst}}\n.. automodule:: {module}\n   :no-members:\n```\n\n"
                "The package re-exports these names; each is documented in its module:\n\n"
                + _link_list(sorted(elsewhere), homes[module])
            )
        else:
            options = "   :members:\n   :show-inheritance:\n"
            if elsewhere:
                options += f"   :exclude-members: {', '.join(elsewhere)}\n"
            directives = "".join(
                f"\n.. auto{'class' if inspect.isclass(obj) else 'function'}:: {module}.{name}\n"
                for name, obj in extra[module]
            )
            body = f"{heading}```{{eval-rst}}\n.. automodule:: {module}\n{options}{directives}```\n"
            if elsewhere:
                body += (
                    "\nAlso importable from here, documented in their modules:\n\n"
                    + _link_list(elsewhere, homes[module])
                )
        _write_if_changed(api / f"{module}.md", body)


def _copy_tutorials() -> None:
    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "tutorials").glob("*.ipynb"))
    names = {src.name for src in sources}
    for old in target.glob("*.ipynb"):
        if old.name not in names:
            old.unlink()
    for src in sources:
        dst = target / src.name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


def _escape_cell_pipes(line: str) -> str:
    """Escape a ``|`` inside a table cell (e.g. ``max |difference|``) for markdown."""
    if not line.startswith("|") or set(line.strip()) <= set("|-: "):
        return line
    out = []
    for i, char in enumerate(line):
        inner = 0 < i < len(line) - 1
        if char == "|" and inner and not (line[i - 1] == " " and line[i + 1] == " "):
            out.append("\\|")
        else:
            out.append(char)
    return "".join(out)


def _copy_results() -> None:
    generated = DOCS / "_generated"
    generated.mkdir(exist_ok=True)
    source = ROOT / "benchmarks" / "RESULTS.md"
    text = source.read_text() if source.exists() else "No benchmark results yet.\n"
    text = "\n".join(_escape_cell_pipes(line) for line in text.splitlines()) + "\n"
    _write_if_changed(generated / "RESULTS.md", text)


def _claims_toctree() -> None:
    """A toctree entry for docs/paper_claims.md, written by another part of the project."""
    generated = DOCS / "_generated"
    generated.mkdir(exist_ok=True)
    text = ""
    if (DOCS / "paper_claims.md").exists():
        # The path is absolute: it is resolved from this included file's folder otherwise.
        text = "```{toctree}\n:maxdepth: 1\n:caption: The paper's claims\n\n/paper_claims\n```\n"
    _write_if_changed(generated / "claims_toctree.md", text)


_generate_api_pages()
_copy_tutorials()
_copy_results()
_claims_toctree()


def _resolve_short_names(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Link a Python reference that names an object by a shorter path than its page does:
    a re-export (``captum_rank.RankSpace``) or a name without its module
    (``RankIntegratedGradients.attribute`` from another module's docstring). Sphinx leaves
    those as plain text; here they link when exactly one documented object matches."""
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", ""))
    short = target.removeprefix("captum_rank.")
    domain = env.get_domain("py")
    matches = [name for name in domain.objects
               if name.startswith("captum_rank.") and name.endswith("." + short)]
    package, _, last = target.rpartition(".")
    while len(matches) != 1 and package.startswith("captum_rank"):
        # A package's re-export (captum_rank.metrics.road) documented in a submodule, or
        # a private submodule's object (captum_rank.data.images.f) documented by its package.
        matches = [name for name in domain.objects
                   if name.startswith(package + ".") and name.endswith("." + last)]
        package = package.rpartition(".")[0]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0],
                               node, contnode)


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_short_names)
