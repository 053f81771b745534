"""The agent end to end on real components: the embedded llama.cpp model, a real
OpenAI-compatible server (llama-cpp-python's, on 127.0.0.1), SQLite files and PostgreSQL.

Bounded for a 2-core CI box: short replies, a short history window, one model load per module.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from affagent.agent import Agent, AgentConfig
from affagent.errors import BackendError, ConcurrentTurnError
from affagent.types import GenerationParams

GEN = GenerationParams(max_tokens=12, seed=7, temperature=0.7)


def _gguf() -> str:
    pytest.importorskip("llama_cpp")
    from affagent.backends import default_gguf_path

    path = default_gguf_path()
    if not Path(path).is_file():
        pytest.skip(f"default GGUF not installed at {path}")
    return path


def _config(tmp_path: Path, **kw: object) -> AgentConfig:
    base: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'agent.db'}",
        "history_turns": 2,
        "generation": GEN,
    }
    base.update(kw)
    return AgentConfig(**base)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.embedded
def test_embedded_conversation_streams_persists_and_resumes(tmp_path: Path) -> None:
    """Default components (whatever perception/strategy are installed) on the embedded model:
    a turn, a streamed turn, then a new Agent on the same file continues the same state."""
    _gguf()
    cfg = _config(tmp_path)
    agent = Agent(cfg)
    # the measured best on the embedded default model, which ships steering vectors
    assert agent.injection == "steer"
    agent.warm_up_sync()  # loads the models, not only the component objects
    assert agent.backend._loaded is not None  # type: ignore[attr-defined]
    model = getattr(agent.estimator, "_model", "no lazy model")
    assert model is not None
    r1 = agent.respond_sync("I failed my driving test today and I feel awful.")
    assert r1.reply.strip() and "steering" in r1.trace.prompt_sections
    prefill = r1.trace.prompt_sections.get("prefill", "")  # the strategy's stem, if any
    assert r1.reply.startswith(prefill)
    assert r1.trace.prompt_tokens > 50 and r1.trace.timings_ms["generate"] > 0
    events = list(agent.stream_sync("Thanks for listening.", r1.session_id))
    assert events[-1].kind == "done" and events[-1].result is not None
    r2 = events[-1].result
    assert "".join(e.text for e in events[:-1]).strip() == r2.reply
    backend = agent.backend
    agent.store.close()

    # "restart": a fresh agent (sharing the loaded model) continues from the stored state
    again = Agent(cfg, backend=backend)
    rec = again.store.get_session(r1.session_id)
    assert rec.turns == 2 and rec.state.vad.to_dict() == r2.state
    r3 = again.respond_sync("Bye for now.", r1.session_id)
    assert r3.turn == 3 and r3.trace.state_before == r2.trace.state_after
    again.close()


@pytest.mark.slow
@pytest.mark.embedded
async def test_openai_backend_against_a_real_server_then_it_goes_down(tmp_path: Path) -> None:
    gguf = _gguf()
    from affagent.backends.local_server import llama_server

    with llama_server(gguf, n_ctx=1024) as srv:
        agent = Agent(
            _config(
                tmp_path,
                backend="openai",
                base_url=srv.base_url,
                estimator="keywords",
                classifier="none",
                selector="none",
                backend_options={"retries": 0, "timeout": 60},
            )
        )
        assert agent.injection == "fewshot"  # measured best on the openai path
        r = await agent.respond("Hello! I got the job I wanted.")
        assert r.reply.strip() and r.turn == 1
        events = [e async for e in agent.stream("Tell me more.", r.session_id)]
        r2 = events[-1].result
        assert r2 is not None and r2.turn == 2
        assert "".join(e.text for e in events[:-1]).strip() == r2.reply
        srv.kill()
        with pytest.raises(BackendError) as info:
            await agent.respond("are you there?", r.session_id)
        assert info.value.user_text == "are you there?"  # type: ignore[attr-defined]
        rec = agent.store.get_session(r.session_id)
        assert rec.turns == 2 and rec.state.vad.to_dict() == r2.state
        await agent.aclose()


PG_URL = os.environ.get("AFFAGENT_TEST_POSTGRES_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="AFFAGENT_TEST_POSTGRES_URL not set")
async def test_agent_on_postgres_turns_resume_and_race() -> None:
    from affagent.backends import ScriptedBackend

    cfg = AgentConfig(
        backend="scripted",
        database_url=PG_URL,
        estimator="keywords",
        classifier="none",
        selector="none",
    )
    a = Agent(cfg, backend=ScriptedBackend(delay_s=0.01))
    r1 = await a.respond("I am furious about the delay")
    b = Agent(cfg, backend=ScriptedBackend(delay_s=0.01))  # another process, in effect
    r2 = await b.respond("and miserable", r1.session_id)
    assert r2.turn == 2 and r2.trace.state_before == r1.trace.state_after
    # two agents race on one session: exactly one commits
    res = await asyncio.gather(
        a.respond("x one", r1.session_id), b.respond("x two", r1.session_id), return_exceptions=True
    )
    assert sorted(type(x).__name__ for x in res) == ["ConcurrentTurnError", "TurnResult"]
    assert any(isinstance(x, ConcurrentTurnError) for x in res)
    assert a.store.get_session(r1.session_id).turns == 3
    a.store.delete_session(r1.session_id)
    await a.aclose()
    await b.aclose()
