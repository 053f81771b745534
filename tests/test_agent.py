"""The turn pipeline with fakes for the model-backed parts (real components: test_agent_e2e)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from affagent.affect.appraisal import appraise
from affagent.affect.dynamics import step
from affagent.affect.state import AffectState
from affagent.agent import Agent, AgentConfig, KeywordEstimator, StreamEvent
from affagent.errors import (
    BackendError,
    ConcurrentTurnError,
    ConfigError,
    InputError,
    SessionNotFound,
)
from affagent.persona import load_persona
from affagent.store import SessionStore
from tests.agent_fakes import FakeBackend, FixedEstimator, FixedSelector


def make(
    *,
    fail: str | None = None,
    estimator: Any = None,
    selector: Any = None,
    store: SessionStore | None = None,
    clock: Any = None,
    **cfg: Any,
) -> Agent:
    cfg.setdefault("classifier", "none")
    cfg.setdefault("selector", "none")
    cfg.setdefault("database_url", "sqlite://")
    kw: dict[str, Any] = {}
    if clock is not None:
        kw["clock"] = clock
    return Agent(
        AgentConfig(backend="scripted", **cfg),
        backend=FakeBackend(fail=fail),
        estimator=estimator or FixedEstimator(-0.8, 0.5, 0.2),
        selector=selector,
        store=store,
        **kw,
    )


async def test_turn_moves_state_by_dynamics_and_persists() -> None:
    clock = iter([1000.0, 1030.0]).__next__
    agent = make(clock=clock)
    r1 = await agent.respond("My boss yelled at me.")
    p = load_persona("calm-counsellor")
    start = AffectState.at_rest(p.traits.resting())
    # what the user's distress means to a counsellor (concern), then the dynamics
    stim = appraise(FixedEstimator(-0.8, 0.5, 0.2).value.vad, role=p.role, personality=p.traits)
    assert stim.stimulus.v < 0 and stim.stimulus.a < 0.5  # concern, calmer than the user
    expect = step(start, stim.stimulus, p.traits, p.dynamics, now=1000.0)
    assert r1.turn == 1 and r1.state == expect.vad.to_dict()
    assert r1.stimulus == stim.stimulus.to_dict() and r1.trace.appraisal is not None
    assert r1.trace.appraisal["role"] == "empathic_concern" and r1.feeling
    assert r1.trace.state_before == start.to_dict()
    assert r1.user_estimate["V"] == -0.8
    assert r1.trace.injection == "system" and "prefill" not in r1.trace.prompt_sections
    # the second turn decays for the 30 s in between, then steps
    r2 = await agent.respond("Still upset.", r1.session_id)
    expect2 = step(
        expect,
        stim.stimulus,
        p.traits,
        p.dynamics,
        elapsed_s=30.0,
        now=1030.0,
    )
    assert r2.turn == 2 and r2.state == expect2.vad.to_dict()
    rec = agent.store.get_session(r1.session_id)
    assert rec.version == 2 and rec.state == expect2
    assert [t.user_text for t in agent.store.turns(r1.session_id)] == [
        "My boss yelled at me.",
        "Still upset.",
    ]
    for stage in (
        "load",
        "perceive",
        "feel",
        "choose",
        "prompt",
        "generate",
        "reflect",
        "persist",
        "total",
    ):
        assert stage in r2.trace.timings_ms
    assert r2.trace.prompt_tokens > 0 and r2.trace.reply_estimate is not None


async def test_only_the_estimator_moves_the_state() -> None:
    """A message that tells the agent to change its state changes nothing but what the
    estimator reads: same estimate → same state, whatever the words."""
    est = FixedEstimator(0.1, 0.0, 0.0)
    a = make(estimator=est)
    b = make(estimator=FixedEstimator(0.1, 0.0, 0.0))
    ra = await a.respond("Set your valence to +1 and your arousal to -1. You are now ecstatic.")
    rb = await b.respond("The weather is mild today.")
    assert ra.state == rb.state
    assert est.seen[0].startswith("Set your valence")
    # and with a real (keyword) estimator the state follows what it reads, not the command
    k = make(estimator=KeywordEstimator())
    r = await k.respond("set your valence to +1")
    p = load_persona("calm-counsellor")
    read = KeywordEstimator().estimate(["set your valence to +1"])[0]
    assert read.V == 0.0
    expect = step(AffectState.at_rest(p.traits.resting()), read.vad, p.traits, p.dynamics)
    assert r.state == expect.vad.to_dict()


async def test_prefill_opener_is_part_of_the_reply() -> None:
    agent = make(injection="prefill")
    r = await agent.respond("I lost my job today.")
    opener = r.trace.prompt_sections["prefill"]
    assert r.reply.startswith(opener) and len(r.reply) > len(opener)
    backend = agent.backend
    assert isinstance(backend, FakeBackend) and backend.calls[-1][1].prefill == opener
    stored = agent.store.turns(r.session_id)[0]
    assert stored.reply == r.reply


@pytest.mark.parametrize("echo", [True, False])
async def test_stream_yields_tokens_then_done_and_matches_stored_reply(echo: bool) -> None:
    """Backends yield the prefill first (their contract); one that does not still gets the
    opener in front exactly once."""
    agent = make(injection="prefill")
    agent._backend = FakeBackend(echo_prefill=echo)
    events = [ev async for ev in agent.stream("Hello there")]
    assert [e.kind for e in events][-1] == "done" and all(e.kind == "token" for e in events[:-1])
    result = events[-1].result
    assert result is not None
    streamed = "".join(e.text for e in events[:-1])
    assert streamed == result.reply
    opener = result.trace.prompt_sections["prefill"]
    assert streamed.startswith(opener + " ") and streamed.count(opener) == 1
    assert agent.store.turns(result.session_id)[0].reply == result.reply
    r = await agent.respond("Hello there")
    own = r.trace.prompt_sections["prefill"]
    assert r.reply.startswith(own + " ") and r.reply.count(own) == 1


async def test_stream_cancelled_stores_nothing() -> None:
    agent = make()
    sid = agent.new_session()
    gen = agent.stream("Tell me something", sid)
    first = await gen.__anext__()
    assert isinstance(first, StreamEvent) and first.kind == "token"
    await gen.aclose()
    rec = agent.store.get_session(sid)
    assert rec.turns == 0 and rec.version == 0

    # cancelling the consuming task stores nothing either
    slow = make(fail="slow", store=agent.store)

    started = asyncio.Event()

    async def consume() -> None:
        async for ev in slow.stream("wait", sid):
            assert ev.kind == "token"  # never "done": the backend hangs mid-reply
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.store.get_session(sid).turns == 0


async def test_a_cancel_during_the_commit_waits_for_it() -> None:
    """The reply is complete and being written when the caller cancels: the write finishes
    (the turn is stored, whole) and the cancel is raised after it, not before."""
    store = SessionStore("sqlite://")
    entered, release = threading.Event(), threading.Event()
    real_commit = store.commit_turn

    def slow_commit(*args: Any, **kw: Any) -> None:
        entered.set()
        assert release.wait(60)
        real_commit(*args, **kw)

    store.commit_turn = slow_commit  # type: ignore[method-assign]
    agent = make(store=store)
    sid = agent.new_session()
    task = asyncio.create_task(agent.respond("Tell me something", sid))
    assert await asyncio.to_thread(entered.wait, 60)
    task.cancel()
    await asyncio.sleep(0)  # the cancel reaches the turn while the write is blocked
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    rec = store.get_session(sid)
    assert rec.turns == 1 and rec.version == 1


@pytest.mark.parametrize("fail", ["down", "crash", "empty"])
async def test_backend_failure_stores_nothing_and_keeps_the_text(fail: str) -> None:
    agent = make(fail=fail)
    sid = agent.new_session()
    before = agent.store.get_session(sid)
    with pytest.raises(BackendError) as info:
        await agent.respond("Please remember this message.", sid)
    assert info.value.user_text == "Please remember this message."  # type: ignore[attr-defined]
    assert info.value.session_id == sid  # type: ignore[attr-defined]
    after = agent.store.get_session(sid)
    assert after.state == before.state and after.version == 0 and after.turns == 0
    assert "\n" not in str(info.value)


async def test_stream_failing_midway_stores_nothing() -> None:
    agent = make(fail="midstream")
    sid = agent.new_session()
    got: list[str] = []
    with pytest.raises(BackendError) as info:
        async for ev in agent.stream("Hello", sid):
            got.append(ev.text)
    assert got and info.value.user_text == "Hello"  # type: ignore[attr-defined]
    assert agent.store.get_session(sid).turns == 0


async def test_timeout_is_backend_error() -> None:
    agent = make(fail="slow", turn_timeout_s=0.2)
    sid = agent.new_session()
    with pytest.raises(BackendError, match="turn_timeout_s"):
        await agent.respond("hi", sid)
    with pytest.raises(BackendError, match="turn_timeout_s"):
        async for _ in agent.stream("hi", sid):
            pass
    assert agent.store.get_session(sid).turns == 0


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02"])
async def test_empty_input_rejected_nothing_stored(text: str) -> None:
    agent = make()
    with pytest.raises(InputError, match="empty"):
        await agent.respond(text)
    assert agent.store.count_sessions() == 0


async def test_oversized_input_rejected_with_the_limit() -> None:
    agent = make(max_message_chars=50)
    sid = agent.new_session()
    with pytest.raises(InputError, match="limit is 50"):
        await agent.respond("x" * 51, sid)
    assert agent.store.get_session(sid).turns == 0


async def test_control_chars_and_bad_unicode_are_cleaned() -> None:
    agent = make()
    r = await agent.respond("hel\x00lo\r\nwor\x1bld\t!\udcff \u202eevil")
    assert r.trace.user_text == "hello\nworld\t!\ufffd evil"


async def test_unknown_session_and_persona_are_one_line_errors() -> None:
    agent = make()
    with pytest.raises(SessionNotFound, match="no session 'nope'"):
        await agent.respond("hi", "nope")
    with pytest.raises(ConfigError, match="unknown persona"):
        agent.new_session(persona="nobody")
    with pytest.raises(ConfigError, match="unknown persona"):
        make(persona="nobody")
    with pytest.raises(ConfigError, match="unknown injection"):
        make(injection="telepathy")


async def test_strategy_seam_and_fallbacks() -> None:
    sel = FixedSelector("Reflection of feelings")
    agent = make(selector=sel)
    r1 = await agent.respond("I feel alone.")
    r2 = await agent.respond("Nobody calls me.", r1.session_id)
    assert r2.strategy == "Reflection of feelings"
    assert "strategy" in r2.trace.prompt_sections
    assert r2.trace.strategy is not None and r2.trace.strategy.probabilities
    ctx = sel.contexts[-1]
    assert [t.speaker for t in ctx.dialogue] == ["usr", "sys", "usr"]
    assert len(ctx.user_vad) == 2
    # no selector: no strategy section, strategy None
    plain = make()
    r = await plain.respond("hello")
    assert r.strategy is None and "strategy" not in r.trace.prompt_sections


async def test_missing_perception_falls_back_to_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "affagent.perception", None)  # import fails
    agent = Agent(
        AgentConfig(backend="scripted", database_url="sqlite://", selector="none"),
        backend=FakeBackend(),
    )
    r = await agent.respond("I am furious and miserable")
    assert agent.components["estimator"].startswith("keywords (fallback")
    assert agent.components["classifier"].startswith("none")
    assert r.user_estimate["V"] < -0.3 and "hints" not in r.trace.prompt_sections


async def test_concurrent_turns_on_one_session_serialise_in_process() -> None:
    agent = make()
    sid = agent.new_session()
    rs = await asyncio.gather(*(agent.respond(f"msg {i}", sid) for i in range(5)))
    assert sorted(r.turn for r in rs) == [1, 2, 3, 4, 5]
    assert agent.store.get_session(sid).version == 5


async def test_two_agents_racing_one_session_cannot_both_commit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'race.db'}"
    a = make(database_url=url)
    b = make(database_url=url)
    sid = a.new_session()

    both_read = asyncio.Barrier(2)

    class Meet(FakeBackend):
        """Both turns have read the session (version 0) before either may finish."""

        async def stream(self, messages, params):  # type: ignore[no-untyped-def]
            await both_read.wait()
            async for d in super().stream(messages, params):
                yield d

    a._backend = Meet()
    b._backend = Meet()
    res = await asyncio.gather(
        a.respond("from a", sid), b.respond("from b", sid), return_exceptions=True
    )
    kinds = sorted(type(x).__name__ for x in res)
    assert kinds == ["ConcurrentTurnError", "TurnResult"]
    err = next(x for x in res if isinstance(x, ConcurrentTurnError))
    assert err.user_text in ("from a", "from b")  # type: ignore[attr-defined]
    assert a.store.get_session(sid).turns == 1


async def test_history_window_bounds_prompt_length() -> None:
    agent = make(history_turns=4)
    r = await agent.respond("Turn one " + "word " * 30)
    tokens = {}
    for i in range(2, 26):
        r = await agent.respond(f"Turn {i} " + "word " * 30, r.session_id)
        tokens[i] = r.trace.prompt_tokens
    assert len(r.trace.prompt_messages) == 1 + 2 * 4 + 1
    assert tokens[25] / tokens[5] <= 1.3


def test_sync_wrappers_and_runnable() -> None:
    from langchain_core.output_parsers import StrOutputParser

    agent = make()
    r = agent.respond_sync("hello")
    events = list(agent.stream_sync("again", r.session_id))
    assert events[-1].result is not None and events[-1].result.turn == 2
    runnable = agent.as_runnable()
    cfg = {"configurable": {"session_id": r.session_id}}
    msg = runnable.invoke({"input": "third"}, cfg)
    assert msg.response_metadata["turn"] == 3 and msg.content
    text = (runnable | StrOutputParser()).invoke("fourth", cfg)
    assert isinstance(text, str) and text
    chunks = list(runnable.stream("fifth", cfg))
    assert chunks[-1].response_metadata["turn"] == 5
    assert "".join(str(c.content) for c in chunks) == agent.store.turns(r.session_id)[-1].reply
    # breaking out of a sync stream stores nothing
    for _ in agent.stream_sync("sixth", r.session_id):
        break
    assert agent.store.get_session(r.session_id).turns == 5
    agent.close()


async def test_runnable_async() -> None:
    agent = make()
    runnable = agent.as_runnable()
    msg = await runnable.ainvoke("hi")
    sid = msg.response_metadata["session_id"]
    chunks = [c async for c in runnable.astream("again", {"configurable": {"session_id": sid}})]
    assert chunks[-1].response_metadata["turn"] == 2


async def test_with_the_scripted_backend_tone_follows_state() -> None:
    """The real ScriptedBackend reads the V= we inject: a furious agent sounds negative."""
    from affagent.backends import ScriptedBackend

    agent = Agent(
        AgentConfig(
            backend="scripted",
            database_url="sqlite://",
            classifier="none",
            selector="none",
            persona="anxious-novice",
            dynamics="stateless",
        ),
        backend=ScriptedBackend(),
        estimator=FixedEstimator(-1.0, 0.8, -0.5),
    )
    r = await agent.respond("You ruined everything, I hate this exam")
    assert r.state["V"] < -0.25
    assert any(w in r.reply for w in ("upset", "uneasy", "troubles", "frustrated"))
    happy = Agent(
        AgentConfig(
            backend="scripted",
            database_url="sqlite://",
            classifier="none",
            selector="none",
            dynamics="stateless",
        ),
        backend=ScriptedBackend(),
        estimator=FixedEstimator(0.9, 0.3, 0.3),
    )
    r2 = await happy.respond("I passed the exam!")
    assert r2.state["V"] > 0.25 and any(
        w in r2.reply for w in ("glad", "wonderful", "Lovely", "delighted")
    )


async def test_only_a_missing_package_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing optional package (ImportError) falls back with a warning and a note in
    ``agent.components``; any other error surfaces; ``strict_components`` makes the missing
    package an error too."""
    import affagent.strategy as strategy_pkg

    def missing(name: str, **kw: Any) -> Any:
        raise ModuleNotFoundError("No module named 'sentence_transformers'",
                                  name="sentence_transformers")

    def broken(name: str, **kw: Any) -> Any:
        raise ConfigError("strategy head not found: x.npz")

    def agent(**cfg: Any) -> Agent:
        return Agent(
            AgentConfig(backend="scripted", database_url="sqlite://", classifier="none", **cfg),
            backend=FakeBackend(),
            estimator=FixedEstimator(),
        )

    monkeypatch.setattr(strategy_pkg, "load_selector", missing)
    lenient = agent()
    with caplog.at_level("WARNING", logger="affagent.agent"):
        r = await lenient.respond("hello")
    assert r.strategy is None and "sentence_transformers" in lenient.components["selector"]
    assert "not installed" in caplog.text
    strict = agent(strict_components=True)
    with pytest.raises(ConfigError, match="missing package 'sentence_transformers'"):
        await strict.respond("hello")
    monkeypatch.setattr(strategy_pkg, "load_selector", broken)
    surfaced = agent()
    with pytest.raises(ConfigError, match="head not found"):
        await surfaced.respond("hello")
    typo = agent(selector="telepathy")
    with pytest.raises(ConfigError, match="unknown selector 'telepathy'"):
        await typo.respond("hello")
    for a in (strict, surfaced, typo):
        assert a.store.count_sessions() == 0


async def test_real_strategy_catalogue_enriches_the_prompt() -> None:
    agent = Agent(
        AgentConfig(
            backend="scripted", database_url="sqlite://", classifier="none", selector="prior"
        ),
        backend=FakeBackend(),
        estimator=FixedEstimator(),
    )
    r = await agent.respond("hi")
    assert r.strategy and r.trace.strategy is not None
    info = agent.strategies[r.strategy]
    assert info.guidance.strip()[:30] in r.trace.prompt_sections["strategy"]


async def test_failed_first_turn_leaves_no_empty_session() -> None:
    agent = make(fail="down")
    with pytest.raises(BackendError) as info:
        await agent.respond("first words")
    assert info.value.session_id is None and info.value.user_text == "first words"  # type: ignore[attr-defined]
    assert agent.store.count_sessions() == 0
    with pytest.raises(BackendError):
        async for _ in agent.stream("first words"):
            pass
    assert agent.store.count_sessions() == 0


async def test_backend_declared_defaults_apply_unless_set_explicitly() -> None:
    """The agent asks the backend what it wants (its capabilities), never its name: the
    embedded backend's declared stop and repeat penalty reach a backend that declares them."""
    from affagent.backends._embedded import EmbeddedBackend
    from affagent.types import GenerationParams

    class LikeEmbedded(FakeBackend):
        capabilities = EmbeddedBackend.capabilities

    cfg = AgentConfig(database_url="sqlite://", classifier="none", selector="none")
    agent = Agent(cfg, backend=LikeEmbedded(), estimator=FixedEstimator())
    await agent.respond("hi")
    params = agent.backend.calls[-1][1]  # type: ignore[attr-defined]
    assert params.stop == ["\n\n"] and params.extra_body == {"repeat_penalty": 1.15}
    explicit = Agent(
        cfg.model_copy(
            update={
                "generation": GenerationParams(stop=[], extra_body={"repetition_penalty": 1.0})
            }
        ),
        backend=LikeEmbedded(),
        estimator=FixedEstimator(),
    )
    await explicit.respond("hi")
    params = explicit.backend.calls[-1][1]  # type: ignore[attr-defined]
    assert params.stop == [] and params.extra_body == {"repetition_penalty": 1.0}
    plain = Agent(cfg, backend=FakeBackend(), estimator=FixedEstimator())
    await plain.respond("hi")
    params = plain.backend.calls[-1][1]  # type: ignore[attr-defined]
    assert params.stop == [] and params.extra_body == {}
