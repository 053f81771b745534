"""SVG snapshots of the chat app at the 100×30 layout the README promises (tmux-sized).

Deterministic: fixed terminal size, the deterministic fake agent, fixed session ids, no clock
on screen. After an intended visual change, review the diff report and re-record with
``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from tui_fakes import FakeAgent

from affagent.tui import ChatApp

SIZE = (100, 30)


async def _steady(pilot) -> None:  # type: ignore[no-untyped-def]
    """No blinking cursor: its phase would depend on timing."""
    pilot.app.query_one("#prompt").cursor_blink = False
    await pilot.pause()


async def _two_turns(pilot) -> None:  # type: ignore[no-untyped-def]
    await _steady(pilot)
    for text in ("I am so sad and lost", "I feel angry today"):
        await pilot.press(*text, "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_main_screen_fresh_session(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ChatApp(FakeAgent(), session_id="snapshot-1")
    assert snap_compare(app, terminal_size=SIZE, run_before=_steady)


def test_main_screen_after_two_turns(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ChatApp(FakeAgent(), session_id="snapshot-2")
    assert snap_compare(app, terminal_size=SIZE, run_before=_two_turns)


def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ChatApp(FakeAgent(), session_id="snapshot-3")
    assert snap_compare(app, terminal_size=SIZE, press=["f1"], run_before=_steady)


def test_main_screen_on_the_real_agent(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The real Agent on the scripted backend, a fixed clock and the keyword estimator (no
    model), so the numbers are reproducible: this snapshot changes when the agent's
    behaviour does, not only when the layout does."""
    import itertools

    from affagent.agent import Agent, AgentConfig
    from affagent.backends import ScriptedBackend

    ticks = itertools.count(1_780_000_000, 30)
    agent = Agent(
        AgentConfig(
            backend="scripted",
            database_url=f"sqlite:///{tmp_path / 'snap.db'}",
            estimator="keywords",
            classifier="none",
            selector="none",
        ),
        backend=ScriptedBackend(),
        clock=lambda: float(next(ticks)),
    )
    app = ChatApp(agent, session_id="snapshot-real")
    assert snap_compare(app, terminal_size=SIZE, run_before=_two_turns)
