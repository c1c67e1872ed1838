"""The operator under test: `sncguard run` as a real process against the local cluster."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

P = TypeVar("P", bound="OperatorProcess")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OperatorProcess:
    def __init__(self, env: dict[str, str], log_path: Path, *extra_args: str) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.metrics_port = free_port()
        self.args = [sys.executable, "-m", "sncguard.cli", "run",
                     "--liveness", f"http://127.0.0.1:{self.port}/healthz",
                     "--metrics-address", f"127.0.0.1:{self.metrics_port}", *extra_args]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, env={**os.environ, **self.env}, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the operator did not become live in {timeout} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 15) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def metrics(self) -> dict[str, float]:
        """Its /metrics, sample by sample ("name{labels}" -> value)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        out = {}
        for line in text.splitlines():
            match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
            if match:
                out[match.group(1)] = float(match.group(2))
        return out

    def metric(self, name: str) -> float:
        """The sum of a metric's samples over all their labels (0 when it has none yet)."""
        return sum(v for k, v in self.metrics().items() if k == name or k.startswith(name + "{"))

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running(process: P) -> Iterator[P]:
    """The operator started for the block, stopped after it, and failed if it logged a traceback."""
    process.start()
    try:
        yield process
    finally:
        process.stop()
        text = process.log_text() if process.log_path.exists() else ""
        assert "Traceback" not in text, f"the operator logged a traceback:\n{text[-4000:]}"
