"""Close matches for a mistyped name ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["suggest"]


def suggest(
    name: str, candidates: Iterable[str], *, limit: int = 3, cutoff: float = 0.6
) -> list[str]:
    """Known names close to ``name``, best first, compared case-insensitively.

    A candidate that starts with what was typed (``"Micron"`` for ``"Micron
    Technology"``) counts as close, as do spellings ``difflib`` finds similar.
    """
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    typed = name.casefold().strip()
    if not typed:
        return []
    close = difflib.get_close_matches(typed, list(by_folded), n=limit, cutoff=cutoff)
    prefixed = [c for c in sorted(by_folded) if c.startswith(typed) and c not in close]
    return [by_folded[c] for c in [*close, *prefixed][:limit]]
