"""Generated code that tracebacks and debuggers can read.

The codec, the store's batch copier and the fact layouts generate straight-line
functions from attrs fields (measured to pay off; see docs/performance.md). As
attrs and cattrs do, each source is compiled under its own file name and
registered with :mod:`linecache`, so a failure inside shows the generated line
instead of ``File "<string>"``.
"""

from __future__ import annotations

import itertools
import linecache
from typing import Any

__all__ = ["compile_function"]

_serial = itertools.count(1)


def compile_function(source: str, name: str, env: dict[str, Any], label: str) -> Any:
    """Compile ``source``, which defines function ``name``, in ``env``; return the function.

    Args:
        source: the function's code.
        name: the name it defines.
        env: its globals (what the generated code refers to).
        label: what it is, for the file name tracebacks show
            (``<timeline generated N: label>``).
    """
    filename = f"<timeline generated {next(_serial)}: {label}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), env)  # code built from attrs field names only
    return env[name]
