"""Run ``python -m xms_sandbox`` as a real separate process for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests


class SandboxProcess:
    """``log``: a file for what the server prints, for servers that answer many requests (each
    is a line, and a pipe nobody reads while the server runs fills up and stops it)."""

    def __init__(
        self, port: int, *args: str, env: dict[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("w", encoding="utf-8") if log is not None else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xms_sandbox", "--port", str(port), *args],
            stdout=self._log_file or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited early: {self.stop()[1]}")
            try:
                requests.get(f"{self.url}/sandbox/", timeout=0.5)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("sandbox did not start")

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, then the exit code and everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(2)
        output, _ = self.process.communicate(timeout=15)
        if self._log_file is not None and self.log is not None:
            self._log_file.close()
            output = self.log.read_text(encoding="utf-8")
        return self.process.returncode, output

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.stop()
