"""Pausing Python's cyclic garbage collector around work that makes no cycles."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused, and restore it as it was.

    An append builds many small acyclic objects (rows, texts, record copies) while
    the writer holds its whole in-memory fold: each full collection would walk that
    fold again (measured: an eighth of a bulk import). Reference counting still frees
    everything the block drops; only cycles wait for the next collection.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
