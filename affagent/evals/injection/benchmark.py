"""``affagent eval injection`` end to end: cases → replies → scores, as one JSON-ready dict."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affagent.evals.injection.cases import TARGET_BOX, Case, load_cases
from affagent.evals.injection.runner import (
    Generation,
    GenerationCache,
    backend_id,
    check_methods,
    generate_all,
)
from affagent.types import Backend, GenerationParams

__all__ = ["BenchmarkConfig", "default_methods", "run_benchmark"]


@dataclass
class BenchmarkConfig:
    data: Path
    methods: list[str] | None = None
    n: int = 200
    seed: int = 0
    persona: str = "calm-counsellor"
    max_tokens: int = 96
    hints: bool = True
    strategy_example: bool = False
    cache: Path | None = None
    backend_name: str = "embedded"
    extra: dict[str, Any] = field(default_factory=dict)


def default_methods(backend: Backend) -> list[str]:
    """``none`` and the backend's declared default method."""
    default = backend.capabilities.injection
    return ["none", default] if default != "none" else ["none"]


def _hints(cases: Sequence[Case], enabled: bool) -> list[str]:
    """The classifier hints the agent would put in the prompt (its default classifier)."""
    if not enabled:
        return ["" for _ in cases]
    from affagent.perception import format_hints, load_classifier

    clf = load_classifier("goemotions")
    return [format_hints(r) for r in clf.classify([c.user_text for c in cases])]


def run_benchmark(
    cfg: BenchmarkConfig,
    backend: Backend,
    *,
    cases: list[Case] | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> tuple[dict[str, Any], list[Case], list[Generation]]:
    """Run (or re-score from the cache) and return (report, cases, generations). ``cases``
    may be loaded beforehand (:func:`load_cases`, e.g. to size a progress bar)."""
    from affagent.agent._config import AgentConfig
    from affagent.evals.injection.judge import load_judge
    from affagent.evals.injection.report import score_methods
    from affagent.perception import load_estimator
    from affagent.persona import load_persona
    from affagent.strategy import load_strategies
    from affagent.strategy.encoder import minilm

    methods = cfg.methods or default_methods(backend)
    check_methods(methods, backend)
    if cases is None:
        cases = load_cases(cfg.data, cfg.n, cfg.seed)
    persona = load_persona(cfg.persona)
    strategies = {s.name: s for s in load_strategies()}
    judge = load_judge()
    hints = _hints(cases, cfg.hints)
    base = AgentConfig().generation.model_copy(update={"max_tokens": cfg.max_tokens})
    generations = asyncio.run(_generate(
        cases, methods, backend, persona, strategies, hints, base,
        GenerationCache(cfg.cache), progress, cfg.strategy_example))
    scores = score_methods(cases, generations, methods, estimator=load_estimator(),
                           judge=judge, encoder=minilm(), seed=cfg.seed)
    ident = backend_id(backend)
    report: dict[str, Any] = {
        "backend": cfg.backend_name,
        "model": ident.get("model_path") or ident.get("model"),
        "data": str(cfg.data),
        "n": len(cases),
        "seed": cfg.seed,
        "persona": cfg.persona,
        "max_tokens": cfg.max_tokens,
        "hints": cfg.hints,
        "strategy_example": cfg.strategy_example,
        "target_box": {k: list(v) for k, v in TARGET_BOX.items()},
        "steering": ident.get("steering"),
        "default_method": backend.capabilities.injection,
        "judge_ceiling": judge.ceiling,
        "methods": scores,
    }
    return report, cases, generations


async def _generate(cases: Sequence[Case], methods: Sequence[str], backend: Backend,
                    persona: Any, strategies: dict[str, Any], hints: Sequence[str],
                    base: GenerationParams, cache: GenerationCache,
                    progress: Callable[[int], None],
                    strategy_example: bool = False) -> list[Generation]:
    try:
        return await generate_all(cases, methods, backend, persona=persona,
                                  strategies=strategies, hints=hints, base=base, cache=cache,
                                  progress=progress, strategy_example=strategy_example)
    finally:
        await backend.aclose()
