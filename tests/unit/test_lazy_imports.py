"""What `python -m bot serve` does not import until it needs it (DESIGN §6: idle RSS).

Each package here costs megabytes of resident memory for work an idle server may never
do: Pillow re-encodes pictures of a thread reply sent as MMS, `emoji` reads shortcodes in
text typed in Slack, `cryptography` seals personal sessions (only with
RINGBRIDGE_SECRET_KEY set). A top-level import of any of them anywhere `serve` imports
brings it back for every server; this fails first. In a fresh interpreter: the tests
themselves import all three.
"""

from __future__ import annotations

import json
import subprocess
import sys

LOADED_BY_USE = ("PIL", "emoji", "cryptography")

IMPORT_THE_SERVER = """
import json, sys
import bot.__main__
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))))
"""


def imported(script: str, *args: str) -> object:
    """What `script` prints (JSON), run in a fresh interpreter: nothing imported before."""
    run = subprocess.run(  # noqa: S603 - our own code in a fresh interpreter
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_serve_imports_neither_pillow_nor_emoji_nor_cryptography() -> None:
    assert imported(IMPORT_THE_SERVER, *LOADED_BY_USE) == []


IMPORT_THE_APP = """
import json, sys
import bot.server
print(json.dumps(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.postgresql"))))
"""


def test_the_server_on_sqlite_does_not_import_postgresqls_dialect() -> None:
    """`bot.store.engine.insert` imports a dialect's `INSERT … ON CONFLICT` where it is
    used: a top-level `from sqlalchemy.dialects import postgresql` (2 MB) fails here."""
    assert imported(IMPORT_THE_APP) == []
