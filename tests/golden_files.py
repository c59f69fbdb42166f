"""Golden files (tests/golden/): a rendered message compared with its reviewed JSON.

`UPDATE_GOLDEN=1 pytest …` rewrites the files it compares (review the diff before
committing); unset, `0` or anything else only compares.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def updating() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def assert_golden(path: Path, actual: Any, *, sort_keys: bool = True) -> None:
    """`actual` equals the JSON in `path` (rewritten first when updating)."""
    if updating():
        text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=sort_keys)
        path.write_text(text + "\n")
    assert path.is_file(), f"{path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert json.loads(path.read_text()) == actual, f"{path.name} differs (UPDATE_GOLDEN=1)"
