"""`populace.analysis` is generic: none of its modules imports a model, the NYC data loaders or the NYC population."""

import ast
from pathlib import Path

import populace.analysis

FORBIDDEN = ("populace.models", "populace.data", "populace.population.nyc")


def test_no_analysis_module_imports_a_model_or_nyc_data():
    folder = Path(populace.analysis.__file__).parent
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert len(list(folder.glob("*.py"))) >= 4  # the package's modules were read
    assert found == []
