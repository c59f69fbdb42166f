"""One composition root (DESIGN §2): `bot/server.py` builds every client from Settings and
hands it down. Below it, no module reads Settings or opens an HTTP client of its own (the
CLI gets its clients from the root; the demo and the simulators are programs of their own).
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"

# Who may read the settings: where they are defined, the root, the CLI that loads them,
# and the demo that makes its own for its simulated world.
READS_SETTINGS = ("config.py", "server.py", "cli/", "demo/")
# Who may open an HTTP client: the root; the simulators (they send webhooks and events);
# the demo (it polls its own server's /healthz).
OPENS_CLIENTS = ("server.py", "sim/", "demo/")
CLIENTS = {"AsyncClient", "Client", "ClientSession", "AsyncWebClient", "WebClient"}


def modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(BOT).as_posix(), ast.parse(path.read_text("utf-8")))
        for path in sorted(BOT.rglob("*.py"))
    ]


def allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or (p.endswith("/") and module.startswith(p)) for p in prefixes)


def test_only_the_root_and_the_cli_read_settings() -> None:
    readers = sorted(
        module
        for module, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "bot.config"
        and {a.name for a in node.names} & {"Settings", "load_settings"}
    )

    assert readers, "the walk found no reader at all: it is looking in the wrong place"
    assert [m for m in readers if not allowed(m, READS_SETTINGS)] == []


def test_only_the_root_opens_http_clients() -> None:
    openers = sorted(
        module
        for module, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr in CLIENTS)
            or (isinstance(node.func, ast.Name) and node.func.id in CLIENTS)
        )
    )

    assert "server.py" in openers, "the walk found not even the root's clients"
    assert [m for m in openers if not allowed(m, OPENS_CLIENTS)] == []
