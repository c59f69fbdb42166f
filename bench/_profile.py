"""Where a `python -m bot serve` subprocess spends its CPU time: the server run under a
profiler switched on by SIGUSR1 once it is warm (start-up and imports left out), written to
$RINGBRIDGE_PROFILE when `serve` returns (SIGTERM), and read back by package."""

from __future__ import annotations

import pstats
from collections import Counter
from pathlib import Path
from typing import Any

# `python -c YAPPI_PROFILED -m bot serve`: serve under yappi (the bench extra), switched on
# by SIGUSR1 once the server is warm (start-up and imports left out) and written to
# $RINGBRIDGE_PROFILE at exit. CPU time of every thread: aiosqlite's work off the event loop
# is counted too, which cProfile (one thread) would miss. With
# $RINGBRIDGE_PROFILE_CLOCK=wall, wall time instead: a coroutine's time includes its waits
# (yappi follows coroutines across them), so it shows what a step waits on.
YAPPI_PROFILED = """
import os, signal, yappi
yappi.set_clock_type(os.environ.get("RINGBRIDGE_PROFILE_CLOCK", "cpu"))
signal.signal(signal.SIGUSR1, lambda *_: yappi.start(builtins=True, profile_threads=True))
try:
    from bot.cli import main
    main(["serve"])
finally:
    yappi.stop()
    yappi.get_func_stats().save(os.environ["RINGBRIDGE_PROFILE"], type="pstat")
"""


def where_time_goes(stats_file: Path, top: int = 12) -> dict[str, Any]:
    """CPU time of the profiled server by package (a built-in's time goes to the package
    that called it), and the functions with the most time of their own."""
    stats = pstats.Stats(str(stats_file))
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    by_area: Counter[str] = Counter()
    own: list[tuple[float, str]] = []
    ours: list[tuple[float, str]] = []  # bot/'s functions, with what they call
    for (path, line, name), (_cc, _nc, tottime, cumtime, callers) in entries.items():
        own.append((tottime, f"{_short(path)}:{line}({name})"))
        if "/bot/" in path:
            ours.append((cumtime, f"{_short(path)}:{line}({name})"))
        if path not in BUILT_IN or not callers:
            by_area[_area(path)] += tottime
            continue
        for (caller_path, _line, _name), caller_stats in callers.items():
            by_area[_area(caller_path)] += caller_stats[2]  # this built-in's time from there
    total = sum(by_area.values()) or 1.0
    own.sort(reverse=True)
    ours.sort(reverse=True)
    return {
        "profiled_cpu_s": round(total, 2),
        "share_by_area": {k: round(v / total, 3) for k, v in by_area.most_common()},
        "top_own_time_s": {label: round(t, 3) for t, label in own[:top]},
        "top_bot_cumulative_s": {label: round(t, 3) for t, label in ours[:top]},
    }


AREAS = (
    ("/bot/", "ringbridge (bot/)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("aiosqlite", "aiosqlite"),
    ("asyncpg", "asyncpg"),
    ("slack_sdk", "slack_sdk"),
    ("aiohttp", "aiohttp (HTTP server)"),
    ("multidict", "aiohttp (HTTP server)"),
    ("yarl", "aiohttp (HTTP server)"),
    ("prometheus_client", "prometheus_client"),
    ("pydantic", "pydantic"),
    ("json", "json"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
    ("importlib", "imports"),
    ("<frozen", "imports"),
)


# Where a built-in function's entry says it is: cProfile's "~", yappi's "builtins".
BUILT_IN = ("~", "builtins")


def _area(path: str) -> str:
    if path in BUILT_IN:
        return "built-ins"
    return next((area for key, area in AREAS if key in path), "other")


def _short(path: str) -> str:
    if "/bot/" in path:
        return "bot/" + path.split("/bot/", 1)[1]
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
