"""Generate the benchmark's replies: one per case and method, with the agent's own prompt
builder, persona, strategy text and generation options, the same sampling seed for every
method of a case, and the agent's reply filter.

Generations are cached in a JSONL file keyed by everything that decides them (the model, the
rendered messages, the options, the steering settings), so re-scoring never regenerates, and
a changed prompt regenerates only what it changed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from affagent.affect.state import AffectState
from affagent.backends._common import params_for
from affagent.backends._reply import filter_stream
from affagent.errors import ConfigError
from affagent.evals.injection.cases import Case
from affagent.evals.injection.scoring import own_words
from affagent.persona import Persona
from affagent.prompting import INJECTIONS, Prompt, PromptBuilder, PromptInputs
from affagent.types import Backend, GenerationParams, StrategyChoice

__all__ = [
    "Generation",
    "GenerationCache",
    "backend_id",
    "check_methods",
    "generate_all",
    "supported_methods",
]

HISTORY_TURNS = 6
HISTORY_CHARS = 600


@dataclass(frozen=True)
class Generation:
    """One reply: what the user reads (``reply``), the part the model wrote (``own``), what a
    method inserted in front (``inserted``), and timings."""

    case_id: str
    method: str
    reply: str
    own: str
    inserted: str
    raw: str
    prompt_ms: float
    gen_ms: float
    prompt_chars: int
    cached: bool = False


def _needs_steering(method: str) -> bool:
    from affagent.prompting._injection import InjectionPlan, parse_injection

    plan = InjectionPlan()
    for m in parse_injection(method):
        m.apply(AffectState(), "", plan)
    return plan.steering is not None


def supported_methods(backend: Backend) -> list[str]:
    """The single injection methods this backend can run (``steer`` only where its
    capabilities name the V, A and D directions)."""
    caps = backend.capabilities
    can_steer = {"V", "A", "D"} <= set(caps.steering)
    return [m for m in sorted(INJECTIONS) if can_steer or not _needs_steering(m)]


def check_methods(methods: Sequence[str], backend: Backend) -> None:
    """Fail before any generation: unknown methods (listing the known ones) and steering on a
    backend that cannot steer (listing what it supports)."""
    from affagent.prompting._injection import parse_injection

    for m in methods:
        parse_injection(m)
    caps = backend.capabilities
    for m in methods:
        if _needs_steering(m) and not {"V", "A", "D"} <= set(caps.steering):
            name = getattr(backend, "name", type(backend).__name__)
            raise ConfigError(
                f"method {m!r} needs activation steering, which the {name} backend cannot do "
                f"here; it supports: {', '.join(supported_methods(backend))} (combine with +)")


def backend_id(backend: Backend) -> dict[str, Any]:
    """What identifies the generating model and its fixed settings, for the cache key."""
    out: dict[str, Any] = {"backend": getattr(backend, "name", type(backend).__name__)}
    for attr in ("model_path", "model", "base_url", "prefill_mode"):
        v = getattr(backend, attr, None)
        if isinstance(v, (str, Path)):
            out[attr] = Path(v).name if attr == "model_path" else str(v)
    path = getattr(backend, "model_path", None)
    if isinstance(path, (str, Path)) and Path(path).is_file():
        out["model_bytes"] = Path(path).stat().st_size
    vec_fn = getattr(backend, "steering_vectors", None)
    vec = vec_fn() if callable(vec_fn) else None
    if vec is not None:
        out["steering"] = {
            "file": hashlib.sha256(Path(vec.path).read_bytes()).hexdigest()[:16],
            **asdict(vec.settings),
        }
    return out


class GenerationCache:
    """Append-only JSONL of generations by key."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._rows: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._rows[row["key"]] = row
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn last line from an interrupted run

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key)

    def put(self, key: str, row: dict[str, Any]) -> None:
        row = {"key": key, **row}
        self._rows[key] = row
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _key(ident: dict[str, Any], prompt: Prompt, params: GenerationParams) -> str:
    blob = json.dumps(
        {
            "id": ident,
            "messages": [[m.role, m.content] for m in prompt.messages],
            "params": params.model_dump(mode="json"),
            "max_sentences": prompt.max_sentences,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_prompt(
    builder: PromptBuilder, case: Case, persona: Persona, strategy_info: Any, hints: str
) -> Prompt:
    """The agent's prompt for this case's target state and strategy."""
    choice = StrategyChoice(strategy=case.strategy, probabilities={case.strategy: 1.0},
                            reason="benchmark target")
    return builder.build(PromptInputs(
        persona=persona,
        state=AffectState(vad=case.target),
        user_text=case.user_text,
        history=list(case.history),
        strategy=choice,
        strategy_info=strategy_info,
        hints=hints,
        key=case.case_id,
    ))


async def _generate_one(
    backend: Backend, prompt: Prompt, params: GenerationParams
) -> tuple[str, str, float]:
    """(filtered reply, raw stream text, generation ms): the stream is cut as soon as the
    filter says the reply is over."""
    raw: list[str] = []

    async def tap(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
        async for delta in deltas:
            raw.append(delta)
            yield delta

    t0 = time.perf_counter()
    stream = backend.stream(prompt.messages, params)
    try:
        texts = filter_stream(tap(stream), max_sentences=prompt.max_sentences,
                              prefill=prompt.prefill)
        reply = "".join([t async for t in texts]).strip()
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()
    return reply, "".join(raw), (time.perf_counter() - t0) * 1000.0


async def generate_all(
    cases: Sequence[Case],
    methods: Sequence[str],
    backend: Backend,
    *,
    persona: Persona,
    strategies: dict[str, Any],
    hints: Sequence[str],
    base: GenerationParams,
    cache: GenerationCache,
    progress: Callable[[int], None] = lambda n: None,
    strategy_example: bool = False,
) -> list[Generation]:
    """Every (case, method) reply, in case order then method order."""
    check_methods(methods, backend)
    ident = backend_id(backend)
    builders = {m: PromptBuilder(injection=m, history_turns=HISTORY_TURNS,
                                 history_chars=HISTORY_CHARS,
                                 strategy_example=strategy_example) for m in methods}
    caps = backend.capabilities
    out: list[Generation] = []
    for case, hint in zip(cases, hints, strict=True):
        info = strategies.get(case.strategy)
        built = []
        for m in methods:
            t0 = time.perf_counter()
            prompt = build_prompt(builders[m], case, persona, info, hint)
            params = params_for(base.model_copy(update={"seed": case.seed}), caps,
                                prefill=prompt.prefill, steering=prompt.steering)
            built.append((m, prompt, params, (time.perf_counter() - t0) * 1000.0))
        # methods whose messages are identical run back to back, so a backend that keeps
        # the KV prefix reads the shared prompt once
        order = sorted(range(len(built)), key=lambda i: json.dumps(
            [[x.role, x.content] for x in built[i][1].messages]))
        done: dict[int, Generation] = {}
        for i in order:
            m, prompt, params, prompt_ms = built[i]
            key = _key(ident, prompt, params)
            row = cache.get(key)
            cached = row is not None
            if row is None:
                reply, raw, gen_ms = await _generate_one(backend, prompt, params)
                row = {"case": case.case_id, "method": m, "reply": reply, "raw": raw,
                       "gen_ms": round(gen_ms, 1)}
                cache.put(key, row)
            done[i] = Generation(
                case_id=case.case_id, method=m, reply=row["reply"],
                own=own_words(row["reply"], prompt.prefill), inserted=prompt.prefill,
                raw=row["raw"], prompt_ms=prompt_ms, gen_ms=float(row["gen_ms"]),
                prompt_chars=sum(len(x.content) for x in prompt.messages), cached=cached,
            )
            progress(1)
        out += [done[i] for i in range(len(built))]
    return out
