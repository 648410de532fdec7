"""Line-by-line talk with a worker process, with bounded waits instead of sleeps."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

WORKERS = Path(__file__).with_name("_workers.py")


class Channel:
    """A worker started with ``_workers.py``: send lines, read lines, never hang."""

    def __init__(self, *args: str, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKERS), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()

    def read_line(self, timeout: float = 30.0) -> str:
        """The next line; fails the test if none comes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line from the worker in {timeout}s{self._stderr_note()}")
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise AssertionError(f"the worker closed its output{self._stderr_note()}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def read_until(self, done: Callable[[str], bool], timeout: float = 30.0) -> list[str]:
        """Lines up to and including the first one for which ``done`` is true."""
        lines = [self.read_line(timeout)]
        while not done(lines[-1]):
            lines.append(self.read_line(timeout))
        return lines

    def close(self) -> None:
        """Close stdin (workers then finish) and reap the process."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def _stderr_note(self) -> str:
        self._stderr.flush()
        text = self.stderr_path.read_text(errors="replace").strip()
        return f"; its stderr:\n{text}" if text else ""
