"""The OpenAI-compatible backend against httpx.MockTransport: SSE streaming, request body,
retries with backoff, timeouts, mid-stream failures, prefill modes. The real-server tests are in
test_backends_real.py."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from affagent.backends import load_backend
from affagent.backends._openai import OpenAIBackend
from affagent.errors import BackendError, ConfigError
from affagent.types import ChatMessage, GenerationParams

MSGS = [ChatMessage(role="system", content="You are kind."),
        ChatMessage(role="user", content="Hello")]


def sse(*texts: str, done: bool = True) -> bytes:
    lines = [
        "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}) + "\n\n"
        for t in texts
    ]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


class Chunks(httpx.AsyncByteStream):
    """A response body that yields chunks, optionally raising an exception after them."""

    def __init__(self, chunks: list[bytes], exc: Exception | None = None,
                 delay: float = 0.0) -> None:
        self.chunks, self.exc, self.delay = chunks, exc, delay
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for c in self.chunks:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield c
        if self.exc is not None:
            raise self.exc

    async def aclose(self) -> None:
        self.closed = True


def stream_response(*texts: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"},
                          content=sse(*texts))


def models_response(owner: str = "vllm", model: str = "m1") -> httpx.Response:
    return httpx.Response(200, json={"object": "list",
                                     "data": [{"id": model, "object": "model",
                                               "owned_by": owner}]})


class Server:
    """A scripted fake server: ``chat`` answers chat completions, requests are recorded."""

    def __init__(self, chat: Callable[[httpx.Request, int], httpx.Response],
                 owner: str = "vllm") -> None:
        self.chat, self.owner = chat, owner
        self.requests: list[httpx.Request] = []
        self.chat_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/models"):
            return models_response(self.owner)
        assert request.url.path in ("/v1/chat/completions", "/v1/completions")
        self.chat_calls += 1
        return self.chat(request, self.chat_calls)

    def body(self, i: int = -1) -> dict[str, Any]:
        chats = [r for r in self.requests if r.url.path.endswith("completions")]
        return json.loads(chats[i].content)


def backend(server: Server, **kw: Any) -> OpenAIBackend:
    kw.setdefault("backoff_s", 0.001)
    return OpenAIBackend(base_url="http://test.local/v1", transport=httpx.MockTransport(server),
                         **kw)


async def test_streams_deltas_and_builds_the_request() -> None:
    srv = Server(lambda req, n: stream_response("Hel", "lo ", "there"))
    b = backend(srv, model="m1", api_key="k", extra_body={"top_k": 40, "min_p": 0.1})
    params = GenerationParams(max_tokens=12, temperature=0.2, seed=7, stop=["\n\n"],
                              extra_body={"repetition_penalty": 1.1, "min_p": 0.05})
    deltas = [d async for d in b.stream(MSGS, params)]
    assert deltas == ["Hel", "lo ", "there"]
    body = srv.body()
    assert body["model"] == "m1" and body["stream"] is True
    assert body["max_tokens"] == 12 and body["temperature"] == 0.2 and body["seed"] == 7
    assert body["stop"] == ["\n\n"]
    assert body["top_k"] == 40 and body["repetition_penalty"] == 1.1
    assert body["min_p"] == 0.05  # per-call extra_body wins over the backend's
    assert body["messages"] == [{"role": "system", "content": "You are kind."},
                                {"role": "user", "content": "Hello"}]
    assert srv.requests[-1].headers["authorization"] == "Bearer k"
    assert await b.generate(MSGS, params) == "Hello there"
    await b.aclose()


async def test_model_defaults_to_first_listed() -> None:
    srv = Server(lambda req, n: stream_response("ok"))
    b = backend(srv)
    assert await b.generate(MSGS, GenerationParams()) == "ok"
    assert b.model == "m1" and srv.body()["model"] == "m1"


async def test_retries_5xx_then_succeeds() -> None:
    def chat(req: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "overloaded"}}) if n < 3 \
            else stream_response("fine")

    srv = Server(chat)
    b = backend(srv, model="m1", retries=2)
    assert await b.generate(MSGS, GenerationParams()) == "fine"
    assert srv.chat_calls == 3 and b.attempts == 3


async def test_gives_up_after_bounded_retries_with_server_message() -> None:
    srv = Server(lambda req, n: httpx.Response(500, json={"error": {"message": "boom"}}))
    b = backend(srv, model="m1", retries=2)
    with pytest.raises(BackendError, match=r"HTTP 500: boom \(after 3 attempts\)"):
        await b.generate(MSGS, GenerationParams())
    assert srv.chat_calls == 3


async def test_429_honours_retry_after() -> None:
    def chat(req: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(429, headers={"retry-after": "0.05"}, json={"error": "slow"})
        return stream_response("ok")

    srv = Server(chat)
    b = backend(srv, model="m1", backoff_s=5.0)  # the header, not the 5 s backoff, decides
    t0 = asyncio.get_running_loop().time()
    assert await b.generate(MSGS, GenerationParams()) == "ok"
    assert 0.04 <= asyncio.get_running_loop().time() - t0 < 2.0


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    b = OpenAIBackend(base_url="http://x/v1", backoff_s=0.5, max_backoff_s=3.0)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 3.0)]:
        delays = {b._delay(attempt, None) for _ in range(20)}
        assert all(cap / 2 <= d <= cap for d in delays) and len(delays) > 1
    assert b._delay(0, 100.0) == 3.0


async def test_4xx_is_not_retried() -> None:
    srv = Server(lambda req, n: httpx.Response(
        400, json={"error": {"message": "max_tokens is too large"}}))
    b = backend(srv, model="m1")
    with pytest.raises(BackendError, match="HTTP 400: max_tokens is too large"):
        await b.generate(MSGS, GenerationParams())
    assert srv.chat_calls == 1


async def test_connect_error_is_retried_then_clear_message() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("[Errno 111] Connection refused")

    b = OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m", retries=1, backoff_s=0.001,
                      transport=httpx.MockTransport(handler))
    with pytest.raises(BackendError) as e:
        await b.generate(MSGS, GenerationParams())
    assert str(e.value) == ("cannot reach http://127.0.0.1:9/v1: connection refused "
                            "(after 2 attempts)")
    assert calls == 2


async def test_real_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = load_backend("openai", base_url=f"http://127.0.0.1:{port}", model="m", retries=0)
    with pytest.raises(BackendError) as e:
        await b.generate(MSGS, GenerationParams())
    assert str(e.value) == f"cannot reach http://127.0.0.1:{port}/v1: connection refused"
    # with a prefill the /models probe fails first, with the same message
    with pytest.raises(BackendError) as e:
        await b.generate(MSGS, GenerationParams(prefill="So,"))
    assert str(e.value) == f"cannot reach http://127.0.0.1:{port}/v1: connection refused"
    await b.aclose()


async def test_read_timeout_before_first_token_is_not_retried() -> None:
    def chat(req: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    srv = Server(chat)
    b = backend(srv, model="m1", timeout=3)
    with pytest.raises(BackendError, match=r"timed out waiting for the first token \(read "
                                           r"timeout 3 s\)"):
        await b.generate(MSGS, GenerationParams())
    assert srv.chat_calls == 1


@pytest.mark.parametrize(
    ("exc", "pattern"),
    [(httpx.ReadError("connection reset"), "broke after 2 chunks: connection reset"),
     (httpx.ReadTimeout("timed out"), "timed out waiting for the next token")],
)
async def test_mid_stream_failure_is_an_error_and_never_retried(
        exc: Exception, pattern: str) -> None:
    body = Chunks([sse("one ", done=False), sse("two", done=False)], exc=exc)
    srv = Server(lambda req, n: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=body))
    b = backend(srv, model="m1", retries=3)
    got: list[str] = []
    with pytest.raises(BackendError, match=pattern):
        async for d in b.stream(MSGS, GenerationParams()):
            got.append(d)
    assert got == ["one ", "two"] and srv.chat_calls == 1


async def test_error_event_mid_stream() -> None:
    payload = sse("a", done=False) + b'data: {"error": {"message": "engine died"}}\n\n'
    srv = Server(lambda req, n: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=payload))
    b = backend(srv, model="m1")
    with pytest.raises(BackendError, match="server error mid-stream: engine died"):
        await b.generate(MSGS, GenerationParams())


async def test_malformed_event() -> None:
    srv = Server(lambda req, n: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: {nope\n\n"))
    with pytest.raises(BackendError, match="malformed stream event"):
        await backend(srv, model="m1").generate(MSGS, GenerationParams())


async def test_non_streaming_json_answer_is_accepted() -> None:
    srv = Server(lambda req, n: httpx.Response(
        200, json={"choices": [{"message": {"role": "assistant", "content": "whole"}}]}))
    assert await backend(srv, model="m1").generate(MSGS, GenerationParams()) == "whole"


async def test_prefill_continue_mode_for_vllm() -> None:
    srv = Server(lambda req, n: stream_response(" and more"), owner="vllm")
    b = backend(srv)  # auto → asks /models → owned_by vllm → continue
    deltas = [d async for d in b.stream(MSGS, GenerationParams(prefill="Oh no,"))]
    assert deltas == ["Oh no,", " and more"]
    body = srv.body()
    assert body["messages"][-1] == {"role": "assistant", "content": "Oh no,"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


async def test_prefill_instruct_mode_drops_the_echo() -> None:
    srv = Server(lambda req, n: stream_response('"Oh', " no, that", " hurts."), owner="me")
    b = backend(srv)
    reply = await b.generate(MSGS, GenerationParams(prefill="Oh no,"))
    assert reply == "Oh no, that hurts."
    body = srv.body()
    assert "continue_final_message" not in body
    assert body["messages"][-1]["role"] == "user"
    assert "Begin your reply with exactly these words" in body["messages"][0]["content"]
    # the model ignored the instruction: the prefill still leads
    srv2 = Server(lambda req, n: stream_response("Sure", " thing"), owner="me")
    assert await backend(srv2).generate(MSGS, GenerationParams(prefill="Oh no,")) == (
        "Oh no, Sure thing")


async def test_consumer_stopping_closes_the_response() -> None:
    body = Chunks([sse(f"t{i} ", done=False) for i in range(50)], delay=0.01)
    srv = Server(lambda req, n: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=body))
    b = backend(srv, model="m1")
    agen = b.stream(MSGS, GenerationParams())
    got = [await agen.__anext__() for _ in range(3)]
    await agen.aclose()  # type: ignore[attr-defined]
    assert got == ["t0 ", "t1 ", "t2 "] and body.closed


def test_one_backend_across_event_loops() -> None:
    srv = Server(lambda req, n: stream_response("x"))
    b = backend(srv, model="m1")
    assert asyncio.run(b.generate(MSGS, GenerationParams())) == "x"
    assert asyncio.run(b.generate(MSGS, GenerationParams())) == "x"


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="base URL"):
        OpenAIBackend(base_url="localhost:8000")
    with pytest.raises(ConfigError, match="prefill_mode"):
        OpenAIBackend(prefill_mode="bogus")  # type: ignore[arg-type]
    assert OpenAIBackend(base_url="http://h:1").base_url == "http://h:1/v1"
    assert OpenAIBackend(base_url="http://h:1/api/v1/").base_url == "http://h:1/api/v1"
    v = load_backend("vllm", base_url="http://h:1/v1")
    assert isinstance(v, OpenAIBackend) and v.prefill_mode == "continue"


def test_prefill_mode_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFAGENT_PREFILL_MODE", "completions")
    assert OpenAIBackend(base_url="http://h:1").prefill_mode == "completions"
    assert OpenAIBackend(base_url="http://h:1", prefill_mode="instruct").prefill_mode == "instruct"
    monkeypatch.setenv("AFFAGENT_PREFILL_MODE", "nonsense")
    with pytest.raises(ConfigError, match="nonsense"):
        OpenAIBackend(base_url="http://h:1")


def completion_sse(*texts: str) -> httpx.Response:
    lines = "".join("data: " + json.dumps({"choices": [{"index": 0, "text": t}]}) + "\n\n"
                    for t in texts)
    return httpx.Response(200, headers={"content-type": "text/event-stream"},
                          content=(lines + "data: [DONE]\n\n").encode())


async def test_prefill_completions_mode_renders_chatml_client_side() -> None:
    srv = Server(lambda req, n: completion_sse(" that", " hurts."), owner="me")
    b = backend(srv, model="m1", prefill_mode="completions")
    reply = await b.generate(MSGS, GenerationParams(prefill="Oh no,", stop=["\n\n"]))
    assert reply == "Oh no, that hurts."
    assert srv.requests[-1].url.path == "/v1/completions"
    body = srv.body()
    assert body["prompt"] == ("<|im_start|>system\nYou are kind.<|im_end|>\n"
                              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nOh no,")
    assert body["stop"] == ["<|im_end|>", "\n\n"] and "messages" not in body
    # without a prefill the same mode still renders the prompt itself
    assert await b.generate(MSGS, GenerationParams()) == " that hurts."
    assert srv.body()["prompt"].endswith("<|im_start|>assistant\n")


def test_render_chat_with_a_jinja_template() -> None:
    from affagent.backends._openai import render_chat

    tmpl = ("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
            "{% if add_generation_prompt %}[assistant] {% endif %}")
    msgs = [{"role": "user", "content": "hi"}]
    assert render_chat(tmpl, msgs) == "[user] hi\n[assistant] "
    with pytest.raises(ConfigError, match="cannot render"):
        render_chat("{% for %}", msgs)


async def test_server_without_models_endpoint_still_serves_prefill() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(404, json={"detail": "Not Found"})
        return stream_response(" fine")

    b = OpenAIBackend(base_url="http://gw/v1", model="m", transport=httpx.MockTransport(handler))
    assert await b.generate(MSGS, GenerationParams(prefill="Well,")) == "Well, fine"
    b2 = OpenAIBackend(base_url="http://gw/v1", transport=httpx.MockTransport(handler))
    with pytest.raises(BackendError, match="HTTP 404: Not Found"):
        await b2.generate(MSGS, GenerationParams())
