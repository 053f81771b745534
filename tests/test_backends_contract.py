"""The Backend contract, run against every backend: the same assertions for scripted, openai
(over httpx.MockTransport) and the real embedded model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from affagent.backends import load_backend, strip_prefill
from affagent.types import Backend, ChatMessage, GenerationParams

MSGS = [ChatMessage(role="system", content="valence -0.6. Be brief."),
        ChatMessage(role="user", content="My exam went badly")]


def fake_vllm(request: httpx.Request) -> httpx.Response:
    """A tiny deterministic OpenAI-compatible server that reports itself as vLLM."""
    if request.url.path.endswith("/models"):
        return httpx.Response(200, json={"data": [{"id": "fake", "owned_by": "vllm"}]})
    body = json.loads(request.content)
    words = ["I", " hear", " you", " about", " the", " exam", "."][: body["max_tokens"]]
    text = "".join(words)
    for s in body.get("stop", []):
        text = text.split(s)[0]
    events = "".join(
        "data: " + json.dumps({"choices": [{"delta": {"content": w}}]}) + "\n\n"
        for w in _pieces(text)
    )
    return httpx.Response(200, headers={"content-type": "text/event-stream"},
                          content=(events + "data: [DONE]\n\n").encode())


def _pieces(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if ch == " " and cur:
            out.append(cur)
            cur = ""
        cur += ch
    return [*out, cur] if cur else out


def make(name: str) -> Backend:
    if name == "openai":
        return load_backend("openai", base_url="http://fake/v1",
                            transport=httpx.MockTransport(fake_vllm))
    if name == "embedded":
        pytest.importorskip("llama_cpp")
        return load_backend("embedded", n_ctx=1024)
    return load_backend(name)


BACKENDS = ["scripted", "openai", pytest.param("embedded", marks=pytest.mark.embedded)]


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [d async for d in stream]


@pytest.mark.parametrize("name", BACKENDS)
async def test_generate_equals_joined_stream(name: str) -> None:
    b = make(name)
    assert isinstance(b, Backend) and b.name in (name, "openai")
    params = GenerationParams(max_tokens=6, seed=4)
    deltas = await collect(b.stream(MSGS, params))
    assert len(deltas) >= 2 and all(isinstance(d, str) and d for d in deltas)
    assert await b.generate(MSGS, params) == "".join(deltas)
    await b.aclose()


@pytest.mark.parametrize("name", BACKENDS)
async def test_prefill_is_the_first_delta(name: str) -> None:
    b = make(name)
    params = GenerationParams(max_tokens=5, seed=4, prefill="Honestly,")
    deltas = await collect(b.stream(MSGS, params))
    assert deltas[0] == "Honestly,"
    reply = "".join(deltas)
    assert reply.startswith("Honestly,") and strip_prefill(reply, "Honestly,") == "".join(
        deltas[1:])
    await b.aclose()


@pytest.mark.parametrize("name", BACKENDS)
async def test_stop_string_is_not_in_the_reply(name: str) -> None:
    b = make(name)
    full = await b.generate(MSGS, GenerationParams(max_tokens=6, seed=4))
    cut = full.strip().split(" ")[1] if " " in full.strip() else full.strip()[1:]
    got = await b.generate(MSGS, GenerationParams(max_tokens=6, seed=4, stop=[cut]))
    assert cut not in got and full.startswith(got)
    await b.aclose()
