"""The golden-file helper rewrites only when asked: `UPDATE_GOLDEN=1`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden_files import assert_golden

REVIEWED = '{\n  "text": "reviewed"\n}\n'


@pytest.mark.parametrize("setting", [None, "0", "", "false", "yes"])
def test_without_update_golden_1_a_different_message_fails_and_the_file_stays(
    setting: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if setting is None:
        monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    else:
        monkeypatch.setenv("UPDATE_GOLDEN", setting)
    path = tmp_path / "golden.json"
    path.write_text(REVIEWED)
    with pytest.raises(AssertionError, match="differs"):
        assert_golden(path, {"text": "changed"})
    assert path.read_text() == REVIEWED
    with pytest.raises(AssertionError, match="missing"):
        assert_golden(tmp_path / "new.json", {"text": "changed"})
    assert not (tmp_path / "new.json").exists()


def test_update_golden_1_rewrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    path = tmp_path / "golden.json"
    path.write_text(REVIEWED)
    assert_golden(path, {"text": "changed", "a": 1})
    assert json.loads(path.read_text()) == {"a": 1, "text": "changed"}
    assert path.read_text().index('"a"') < path.read_text().index('"text"')  # sorted keys
