"""Logging for the bridge's processes: one line per event on stderr, and libraries kept
from writing what must not reach a log."""

from __future__ import annotations

import logging
import sys

# aiosqlite logs every statement with its parameters at DEBUG (tokens, verification
# tokens); httpx logs every request URL at INFO (callers' phone numbers in lookups).
_QUIETER = {"aiosqlite": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING}


def configure(level: int | str = logging.ERROR) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for name, floor in _QUIETER.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLogger().level))
