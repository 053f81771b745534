"""The contract of the one turn path: the agent owns the whole turn, its safety stage
included, for every interface; backends are asked what they can do, never named; one
settings object reads the environment; no import circles."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler

from affagent.agent import Agent, AgentConfig
from affagent.backends import ScriptedBackend
from affagent.errors import ConfigError
from affagent.safety import PASS, SafetyDecision, SafetyWebhook
from tests.agent_fakes import FakeBackend, FixedEstimator, FixedSelector
from tests.server_helpers import client, make_app, sqlite_url, user

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "affagent"
CRISIS = "I've been thinking about ending it all tonight."


def scripted(**cfg: Any) -> Agent:
    return Agent(
        AgentConfig(
            persona="calm-counsellor",
            backend="scripted",
            database_url="sqlite://",
            estimator="keywords",
            classifier="none",
            selector="none",
            **cfg,
        )
    )


# --------------------------------------------------------------------------- safety everywhere


def test_respond_sync_answers_a_crisis_with_the_safe_reply() -> None:
    agent = scripted()
    try:
        r = agent.respond_sync(CRISIS)
        assert r.safety == "crisis" and r.strategy is None
        assert "988" in r.reply  # the en-US crisis line: the safe-messaging reply
        (turn,) = agent.store.turns(r.session_id)
        assert turn.trace.safety is not None and turn.trace.safety["action"] == "crisis"
        assert turn.reply == r.reply
        normal = agent.respond_sync("Work was long today.")  # a new session
        assert normal.safety == "pass" and normal.trace.safety is None
    finally:
        agent.close()


def test_safety_false_is_the_only_way_to_skip_the_check() -> None:
    agent = scripted(safety=False)
    try:
        r = agent.respond_sync(CRISIS)
        assert r.safety is None and "988" not in r.reply
        assert agent.components["safety"] == "off"
    finally:
        agent.close()


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.events.append("start")

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.events.append("end")


def test_runnable_runs_the_safety_stage_and_fires_callbacks() -> None:
    agent = scripted()
    chain = agent.as_runnable()
    try:
        rec = Recorder()
        msg = chain.invoke(CRISIS, {"callbacks": [rec]})
        assert msg.response_metadata["safety"] == "crisis" and "988" in str(msg.content)
        assert rec.events == ["start", "end"]
        sid = msg.response_metadata["session_id"]
        conf = {"configurable": {"session_id": sid}, "callbacks": [rec]}
        chunks = list(chain.stream("ok.", conf))  # the same conversation: a check-in
        assert chunks[-1].response_metadata["safety"] == "crisis"
        assert "still here" in "".join(str(c.content) for c in chunks)
        assert rec.events[-2:] == ["start", "end"]
        many = chain.batch(["hello", "are you a real person?"])
        assert [m.response_metadata["safety"] for m in many] == ["pass", "boundary"]
    finally:
        agent.close()


async def test_async_runnable_paths_run_the_safety_stage() -> None:
    agent = scripted()
    chain = agent.as_runnable()
    try:
        msg = await chain.ainvoke({"input": CRISIS}, {"configurable": {"locale": "en-GB"}})
        assert msg.response_metadata["safety"] == "crisis" and "116 123" in str(msg.content)
        chunks = [c async for c in chain.astream(CRISIS)]
        assert chunks[-1].response_metadata["safety"] == "crisis"
        text = "".join(str(c.content) for c in chunks)
        assert "988" in text
    finally:
        await agent.aclose()


async def test_http_and_cli_give_the_same_action(tmp_path: Path) -> None:
    app, agent = make_app(sqlite_url(tmp_path), auth=False)
    async with app.router.lifespan_context(app), client(app) as c:
        r = await c.post("/v1/chat/completions", json=user(CRISIS))
    assert r.status_code == 200 and r.json()["affagent"]["safety"]["action"] == "crisis"
    await agent.aclose()
    env = {"AFFAGENT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "affagent", "say", "--backend", "scripted", "--json", CRISIS],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["safety"] == "crisis"


class RecordingGuard:
    """A safety check that records what it was shown."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    def check(
        self, text: str, *, persona: Any = None, locale: str | None = None,
        history: Sequence[str] = (),
    ) -> SafetyDecision:
        self.seen.append((text, list(history)))
        return PASS


async def test_the_check_reads_the_last_few_user_turns() -> None:
    guard = RecordingGuard()
    agent = Agent(
        AgentConfig(database_url="sqlite://", classifier="none", selector="none", history_turns=1),
        backend=FakeBackend(),
        estimator=FixedEstimator(),
        guard=guard,
    )
    sid = agent.new_session()
    for text in ["one", "two", "three", "four", "five"]:
        await agent.respond(text, sid)
    assert guard.seen[0] == ("one", [])
    assert guard.seen[-1] == ("five", ["two", "three", "four"])  # 3, though history is 1
    await agent.aclose()


async def test_a_crisis_turn_calls_the_webhook_after_it_is_stored() -> None:
    posted: list[dict[str, Any]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    webhook = SafetyWebhook("http://hooks.invalid/x", transport=httpx.MockTransport(hook))
    agent = Agent(
        AgentConfig(database_url="sqlite://", classifier="none", selector="none"),
        backend=FakeBackend(),
        estimator=FixedEstimator(),
        webhook=webhook,
    )
    r = await agent.respond(CRISIS)
    await agent.respond("Thanks for listening.")  # another session, nothing flagged
    await webhook.drain()
    assert [p["event"] for p in posted] == ["safety.flagged"]
    assert posted[0]["session_id"] == r.session_id and posted[0]["turn"] == 1
    assert "user_text" not in posted[0]  # ids and the decision, not the text
    await agent.aclose()


def test_a_crisis_conversation_gets_a_check_in_not_the_same_reply_again() -> None:
    """Flagged again because of the conversation (an explicit statement in the last turns):
    the reply asks how the person is now, keeps a line in view, and is not a repeat."""
    from affagent.safety import RiskAssessment, RuleHit, SafetyGuard

    class ReadsHistory:
        name = "stub"

        def assess(self, text: str, history: Sequence[str] = ()) -> RiskAssessment:
            if not history:
                return RiskAssessment(False, None, None, {})
            hit = RuleHit("learned+history", "self_harm", "medium", 1.0, (0, len(text)), text)
            return RiskAssessment(True, "self_harm", "medium", {"self_harm": 0.9}, (hit,))

    guard = SafetyGuard(ReadsHistory())
    first = guard.check("I want to kill myself tonight.", locale="en-GB")  # stub: no history
    assert first.action == "pass"
    again = guard.check("ok", history=[CRISIS], locale="en-GB")
    assert again.action == "crisis" and "follow_up" in again.rules
    assert again.reply is not None and "still here" in again.reply and "116 123" in again.reply
    fresh = guard.check("ok", history=["Work was long today."], locale="en-GB")
    assert fresh.action == "crisis" and "follow_up" not in fresh.rules
    assert fresh.reply != again.reply


# --------------------------------------------------------------------------- backends


async def test_the_agent_asks_the_backend_not_its_name() -> None:
    from affagent.types import BackendCapabilities

    caps = BackendCapabilities(prefill="instruct", injection="fewshot")
    agent = Agent(
        AgentConfig(backend="scripted", database_url="sqlite://", classifier="none",
                    selector="none"),
        backend=FakeBackend(capabilities=caps),
        estimator=FixedEstimator(),
    )
    r = await agent.respond("hello")
    assert agent.injection == "fewshot" and r.trace.injection == "fewshot"
    assert agent.components["injection"] == "fewshot"
    assert ScriptedBackend.capabilities.injection == "system"


# --------------------------------------------------------------------------- code shape


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in the file (lazy imports
    count: a circle through a function body is still a circle)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".")[: -node.level] if not name.endswith("__") else []
                base = ".".join([*pkg, base]) if base else ".".join(pkg)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("affagent"):
                found.add(t)
    return found


def test_no_import_circles() -> None:
    """No module imports another that (directly or through others) imports it back. A
    package's ``__init__`` counts as a module; a submodule importing its own package (the
    re-export pattern) is not followed."""
    mods = _modules()
    known = set(mods)
    graph = {
        m: {t for t in _imports(m, tree, known) if not m.startswith(t + ".")}
        for m, tree in mods.items()
    }
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, path: list[str]) -> bool:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycle.extend([*path[path.index(t):], t])
                return True
            if state.get(t, 0) == 0 and visit(t, [*path, t]):
                return True
        state[m] = 2
        return False

    for m in sorted(graph):
        if state.get(m, 0) == 0 and visit(m, [m]):
            break
    assert not cycle, " -> ".join(cycle)
    assert "affagent.agent._config" in graph["affagent.agent._runnable"]  # edges are seen


def test_only_the_settings_module_reads_affagent_variables() -> None:
    pattern = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\()\s*f?["']AFFAGENT_""")
    offenders = [
        str(p.relative_to(ROOT))
        for p in PKG.rglob("*.py")
        if p.name != "settings.py" and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_branch_on_a_backend_name_outside_the_backends() -> None:
    names = "embedded|openai|vllm|scripted"
    pattern = re.compile(
        rf"""backend\w*(\.name)?\s*(==|!=|\bin\b)\s*\(?\s*["'](?:{names})["']"""
    )
    offenders = [
        str(p.relative_to(ROOT))
        for p in PKG.rglob("*.py")
        if "backends" not in p.relative_to(PKG).parts
        and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --------------------------------------------------------------------------- the reply shape


async def test_reply_filter_shapes_what_the_user_reads_and_what_is_stored() -> None:
    """The agent's stream goes through the reply filter: an echo loop and an unfinished tail
    never reach the user, the strategy's max_sentences ends the reply, and the stored reply
    is exactly what was streamed."""
    from affagent.types import BackendCapabilities

    loop = "That sounds hard. What happened next? That sounds hard. That sounds hard. And so"
    backend = FakeBackend(replies=[loop], capabilities=BackendCapabilities(prefill="continue"))
    agent = Agent(AgentConfig(database_url="sqlite://", classifier="none", selector="none",
                              injection="system", safety=False), backend=backend,
                  estimator=FixedEstimator())
    events = [ev async for ev in agent.stream("My week was awful.")]
    result = events[-1].result
    assert result is not None
    streamed = "".join(e.text for e in events if e.kind == "token")
    assert streamed == result.reply == "That sounds hard. What happened next?"
    assert agent.store.turns(result.session_id)[-1].reply == result.reply
    raw = Agent(AgentConfig(database_url="sqlite://", classifier="none", selector="none",
                            injection="system", safety=False, reply_filter=False),
                backend=FakeBackend(replies=[loop]), estimator=FixedEstimator())
    assert (await raw.respond("My week was awful.")).reply == loop
    await agent.aclose()
    await raw.aclose()


async def test_strategy_sentence_limit_and_steering_reach_the_backend() -> None:
    from affagent.types import BackendCapabilities

    caps = BackendCapabilities(prefill="continue", steering=("V", "A", "D"))
    long = "One. Two. Three. Four. Five."
    backend = FakeBackend(replies=[long], capabilities=caps)
    agent = Agent(AgentConfig(database_url="sqlite://", classifier="none",
                              injection="steer", safety=False),
                  backend=backend, estimator=FixedEstimator(-0.6, 0.4, -0.2),
                  selector=FixedSelector("Question"))
    r = await agent.respond("I failed my exam.")
    limit = agent.strategies["Question"].max_sentences
    assert limit is not None and len(r.reply.split(". ")) == limit
    params = backend.calls[-1][1]
    assert params.steering is not None
    # the state's axes and the chosen strategy's direction (the backend applies that only
    # where its steering file has one)
    assert params.steering == pytest.approx(
        {**{k.upper(): v for k, v in r.state.items()}, "strategy:Question": 1.0}, abs=1e-4)
    await agent.aclose()
    # a backend that cannot steer is told so before the first turn
    plain = Agent(AgentConfig(database_url="sqlite://", injection="steer", safety=False,
                              classifier="none", selector="none"),
                  backend=FakeBackend(), estimator=FixedEstimator())
    with pytest.raises(ConfigError, match="needs activation steering"):
        await plain.respond("hello")
    await plain.aclose()
