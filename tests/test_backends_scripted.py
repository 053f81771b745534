"""The scripted backend and the backend registry: deterministic tone, prefill, streaming,
stop strings, fault injection."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from affagent.backends import (
    ScriptedBackend,
    load_backend,
    read_valence,
    strip_prefill,
)
from affagent.backends._common import StopScanner
from affagent.backends._scripted import (
    COMPOSED_REPLIES,
    CONCERN_REPLIES,
    GOOD_NEWS_REPLIES,
    NEGATIVE_REPLIES,
    NEUTRAL_REPLIES,
    POSITIVE_REPLIES,
    THANKS_REPLIES,
    read_role,
    read_strategy,
    read_user_emotions,
    topic_of,
)
from affagent.errors import BackendError, ConfigError
from affagent.types import Backend, ChatMessage, GenerationParams


def convo(system: str, user: str = "My exam went badly today") -> list[ChatMessage]:
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def pool_of(reply: str) -> str:
    """Which pool a reply came from, by the fixed tail after each template's placeholder."""
    pools = (("negative", NEGATIVE_REPLIES), ("neutral", NEUTRAL_REPLIES),
             ("positive", POSITIVE_REPLIES), ("good_news", GOOD_NEWS_REPLIES),
             ("concern", CONCERN_REPLIES), ("composed", COMPOSED_REPLIES),
             ("thanks", THANKS_REPLIES))
    for name, pool in pools:
        for p in pool:
            pattern = re.escape(p).replace(re.escape("{topic}"), ".+").replace(
                re.escape("{Topic}"), ".+")
            if re.match(pattern, reply):
                return name
    return "?"


#: Words of a cheerful frame: never said to a distressed user.
CHEERFUL = ("lovely", "promising", "delighted", "optimistic", "wonderful", "glad", "good mood",
            "great news", "celebrate", "happy for you")


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
    if tone == "positive":  # ...but not celebrated: no hints say the user is glad
        assert not any(w in reply.lower() for w in ("lovely", "promising", "great news"))


async def test_deterministic_and_conversation_dependent() -> None:
    p = GenerationParams()
    glad = "valence 0.5\nLikely emotions: joy (0.80), excitement (0.30)."
    a = await ScriptedBackend().generate(convo(glad, "I adopted a puppy"), p)
    b = await ScriptedBackend().generate(convo(glad, "I adopted a puppy"), p)
    c = await ScriptedBackend().generate(convo(glad, "My garden is blooming"), p)
    assert a == b
    assert a != c and "puppy" in a and "your garden" in c
    assert pool_of(a) == pool_of(c) == "good_news"


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

    two = asyncio.Event()

    async def consume() -> None:
        async for d in b.stream(convo("x"), GenerationParams()):
            seen.append(d)
            if len(seen) == 2:
                two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two.wait(), 30)
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


# --------------------------------------------------------------------------- role and strategy


def _system(v: float, role: str | None = None, hints: str = "", strategy: str | None = None
            ) -> str:
    """A system prompt made by the real section builders."""
    from affagent.affect.state import AffectState
    from affagent.affect.vad import VAD
    from affagent.prompting._sections import state_section, strategy_section
    from affagent.types import StrategyChoice

    parts = ["You are a test persona.", state_section(AffectState.at_rest(VAD(v, 0.1, 0.0)),
                                                      role=role)]
    if strategy:
        parts.append(strategy_section(StrategyChoice(strategy=strategy, probabilities={}), None))
    if hints:
        parts.append(hints)
    return "\n\n".join(parts)


SAD = "Likely emotions: sadness (0.71), disappointment (0.20).\nWords that carry them: \"lost\"."


@pytest.mark.parametrize("v", [-0.6, 0.0, 0.55])
async def test_the_issue_lost_job_is_never_cheerful(v: float) -> None:
    """'I lost my job today.' once got 'Lovely, lost sounds promising!': whatever the state,
    a distressed user is not answered in a cheerful frame."""
    for role in (None, "empathic_concern", "composed", "contagion"):
        for seed in range(4):
            reply = await ScriptedBackend(seed=seed).generate(
                convo(_system(v, role, SAD), "I lost my job today."), GenerationParams()
            )
            low = reply.lower()
            assert not any(w in low for w in CHEERFUL), (role, v, reply)
            assert "lost sounds" not in low


@pytest.mark.parametrize("v", [-0.5, 0.05, 0.6])
async def test_roles_answer_distress_in_role(v: float) -> None:
    user = "My boss humiliated me in front of everyone and I'm furious"
    hints = "Likely emotions: anger (0.65), embarrassment (0.30)."
    care = await ScriptedBackend().generate(convo(_system(v, "empathic_concern", hints), user),
                                            GenerationParams())
    calm = await ScriptedBackend().generate(convo(_system(v, "composed", hints), user),
                                            GenerationParams())
    assert pool_of(care) == "concern" and "your boss" in care.lower(), care
    assert pool_of(calm) == "composed" and "your boss" in calm.lower(), calm


async def test_good_news_is_shared_when_the_user_is_glad() -> None:
    hints = "The user likely feels: joy (82%), excitement (40%)."
    reply = await ScriptedBackend().generate(
        convo(_system(0.6, "empathic_concern", hints), "I passed my driving test!"),
        GenerationParams(),
    )
    assert pool_of(reply) == "good_news" and "your driving test" in reply


@pytest.mark.parametrize(
    ("strategy", "needle"),
    [("Question", "?"), ("Reflection of feelings", "feeling sad"),
     ("Providing Suggestions", "One small step"), ("Others", None)],
)
async def test_strategy_adds_its_sentence(strategy: str, needle: str | None) -> None:
    msgs = convo(_system(-0.1, "empathic_concern", SAD, strategy), "I lost my job today.")
    reply = await ScriptedBackend().generate(msgs, GenerationParams())
    base = await ScriptedBackend().generate(convo(_system(-0.1, "empathic_concern", SAD),
                                                  "I lost my job today."), GenerationParams())
    if needle is None:
        assert reply == base
    else:
        assert reply.startswith(base) and needle in reply[len(base):], reply


async def test_thanks_get_a_welcome_not_a_celebration() -> None:
    hints = "Likely emotions: gratitude (0.93), relief (0.20)."
    reply = await ScriptedBackend().generate(
        convo(_system(0.6, "empathic_concern", hints), "I feel a bit better now. Thank you."),
        GenerationParams(),
    )
    assert pool_of(reply) == "thanks", reply


def test_reads_role_strategy_and_hints_from_the_real_sections() -> None:
    text = _system(0.1, "composed", SAD, "Affirmation and Reassurance")
    msgs = [ChatMessage(role="system", content=text)]
    assert read_role(msgs) == "composed"
    assert read_strategy(msgs) == "affirmation and reassurance"
    assert read_user_emotions(msgs) == {"sadness": 0.71, "disappointment": 0.2}
    pct = [ChatMessage(role="system", content="The user likely feels: fear (40%), anger (9%).")]
    assert read_user_emotions(pct) == {"fear": 0.4, "anger": 0.09}
    # the role is only read from the system prompt
    assert read_role([ChatMessage(role="user", content="Your stance: composed.")]) is None


@pytest.mark.parametrize(
    ("text", "topic"),
    [("I lost my job today.", "your job"), ("My boss humiliated me", "your boss"),
     ("I failed my final exam", "your final exam"), ("I adopted a puppy", "the puppy"),
     ("We had to put our dog down", "your dog"), ("Honestly I'm furious.", "that"),
     ("I feel a bit better now", "that"), ("I'll talk to her tomorrow", "that"), ("", "that")],
)
def test_topic_of(text: str, topic: str) -> None:
    assert topic_of(text) == topic
