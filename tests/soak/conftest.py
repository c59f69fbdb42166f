"""Soak sizes and figures (RELIABILITY §3).

CI sizes by default; the full sizes with `RINGBRIDGE_SOAK=1`, or `--soak` when pytest is
given this directory (`pytest tests/soak --soak`: pytest reads an option of a sub-directory's
conftest only when that directory is on the command line; the variable works everywhere).

Every test records what it measured in the `figures` fixture; each test's figures are
printed as one JSON line (`SOAK {...}`), at once (visible with `-s`) and again in the
terminal summary, so the lead can paste them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

_RESULTS: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run tests/soak at the full RELIABILITY sizes (also: RINGBRIDGE_SOAK=1)",
    )


def full_size(config: pytest.Config) -> bool:
    flag = False
    try:
        flag = bool(config.getoption("--soak"))
    except ValueError:  # the option is not registered (this conftest loaded late)
        flag = False
    return flag or os.environ.get("RINGBRIDGE_SOAK", "") not in ("", "0")


@pytest.fixture(scope="session")
def soak(request: pytest.FixtureRequest) -> bool:
    """True for the full sizes, False for the CI sizes."""
    return full_size(request.config)


@pytest.fixture
def figures(request: pytest.FixtureRequest, soak: bool) -> Iterator[dict[str, Any]]:
    """What the test measured; printed as one JSON line whether it passed or failed."""
    found: dict[str, Any] = {}
    yield found
    line = json.dumps(
        {"test": request.node.name, "size": "full" if soak else "ci", **found},
        sort_keys=False,
        default=str,
    )
    _RESULTS.append(line)
    sys.stdout.write(f"\nSOAK {line}\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    terminalreporter.section("soak figures (one JSON line per test)")
    for line in _RESULTS:
        terminalreporter.write_line(f"SOAK {line}")
