"""The real things: the embedded llama.cpp model in process, and the OpenAI-compatible backend
against a real llama-cpp-python server on 127.0.0.1 (started and stopped here). Bounded: small
max_tokens, one shared model and one shared server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from affagent.backends import load_backend
from affagent.backends._embedded import EmbeddedBackend, default_gguf_path
from affagent.backends._openai import OpenAIBackend
from affagent.errors import BackendError, ConfigError
from affagent.types import ChatMessage, GenerationParams

pytest.importorskip("llama_cpp")
GGUF = default_gguf_path()
if not Path(GGUF).is_file():  # pragma: no cover - depends on the install
    pytest.skip(f"default GGUF not installed at {GGUF}", allow_module_level=True)

pytestmark = pytest.mark.embedded

MSGS = [ChatMessage(role="system", content="You are a friendly assistant. Answer briefly."),
        ChatMessage(role="user", content="Name a colour.")]


@pytest.fixture(scope="module")
def embedded() -> EmbeddedBackend:
    b = EmbeddedBackend(n_ctx=1024, seed=3)
    b.load()
    return b


# ------------------------------------------------------------------------- embedded


async def test_embedded_generate_and_seed_repeats(embedded: EmbeddedBackend) -> None:
    params = GenerationParams(max_tokens=6, seed=11)
    a = await embedded.generate(MSGS, params)
    b = await embedded.generate(MSGS, params)
    assert a.strip() and a == b


async def test_embedded_uses_the_gguf_chat_template(embedded: EmbeddedBackend) -> None:
    prompt = embedded.render(MSGS, prefill="Blue")
    assert prompt.startswith("<|im_start|>system\nYou are a friendly")
    assert prompt.endswith("<|im_start|>assistant\nBlue")
    assert await embedded.count_tokens(MSGS) > 10


async def test_embedded_stream_prefill_and_loop_stays_responsive(
        embedded: EmbeddedBackend) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    t = asyncio.create_task(ticker())
    deltas = [d async for d in embedded.stream(MSGS, GenerationParams(max_tokens=6,
                                                                       prefill="My favourite"))]
    t.cancel()
    assert deltas[0] == "My favourite" and len(deltas) >= 2
    assert ticks >= 3  # the event loop ran while the model generated


async def test_embedded_cancel_mid_stream_then_generate_again(embedded: EmbeddedBackend) -> None:
    got: list[str] = []

    async def consume() -> None:
        async for d in embedded.stream(MSGS, GenerationParams(max_tokens=400)):
            got.append(d)
            if len(got) == 2:
                await asyncio.sleep(3600)  # parked: only cancellation gets us out

    task = asyncio.create_task(consume())
    while len(got) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    t0 = time.perf_counter()
    # the worker stops within a token and frees the model: this acquires the lock and finishes
    again = await asyncio.wait_for(embedded.generate(MSGS, GenerationParams(max_tokens=4)), 60)
    assert again.strip()
    assert time.perf_counter() - t0 < 60


async def test_embedded_consumer_break_and_concurrent_callers(embedded: EmbeddedBackend) -> None:
    agen = embedded.stream(MSGS, GenerationParams(max_tokens=400))
    first = await agen.__anext__()
    await agen.aclose()  # type: ignore[attr-defined]
    assert first
    a, b = await asyncio.gather(
        embedded.generate(MSGS, GenerationParams(max_tokens=4, seed=1)),
        embedded.generate(MSGS, GenerationParams(max_tokens=4, seed=1)),
    )
    assert a == b and a.strip()  # serialised by the lock: identical, not interleaved


async def test_embedded_continues_an_unfinished_stem(embedded: EmbeddedBackend) -> None:
    """Asked to say just "Okay.", the model closes the prefill "Okay" with a full stop; as a
    stem it must go on (the ban holds for the first token only), and a prefill that is a
    finished sentence is left alone."""
    msgs = [ChatMessage(role="system", content="You are a friendly assistant."),
            ChatMessage(role="user", content='Reply with exactly one word: "Okay." Nothing else.')]
    greedy = GenerationParams(max_tokens=8, seed=1, temperature=0.0)
    stem = await embedded.generate(msgs, greedy.model_copy(update={"prefill": "Okay"}))
    assert stem.startswith("Okay") and stem[4:5] not in (".", "!", "?", "\n", ""), stem
    done = await embedded.generate(msgs, greedy.model_copy(update={"prefill": "Okay."}))
    assert done.startswith("Okay.")


async def test_embedded_guided_choice_and_options(embedded: EmbeddedBackend) -> None:
    params = GenerationParams(max_tokens=5, extra_body={"guided_choice": ["red", "green"],
                                                       "top_k": 20, "repetition_penalty": 1.1})
    assert await embedded.generate(MSGS, params) in ("red", "green")
    with pytest.raises(ConfigError, match="unknown extra_body option 'nope'"):
        await embedded.generate(MSGS, GenerationParams(extra_body={"nope": 1}))


async def test_embedded_context_overflow_is_a_backend_error(embedded: EmbeddedBackend) -> None:
    long = [ChatMessage(role="user", content="word " * 3000)]
    with pytest.raises(BackendError, match=r"does not fit the context \(n_ctx=1024\)"):
        await embedded.generate(long, GenerationParams(max_tokens=4))
    assert (await embedded.generate(MSGS, GenerationParams(max_tokens=3))).strip()


def test_embedded_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="GGUF model not found"):
        EmbeddedBackend(model_path=str(tmp_path / "missing.gguf")).load()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(BackendError, match="cannot load GGUF model"):
        EmbeddedBackend(model_path=str(bad)).load()
    monkeypatch.setenv("AFFAGENT_GGUF", str(bad))
    b = load_backend("embedded")
    assert isinstance(b, EmbeddedBackend) and b.model_path == str(bad)


# ------------------------------------------------------------------------- real server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from affagent.backends.local_server import llama_server

    with llama_server(GGUF, n_ctx=1024) as srv:
        yield srv.base_url


@pytest.mark.slow
async def test_openai_against_real_server(server: str) -> None:
    b = load_backend("openai", base_url=server, timeout=60)
    assert isinstance(b, OpenAIBackend)
    params = GenerationParams(max_tokens=6, seed=5, extra_body={"top_k": 30,
                                                               "repeat_penalty": 1.1})
    deltas = [d async for d in b.stream(MSGS, params)]
    assert len(deltas) >= 2 and "".join(deltas).strip()
    assert b.model  # taken from the server's /v1/models
    # same seed, same text
    assert await b.generate(MSGS, params) == "".join(deltas)
    await b.aclose()


@pytest.mark.slow
async def test_openai_real_server_prefill_falls_back_to_instruct(server: str) -> None:
    b = OpenAIBackend(base_url=server, timeout=60)
    reply = await b.generate(MSGS, GenerationParams(max_tokens=6, prefill="Well,"))
    assert reply.startswith("Well,") and len(reply) > len("Well,")
    assert b._resolved_prefill == "instruct"  # llama-cpp-python's server reports owned_by "me"
    await b.aclose()


@pytest.mark.slow
async def test_openai_real_server_exact_prefill_via_completions(
        server: str, embedded: EmbeddedBackend) -> None:
    from affagent.backends._openai import render_chat

    msgs = [{"role": m.role, "content": m.content} for m in MSGS]
    # the client-side ChatML render is byte-identical to the GGUF's own template
    assert render_chat("chatml", msgs) + "Well," == embedded.render(MSGS, prefill="Well,")
    b = OpenAIBackend(base_url=server, timeout=60, prefill_mode="completions")
    deltas = [d async for d in b.stream(MSGS, GenerationParams(max_tokens=6, prefill="Well,"))]
    assert deltas[0] == "Well," and len(deltas) >= 2
    assert "<|im_end|>" not in "".join(deltas)
    await b.aclose()


@pytest.mark.slow
async def test_openai_real_server_error_is_reported_and_retries_bounded(server: str) -> None:
    # llama-cpp-python's server answers a validation error with HTTP 500 (vLLM: 400), so this
    # also exercises the bounded retry path against a real server
    b = OpenAIBackend(base_url=server, model="x", timeout=60, retries=1, backoff_s=0.01)
    with pytest.raises(BackendError, match=r"HTTP (4|5)\d\d: .*temperature"):
        await b.generate(MSGS, GenerationParams(max_tokens=4,
                                                extra_body={"temperature": "hot"}))
    assert b.attempts == 2
    await b.aclose()


@pytest.mark.slow
async def test_openai_server_killed_mid_stream_then_down() -> None:
    from affagent.backends.local_server import llama_server

    with llama_server(GGUF, n_ctx=512) as srv:
        b = OpenAIBackend(base_url=srv.base_url, model="m", timeout=60, retries=1,
                          backoff_s=0.05)
        got: list[str] = []
        with pytest.raises(BackendError, match=r"broke after|server error"):
            async for d in b.stream(MSGS, GenerationParams(max_tokens=300)):
                got.append(d)
                if len(got) == 2:
                    srv.kill()
        assert len(got) >= 2
        with pytest.raises(BackendError, match=r"cannot reach .*connection refused.*2 attempts"):
            await b.generate(MSGS, GenerationParams(max_tokens=4))
        await b.aclose()


def test_embedded_samples_free_cores_once_per_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from affagent.backends import _embedded

    calls: list[int] = []

    def counted() -> int:
        calls.append(1)
        return 1

    monkeypatch.setattr(_embedded, "default_threads", counted)
    b = EmbeddedBackend(n_ctx=256)
    _embedded.clear_cache()
    try:
        b.load()
        assert len(calls) == 1
    finally:
        _embedded.clear_cache()
