"""Run a scripted protocol under several dynamics conditions and seeds, resumably.

Every condition × seed is one *run*: its own session in the store under ``DIR`` (created with
the condition as its dynamics, overriding the persona's), fed the protocol's user turns in
order through :meth:`affagent.agent.Agent.respond`. Runs proceed concurrently as asyncio
tasks bounded by a semaphore (``concurrency``); turns within a run are sequential, since each
depends on the state the previous one left. An OpenAI-compatible server (vLLM) batches the
concurrent requests; the embedded llama.cpp backend generates one reply at a time, so there
concurrency buys nothing.

Resuming: each finished turn is appended to ``runs/<condition>/seed-<n>.jsonl`` right after
the agent commits it. On a rerun with the same ``DIR``, a run continues after its last
recorded turn. The store is the source of truth: if the process died between the commit and
the append, the missing rows are rebuilt from the stored traces, so no turn is generated twice
and none is missing.

    >>> plan = RunPlan(protocol=load_protocol("tone-swings"), ...)      # doctest: +SKIP
    >>> summary = asyncio.run(run_plan(plan, make_agent=lambda seed: Agent(...)))  # +SKIP
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from affagent.affect.dynamics import DynamicsSpec, step
from affagent.affect.personality import Personality, TransitionWeights, target
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import BackendError, ConfigError, SessionNotFound
from affagent.evals.metrics import MetricParams
from affagent.evals.protocol import PhaseRoles
from affagent.evals.protocol import Protocol as ProtocolFile
from affagent.evals.results import (
    MANIFEST,
    PROTOCOL_COPY,
    SUMMARY,
    Manifest,
    TurnRow,
    condition_slug,
    dump_json,
    load_manifest,
    load_runs,
    metrics_by_condition,
    read_rows,
    run_path,
)
from affagent.types import TurnTrace

__all__ = ["AgentLike", "RunPlan", "prepare_out", "run_plan", "session_id_for"]


class AgentLike(Protocol):
    """What the runner needs of :class:`affagent.agent.Agent` (tests pass a fake)."""

    store: Any

    def new_session(
        self,
        *,
        persona: str | None = None,
        dynamics: str | None = None,
        tenant: str = "default",
        session_id: str | None = None,
    ) -> str: ...

    async def respond(
        self, text: str, session_id: str | None = None, *, tenant: str = "default"
    ) -> Any: ...

    async def aclose(self) -> None: ...


#: ``seed → agent``. Agents for different seeds should share the backend, the perception
#: models and the store; only the generation seed differs.
AgentFactory = Callable[[int], AgentLike]
ProgressFn = Callable[[int], None]


@dataclass
class RunPlan:
    protocol: ProtocolFile
    protocol_path: Path
    conditions: Sequence[DynamicsSpec]
    seeds: Sequence[int]
    persona: str
    out: Path
    backend: str = "embedded"
    model: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)
    roles: PhaseRoles | None = None
    concurrency: int = 1
    retries: int = 2
    params: MetricParams = field(default_factory=MetricParams)

    @property
    def total_turns(self) -> int:
        return len(self.conditions) * len(self.seeds) * len(self.protocol.turns)


def session_id_for(protocol: str, condition: DynamicsSpec | str, seed: int) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", protocol).strip("-") or "protocol"
    return f"{name}-{condition_slug(condition)}-s{seed}"


def _weights(persona: str) -> TransitionWeights:
    from affagent.persona import load_persona

    return load_persona(persona).traits.weights()


def prepare_out(plan: RunPlan) -> Manifest:
    """Create ``DIR`` (or check that an existing one holds the same protocol and persona) and
    write the manifest; conditions and seeds accumulate across reruns."""
    out = plan.out
    out.mkdir(parents=True, exist_ok=True)
    roles = plan.protocol.phase_roles(plan.roles)
    w = _weights(plan.persona)
    conds = [str(c) for c in plan.conditions]
    seeds = list(plan.seeds)
    if (out / MANIFEST).exists():
        old = load_manifest(out)
        if old.digest != plan.protocol.digest():
            raise ConfigError(
                f"{out} holds runs of a different protocol ({old.protocol}, digest {old.digest});"
                " use another --out"
            )
        if old.persona != plan.persona:
            raise ConfigError(
                f"{out} holds runs with persona {old.persona!r}, not {plan.persona!r};"
                " use another --out"
            )
        conds = old.conditions + [c for c in conds if c not in old.conditions]
        seeds = old.seeds + [s for s in seeds if s not in old.seeds]
    manifest = Manifest(
        protocol=plan.protocol.name,
        digest=plan.protocol.digest(),
        turns=len(plan.protocol.turns),
        persona=plan.persona,
        conditions=conds,
        seeds=seeds,
        backend=plan.backend,
        model=plan.model,
        generation=plan.generation,
        roles=roles.to_dict(),
        rest=w.rest.to_dict(),
    )
    dump_json(out / MANIFEST, manifest.model_dump(mode="json"))
    copy = out / PROTOCOL_COPY
    text = plan.protocol_path.read_text(encoding="utf-8")
    if not copy.exists() or copy.read_text(encoding="utf-8") != text:
        copy.write_text(text, encoding="utf-8")
    return manifest


def _vad(est: Any) -> dict[str, float]:
    return {"V": float(est.V), "A": float(est.A), "D": float(est.D)}


def _stimulus(trace: TurnTrace) -> VAD:
    """What the dynamics integrated on this turn: the appraised stimulus (the user's estimate
    for traces written before the appraisal stage)."""
    if trace.appraisal and "stimulus" in trace.appraisal:
        s = trace.appraisal["stimulus"]
        return VAD(s["V"], s["A"], s["D"])
    x = trace.user_estimate.vad
    return VAD(x.v, x.a, x.d)


def row_from_trace(
    trace: TurnTrace, *, condition: str, seed: int, phase: str, w: TransitionWeights,
    ms: float | None = None,
    attempts: int = 1,
    gen_vad: dict[str, float] | None = None,
) -> TurnRow:
    top = trace.emotions.top(1) if trace.emotions is not None else []
    return TurnRow(
        condition=condition,
        seed=seed,
        turn=trace.turn,
        phase=phase,
        user=trace.user_text,
        reply=trace.reply,
        session_id=trace.session_id,
        user_vad=_vad(trace.user_estimate),
        target=target(_stimulus(trace), w).to_dict(),
        stimulus=_stimulus(trace).to_dict(),
        state_before=dict(trace.state_before["vad"]),
        state=dict(trace.state_after["vad"]),
        reply_vad=None if trace.reply_estimate is None else _vad(trace.reply_estimate),
        strategy=None if trace.strategy is None else trace.strategy.strategy,
        emotion=top[0][0] if top else None,
        ms=ms if ms is not None else (sum(trace.timings_ms.values()) or None),
        attempts=attempts,
        prefill=trace.prompt_sections.get("prefill", ""),
        gen_vad=gen_vad,
    )


def continuation(reply: str, prefill: str) -> str:
    """The model's own part of a reply that the agent prefilled with ``prefill``."""
    p = prefill.strip()
    r = reply.lstrip()
    return r[len(p):].strip() if p and r.startswith(p) else reply


async def _gen_vad(agent: AgentLike, trace: TurnTrace) -> dict[str, float] | None:
    """The estimate of the model's continuation (the reply without the prefilled opener),
    read with the agent's own reflector; the reply's estimate when nothing was prefilled."""
    prefill = trace.prompt_sections.get("prefill", "")
    if not prefill.strip():
        return None if trace.reply_estimate is None else _vad(trace.reply_estimate)
    if getattr(agent, "reflector", None) is None and hasattr(agent, "warm_up"):
        await agent.warm_up()
    reflector = getattr(agent, "reflector", None)
    cont = continuation(trace.reply, prefill)
    if reflector is None or not cont:
        return None
    est = await asyncio.to_thread(reflector.reflect, cont)
    return None if est is None else _vad(est)


def _append(path: Path, row: TurnRow) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(row.model_dump_json() + "\n")
        fh.flush()


async def _respond(agent: AgentLike, text: str, sid: str, retries: int) -> tuple[Any, int]:
    """``agent.respond`` with up to ``retries`` retries on a backend failure (nothing was
    stored, so a retry is safe). Each retry samples with a shifted seed, since the same seed
    would give the same failed reply (a small model may stop at once, for example); the shift
    is deterministic, so a resumed run replays it."""
    cfg = getattr(agent, "config", None)
    gen = getattr(cfg, "generation", None)
    try:
        for attempt in range(retries + 1):
            try:
                return await agent.respond(text, sid), attempt + 1
            except BackendError:
                if attempt == retries or cfg is None or gen is None:
                    raise
                seed = (gen.seed or 0) + 7919 * (attempt + 1)
                agent.config = cfg.model_copy(  # type: ignore[attr-defined]
                    update={"generation": gen.model_copy(update={"seed": seed})}
                )
        raise AssertionError("unreachable")
    finally:
        if cfg is not None:
            agent.config = cfg  # type: ignore[attr-defined]


async def _run_one(
    plan: RunPlan,
    cond: DynamicsSpec,
    seed: int,
    agent: AgentLike,
    w: TransitionWeights,
    progress: ProgressFn,
) -> None:
    path = run_path(plan.out, str(cond), seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = read_rows(path, repair=True)
    turns = plan.protocol.turns
    sid = session_id_for(plan.protocol.name, cond, seed)
    try:
        rec = await asyncio.to_thread(agent.store.get_session, sid)
        stored = int(rec.turns)
    except SessionNotFound:
        if rows:
            raise ConfigError(
                f"{path} has {len(rows)} turns but session {sid} is not in the store under "
                f"{plan.out}; delete the file to restart that run"
            ) from None
        agent.new_session(persona=plan.persona, dynamics=str(cond), session_id=sid)
        stored = 0
    if stored < len(rows):
        raise ConfigError(
            f"{path} has {len(rows)} turns but the store has {stored} for session {sid}; "
            "delete the file to restart that run"
        )
    if stored > len(rows):  # died between commit and append: rebuild from the traces
        records = await asyncio.to_thread(agent.store.turns, sid)
        for r in records[len(rows) : stored]:
            tr: TurnTrace = r.trace
            row = row_from_trace(
                tr, condition=str(cond), seed=seed, phase=turns[tr.turn - 1].phase, w=w,
                gen_vad=await _gen_vad(agent, tr),
            )
            _append(path, row)
            rows.append(row)
    progress(min(len(rows), len(turns)))
    for i in range(len(rows), len(turns)):
        t0 = time.perf_counter()
        res, attempts = await _respond(agent, turns[i].user, sid, plan.retries)
        ms = (time.perf_counter() - t0) * 1000.0
        trace: TurnTrace = res.trace
        if trace.turn != i + 1:
            raise ConfigError(
                f"session {sid}: the agent reported turn {trace.turn}, expected {i + 1}"
            )
        _append(
            path,
            row_from_trace(trace, condition=str(cond), seed=seed, phase=turns[i].phase, w=w,
                           ms=ms, attempts=attempts, gen_vad=await _gen_vad(agent, trace)),
        )
        progress(1)


async def run_plan(
    plan: RunPlan, make_agent: AgentFactory, *, progress: ProgressFn | None = None
) -> dict[str, Any]:
    """Run (or resume) every condition × seed of ``plan``, then write and return the summary
    (``{"conditions": {NAME: {METRIC: {"mean", "sd", "n"}}}, "runs": ...}``)."""
    manifest = prepare_out(plan)
    w = _weights(plan.persona)
    tick = progress or (lambda n: None)
    agents: dict[int, AgentLike] = {}
    sem = asyncio.Semaphore(max(1, plan.concurrency))

    def agent_for(seed: int) -> AgentLike:
        if seed not in agents:
            agents[seed] = make_agent(seed)
        return agents[seed]

    async def guarded(cond: DynamicsSpec, seed: int) -> None:
        async with sem:
            await _run_one(plan, cond, seed, agent_for(seed), w, tick)

    try:
        # load the models (and fail on a bad name or a missing file) before any generation
        warm = getattr(agent_for(plan.seeds[0]), "warm_up", None)
        if warm is not None:
            await warm()
        try:
            async with asyncio.TaskGroup() as tg:
                # seed-major: an interrupted run leaves every condition with about as many
                # complete seeds, not some conditions finished and others not started
                for seed in plan.seeds:
                    for cond in plan.conditions:
                        tg.create_task(guarded(cond, seed))
        except BaseExceptionGroup as eg:  # surface the first real error, not the group
            err: BaseException = eg.exceptions[0]
            while isinstance(err, BaseExceptionGroup):
                err = err.exceptions[0]
            raise err from None
    finally:
        for a in agents.values():
            await a.aclose()
    conds = [str(c) for c in plan.conditions]
    return summarise_dir(plan.out, manifest, plan.params, conditions=conds)


def summarise_dir(
    out: Path,
    manifest: Manifest | None = None,
    params: MetricParams | None = None,
    *,
    conditions: Sequence[str] | None = None,
    roles: PhaseRoles | None = None,
) -> dict[str, Any]:
    """Metrics of the complete runs in ``out``; writes ``summary.json`` and returns it."""
    m = manifest or load_manifest(out)
    runs = load_runs(out, m)
    if conditions is not None:
        runs = {c: runs.get(c, []) for c in conditions}
    per_run, summary = metrics_by_condition(
        runs, roles or m.phase_roles(), params, rest_v=m.rest.get("V", 0.0), turns=m.turns
    )
    obj = {
        "protocol": m.protocol,
        "persona": m.persona,
        "backend": m.backend,
        "turns": m.turns,
        "conditions": summary,
        "runs": per_run,
    }
    dump_json(out / SUMMARY, obj)
    return obj


def agent_factory(
    out: Path,
    *,
    persona: str,
    backend: str,
    base_url: str | None = None,
    model: str | None = None,
    generation: dict[str, Any] | None = None,
    estimator: str = "default",
    classifier: str = "goemotions",
    selector: str = "learned",
    backend_options: dict[str, Any] | None = None,
    history_turns: int | None = None,
) -> AgentFactory:
    """``seed → Agent`` for the CLI: one SQLite store at ``out/sessions.db``; the first agent
    loads the backend and the perception models, the others reuse them with their own
    generation seed."""
    import importlib

    from affagent.types import GenerationParams

    agent_mod: Any = importlib.import_module("affagent.agent")  # the core issue's module
    Agent, AgentConfig = agent_mod.Agent, agent_mod.AgentConfig

    kw: dict[str, Any] = {}
    if model is not None:
        kw["model"] = model  # a server's model name, or the embedded backend's GGUF path
    base = AgentConfig(
        persona=persona,
        backend=backend,
        base_url=base_url,
        database_url=f"sqlite:///{(out / 'sessions.db').resolve()}",
        estimator=estimator,
        classifier=classifier,
        selector=selector,
        generation=GenerationParams(**(generation or {})),
        backend_options=dict(backend_options or {}),
        **kw,
        **({} if history_turns is None else {"history_turns": history_turns}),
    )
    first: list[Any] = []

    def make(seed: int) -> AgentLike:
        gen = base.generation.model_copy(update={"seed": seed})
        cfg = base.model_copy(update={"generation": gen})
        if not first:
            agent = Agent(cfg)
            first.append(agent)
        else:  # share the loaded backend and the store; perception models are cached
            agent = Agent(cfg, backend=first[0].backend, store=first[0].store)
        agent.feeler = ScriptFeeler()
        return agent

    return make


class ScriptFeeler:
    """The dynamics step without elapsed-time decay. A script's turns are back to back by
    definition: how long the model took to answer, or an interruption before a resume, must
    not pull the state toward rest (the agent's default feeler decays by wall-clock time)."""

    def feel(
        self,
        state: AffectState,
        stimulus: VAD,
        personality: Personality,
        dynamics: DynamicsSpec,
        now: float,
    ) -> AffectState:
        return step(state, stimulus, personality, dynamics, now=now)
