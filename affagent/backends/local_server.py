"""Start llama-cpp-python's OpenAI-compatible server on 127.0.0.1 as a subprocess: a real
server for tests and benchmarks of the ``openai`` backend without a GPU or vLLM.

Usage::

    from affagent.backends.local_server import llama_server
    with llama_server() as srv:                  # default GGUF, a free port
        backend = load_backend("openai", base_url=srv.base_url)   # http://127.0.0.1:<port>/v1
        ...

From a shell the same server is ``python -m llama_cpp.server --model <gguf> --port 8000``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from affagent.errors import BackendError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """A running server: ``base_url`` for clients, ``kill()`` to simulate a crash."""

    def __init__(self, proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.proc, self.base_url, self.log = proc, base_url, log

    def kill(self) -> None:
        """SIGKILL the server (no graceful shutdown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@contextlib.contextmanager
def llama_server(
    model: str | None = None,
    *,
    n_ctx: int = 2048,
    n_threads: int | None = None,
    startup_s: float = 120.0,
    log_dir: Path | None = None,
    interrupt_requests: bool = False,
) -> Iterator[LlamaServer]:
    """Start ``python -m llama_cpp.server`` on a free port, wait until ``/v1/models`` answers,
    stop it afterwards (SIGTERM, then SIGKILL). ``model`` defaults to the embedded default GGUF;
    the server's output goes to a log file (named in errors). ``n_threads`` (decode and prompt)
    defaults to the embedded backend's default, so the two compare like for like.
    ``interrupt_requests`` is off, so concurrent clients queue instead of cancelling each
    other's streams (the server's default interrupts the running request for a new one)."""
    if model is None:
        from affagent.backends._embedded import default_gguf_path

        model = default_gguf_path()
    port = free_port()
    log = (log_dir or Path(tempfile.gettempdir())) / f"affagent_llama_server_{port}.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False",
           "--interrupt_requests", str(interrupt_requests)]
    if n_threads is None:
        from affagent.backends._embedded import default_threads

        n_threads = default_threads()
    cmd += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    server = LlamaServer(proc, base_url, log)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise BackendError(
                    f"llama_cpp.server exited with {proc.returncode}; see {log}: "
                    + log.read_text(errors="replace")[-500:].replace("\n", " ")
                )
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BackendError(
                    f"llama_cpp.server did not start within {startup_s:g} s; see {log}"
                )
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
