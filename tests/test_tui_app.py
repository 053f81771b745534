"""The chat app driven by Textual's pilot on a deterministic fake agent (tests/tui_fakes.py):
sending and streaming, the panel moving, Esc cancelling cleanly, errors on screen, pickers,
resume and export. The real agent is driven in test_tui_agent.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path

import pytest
from tui_fakes import FakeAgent

from affagent.persona import DEFAULT_PERSONA, load_persona
from affagent.tui import ChatApp
from affagent.tui.screens import DynamicsScreen, HelpScreen, PersonaPicker, SessionPicker
from affagent.tui.widgets import AffectBlock, AxisRow, InfoBox, Message, StatusLine

SIZE = (100, 30)


async def say(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def axis_value(app: ChatApp, block: str, axis: str) -> float | None:
    return app.query_one(f"#{block} #axis-{axis}", AxisRow).value


def axis_track(app: ChatApp, block: str, axis: str) -> tuple[float, ...]:
    return app.query_one(f"#{block} #axis-{axis}", AxisRow).track


def texts(app: ChatApp, role: str) -> list[str]:
    return [m.text for m in app.conversation.messages(role)]  # type: ignore[arg-type]


async def test_send_shows_reply_and_moves_the_panel(tmp_path: Path) -> None:
    agent = FakeAgent()
    app = ChatApp(agent, session_id="s1", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        v0 = axis_value(app, "agent-affect", "V")
        assert v0 is not None and v0 > 0  # the calm counsellor rests on the positive side
        assert axis_value(app, "user-affect", "V") is None  # no estimate before a turn
        await say(pilot, "I am so sad and lost")
        assert texts(app, "user") == ["I am so sad and lost"]
        assert texts(app, "agent") == ["That sounds really hard. I am here with you."]
        v1 = axis_value(app, "agent-affect", "V")
        assert v1 is not None and v1 < v0  # bad news pulls the agent's valence down
        assert axis_value(app, "user-affect", "V") == pytest.approx(-0.65)
        assert len(axis_track(app, "agent-affect", "V")) == 2
        assert len(axis_track(app, "user-affect", "V")) == 1
        strategy = str(app.query_one("#strategy", InfoBox).render())
        assert "Reflection of feelings" in strategy and "p=0.62" in strategy
        perceived = str(app.query_one("#perceived", InfoBox).render())
        assert "sadness 67%" in perceived and "causes: sad, lost" in perceived
        await say(pilot, "I am happy now, thanks")
        assert len(axis_track(app, "agent-affect", "V")) == 3
        assert axis_value(app, "user-affect", "V") == pytest.approx(0.7)
        assert "turn 2" in app.status.message
        assert agent.store.get_session("s1").turns == 2


async def test_reply_streams_while_the_input_stays_live() -> None:
    agent = FakeAgent()
    agent.gate = asyncio.Event()
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        (reply,) = app.conversation.messages("agent")
        assert reply.state == "streaming"
        assert reply.text == "I am"  # two tokens in, waiting for the rest
        assert app.generating
        await pilot.press(*"typing on")  # the input still takes keys mid-reply
        assert app.query_one("#prompt").value == "typing on"  # type: ignore[attr-defined]
        await pilot.press("enter")  # a second send while busy is refused, text kept
        await pilot.pause()
        assert app.query_one("#prompt").value == "typing on"  # type: ignore[attr-defined]
        agent.gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reply.state == "done"
        assert reply.text == "I am glad to hear from you. Tell me more?"
        assert not app.generating


async def test_escape_cancels_and_stores_nothing() -> None:
    agent = FakeAgent()
    agent.gate = asyncio.Event()
    app = ChatApp(agent, session_id="c1")
    async with app.run_test(size=SIZE) as pilot:
        before = agent.store.get_session("c1").state
        await pilot.press(*"I am furious", "enter")
        await pilot.pause()
        assert app.generating
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (reply,) = app.conversation.messages("agent")
        assert reply.state == "cancelled"
        assert "not stored" in str(reply.render())
        assert not app.generating
        assert agent.store.turns("c1") == []
        assert agent.store.get_session("c1").state == before
        assert app.session.turns == []
        assert "nothing was stored" in app.status.message
        assert app.query_one("#prompt").value == "I am furious"  # type: ignore[attr-defined]
        # the session carries on normally afterwards
        agent.gate = None
        app.query_one("#prompt").value = ""  # type: ignore[attr-defined]
        await say(pilot, "sorry, I am sad")
        assert len(agent.store.turns("c1")) == 1
        assert app.session.turns[0].turn == 1


async def test_escape_after_the_commit_shows_the_stored_turn() -> None:
    """Esc can land between the agent's commit and its final event: the app then shows the
    turn as stored instead of claiming nothing was kept."""
    agent = FakeAgent()
    agent.gate_after_commit = asyncio.Event()
    app = ChatApp(agent, session_id="late-esc")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"I am sad", "enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if agent.store.traces["late-esc"]:
                break
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(agent.store.turns("late-esc")) == 1
        assert len(app.session.turns) == 1
        assert texts(app, "agent") == ["That sounds really hard. I am here with you."]
        assert "stored" in app.status.message and "nothing" not in app.status.message
        assert app.query_one("#prompt").value == ""  # type: ignore[attr-defined]


async def test_backend_failure_is_an_error_line_not_a_crash() -> None:
    agent = FakeAgent()
    agent.fail_after = 3
    app = ChatApp(agent, session_id="f1")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "hello there")
        status = app.query_one(StatusLine)
        assert status.level == "error"
        assert "backend unreachable" in status.message
        (reply,) = app.conversation.messages("agent")
        assert reply.state == "failed"
        assert agent.store.turns("f1") == []
        assert app.is_running
        assert app.query_one("#prompt").value == "hello there"  # type: ignore[attr-defined]
        agent.fail_after = None
        await pilot.press("enter")  # retry the same message
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert status.level == "info"
        assert len(agent.store.turns("f1")) == 1


async def test_resume_an_earlier_session_from_the_picker() -> None:
    agent = FakeAgent()
    old = agent.new_session(persona="warm-companion", session_id="old-one")
    for text in ("I am sad", "I am angry", "thanks, that is great"):
        async for _ in agent.stream(text, old):
            pass
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.session_id != old
        await pilot.press("f2")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SessionPicker)
        ids = [picker.query_one("#sessions").get_option_at_index(i).id for i in range(2)]  # type: ignore[attr-defined]
        assert old in ids
        picker.query_one("#sessions").highlighted = ids.index(old)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SessionPicker)
        assert app.session.session_id == old
        assert app.session.persona == "warm-companion"
        assert texts(app, "user") == ["I am sad", "I am angry", "thanks, that is great"]
        assert len(axis_track(app, "agent-affect", "V")) == 4
        assert axis_value(app, "agent-affect", "V") == pytest.approx(
            agent.store.get_session(old).state.vad.v
        )
        assert "warm-companion" in app.sub_title
        # and the conversation goes on in that session
        await say(pilot, "happy again")
        assert agent.store.get_session(old).turns == 4


async def test_open_session_by_id_resumes_or_creates() -> None:
    agent = FakeAgent()
    sid = agent.new_session(session_id="known")
    async for _ in agent.stream("I am scared", sid):
        pass
    app = ChatApp(agent, session_id="known")
    async with app.run_test(size=SIZE):
        assert len(app.session.turns) == 1
        assert texts(app, "user") == ["I am scared"]
    app = ChatApp(agent, session_id="brand-new")
    async with app.run_test(size=SIZE):
        assert app.session.session_id == "brand-new"
        assert app.session.turns == []


async def test_export_writes_markdown_and_json(tmp_path: Path) -> None:
    agent = FakeAgent()
    app = ChatApp(agent, session_id="exp", export_dir=tmp_path / "out")
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "I am sad")
        await say(pilot, "thanks")
        await pilot.press("f5")
        await pilot.pause()
        assert app.last_export is not None
        md, js = app.last_export
        assert md == tmp_path / "out" / "exp.md" and md.exists() and js.exists()
        assert str(md) in app.status.message
        assert md.read_text() == agent.store.export("exp", fmt="md")
        data = json.loads(js.read_text())
        assert [t["user_text"] for t in data["turns"]] == ["I am sad", "thanks"]


async def test_export_failure_is_shown(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    app = ChatApp(FakeAgent(), export_dir=blocker / "sub")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        assert app.status.level == "error" and "exporting" in app.status.message


async def test_persona_picker_starts_a_session_with_that_persona() -> None:
    agent = FakeAgent()
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PersonaPicker)
        ol = picker.query_one("#personas")
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]  # type: ignore[attr-defined]
        assert "stoic-mentor" in ids
        ol.highlighted = ids.index("stoic-mentor")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.persona == "stoic-mentor"
        assert agent.store.get_session(app.session.session_id).persona == "stoic-mentor"
        assert texts(app, "note") == ["Good to see you. What are you working on?"]


async def test_invalid_persona_file_is_listed_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from affagent.persona import persona_dir

    d = tmp_path / "personas"
    shutil.copytree(persona_dir(), d)
    (d / "broken.yaml").write_text("name: Broken\ntraits: {openness: 7}\nstyle: x\n")
    monkeypatch.setenv("AFFAGENT_PERSONAS_DIR", str(d))
    app = ChatApp(FakeAgent())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        ol = app.screen.query_one("#personas")
        broken = ol.get_option("broken")  # type: ignore[attr-defined]
        assert broken.disabled
        assert "between 0 and 1" in str(broken.prompt)


async def test_dynamics_switch_validates_and_starts_a_session() -> None:
    agent = FakeAgent()
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        first = app.session.session_id
        await pilot.press("f4")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DynamicsScreen)
        spec = dialog.query_one("#spec")
        # prefilled with the persona's own dynamics
        assert spec.value == load_persona(DEFAULT_PERSONA).dynamics  # type: ignore[attr-defined]
        spec.value = "first:2"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog  # stays open, explains
        assert "0 < ALPHA <= 1" in str(dialog.query_one("#dyn-error").render())
        spec.value = "first:0.3"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is not dialog
        assert app.session.session_id != first
        assert app.session.dynamics == "first:0.3"
        assert "first:0.3" in app.sub_title


async def test_help_lists_every_binding() -> None:
    app = ChatApp(FakeAgent())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("DataTable")
        rows = [table.get_row_at(i) for i in range(table.row_count)]  # type: ignore[attr-defined]
        keys = [r[0] for r in rows]
        assert keys[0] == "Enter"
        for expected in ("Esc", "F1", "F2 / Ctrl+O", "F3", "F4", "F5 / Ctrl+E", "Ctrl+N", "Ctrl+Q"):
            assert expected in keys
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_store_failure_is_shown() -> None:
    agent = FakeAgent()
    app = ChatApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        agent.store.broken = True
        await pilot.press("f2")
        await pilot.pause()
        assert not isinstance(app.screen, SessionPicker)
        assert app.status.level == "error"
        assert (
            "listing sessions" in app.status.message and "database is locked" in app.status.message
        )


async def test_agent_factory_failure_is_shown_and_ctrl_n_retries() -> None:
    attempts: list[int] = []

    def boom() -> FakeAgent:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("no llama here")
        return FakeAgent()

    app = ChatApp(agent_factory=boom)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.status.level == "error" and "no llama here" in app.status.message
        await say(pilot, "hello?")
        assert app.status.level == "error"
        assert app.is_running
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(attempts) == 2 and app.agent is not None and app.session.session_id
        assert app.status.level == "info"


async def test_message_typed_while_starting_is_sent_when_ready() -> None:
    release = threading.Event()
    agent = FakeAgent()

    def slow() -> FakeAgent:
        release.wait(10)
        return agent

    app = ChatApp(agent_factory=slow, session_id="late")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"I am sad", "enter")
        await pilot.pause()
        assert texts(app, "user") == ["I am sad"]
        assert "starting the agent" in app.status.message
        release.set()
        for _ in range(100):
            await pilot.pause(0.05)
            if agent.store.sessions.get("late") and agent.store.traces["late"]:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [t.user_text for t in agent.store.turns("late")] == ["I am sad"]
        assert texts(app, "user") == ["I am sad"]
        assert texts(app, "agent") == ["That sounds really hard. I am here with you."]


async def test_message_typed_before_a_failed_start_goes_back_to_the_input() -> None:
    release = threading.Event()

    def broken() -> FakeAgent:
        release.wait(10)
        raise RuntimeError("model file missing")

    app = ChatApp(agent_factory=broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "model file missing" in app.status.message
        assert app.query_one("#prompt").value == "hello"  # type: ignore[attr-defined]


async def test_agent_factory_builds_and_closes_the_agent() -> None:
    built: list[FakeAgent] = []

    def make() -> FakeAgent:
        built.append(FakeAgent())
        return built[-1]

    app = ChatApp(agent_factory=make, persona="anxious-novice")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.persona == "anxious-novice"
        await say(pilot, "I am happy")
        assert len(built[0].store.turns(app.session.session_id)) == 1
    assert built[0].closed


async def test_message_widget_states() -> None:
    app = ChatApp(FakeAgent())
    async with app.run_test(size=SIZE) as pilot:
        m = app.conversation.add("agent", "", state="streaming")
        await pilot.pause()
        m.append("Hel")
        m.append("lo")
        assert m.text == "Hello" and m.has_class("-streaming")
        m.finish()
        assert m.has_class("-done") and not m.has_class("-streaming")
        assert isinstance(m, Message)
        assert app.query_one("#agent-affect", AffectBlock).border_title == "Agent state"
