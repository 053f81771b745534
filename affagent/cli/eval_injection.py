"""``affagent eval injection``: does the state (and the chosen strategy) reach the reply?

See :mod:`affagent.evals.injection` for the design; figures in evals/RESULTS.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from affagent.cli._common import fail, print_json, with_progress


def _opts(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            fail(f"--backend-opt takes KEY=VALUE (got {p!r})")
        out[k.strip()] = v.strip()
    return out


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:.0%}" if pct else f"{x:+.2f}" if isinstance(x, float) else str(x)


def _table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    methods = report["methods"]
    t = Table(title=f"injection benchmark · {report['backend']} ({report['model']}) · "
              f"n={report['n']} · seed {report['seed']} · {Path(report['data']).name}")
    t.add_column("")
    for m in methods:
        label = f"{m} (default)" if m == report["default_method"] else m
        t.add_column(label, justify="right")

    def row(label: str, fn: Any) -> None:
        t.add_row(label, *(fn(r) for r in methods.values()))

    for ax in "VAD":
        row(f"tone {ax}: partial r [95% CI]", lambda r, ax=ax: (
            f"{_fmt(r['tone'][ax]['partial_r'])} [{_fmt(r['tone'][ax]['ci'][0])}, "
            f"{_fmt(r['tone'][ax]['ci'][1])}]" if r["tone"][ax]["ci"]
            else _fmt(r["tone"][ax]["partial_r"])))
        row(f"tone {ax}: r", lambda r, ax=ax: _fmt(r["tone"][ax]["r"]))
        row(f"tone {ax}, whole reply: partial r", lambda r, ax=ax: _fmt(
            r["tone"][ax].get("whole", {}).get("partial_r")))
    ceil = report["judge_ceiling"]
    row(f"adherence (judge ceiling acc {ceil.get('accuracy', 0):.0%})",
        lambda r: _fmt(r["adherence"]["overall"], True))
    row("adherence, whole reply", lambda r: _fmt(r["adherence"]["whole_reply"], True))
    row("Question replies asking", lambda r: _fmt(
        r["adherence"]["question"]["question_target_contains"], True))
    row("other replies asking", lambda r: _fmt(
        r["adherence"]["question"]["other_targets_contain"], True))
    row("complete sentence", lambda r: _fmt(r["fluency"]["complete_rate"], True))
    row("copies the strategy's example", lambda r: _fmt(
        r["fluency"].get("example_copy_rate"), True))
    row("distinct-1 / distinct-2", lambda r: (
        f"{r['fluency']['distinct_1']:.2f} / {r['fluency']['distinct_2']:.2f}"))
    row("repeated trigrams", lambda r: f"{r['fluency']['repeat_trigram_rate']:.3f}")
    row("mean tokens", lambda r: f"{r['fluency']['mean_tokens']:.1f}")
    row("relevance (shuffled)", lambda r: (
        f"{r['relevance']['mean']:.3f} ({r['relevance']['shuffled']:.3f})"))
    row("ms per turn vs none", lambda r: (
        "—" if r["overhead_ms"] is None else f"{r['overhead_ms']:+.0f}"))
    row("generation ms", lambda r: f"{r['timing']['gen_ms']:.0f}")
    Console().print(t)
    for m, r in methods.items():
        per = r["adherence"]["per_strategy"]
        typer.echo(f"{m}: adherence per strategy: " + ", ".join(
            f"{k} {_fmt(v['adherence'], True)} (n={v['n']})" for k, v in per.items()))


def register(app: typer.Typer) -> None:
    @app.command("injection")
    def injection(
        data: Path = typer.Option(..., "--data", help="ESConv-format JSONL (e.g. valid)."),
        methods: str | None = typer.Option(
            None, "--methods",
            help="Comma-separated injection methods (e.g. none,system,prefill,fewshot,steer,"
            "steer+prefill); default: none and the backend's default method."),
        n: int = typer.Option(200, "--n", min=1, help="Supporter turns to sample."),
        seed: int = typer.Option(0, "--seed", help="Sampling seed (cases, targets, replies)."),
        backend: str = typer.Option("embedded", "--backend",
                                    help="embedded | openai | vllm | scripted."),
        base_url: str | None = typer.Option(None, "--base-url", help="openai/vllm: server."),
        model: str | None = typer.Option(
            None, "--model", help="embedded: a GGUF path or a known model name (qwen1.5b); "
            "openai/vllm: the served model."),
        backend_opt: list[str] = typer.Option(
            [], "--backend-opt", help="KEY=VALUE passed to the backend (repeatable), e.g. "
            "steering_scale=1.5, steering_blocks=6-18, steering_scope=all."),
        persona: str = typer.Option("calm-counsellor", "--persona"),
        max_tokens: int = typer.Option(96, "--max-tokens", min=1,
                                       help="Token budget per reply (the agent's: 96)."),
        hints: bool = typer.Option(True, "--hints/--no-hints",
                                   help="Classifier hints in the prompt, as the agent does."),
        strategy_example: bool = typer.Option(
            False, "--strategy-example/--no-strategy-example",
            help="Show the strategy's example reply in the prompt (the agent does not: "
            "AgentConfig.strategy_example)."),
        cache: Path | None = typer.Option(
            None, "--cache", help="Generations cache (JSONL); default under the affagent "
            "cache folder. Re-scoring a run reads it instead of generating."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write it."),
        save: Path | None = typer.Option(None, "--save",
                                         help="Write every reply with its target (JSONL)."),
        local_server: bool = typer.Option(
            False, "--local-server",
            help="Start llama-cpp-python's OpenAI-compatible server with the embedded model "
            "(or --model) and measure the openai backend against it."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Bar on stderr."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Randomised, controlled injection benchmark: tone (partial r with the injected
        state, seeker's affect held fixed), strategy adherence, fluency, relevance and cost
        per injection method, scoring only what the model wrote."""
        import contextlib

        if local_server:
            from affagent.backends._models import resolve_model
            from affagent.backends.local_server import llama_server

            ctx: Any = llama_server(resolve_model(model) if model else None)
        else:
            ctx = contextlib.nullcontext()
        with ctx as srv:
            if srv is not None:
                backend, base_url, model = "openai", srv.base_url, None
            _run(data, methods, n, seed, backend, base_url, model, backend_opt, persona,
                 max_tokens, hints, cache, no_cache, save, progress, json_out,
                 strategy_example)


def _run(data: Path, methods: str | None, n: int, seed: int, backend: str,
         base_url: str | None, model: str | None, backend_opt: list[str], persona: str,
         max_tokens: int, hints: bool, cache: Path | None, no_cache: bool, save: Path | None,
         progress: bool, json_out: bool, strategy_example: bool = False) -> None:
    import json

    from affagent.backends import load_backend
    from affagent.evals.injection import BenchmarkConfig, load_cases, run_benchmark
    from affagent.resources import cache_root

    kw: dict[str, Any] = _opts(backend_opt)
    key = backend.strip().lower()
    if key in ("openai", "vllm"):
        kw.update(base_url=base_url, model=model)
    elif key == "embedded":
        # a seeded call may reuse the KV prefix of the previous one (methods sharing a
        # prompt run back to back), as the agent's unseeded turns do
        kw.setdefault("seeded_reset", False)
        if model:
            from affagent.backends._models import resolve_model

            kw["model_path"] = resolve_model(model)
    be = load_backend(key, **kw)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if methods is not None and not names:
        fail("--methods is empty")
    default_cache = cache_root() / "injection" / "generations.jsonl"
    cache_path = None if no_cache else cache or default_cache
    cfg = BenchmarkConfig(data=data, methods=names, n=n, seed=seed, persona=persona,
                          max_tokens=max_tokens, hints=hints, cache=cache_path,
                          backend_name=key, strategy_example=strategy_example)
    from affagent.evals.injection.runner import check_methods

    check_methods(names or [be.capabilities.injection], be)
    cases = load_cases(data, n, seed)
    total = len(cases) * len(names or ["none", be.capabilities.injection])
    report, cases, gens = with_progress(
        progress, total, "replies",
        lambda tick: run_benchmark(cfg, be, cases=cases, progress=tick))
    if save is not None:
        by = {c.case_id: c for c in cases}
        with save.open("w", encoding="utf-8") as f:
            for g in gens:
                c = by[g.case_id]
                f.write(json.dumps({
                    "case": g.case_id, "method": g.method, "target": list(c.target),
                    "strategy": c.strategy, "user": c.user_text, "reply": g.reply,
                    "own": g.own, "inserted": g.inserted, "gen_ms": g.gen_ms,
                }, ensure_ascii=False) + "\n")
    if json_out:
        print_json(report)
        return
    _table(report)
