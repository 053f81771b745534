"""Real servers for tests: llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

Usage::

    with llama_server(gguf) as base_url:   # "http://127.0.0.1:<port>/v1"
        ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    def __init__(self, proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.proc, self.base_url, self.log = proc, base_url, log

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@contextlib.contextmanager
def llama_server(
    model: str, *, n_ctx: int = 2048, n_threads: int | None = None, startup_s: float = 120.0,
    log_dir: Path | None = None,
) -> Iterator[LlamaServer]:
    """Start ``python -m llama_cpp.server`` on a free port, wait until ``/v1/models`` answers,
    stop it afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    log = (log_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"llama_server_{port}.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False"]
    if n_threads:
        cmd += ["--n_threads", str(n_threads)]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    server = LlamaServer(proc, base_url, log)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with {proc.returncode}: "
                    + log.read_text(errors="replace")[-2000:]
                )
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start within {startup_s:g} s")
            time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
