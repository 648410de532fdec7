"""A store whose -wal file is deleted under a live holder gets an honest error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import timeline as tl
from tests.conftest import H200

HOLDER = """
import sys
import timeline as tl
t = tl.Timeline.open(sys.argv[1])
t.load(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
t.close()
"""


def test_a_deleted_wal_under_a_live_holder_is_named_not_called_foreign(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(H200)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        wal = Path(f"{db}-wal")
        assert wal.stat().st_size > 0  # the loaded events are still in the -wal file
        wal.unlink()
        with pytest.raises(tl.StoreError) as info:
            tl.Timeline.open(db).events()
        message = str(info.value)
        assert "-wal file is missing" in message
        assert "not a timeline store" not in message
        assert not isinstance(info.value, tl.StoreFormatError)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
