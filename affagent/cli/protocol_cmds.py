"""``affagent protocol run|report|list|check``: scripted protocols that compare dynamics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from affagent.cli._common import print_json, with_progress

protocol_app = typer.Typer(
    help=(
        "Scripted multi-turn protocols (evals/protocols/*.yaml) that compare affect dynamics: "
        "run every condition x seed, then report delay, recovery, inertia, hysteresis and "
        "tone tracking with plots."
    ),
    no_args_is_help=True,
)

_DEFAULT_CONDITIONS = "stateless,first:0.3,second:0.8,second:0.95"

_ROLE_HELP = "Comma-separated phase names with the {} role (default: the file's, else built-in)."


def _roles(neutral: str | None, adversarial: str | None, reconciliation: str | None) -> Any:
    """CLI phase-role overrides → PhaseRoles, or None to keep the protocol's."""
    if neutral is None and adversarial is None and reconciliation is None:
        return None
    from affagent.evals.protocol import DEFAULT_ROLES, PhaseRoles

    def split(s: str | None, default: frozenset[str]) -> list[str]:
        return sorted(default) if s is None else [x for x in s.split(",") if x.strip()]

    return PhaseRoles.of(
        split(neutral, DEFAULT_ROLES.neutral),
        split(adversarial, DEFAULT_ROLES.adversarial),
        split(reconciliation, DEFAULT_ROLES.reconciliation),
    )


def _options(items: list[str]) -> dict[str, Any]:
    """``["n_threads=1", "name=x"]`` → ``{"n_threads": 1, "name": "x"}``."""
    import json

    from affagent.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--backend-option needs KEY=VALUE (got {item!r})")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _params(theta: float, epsilon: float, k: int) -> Any:
    from affagent.errors import ConfigError
    from affagent.evals.metrics import MetricParams

    if theta <= 0 or epsilon <= 0 or k < 1:
        raise ConfigError("--theta and --epsilon must be > 0 and --k >= 1")
    return MetricParams(theta=theta, epsilon=epsilon, k=k)


NeutralOpt = typer.Option(None, "--neutral-phases", help=_ROLE_HELP.format("neutral baseline"))
AdversarialOpt = typer.Option(None, "--adversarial-phases", help=_ROLE_HELP.format("adversarial"))
ReconOpt = typer.Option(None, "--reconciliation-phases", help=_ROLE_HELP.format("reconciliation"))
ThetaOpt = typer.Option(0.1, "--theta", help="Neutral band half-width for the delay.")
EpsilonOpt = typer.Option(0.1, "--epsilon", help="Recovery band half-width.")
KOpt = typer.Option(2, "--k", help="Turns the state must stay recovered.")


@protocol_app.command("run")
def run_cmd(
    file: str = typer.Argument(..., help="A protocol YAML file, or the name of a shipped one."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (rerun to resume)."),
    conditions: str = typer.Option(
        _DEFAULT_CONDITIONS,
        "--conditions",
        "-c",
        help="Comma-separated dynamics: stateless | first:ALPHA | second:MU[:SPRING]. "
        "Overrides the persona's dynamics.",
    ),
    seeds: int = typer.Option(5, "--seeds", "-n", min=1, help="Seeds 0..N-1 per condition."),
    first_seed: int = typer.Option(
        0, "--first-seed", min=0, help="Start the seeds here (split a run across processes)."
    ),
    persona: str = typer.Option("calm-counsellor", "--persona", "-p", help="Persona id or file."),
    backend: str = typer.Option(
        "embedded", "--backend", "-b", help="embedded | openai | scripted."
    ),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    model: str = typer.Option(None, "--model", help="Model name (openai) or GGUF path (embedded)."),
    backend_option: list[str] = typer.Option(
        [],
        "--backend-option",
        help="KEY=VALUE passed to the backend (repeatable; VALUE read as JSON if it parses), "
        "e.g. n_threads=1 (embedded) or delay_s=0.02 (scripted).",
    ),
    max_tokens: int = typer.Option(None, "--max-tokens", min=1, help="Reply length cap."),
    history_turns: int = typer.Option(
        None, "--history-turns", min=0, help="Past turns in the prompt (default: the agent's)."
    ),
    temperature: float = typer.Option(None, "--temperature", min=0.0),
    estimator: str = typer.Option("default", "--estimator", help="VAD estimator name."),
    classifier: str = typer.Option("goemotions", "--classifier", help="Classifier or 'none'."),
    selector: str = typer.Option("learned", "--selector", help="Strategy selector or 'none'."),
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        "-j",
        min=1,
        help="Runs in flight at once. Helps with a batching server (vLLM); the embedded "
        "backend generates one reply at a time, so it is run at 1.",
    ),
    neutral_phases: str = NeutralOpt,
    adversarial_phases: str = AdversarialOpt,
    reconciliation_phases: str = ReconOpt,
    theta: float = ThetaOpt,
    epsilon: float = EpsilonOpt,
    k: int = KOpt,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
    json_out: bool = typer.Option(
        False, "--json", help='Print {"conditions": {NAME: {METRIC: {"mean", "sd", "n"}}}}.'
    ),
) -> None:
    """Run FILE under every condition x seed, writing each finished turn to OUT.

    An interrupted run resumes where it stopped when rerun with the same OUT. Metrics and
    their definitions: affagent/evals/metrics.py. Then: affagent protocol report OUT.

    Example: affagent protocol run adversarial-reconciliation --seeds 5 --out runs/adv
    """
    import asyncio

    from affagent.evals.protocol import load_protocol, resolve_protocol_path
    from affagent.evals.results import parse_conditions
    from affagent.evals.runner import RunPlan, agent_factory, run_plan
    from affagent.persona import load_persona

    # everything that can be wrong is checked before any model loads
    path = resolve_protocol_path(file)
    proto = load_protocol(path)
    specs = parse_conditions(conditions)
    load_persona(persona)
    roles = _roles(neutral_phases, adversarial_phases, reconciliation_phases)
    params = _params(theta, epsilon, k)
    if concurrency > 1 and not _serves_concurrently(backend):
        typer.echo(
            f"note: the {backend} backend generates one reply at a time; running at "
            "concurrency 1",
            err=True,
        )
        concurrency = 1
    gen: dict[str, Any] = {}
    if max_tokens is not None:
        gen["max_tokens"] = max_tokens
    if temperature is not None:
        gen["temperature"] = temperature
    plan = RunPlan(
        protocol=proto,
        protocol_path=path,
        conditions=specs,
        seeds=list(range(first_seed, first_seed + seeds)),
        persona=persona,
        out=out,
        backend=backend,
        model=model,
        # recorded in the manifest: what shaped the replies
        generation={**gen, **({} if history_turns is None else {"history_turns": history_turns}),
                    **({"estimator": estimator, "classifier": classifier, "selector": selector})},
        roles=roles,
        concurrency=concurrency,
        params=params,
    )
    make_agent = agent_factory(
        out,
        persona=persona,
        backend=backend,
        base_url=base_url,
        model=model,
        generation=gen,
        estimator=estimator,
        classifier=classifier,
        selector=selector,
        backend_options=_options(backend_option),
        history_turns=history_turns,
    )
    summary = with_progress(
        progress,
        plan.total_turns,
        f"{proto.name}: {len(specs)} conditions x {seeds} seeds",
        lambda tick: asyncio.run(run_plan(plan, make_agent, progress=tick)),
        transient=False,
    )
    if json_out:
        print_json({"conditions": summary["conditions"], "out": str(out)})
        return
    _print_summary(summary)
    typer.echo(f"runs in {out}; plots: affagent protocol report {out}")


def _serves_concurrently(backend: str) -> bool:
    """What the backend declares (``capabilities.concurrent``); a backend that only knows at
    run time (a server) is given the benefit of the doubt."""
    from affagent.backends import backend_class
    from affagent.types import BackendCapabilities

    if ":" in backend:  # a backend of your own ("module:factory")
        return True
    caps = getattr(backend_class(backend), "capabilities", None)
    return not isinstance(caps, BackendCapabilities) or caps.concurrent


def _print_summary(summary: dict[str, Any]) -> None:
    keys = ["delay", "recovery_turns", "recovered", "inertia", "hysteresis", "tone_r"]
    typer.echo("condition        " + "".join(f"{k:>16}" for k in keys))
    for cond, ms in summary["conditions"].items():
        cells = []
        for key in keys:
            c = ms.get(key) or {}
            if c.get("mean") is None:
                cells.append(f"{'-':>16}")
            else:
                sd = c.get("sd")
                cells.append(f"{c['mean']:>9.2f} ± {0.0 if sd is None else sd:<4.2f}")
        typer.echo(f"{cond:<17}" + "".join(cells))


@protocol_app.command("report")
def report_cmd(
    out: Path = typer.Argument(..., help="A directory written by 'affagent protocol run'."),
    to: Path = typer.Option(None, "--to", help="Write report.md and the PNGs here (default OUT)."),
    neutral_phases: str = NeutralOpt,
    adversarial_phases: str = AdversarialOpt,
    reconciliation_phases: str = ReconOpt,
    theta: float = ThetaOpt,
    epsilon: float = EpsilonOpt,
    k: int = KOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the paths and the summary."),
) -> None:
    """Write report.md (mean ± SD per condition, momentum sweep) and PNG plots
    (trajectories.png, sweep.png, tone.png)."""
    from affagent.evals.report import write_report

    res = write_report(
        out,
        to=to,
        roles=_roles(neutral_phases, adversarial_phases, reconciliation_phases),
        params=_params(theta, epsilon, k),
    )
    if json_out:
        print_json(res)
        return
    typer.echo(res["report"])
    for f in res["figures"]:
        typer.echo(f)


@protocol_app.command("simulate")
def simulate_cmd(
    file: str = typer.Argument(..., help="A protocol YAML file, or the name of a shipped one."),
    conditions: str = typer.Option(_DEFAULT_CONDITIONS, "--conditions", "-c"),
    persona: str = typer.Option("calm-counsellor", "--persona", "-p", help="Persona id or file."),
    estimator: str = typer.Option("default", "--estimator", help="VAD estimator name."),
    classifier: str = typer.Option(
        "goemotions", "--classifier", help="Classifier or 'none' (as for 'protocol run')."
    ),
    neutral_phases: str = NeutralOpt,
    adversarial_phases: str = AdversarialOpt,
    reconciliation_phases: str = ReconOpt,
    theta: float = ThetaOpt,
    epsilon: float = EpsilonOpt,
    k: int = KOpt,
    json_out: bool = typer.Option(False, "--json", help="Metrics, trajectories and inputs."),
) -> None:
    """The dynamics metrics of FILE without generating replies (seconds, not hours).

    Only the user's turns move the state, so this is what 'protocol run' with the same
    --estimator and --classifier measures for every metric but tone tracking: the same
    perceive and appraise stages, then the same dynamics."""
    from affagent.evals.protocol import load_protocol
    from affagent.evals.results import parse_conditions
    from affagent.evals.simulate import perceive_inputs, simulate_protocol
    from affagent.persona import load_persona

    proto = load_protocol(file)
    specs = parse_conditions(conditions)
    load_persona(persona)
    roles = _roles(neutral_phases, adversarial_phases, reconciliation_phases)
    params = _params(theta, epsilon, k)
    perceptions, used = perceive_inputs(proto, estimator, classifier)
    res = simulate_protocol(proto, perceptions, persona, specs, roles, params)
    if json_out:
        print_json({**res, "estimator": used["estimator"], "classifier": used["classifier"],
                    "persona": persona, "protocol": proto.name})
        return
    keys = ["delay", "recovery_turns", "recovered", "inertia", "hysteresis", "label_flip_rate"]
    typer.echo(f"{proto.name} · persona {persona} · estimator {used['estimator']} · "
               f"classifier {used['classifier']}")
    typer.echo(f"{'condition':<16}" + "".join(f"{x:>16}" for x in keys))
    for cond, ms in res["conditions"].items():
        cells = ["-" if ms.get(x) is None else f"{ms[x]:.2f}" for x in keys]
        typer.echo(f"{cond:<16}" + "".join(f"{c:>16}" for c in cells))


@protocol_app.command("list")
def list_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
    """The shipped protocols with their phases."""
    from affagent.evals.protocol import list_protocols, load_protocol

    items: list[dict[str, Any]] = []
    for name in list_protocols():
        p = load_protocol(name)
        items.append(
            {
                "name": name,
                "turns": len(p.turns),
                "phases": list(dict.fromkeys(p.phases)),
                "description": p.description,
            }
        )
    if json_out:
        print_json({"protocols": items})
        return
    for it in items:
        typer.echo(f"{it['name']:<28} {it['turns']:>3} turns  {' → '.join(it['phases'])}")


@protocol_app.command("check")
def check_cmd(file: str = typer.Argument(..., help="Protocol file or shipped name.")) -> None:
    """Validate a protocol file (errors name the file, the turn and the problem)."""
    from affagent.evals.protocol import load_protocol

    p = load_protocol(file)
    roles = p.phase_roles()
    typer.echo(
        f"ok: {p.name}, {len(p.turns)} turns; "
        + ", ".join(f"{ph} ({roles.role(ph) or 'no role'})" for ph in dict.fromkeys(p.phases))
    )


def register(app: typer.Typer) -> None:
    app.add_typer(protocol_app, name="protocol")
