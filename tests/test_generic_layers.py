"""The generic layers know no model: no module under calibrate/, analysis/, behavior/, control/, core/ or network/
imports a model, the data loaders or the populations (checked on the source, so lazy imports inside functions count
too)."""

import ast
from pathlib import Path

import pytest

import populace

GENERIC = ("calibrate", "analysis", "behavior", "control", "core", "network")
MODEL_SPECIFIC = ("populace.models", "populace.data", "populace.population")


def imported_modules(source: str, package: str) -> list[str]:
    """Every module an import statement of `source` (a module of `package`) names, at any depth, relative imports
    resolved."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("package", GENERIC)
def test_a_generic_package_imports_no_model_data_or_population(package):
    folder = Path(populace.__file__).parent / package
    modules = sorted(folder.rglob("*.py"))
    assert len(modules) >= 3, f"{folder} has only {len(modules)} modules: is the path right?"
    root = Path(populace.__file__).parents[1]
    found = [f"{path.relative_to(folder)}: {name}" for path in modules
             for name in imported_modules(path.read_text(), ".".join(path.relative_to(root).parts[:-1]))
             if name.startswith(MODEL_SPECIFIC)]
    assert found == []


def test_the_check_finds_model_imports_however_they_are_written():
    source = ("import populace.models.sir\nfrom ..models import tax\n"
              "def f():\n    from populace.data.dohmh import dohmh_daily\n")
    names = imported_modules(source, "populace.core")
    assert [n for n in names if n.startswith(MODEL_SPECIFIC)] == [
        "populace.models.sir", "populace.models", "populace.models.tax", "populace.data.dohmh",
        "populace.data.dohmh.dohmh_daily"]
