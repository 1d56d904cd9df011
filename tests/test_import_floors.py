"""The package floors of docs/architecture.md, read from the source: a package imports only the
floors below it, so the flow reads from the ground up (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import ddir_kit

ROOT = Path(ddir_kit.__file__).parent
# what each package may import besides the small shared modules (errors, fileio, scales, ...)
ALLOWED = {
    "photo": set(),
    "calibration": {"photo"},
    "models": {"photo"},
    "capture": {"photo", "calibration"},
    "registration": {"photo", "capture"},
    "dataset": {"photo", "registration"},
    "benchmark": {"photo", "models", "dataset"},
    "virtual_camera": {"photo", "calibration", "capture", "registration", "dataset"},
    "demo": {"photo", "calibration", "capture", "registration", "dataset", "models", "benchmark", "virtual_camera"},
}
SHARED = {"errors", "fileio", "scales", "quantities", "devices", "parallel", "__version__"}


def _imported_packages(path: Path) -> set[str]:
    """The top-level ddir_kit modules a file imports (relative or absolute)."""
    package = path.relative_to(ROOT).parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from .. import x`: x is a top-level module
                    out.update(a.name.split(".")[0] for a in node.names)
                    continue
            elif node.module and node.module.split(".")[0] == "ddir_kit":
                parts = node.module.split(".")[1:]
                if not parts:
                    out.update(a.name.split(".")[0] for a in node.names)
                    continue
            else:
                continue
            out.add(parts[0])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("ddir_kit."))
    return out


def test_every_package_imports_only_the_floors_below_it():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for target in _imported_packages(path) - allowed - SHARED - {package}:
                wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert wrong == []


def test_the_shared_modules_import_no_stage():
    stages = set(ALLOWED) | {"cli"}
    for path in sorted(ROOT.glob("*.py")):
        assert not (_imported_packages(path) & stages), path.name


def test_the_scan_sees_relative_absolute_and_function_level_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "ddir_kit" / "models"
    pkg.mkdir(parents=True)
    f = pkg / "x.py"
    f.write_text("from ..capture import a\nimport ddir_kit.dataset.open\n"
                 "def g():\n    from ddir_kit.virtual_camera.truth import t\n    from .. import errors\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path / "ddir_kit")
    assert _imported_packages(f) == {"capture", "dataset", "virtual_camera", "errors"}
