"""The chat app: the conversation on the left, the agent's feelings moving on the right.

Replies stream in a worker so the input stays responsive; Esc cancels the worker, and the
agent stores nothing for a cancelled turn (the app re-reads the store to show exactly what
was kept). Every failure the agent or the store can raise ends up on the status line or in a
notification, never as a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header, Input

from affagent.errors import AffagentError, SessionNotFound
from affagent.tui.model import SessionView, as_trace
from affagent.tui.port import ChatAgent
from affagent.tui.screens import DynamicsScreen, HelpScreen, PersonaPicker, SessionPicker
from affagent.tui.widgets import AffectPanel, Conversation, Message, StatusLine

AgentFactory = Callable[[], ChatAgent]
log = logging.getLogger("affagent.tui")


def _describe(exc: BaseException) -> str:
    """One line for the status bar: our own errors as written, anything else with its type."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, AffagentError):
        return text
    return f"{type(exc).__name__}: {text}"


class ChatApp(App[None]):
    """Talk to an affagent agent and watch its state move.

    Pass a ready ``agent`` (tests, embedding) or an ``agent_factory`` (the CLI: building the
    agent can take seconds, so it runs in a thread while the screen is already up). The app
    closes an agent it built itself, and leaves a passed-in one open. The agent checks every
    message for crisis and boundary content first, as on every path; ``locale`` picks the
    crisis lines.

    >>> app = ChatApp(agent, persona="calm-counsellor")   # doctest: +SKIP
    >>> app.run()                                         # doctest: +SKIP
    """

    TITLE = "affagent"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 - Textual declares it as a plain attribute
        (0, "-narrow"),
        (90, "-normal"),
        (130, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stop", tooltip="Stop the reply being generated"),
        Binding("f1", "help", "Help", tooltip="This help screen"),
        Binding("f2,ctrl+o", "sessions", "Sessions", tooltip="Resume an earlier session"),
        Binding("f3", "persona", "Persona", tooltip="New session with another persona"),
        Binding("f4", "dynamics", "Dynamics", tooltip="New session with other dynamics"),
        Binding("f5,ctrl+e", "export", "Export", tooltip="Export transcript + state trace"),
        Binding(
            "ctrl+n", "new_session", "New", tooltip="Start a new session (or retry a failed start)"
        ),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit"),
    ]

    generating: reactive[bool] = reactive(False)
    """True while a reply is streaming (Esc cancels it)."""

    def __init__(
        self,
        agent: ChatAgent | None = None,
        *,
        agent_factory: AgentFactory | None = None,
        persona: str | None = None,
        dynamics: str | None = None,
        session_id: str | None = None,
        tenant: str = "default",
        export_dir: Path | None = None,
        locale: str | None = None,
    ) -> None:
        super().__init__()
        if agent is None and agent_factory is None:
            raise ValueError("ChatApp needs an agent or an agent_factory")
        self.agent: ChatAgent | None = agent
        self._factory = agent_factory
        self._owns_agent = agent is None
        self.persona = persona
        self.dynamics_override = dynamics
        self._open_id = session_id
        self.tenant = tenant
        self.export_dir = export_dir
        self.locale = locale
        self.session = SessionView()
        self.last_export: tuple[Path, Path] | None = None
        self._start_error: str | None = None
        self._pending: str | None = None  # a message typed while the agent was starting

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◐")
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Conversation(id="conversation")
                yield StatusLine(id="status")
                yield Input(placeholder="Say something · Enter sends · F1 help", id="prompt")
            yield AffectPanel(id="panel")
        yield Footer()

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def panel(self) -> AffectPanel:
        return self.query_one(AffectPanel)

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()
        if self.agent is None:
            self.status.set("loading the agent…", "busy")
            self._build_agent()
        else:
            self._open_initial()

    async def on_unmount(self) -> None:
        if self._owns_agent and self.agent is not None:
            with contextlib.suppress(Exception):
                await self.agent.aclose()

    # ------------------------------------------------------------------ errors

    def show_error(self, message: str) -> None:
        self.status.set(f"error: {message}", "error")
        self.notify(message, title="error", severity="error", timeout=8)

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn any failure into an on-screen error naming what was being done."""
        try:
            yield
        except Exception as exc:  # the app must never die on a backend/store/persona error
            log.warning("%s failed", doing, exc_info=exc)
            self.show_error(f"{doing}: {_describe(exc)}")

    # ------------------------------------------------------------------ agent and sessions

    @work(thread=True, exclusive=True, group="agent", exit_on_error=False)
    def _build_agent(self) -> None:
        assert self._factory is not None
        try:
            agent = self._factory()
        except Exception as exc:
            self.call_from_thread(
                self._agent_failed, f"cannot start the agent (Ctrl+N retries): {_describe(exc)}"
            )
            return
        self.call_from_thread(self._agent_ready, agent)

    def _agent_failed(self, message: str) -> None:
        self._start_error = message
        self.show_error(message)
        pending, self._pending = self._pending, None
        if pending:
            self._offer_again(pending)

    def _agent_ready(self, agent: ChatAgent) -> None:
        self.agent = agent
        self.status.set("")
        self._open_initial()
        self._warm_up()
        pending, self._pending = self._pending, None
        if pending:
            if self.session.session_id:
                self._begin_turn(pending)
            else:
                self._offer_again(pending)

    @work(exclusive=True, group="warm-up", exit_on_error=False)
    async def _warm_up(self) -> None:
        """Load the models now rather than on the first message (the agent does it in a
        thread, so the screen stays live); a failure here is shown, and the first turn will
        report it again if it persists."""
        warm = getattr(self.agent, "warm_up", None)
        if warm is None:
            return
        self.status.set("loading models (the first run can take a minute)…", "busy")
        try:
            await warm()
        except Exception as exc:
            self.show_error(f"loading models: {_describe(exc)}")
            return
        self.panel.show(self.session, self._components())
        if not self.generating and self.status.level == "busy":
            self.status.set(self._idle_status())

    def _open_initial(self) -> None:
        if self._open_id:
            sid = self._open_id
            if self._load_session(sid, quiet_missing=True):
                self.notify(f"resumed session {sid} ({len(self.session.turns)} turns)")
                return
            self._start_session(session_id=sid)
        else:
            self._start_session()

    def _start_session(self, *, session_id: str | None = None) -> bool:
        """A new session with the current persona and dynamics choice; True on success."""
        if self.agent is None:
            self.show_error(self._start_error or "the agent is still starting")
            return False
        with self._guard("starting a session"):
            sid = self.agent.new_session(
                persona=self.persona,
                dynamics=self.dynamics_override,
                tenant=self.tenant,
                session_id=session_id,
            )
            record = self.agent.store.get_session(sid, self.tenant)
            self._show_session(SessionView.from_record(record))
            greeting = self._greeting(self.session.persona)
            if greeting:
                self.conversation.add("note", greeting)
            return True
        return False

    def _load_session(self, sid: str, *, quiet_missing: bool = False) -> bool:
        if self.agent is None:
            self.show_error(self._start_error or "the agent is still starting")
            return False
        try:
            record = self.agent.store.get_session(sid, self.tenant)
        except SessionNotFound:
            if not quiet_missing:
                self.show_error(f"no session {sid!r}")
            return False
        except Exception as exc:
            self.show_error(f"reading session {sid}: {_describe(exc)}")
            return False
        if record is None:
            if not quiet_missing:
                self.show_error(f"no session {sid!r}")
            return False
        with self._guard(f"reading session {sid}"):
            turns = self.agent.store.turns(sid, self.tenant)
            self._show_session(SessionView.from_record(record, turns))
            return True
        return False

    def _show_session(self, view: SessionView) -> None:
        self.session = view
        if view.persona:
            self.persona = view.persona
        persona = (
            Path(view.persona).stem if view.persona.endswith((".yaml", ".yml")) else view.persona
        )
        self.sub_title = f"{persona} · {view.dynamics} · session {view.session_id[:12]}"
        conv = self.conversation
        conv.clear()
        for t in view.turns:
            conv.add("user", t.user_text)
            conv.add("agent", t.reply)
        self.panel.show(view, self._components())
        self.status.set(self._idle_status())

    def _components(self) -> dict[str, str]:
        return dict(getattr(self.agent, "components", None) or {})

    def _idle_status(self) -> str:
        n = len(self.session.turns)
        return f"turn {n} · Enter sends · Esc stops a reply · F1 help"

    @staticmethod
    def _greeting(persona: str) -> str:
        if not persona:
            return ""
        try:
            from affagent.persona import load_persona

            return load_persona(persona).greeting
        except Exception:
            return ""

    # ------------------------------------------------------------------ a turn

    @on(Input.Submitted, "#prompt")
    def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.generating:
            self.notify("Still replying: Esc stops it.", severity="warning")
            return
        if self.agent is None:
            if self._start_error is None and self._pending is None:
                # still starting: keep the message and send it once the agent is ready
                event.input.clear()
                self._pending = text
                self.conversation.add("user", text)
                self.status.set(
                    "starting the agent… your message goes out when it is ready", "busy"
                )
            else:
                self.show_error(self._start_error or "the agent is still starting")
            return
        if not self.session.session_id:
            self.show_error("no session is open: Ctrl+N starts one")
            return
        event.input.clear()
        self._begin_turn(text)

    def _begin_turn(self, text: str) -> None:
        self.conversation.add("user", text)
        reply = self.conversation.add("agent", "", state="streaming")
        self.generating = True
        self.status.set("thinking…", "busy")
        self._turn(text, reply)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _turn(self, text: str, reply: Message) -> None:
        assert self.agent is not None
        sid = self.session.session_id
        stream = self._stream(text, sid)
        try:
            async for event in stream:
                kind = getattr(event, "kind", None)
                if kind == "token":
                    if reply.state == "streaming" and not reply.text:
                        self.status.set("replying…", "busy")
                    reply.append(event.text)
                    self.conversation.scroll_end(animate=False)
                elif kind == "done" and event.result is not None:
                    self._apply(event.result, reply)
        except asyncio.CancelledError:
            reply.state = "cancelled"
            if not self._after_cancel(sid):
                self._offer_again(text)
            raise
        except Exception as exc:
            reply.state = "failed"
            log.warning("turn failed", exc_info=exc)
            self.show_error(_describe(exc))
            self._offer_again(text)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            self.generating = False

    def _stream(self, text: str, sid: str) -> Any:
        """The agent's turn, streamed (its safety stage answers a crisis or boundary message
        with the safety reply, committed like any turn)."""
        agent = self.agent
        assert agent is not None
        if self.locale:
            return agent.stream(text, sid, tenant=self.tenant, locale=self.locale)
        return agent.stream(text, sid, tenant=self.tenant)

    def _apply(self, result: Any, reply: Message) -> None:
        trace = as_trace(result)
        reply.finish(getattr(result, "reply", trace.reply))
        view = self.session.add(trace)
        reply.set_class(bool(view.safety), "-safety")
        self.panel.show(self.session, self._components())
        self.status.set(self._idle_status())

    def _offer_again(self, text: str) -> None:
        """Put an unstored message back in an empty input, so Enter retries it."""
        prompt = self.query_one("#prompt", Input)
        if not prompt.value:
            prompt.value = text
            prompt.cursor_position = len(text)

    def _after_cancel(self, sid: str) -> bool:
        """Say what was kept; True if the turn was stored after all. Normally nothing is; if
        the turn had already been committed when Esc arrived, show it as the store has it
        rather than pretend it was dropped."""
        self.status.set("stopped: nothing was stored", "info")
        if self.agent is None:
            return False
        try:
            stored = list(self.agent.store.turns(sid, self.tenant))
        except Exception:
            return False
        if len(stored) > len(self.session.turns):
            self._load_session(sid)
            self.status.set("stopped after the reply was stored; showing the stored turn")
            return True
        return False

    def watch_generating(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc ("Stop") is live only while a reply streams; idle, the footer shows it dimmed."""
        if action == "cancel":
            return True if self.generating else None
        return True

    def action_cancel(self) -> None:
        if not self.generating:
            return
        for worker in self.workers:
            if worker.group == "turn" and worker.is_running:
                worker.cancel()

    # ------------------------------------------------------------------ actions

    def _idle_or_warn(self) -> bool:
        if self.generating:
            self.notify("Wait for the reply or press Esc first.", severity="warning")
            return False
        return True

    def action_help(self) -> None:
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))

    def action_new_session(self) -> None:
        if self.agent is None and self._start_error is not None and self._factory is not None:
            # the agent failed to start (database down, model missing): try again
            self._start_error = None
            self.status.set("loading the agent…", "busy")
            self._build_agent()
            return
        if self._idle_or_warn() and self._start_session():
            self.notify(f"new session {self.session.session_id}")

    def action_sessions(self) -> None:
        if not self._idle_or_warn():
            return
        if self.agent is None:
            self.show_error(self._start_error or "the agent is still starting")
            return
        with self._guard("listing sessions"):
            sessions = list(self.agent.store.list_sessions(self.tenant))
            self.push_screen(SessionPicker(sessions, self.session.session_id), self._resume)

    def _resume(self, sid: str | None) -> None:
        if sid and self._load_session(sid):
            self.notify(f"resumed session {sid} ({len(self.session.turns)} turns)")

    def action_persona(self) -> None:
        if not self._idle_or_warn():
            return
        with self._guard("listing personas"):
            from affagent.persona import list_personas, load_persona

            rows: list[tuple[str, str, bool]] = []
            for pid in list_personas():
                try:
                    p = load_persona(pid)
                    rows.append((pid, p.description or p.name, True))
                except AffagentError as exc:
                    rows.append((pid, str(exc).rsplit(": ", 1)[-1], False))
            self.push_screen(PersonaPicker(rows, self.session.persona), self._switch_persona)

    def _switch_persona(self, persona: str | None) -> None:
        if not persona:
            return
        previous = self.persona
        self.persona = persona
        if self._start_session():
            self.notify(f"new session with {persona}")
        else:
            self.persona = previous

    def action_dynamics(self) -> None:
        if self._idle_or_warn():
            self.push_screen(DynamicsScreen(self.session.dynamics), self._switch_dynamics)

    def _switch_dynamics(self, dynamics: str | None) -> None:
        if not dynamics:
            return
        previous = self.dynamics_override
        self.dynamics_override = dynamics
        if self._start_session():
            self.notify(f"new session with dynamics {dynamics}")
        else:
            self.dynamics_override = previous

    def action_export(self) -> None:
        if not self.session.session_id:
            self.show_error("no session to export")
            return
        with self._guard("exporting"):
            from affagent.tui.export import export_session

            directory = self.export_dir
            if directory is None:
                from affagent.resources import state_dir

                directory = state_dir() / "exports"
            assert self.agent is not None
            md, js = export_session(
                self.agent.store, self.session.session_id, directory, self.tenant
            )
            self.last_export = (md, js)
            self.status.set(f"exported {md} and {js.name}")
            self.notify(f"{md}\n{js}", title="exported")
