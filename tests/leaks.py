"""What counts as a secret leaked into a log (RELIABILITY R19): the whole secret, or any
16-character piece of it (a token cut by a log formatter, or quoted in part, still leaks)."""

from __future__ import annotations

from collections.abc import Iterable

FRAGMENT = 16  # characters: long enough that a match is never chance
SHORTEST = 8  # a secret shorter than this is looked for whole only if at least this long


def fragments(secret: str, size: int = FRAGMENT) -> set[str]:
    """Every `size`-character piece of `secret` (the secret itself when it is shorter)."""
    if len(secret) <= size:
        return {secret}
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaked(text: str, secrets: Iterable[str]) -> dict[str, int]:
    """{secret prefix…: pieces found in `text`} for each secret that leaked; empty passes."""
    found: dict[str, int] = {}
    for secret in secrets:
        if len(secret) < SHORTEST:
            continue
        hits = sum(1 for piece in fragments(secret) if piece in text)
        if hits:
            found[secret[:6] + "…"] = hits
    return found
