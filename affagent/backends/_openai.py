"""An OpenAI-compatible chat client on httpx: ``vllm serve``, llama.cpp's ``llama-server``,
llama-cpp-python's server, or any ``/v1/chat/completions`` endpoint.

Why not the openai SDK: one small dependency (httpx) we already carry, and full control over
retries, SSE parsing and vLLM's extra fields.

Behaviour in one place:

* **Streaming** over server-sent events (``data: {...}`` lines, ``data: [DONE]`` at the end);
  an ``{"error": ...}`` event mid-stream becomes a :class:`BackendError`.
* **Timeouts**: ``connect_timeout`` (default 5 s) to open the connection, ``timeout`` (default
  60 s) for each read, i.e. the longest silence tolerated between two chunks.
* **Retries**: up to ``retries`` extra attempts on connection errors, HTTP 5xx and 429, with
  exponential backoff and full jitter (``backoff_s * 2**i``, capped at ``max_backoff_s``;
  a ``Retry-After`` header is honoured up to the cap). Never after the first token was
  streamed, so a reply is never duplicated; a broken stream is an error for the caller to
  retry.
* **extra_body**: merged into the request (backend-level first, then ``params.extra_body``),
  e.g. vLLM's ``top_k``, ``min_p``, ``repetition_penalty``, ``structured_outputs`` /
  ``guided_choice``.
* **Prefill** (``params.prefill``; the reply always starts with it), by ``prefill_mode``:

  - ``"continue"``: the prefill is sent as a trailing assistant message with
    ``continue_final_message: true, add_generation_prompt: false``; the server continues that
    message. vLLM supports this; llama.cpp's C++ ``llama-server`` continues a trailing
    assistant message by default (since 2025) and accepts the same flags.
  - ``"instruct"``: for servers that would close the assistant message and start a new one
    (llama-cpp-python's server, hosted APIs): the system prompt asks the model to begin with
    the prefill; if the model does, its copy is dropped, and the prefill is put in front of the
    output either way. Weaker steering than a true continuation.
  - ``"completions"``: the client renders the chat template itself (``chat_template``:
    ``"chatml"``, the default, or a Jinja template string) and calls ``/completions`` with the
    prefill appended to the prompt: an exact continuation on any server with a completions
    endpoint (llama-cpp-python's included), as long as the template matches the model. Used
    for every request in this mode, so prompts are rendered one way.
  - ``"auto"`` (default; env ``AFFAGENT_PREFILL_MODE`` sets another): ``GET /models`` once;
    ``owned_by`` ``vllm`` or ``llamacpp`` → ``continue``, anything else → ``instruct``.

  An instructed prefill moves the reply's tone much less than a true continuation
  (evals/RESULTS.md, "Injection"): use ``completions`` for ChatML models on servers that
  cannot continue a message.

Example (a running ``vllm serve HuggingFaceTB/SmolLM2-1.7B-Instruct``)::

    backend = OpenAIBackend(base_url="http://127.0.0.1:8000/v1",
                            extra_body={"top_k": 40, "repetition_penalty": 1.1})
    text = await backend.generate([ChatMessage(role="user", content="Hi")],
                                  GenerationParams(max_tokens=64, seed=1))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httpx

from affagent.backends._common import StreamingBackend
from affagent.errors import BackendError, ConfigError
from affagent.settings import settings
from affagent.types import BackendCapabilities, ChatMessage, GenerationParams

PrefillMode = Literal["auto", "continue", "instruct", "completions"]
_Resolved = Literal["continue", "instruct", "completions"]
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
_CONTINUE_OWNERS = ("vllm", "llamacpp", "llama.cpp")


class _Unreachable(BackendError):
    """The server could not be reached at all (as opposed to answering with an error)."""


class _Retryable(Exception):
    """An attempt failed before any token in a way worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base URL must look like http://host:port/v1 (got {url!r})")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


def _reason(exc: BaseException) -> str:
    """A short, lower-case reason from an httpx/OS error ('connection refused'). The root
    OSError is preferred: anyio wraps it as 'All connection attempts failed'."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno is not None:
            text = seen.strerror if seen.errno < 0 and seen.strerror else os.strerror(seen.errno)
            return text.lower()
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text[:1].lower() + text[1:]


def _server_message(status: int, body: bytes) -> str:
    """The error text a server put in its JSON body, or the start of the raw body."""
    snippet = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(snippet)
    except ValueError:
        return snippet[:200] or f"HTTP {status}"
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        msg = err.get("message") or err.get("detail") or json.dumps(err)[:200]
    else:
        msg = data.get("detail") if isinstance(data, dict) and "detail" in data else err
    return str(msg)[:300].replace("\n", " ")


class OpenAIBackend(StreamingBackend):
    """Chat completions against an OpenAI-compatible server (see the module doc).

    ``model`` None → the first model the server lists. ``api_key`` None → env
    ``AFFAGENT_API_KEY`` or ``OPENAI_API_KEY`` (servers without auth ignore it). ``transport``
    injects an ``httpx.AsyncBaseTransport`` (e.g. ``httpx.MockTransport``) for tests.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        extra_body: dict[str, Any] | None = None,
        prefill_mode: PrefillMode | None = None,
        chat_template: str = "chatml",
        template_stops: Sequence[str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        env = settings()
        mode = prefill_mode or env.prefill_mode or "auto"
        if mode not in ("auto", "continue", "instruct", "completions"):
            raise ConfigError(
                f"prefill_mode must be auto, continue, instruct or completions (got {mode!r})"
            )
        if retries < 0:
            raise ConfigError("retries must be ≥ 0")
        self.base_url = _normalise_base_url(
            base_url or env.base_url or DEFAULT_BASE_URL
        )
        self.model = model
        self.api_key = api_key or env.api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.extra_body = dict(extra_body or {})
        self.prefill_mode = cast(PrefillMode, mode)
        self._resolved_prefill: _Resolved | None = (
            None if self.prefill_mode == "auto" else self.prefill_mode
        )
        self.chat_template = chat_template
        self.template_stops = (
            list(template_stops)
            if template_stops is not None
            else (["<|im_end|>"] if chat_template == "chatml" else [])
        )
        self._transport = transport
        self._headers = dict(headers or {})
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.attempts = 0  # HTTP attempts made on chat completions (for tests and stats)

    @property
    def capabilities(self) -> BackendCapabilities:  # type: ignore[override]
        """Exact continuation of a prefill with ``continue`` / ``completions`` (vLLM,
        llama.cpp's server), only an instruction otherwise; no steering (an OpenAI-compatible
        server exposes none). ``prefill`` measured best with true continuation, ``fewshot``
        without (evals/RESULTS.md)."""
        mode = self._resolved_prefill or self.prefill_mode
        exact = mode in ("continue", "completions")
        return BackendCapabilities(
            prefill="continue" if exact else "instruct",
            injection="prefill" if exact else "fewshot",
            constrained="structured_outputs",
            concurrent=True,
        )

    # ------------------------------------------------------------------ plumbing
    def _http(self) -> httpx.AsyncClient:
        """One client per event loop: a pooled connection cannot move between loops, and sync
        wrappers may run each call in a fresh loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            headers = {"Accept": "application/json", **self._headers}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            self._client = httpx.AsyncClient(
                base_url=self.base_url + "/",
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                transport=self._transport,
                headers=headers,
            )
            self._client_loop = loop
        return self._client

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff_s)
        cap = min(self.max_backoff_s, self.backoff_s * (2**attempt))
        return random.uniform(cap / 2, cap)

    def _retrying(self) -> Any:
        """The retry policy (tenacity): up to ``retries`` more attempts on connection errors,
        5xx and 429, waiting :meth:`_delay` (a server's ``Retry-After`` wins)."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self._delay(state.attempt_number - 1, getattr(exc, "retry_after", None))

        return AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    async def _get_json(self, path: str) -> Any:
        made = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    made += 1
                    r = await self._http().get(path)
                    if r.status_code >= 400:
                        msg = f"{self.base_url}/{path}: HTTP {r.status_code}: " + _server_message(
                            r.status_code, r.content
                        )
                        if r.status_code < 500 and r.status_code != 429:
                            raise BackendError(msg)
                        raise _Retryable(msg)
                    try:
                        return r.json()
                    except ValueError:
                        raise BackendError(
                            f"{self.base_url}/{path}: answer is not JSON"
                        ) from None
        except httpx.TimeoutException:
            raise BackendError(
                f"{self.base_url}/{path}: no answer within {self.timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise _Unreachable(
                f"cannot reach {self.base_url}: {_reason(exc)}{_after(made - 1)}"
            ) from None
        except _Retryable as exc:
            raise BackendError(f"{exc}{_after(made - 1)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def models(self) -> list[dict[str, Any]]:
        """The server's ``/models`` list (each with at least ``id``)."""
        data = await self._get_json("models")
        items = data.get("data", []) if isinstance(data, dict) else []
        return [m for m in items if isinstance(m, dict) and "id" in m]

    async def _resolve(self) -> tuple[str, _Resolved]:
        if self.model is not None and self._resolved_prefill is not None:
            return self.model, self._resolved_prefill
        try:
            models = await self.models()
        except BackendError as exc:
            if self.model is None or isinstance(exc, _Unreachable):
                raise
            # a gateway without /models: the chat request itself will say if the server is down
            self._resolved_prefill = self._resolved_prefill or "instruct"
            return self.model, self._resolved_prefill
        if self.model is None:
            if not models:
                raise BackendError(f"{self.base_url} lists no models; pass model=...")
            self.model = str(models[0]["id"])
        if self._resolved_prefill is None:
            owner = next(
                (str(m.get("owned_by", "")) for m in models if m["id"] == self.model),
                str(models[0].get("owned_by", "")) if models else "",
            )
            self._resolved_prefill = (
                "continue" if owner.lower() in _CONTINUE_OWNERS else "instruct"
            )
        return self.model, self._resolved_prefill

    def build_request(
        self, messages: Sequence[ChatMessage], params: GenerationParams, model: str, mode: str
    ) -> dict[str, Any]:
        """The JSON body of a streaming (chat) completion (public for tests and debugging)."""
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        body: dict[str, Any] = {
            "model": model,
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if mode == "completions":
            body["prompt"] = render_chat(self.chat_template, msgs) + params.prefill
            stops = [*self.template_stops, *params.stop]
            if stops:
                body["stop"] = stops
        else:
            body["messages"] = msgs
        if mode == "continue":
            msgs.append({"role": "assistant", "content": params.prefill})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        elif mode == "instruct":
            note = (
                "Begin your reply with exactly these words, then continue naturally: "
                f"{params.prefill.strip()}"
            )
            if msgs and msgs[0]["role"] == "system":
                msgs[0] = {"role": "system", "content": msgs[0]["content"] + "\n\n" + note}
            else:
                msgs.insert(0, {"role": "system", "content": note})
        body.update(self.extra_body)
        body.update(params.extra_body)
        return body

    # ------------------------------------------------------------------ protocol
    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]:
        if self.model is None or (params.prefill and self._resolved_prefill is None):
            await self._resolve()
        assert self.model is not None
        if self.prefill_mode == "completions":
            mode = "completions"
        else:
            mode = (self._resolved_prefill or "instruct") if params.prefill else "none"
        body = self.build_request(messages, params, self.model, mode)
        path = "completions" if mode == "completions" else "chat/completions"
        async with contextlib.aclosing(self._stream_body(body, path)) as deltas:
            if params.prefill:
                yield params.prefill
            source = _drop_echo(deltas, params.prefill) if mode == "instruct" else deltas
            async for d in source:
                yield d

    async def _open(
        self, body: dict[str, Any], path: str
    ) -> tuple[AsyncGenerator[str, None], str | None]:
        """The response stream and its first delta (None: it ended empty), under the retry
        policy. Only this part is retried: once a token has streamed, a retry would
        duplicate the reply."""
        made = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    made += 1
                    self.attempts += 1
                    chunks = self._one_attempt(body, path)
                    try:
                        return chunks, await anext(chunks)
                    except StopAsyncIteration:
                        return chunks, None
                    except BaseException:
                        await chunks.aclose()
                        raise
        except _Retryable as exc:
            raise BackendError(f"{exc}{_after(made - 1)}") from None
        except httpx.ConnectTimeout:
            raise BackendError(
                f"cannot reach {self.base_url}: connect timed out after "
                f"{self.connect_timeout:g} s{_after(made - 1)}"
            ) from None
        except httpx.TimeoutException:
            raise BackendError(
                f"{self.base_url}: timed out waiting for the first token "
                f"(read timeout {self.timeout:g} s)"
            ) from None
        except httpx.TransportError as exc:
            raise BackendError(
                f"cannot reach {self.base_url}: {_reason(exc)}{_after(made - 1)}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream_body(
        self, body: dict[str, Any], path: str = "chat/completions"
    ) -> AsyncGenerator[str, None]:
        chunks, first = await self._open(body, path)
        tokens = 0
        async with contextlib.aclosing(chunks):
            if first is None:
                return
            tokens += 1
            yield first
            try:
                async for delta in chunks:
                    tokens += 1
                    yield delta
            except httpx.TimeoutException:
                raise BackendError(
                    f"{self.base_url}: timed out waiting for the next token "
                    f"(read timeout {self.timeout:g} s)"
                ) from None
            except httpx.TransportError as exc:
                raise BackendError(
                    f"stream from {self.base_url} broke after {tokens} chunks: {_reason(exc)}"
                ) from None

    async def _one_attempt(
        self, body: dict[str, Any], path: str
    ) -> AsyncGenerator[str, None]:
        async with self._http().stream("POST", path, json=body) as r:
            if r.status_code >= 400:
                raw = await r.aread()
                msg = f"{self.base_url}: HTTP {r.status_code}: " + _server_message(
                    r.status_code, raw
                )
                if r.status_code >= 500 or r.status_code == 429:
                    ra = r.headers.get("retry-after")
                    try:
                        retry_after = float(ra) if ra is not None else None
                    except ValueError:
                        retry_after = None
                    raise _Retryable(msg, retry_after)
                raise BackendError(msg)
            ctype = r.headers.get("content-type", "")
            if "text/event-stream" not in ctype and "json" in ctype:
                # a server that ignored stream=true and answered in one piece
                data = json.loads(await r.aread())
                text = _message_text(data)
                if text:
                    yield text
                return
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                try:
                    event = json.loads(payload)
                except ValueError:
                    raise BackendError(
                        f"{self.base_url}: malformed stream event {payload[:80]!r}"
                    ) from None
                if isinstance(event, dict) and event.get("error"):
                    err = event["error"]
                    msg = err.get("message", err) if isinstance(err, dict) else err
                    raise BackendError(f"{self.base_url}: server error mid-stream: {msg}")
                text = _delta_text(event)
                if text:
                    yield text

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(RuntimeError):  # created on a loop that is gone
                await client.aclose()


def render_chat(template: str, messages: Sequence[dict[str, str]]) -> str:
    """The prompt for ``messages`` under ``template`` ("chatml" or a Jinja chat template), ending
    with the assistant header, ready for the reply (or a prefill) to follow."""
    if template == "chatml":
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return turns + "<|im_start|>assistant\n"
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise ConfigError("a Jinja chat template needs jinja2: pip install jinja2") from None
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    try:
        return env.from_string(template).render(
            messages=list(messages), add_generation_prompt=True, bos_token="", eos_token=""
        )
    except Exception as exc:  # jinja2 raises assorted template errors
        raise ConfigError(f"cannot render the chat template: {exc}") from None


def _retryable(exc: BaseException) -> bool:
    """Worth another attempt: the server said so (5xx, 429) or could not be reached. A read
    timeout is not: the server is up but slow, and a retry would only double the wait."""
    if isinstance(exc, _Retryable | httpx.ConnectTimeout):
        return True
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException)


def _after(attempt: int) -> str:
    return f" (after {attempt + 1} attempts)" if attempt else ""


def _delta_text(event: Any) -> str:
    try:
        choice = event["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    delta = choice.get("delta") or {}
    text = delta.get("content")
    if text is None:
        text = choice.get("text")  # completions-style chunk
    return text or ""


def _message_text(data: Any) -> str:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    return str((choice.get("message") or {}).get("content") or choice.get("text") or "")


async def _drop_echo(deltas: AsyncIterator[str], prefill: str) -> AsyncIterator[str]:
    """For instruct-mode prefill: the model was asked to start with ``prefill``; drop its copy
    (ignoring leading spaces/quotes and case) and make sure a space separates the two parts."""
    target = prefill.strip().lower()
    buf = ""
    async for d in deltas:
        buf += d
        if len(buf.lstrip(" \"'\n")) >= len(target) + 1:
            break
    head = buf.lstrip(" \"'\n")
    if target and head.lower().startswith(target):
        head = head[len(target):]
        head = head.lstrip("\"'")
    else:
        head = buf.lstrip("\n")
    if head and not head[0].isspace() and not prefill.endswith((" ", "\n")) and head[0].isalnum():
        head = " " + head
    if head:
        yield head
    async for d in deltas:
        yield d
