"""Files a command writes: never one of the store's own, never half written.

Every command that writes a file (``export``, ``backup`` and any later one) goes
through here. A target is refused when it is the store or one of the files
SQLite keeps beside it (``-wal``, ``-shm``, ``-journal``), whichever path leads
there: relative, through a symlink, or a hard link (same device and inode). The
output is written to a temporary file in the target's directory and renamed
into place only once it is complete, so a failure leaves the old file (or no
file) behind, never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from timeline.errors import StoreError

__all__ = ["STORE_SUFFIXES", "atomic_path", "atomic_text", "check_target", "store_files"]

STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")
"""The store file and the files SQLite keeps beside it."""


def store_files(store: str | os.PathLike[str]) -> list[Path]:
    """Every path naming the store or one of its companion files (as given and resolved)."""
    given = Path(os.path.abspath(store))
    resolved = Path(os.path.realpath(store))
    out: list[Path] = []
    for base in dict.fromkeys([given, resolved]):
        out += [Path(f"{base}{suffix}") for suffix in STORE_SUFFIXES]
    return out


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_target(target: str | os.PathLike[str], store: str | os.PathLike[str]) -> None:
    """Refuse ``target`` if writing it could touch the store ``store``.

    Raises:
        StoreError: ``target`` is the store or one of its companion files, by
            any path (relative, symlink, hard link), or is a directory.
    """
    if str(store) == ":memory:":
        return
    names = store_files(store)
    real = Path(os.path.realpath(target))
    whole = Path(os.path.abspath(target))
    hit = next((n for n in names if n in (real, whole)), None)
    if hit is None:
        wanted = _identity(target)
        if wanted is not None:
            hit = next((n for n in names if _identity(n) == wanted), None)
    if hit is not None:
        suffix = next((s for s in STORE_SUFFIXES[1:] if str(hit).endswith(s)), "")
        what = f"the store's {suffix} file" if suffix else "the store itself"
        raise StoreError(
            f"{target}: refusing to write there: it is {what} ({store}); "
            "writing it would destroy the store. Choose another output file"
        )
    if os.path.isdir(target):
        raise StoreError(f"{target}: is a directory; give a file name")


def _is_special(path: str | os.PathLike[str]) -> bool:
    """An existing target that is not a regular file (``/dev/null``, a FIFO, a terminal)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], store: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path in ``target``'s directory, renamed onto ``target`` on success.

    The caller writes the whole output to the yielded path (which does not exist
    yet). On an error the temporary file is removed and ``target`` is untouched.

    Raises:
        StoreError: see :func:`check_target`.
    """
    check_target(target, store)
    final = Path(os.path.realpath(target))  # write through a symlink, as open() would
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    temp = Path(name)
    temp.unlink()
    try:
        yield temp
        os.chmod(temp, _mode_for(final))
        check_target(target, store)  # the target may have changed while we wrote
        os.replace(temp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike[str], store: str | os.PathLike[str]) -> Iterator[TextIO]:
    """An open UTF-8 text stream whose content replaces ``target`` only when complete.

    An existing target that is not a regular file (``/dev/null``, a FIFO) is
    written directly: there is nothing to replace.

    Raises:
        StoreError: see :func:`check_target`.
        OSError: the directory cannot be written.
    """
    check_target(target, store)
    if _is_special(target):
        with open(target, "w", encoding="utf-8", newline="") as out:
            yield out
        return
    with atomic_path(target, store) as temp, open(temp, "x", encoding="utf-8", newline="") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())
