"""The Captum adapter, captum_rank/_captum.py: the one place a Captum release can break."""

from __future__ import annotations

import ast
from pathlib import Path

import captum_rank._captum as adapter

PACKAGE = Path(adapter.__file__).parent


def test_every_adapter_name_resolves() -> None:
    for name in adapter.__all__:
        assert getattr(adapter, name) is not None, name


def test_no_other_module_imports_captum_privates() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_captum.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "captum" and any(p.startswith("_") for p in parts[1:]):
                    offenders.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert offenders == []


def test_entry_point_decorator_keeps_the_wrapped_function() -> None:
    # NoiseTunnel reaches attribute.__wrapped__; the decorator must provide it.
    def attribute() -> int:
        return 1

    wrapped = adapter.captum_entry_point(attribute)
    assert wrapped.__wrapped__ is attribute
