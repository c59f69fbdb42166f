"""The import graph of `bot/` follows DESIGN §2: imports point down.

Each module's imports of the product are read from its source (never imported), folded to
the package or top-level module they belong to (`bot.bridge.poster` → `bot.bridge`), and
checked against the arrows the design allows. A new arrow the design forbids fails here,
naming the importing file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"

# The ground floor imports nothing of the product above it (DESIGN §2: "`ringcentral/`,
# `store/`, `notices.py`, `phone.py` and `clock.py` are the ground floor and import neither
# `slack/` nor `bridge/`"; issue #8: `store/` stores plain data and imports no client types).
GROUND: dict[str, frozenset[str]] = {
    "bot.clock": frozenset(),
    "bot.phone": frozenset(),
    "bot.notices": frozenset(),
    "bot.store": frozenset({"bot.clock"}),
    "bot.ringcentral": frozenset({"bot.clock", "bot.phone"}),
}
# Above the ground floor, arrows that point up or sideways where the design says no.
FORBIDDEN: dict[str, frozenset[str]] = {
    "bot.slack": frozenset({"bot.bridge", "bot.server", "bot.cli", "bot.demo"}),
    "bot.observe": frozenset({"bot.bridge", "bot.slack", "bot.server", "bot.cli", "bot.demo"}),
    "bot.bridge": frozenset({"bot.server", "bot.cli", "bot.demo"}),
}
# `sim/` shares no code with the product it simulates; only the demo runs it.
SIM = "bot.sim"
MAY_IMPORT_SIM = frozenset({"bot.sim", "bot.demo"})


def _unit(module: str) -> str:
    """`bot.bridge.poster` → `bot.bridge`; `bot.phone` stays."""
    return ".".join(module.split(".")[:2])


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every `bot…` module `path` imports, relative imports resolved."""
    module = _module_of(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            if target == "bot":  # `from bot import phone` imports the module bot.phone
                yield from (f"bot.{alias.name}" for alias in node.names)
            else:
                yield target


def _arrows() -> list[tuple[str, str, str]]:
    """(importing file, its unit, imported unit) for every import across units."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        unit = _unit(_module_of(path))
        for target in _imports(path):
            if target.startswith("bot.") and _unit(target) != unit:
                found.append((str(path.relative_to(BOT.parent)), unit, _unit(target)))
    return found


def test_the_walk_sees_the_arrows_the_design_expects() -> None:
    """The checker itself works: it finds known arrows, so an empty result means something."""
    units = {(unit, target) for _, unit, target in _arrows()}
    assert ("bot.bridge", "bot.store") in units
    assert ("bot.slack", "bot.notices") in units
    assert ("bot.demo", "bot.sim") in units


@pytest.mark.parametrize("unit", sorted(GROUND))
def test_the_ground_floor_imports_nothing_above_it(unit: str) -> None:
    wrong = [
        f"{path} imports {target}"
        for path, source, target in _arrows()
        if source == unit and target not in GROUND[unit]
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("unit", sorted(FORBIDDEN))
def test_no_arrow_points_up(unit: str) -> None:
    wrong = [
        f"{path} imports {target}"
        for path, source, target in _arrows()
        if source == unit and target in FORBIDDEN[unit]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_demo_runs_the_simulators() -> None:
    wrong = [
        f"{path} imports {target}"
        for path, source, target in _arrows()
        if target == SIM and source not in MAY_IMPORT_SIM
    ]
    assert not wrong, "\n".join(wrong)


def test_the_simulators_import_nothing_of_the_product() -> None:
    wrong = [f"{path} imports {target}" for path, source, target in _arrows() if source == SIM]
    assert not wrong, "\n".join(wrong)
