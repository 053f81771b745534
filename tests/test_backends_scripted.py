"""The scripted backend and the backend registry: deterministic tone, prefill, streaming,
stop strings, fault injection."""

from __future__ import annotations

import asyncio
import time

import pytest

from affagent.backends import (
    ScriptedBackend,
    load_backend,
    read_valence,
    strip_prefill,
)
from affagent.backends._common import StopScanner
from affagent.backends._scripted import NEGATIVE_REPLIES, NEUTRAL_REPLIES, POSITIVE_REPLIES
from affagent.errors import BackendError, ConfigError
from affagent.types import Backend, ChatMessage, GenerationParams


def convo(system: str, user: str = "My exam went badly today") -> list[ChatMessage]:
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def pool_of(reply: str) -> str:
    """Which pool a reply came from, by the fixed tail after each template's placeholder."""
    for name, pool in (("negative", NEGATIVE_REPLIES), ("neutral", NEUTRAL_REPLIES),
                       ("positive", POSITIVE_REPLIES)):
        if any(reply.endswith(p.split("}")[-1]) for p in pool):
            return name
    return "?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your state: valence −0.80, arousal 0.2", -0.8),
        ("Valence: +0.3", 0.3),
        ("valence (pleasure) = -0.42", -0.42),
        ("State V=+0.30 A=-0.1", 0.30),
        ("V: .5", 0.5),
        ("valence 3.0", 1.0),  # clipped
        ("no numbers here", None),
        ("arousal 0.5 only", None),
    ],
)
def test_read_valence_formats(text: str, expected: float | None) -> None:
    got = read_valence(convo(text))
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_read_valence_uses_last_system_message_only() -> None:
    msgs = [
        ChatMessage(role="system", content="valence -0.9"),
        ChatMessage(role="user", content="valence +0.9 please"),
        ChatMessage(role="system", content="valence 0.6"),
    ]
    assert read_valence(msgs) == pytest.approx(0.6)
    # a user message claiming a valence is not read
    assert read_valence([ChatMessage(role="user", content="valence +1")]) is None


@pytest.mark.parametrize(
    ("system", "tone"),
    [("valence -0.7", "negative"), ("valence 0.0", "neutral"), ("valence +0.7", "positive"),
     ("nothing", "neutral")],
)
async def test_tone_follows_injected_valence(system: str, tone: str) -> None:
    b = ScriptedBackend()
    reply = await b.generate(convo(system), GenerationParams())
    assert pool_of(reply) == tone, reply
    assert "exam" in reply  # the topic of the user's message is echoed


async def test_deterministic_and_conversation_dependent() -> None:
    p = GenerationParams()
    a = await ScriptedBackend().generate(convo("valence 0.5", "I adopted a puppy"), p)
    b = await ScriptedBackend().generate(convo("valence 0.5", "I adopted a puppy"), p)
    c = await ScriptedBackend().generate(convo("valence 0.5", "My garden is blooming"), p)
    assert a == b
    assert a != c and "puppy" in a and "garden" in c


async def test_prefill_starts_the_reply_and_streams_first() -> None:
    b = ScriptedBackend()
    params = GenerationParams(prefill="Ugh, honestly,")
    deltas = [d async for d in b.stream(convo("valence -0.6"), params)]
    assert deltas[0] == "Ugh, honestly,"
    reply = "".join(deltas)
    assert reply.startswith("Ugh, honestly, ")
    assert strip_prefill(reply, params.prefill).startswith(" ")
    assert strip_prefill("other", "Ugh") == "other"


async def test_streams_word_by_word_with_delay() -> None:
    b = ScriptedBackend(replies=["one two three four"], delay_s=0.02)
    t0 = time.perf_counter()
    deltas = [d async for d in b.stream(convo("x"), GenerationParams())]
    assert deltas == ["one", " two", " three", " four"]
    assert time.perf_counter() - t0 >= 0.07


async def test_max_tokens_and_stop() -> None:
    b = ScriptedBackend(replies=["alpha beta gamma delta epsilon"])
    assert await b.generate(convo("x"), GenerationParams(max_tokens=2)) == "alpha beta"
    assert await b.generate(convo("x"), GenerationParams(stop=["gam"])) == "alpha beta "
    assert await b.generate(convo("x"), GenerationParams(stop=["zzz"])) == (
        "alpha beta gamma delta epsilon"
    )


def test_stop_scanner_split_across_deltas() -> None:
    s = StopScanner(["<|im_end|>"])
    out = "".join(s.feed(d) for d in ["Hello", " there<|im", "_end|> junk"]) + s.flush()
    assert out == "Hello there" and s.stopped
    s2 = StopScanner([])
    assert s2.feed("abc") == "abc"


async def test_replies_cycle_and_calls_recorded() -> None:
    b = ScriptedBackend(replies=["a", "b"])
    got = [await b.generate(convo("x"), GenerationParams()) for _ in range(3)]
    assert got == ["a", "b", "a"]
    assert len(b.calls) == 3 and b.calls[0][0][1].content == "My exam went badly today"


async def test_fail_on_call() -> None:
    b = ScriptedBackend(fail_on_call=2)
    assert await b.generate(convo("x"), GenerationParams())
    with pytest.raises(BackendError, match="call 2"):
        await b.generate(convo("x"), GenerationParams())
    assert await b.generate(convo("x"), GenerationParams())


async def test_fail_after_tokens_mid_stream() -> None:
    b = ScriptedBackend(replies=["w1 w2 w3 w4 w5"], fail_after_tokens=3)
    got: list[str] = []
    with pytest.raises(BackendError, match="after 3 tokens"):
        async for d in b.stream(convo("x"), GenerationParams()):
            got.append(d)
    assert got == ["w1", " w2", " w3"]


async def test_fail_after_tokens_only_on_selected_call() -> None:
    b = ScriptedBackend(replies=["w1 w2 w3"], fail_on_call={1}, fail_after_tokens=1)
    with pytest.raises(BackendError):
        await b.generate(convo("x"), GenerationParams())
    assert await b.generate(convo("x"), GenerationParams()) == "w1 w2 w3"


async def test_cancel_mid_stream() -> None:
    b = ScriptedBackend(replies=["a b c d e f g h"], delay_s=0.05)
    seen: list[str] = []

    async def consume() -> None:
        async for d in b.stream(convo("x"), GenerationParams()):
            seen.append(d)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 0 < len(seen) < 8
    assert await b.generate(convo("x"), GenerationParams()) == "a b c d e f g h"


async def test_load_backend_registry() -> None:
    b = load_backend("scripted", delay_s=0.0, seed=None)
    assert isinstance(b, ScriptedBackend) and isinstance(b, Backend)
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        load_backend("nope")
    with pytest.raises(ConfigError, match="does not take option"):
        load_backend("scripted", base_url="http://x")
    await b.aclose()
    with pytest.raises(BackendError, match="closed"):
        await b.generate(convo("x"), GenerationParams())


def test_importing_backends_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, affagent.backends as b; b.load_backend('openai', base_url='http://h:1');"
            " print('llama_cpp' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("v", [-0.7, 0.05, 0.6])
def test_reads_the_valence_of_the_real_state_section(v: float) -> None:
    from affagent.affect.state import AffectState
    from affagent.affect.vad import VAD
    from affagent.prompting._sections import state_section

    text = "You are a calm counsellor.\n" + state_section(AffectState.at_rest(VAD(v, 0.3, -0.2)))
    assert read_valence([ChatMessage(role="system", content=text)]) == pytest.approx(v)
