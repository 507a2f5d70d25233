"""Light imports: `import populace` loads the engine only, the CLI's help loads no model, and no populace module
imports itself through others (the import graph of module-level imports is acyclic)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import populace

SRC = Path(populace.__file__).parent


def _loaded_after(code: str) -> set[str]:
    """The populace (and matplotlib) modules in sys.modules after running `code` in a fresh interpreter."""
    listing = "import sys; print('\\n'.join(m for m in sys.modules if m.split('.')[0] in ('populace', 'matplotlib')))"
    done = subprocess.run([sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_import_populace_loads_the_core_only():
    loaded = _loaded_after("import populace")
    assert "populace.core.world" in loaded
    assert "populace.sampling" in loaded  # the draws of World.bernoulli / categorical: part of the core
    later = ("populace.models", "populace.data", "populace.population", "populace.network",
             "populace.calibrate", "populace.analysis", "populace.behavior", "populace.control", "populace.gradients",
             "populace.llm",
             "matplotlib")
    assert sorted(m for m in loaded if m.startswith(later)) == []


def test_subpackages_and_models_load_on_first_use():
    loaded = _loaded_after("import populace as pp\nassert pp.models.SIR.__name__ == 'SIR'")
    assert {"populace.models", "populace.models.sir.model", "populace.network", "populace.sampling"} <= loaded
    assert sorted(m for m in loaded if m.startswith(("populace.models.covid_nyc", "populace.models.tax",
                                                     "populace.data", "populace.population"))) == []
    from populace.models import CovidNYC, TaxPolicy

    assert CovidNYC.__module__ == "populace.models.covid_nyc.model"
    assert TaxPolicy.__module__ == "populace.models.tax.model"
    assert [getattr(populace.models, name).__name__ for name in populace.models.__all__] == populace.models.__all__
    assert {"models", "data", "calibrate", "World"} <= set(dir(populace))


def test_unknown_names_are_attribute_errors_that_list_the_real_ones():
    with pytest.raises(AttributeError, match=r"module 'populace' has no attribute 'model'; it has .*models"):
        populace.model  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Sir'; the models are SIR, "):
        populace.models.Sir  # noqa: B018


def test_help_loads_no_model_data_or_plotting():
    loaded = _loaded_after("from populace.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                           "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass")
    assert "populace.cli" in loaded
    assert sorted(m for m in loaded if m.startswith(("populace.models", "populace.data", "populace.population",
                                                     "populace.calibrate", "populace.analysis", "matplotlib"))) == []


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module, names) of the import statements that run when `module` is imported: those at its top level and
    in its top-level if/try/with blocks, not in functions, classes or `if TYPE_CHECKING:`. `import a.b` gives
    ("a.b", []); `from a import b, c` gives ("a", ["b", "c"]) (relative imports resolved)."""
    package = module if is_package else module.rpartition(".")[0]
    imports, body = [], list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            body += node.body + node.orelse
        elif isinstance(node, (ast.Try, ast.With)):
            body += node.body + getattr(node, "handlers", []) + getattr(node, "orelse", [])
            body += getattr(node, "finalbody", [])
        elif isinstance(node, ast.ExceptHandler):
            body += node.body
        elif isinstance(node, ast.Import):
            imports += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            imports.append((".".join(filter(None, [base, node.module])), [alias.name for alias in node.names]))
    return imports


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules that importing it imports first: each module it imports, and the packages
    enclosing those (`import a.b.c` runs a/__init__ and a/b/__init__) except the ones that enclose the importer
    (they run before it). `from a import b` imports the module a.b if there is one, else takes b from a."""
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for module, path in files.items():
        encloses_importer = {".".join(module.split(".")[:k]) for k in range(1, module.count(".") + 1)}
        targets = set()
        for source, names in _top_level_imports(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            submodules = {f"{source}.{name}" for name in names} & files.keys()
            explicit = submodules | ({source} if len(submodules) < len(names) or not names else set())
            for name in explicit:
                parts = name.split(".")
                targets |= {".".join(parts[:k]) for k in range(1, len(parts))} - encloses_importer
            targets |= explicit
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle [m0, m1, ..., m0] of the graph (depth-first search), or [] when it has none."""
    state: dict[str, str] = {}  # "open" while on the search path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_populace_has_no_import_cycle():
    graph = import_graph(SRC)
    assert len(graph) > 90  # every module was read
    assert "populace.core" in graph["populace"]
    assert "populace.population.storage" in graph["populace.models.covid_nyc.model"]
    assert " -> ".join(find_cycle(graph)) == ""


def test_the_cycle_finder_finds_a_cycle_through_a_package_init(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg import a\n")
    (package / "a.py").write_text("import json\nfrom pkg.sub.b import thing\n\ndef f():\n    import pkg.c\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.c\n")
    (package / "c.py").write_text("try:\n    import pkg\nexcept ImportError:\n    pass\n")
    graph = import_graph(package)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub", "pkg.sub.b"}, "pkg.sub": set(), "pkg.sub.b": set(),
                     "pkg.c": {"pkg"}}
    assert find_cycle(graph) == []  # c imports pkg, but nothing imports c at its top level
    (package / "sub" / "__init__.py").write_text("from .. import c\n")  # pkg -> a -> sub -> c -> pkg
    assert find_cycle(import_graph(package)) == ["pkg", "pkg.a", "pkg.sub", "pkg.c", "pkg"]
