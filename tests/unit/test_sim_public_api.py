"""Who may import what around the simulators (DESIGN §2): `bot/sim` imports nothing of the
product; tests, benchmarks and the demo use its public names only; tests never import
`bench/`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import bot.sim

ROOT = Path(__file__).resolve().parents[2]


@cache
def imports(folder: Path) -> list[tuple[Path, str]]:
    """(file, module imported) for every import in the Python files under `folder`."""
    return list(_imports(folder))


def _imports(folder: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the file's package
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                yield path, module
                for alias in node.names:  # `from bot.sim import _x` names a module too
                    yield path, f"{module}.{alias.name}"


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_simulators_import_nothing_of_the_product() -> None:
    found = [
        (rel(path), module)
        for path, module in imports(ROOT / "bot" / "sim")
        if module.split(".")[0] == "bot" and not module.startswith("bot.sim")
    ]
    assert found == []


def test_tests_benchmarks_and_the_demo_use_public_simulator_names() -> None:
    users = [ROOT / "tests", ROOT / "bench", ROOT / "bot" / "demo"]
    found = [
        (rel(path), module)
        for folder in users
        for path, module in imports(folder)
        if module.startswith("bot.sim.") and "._" in module.removeprefix("bot")
    ]
    assert found == []


def test_tests_never_import_the_benchmarks() -> None:
    found = [
        (rel(path), module)
        for path, module in imports(ROOT / "tests")
        if module.split(".")[0] == "bench"
    ]
    assert found == []


def test_every_public_name_is_exported() -> None:
    missing = [name for name in bot.sim.__all__ if not hasattr(bot.sim, name)]
    assert missing == []
    assert not [name for name in bot.sim.__all__ if name.startswith("_")]
