"""``affagent state simulate``: run the dynamics on a list of impulses."""

from __future__ import annotations

import typer

from affagent.affect.vad import VAD
from affagent.cli._common import fail, fmt_vad, print_json

state_app = typer.Typer(help="Inspect and simulate the affect dynamics.", no_args_is_help=True)


def parse_impulses(text: str) -> list[tuple[float, float, float]]:
    """``"v,a,d;v,a,d"`` → a list of triples, each value in −1..+1."""
    out = []
    for i, chunk in enumerate(x for x in text.split(";") if x.strip()):
        parts = chunk.split(",")
        if len(parts) != 3:
            raise ValueError(f"impulse {i + 1} ({chunk.strip()!r}) needs three numbers v,a,d")
        try:
            vals = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"impulse {i + 1} ({chunk.strip()!r}) is not three numbers") from None
        if any(not -1.0 <= x <= 1.0 for x in vals):
            raise ValueError(f"impulse {i + 1} ({chunk.strip()!r}) has a value outside -1..1")
        out.append((vals[0], vals[1], vals[2]))
    if not out:
        raise ValueError("no impulses given; use --impulses 'v,a,d;v,a,d;...'")
    return out


@state_app.command("simulate")
def simulate_cmd(
    impulses: str = typer.Option(
        ..., "--impulses", "-i", help="Impulses as 'v,a,d;v,a,d;...', each value in -1..1."
    ),
    persona: str = typer.Option("calm-counsellor", "--persona", "-p", help="Persona id or file."),
    dynamics: str = typer.Option(
        None,
        "--dynamics",
        "-d",
        help="stateless | first:ALPHA | second:MU[:SPRING]; defaults to the persona's.",
    ),
    json_out: bool = typer.Option(False, "--json", help='Print {"trajectory": [[v,a,d], ...]}.'),
) -> None:
    """Print the state after each impulse, starting from the persona's resting mood."""
    from affagent.affect.dynamics import parse_dynamics, simulate
    from affagent.affect.labels import describe
    from affagent.errors import ConfigError
    from affagent.persona import load_persona

    try:
        xs = [VAD(*t) for t in parse_impulses(impulses)]
        p = load_persona(persona)
        spec = parse_dynamics(dynamics) if dynamics else p.dynamics_spec
    except (ValueError, ConfigError) as exc:
        fail(str(exc))
    states = simulate(xs, p.traits, spec)
    traj = [list(s.vad.as_tuple()) for s in states]
    if json_out:
        print_json({"trajectory": traj})
        return
    typer.echo(f"persona {p.id}, dynamics {spec}, rest {fmt_vad(p.traits.resting(), 3)}")
    for i, (x, s) in enumerate(zip(xs, states, strict=True), 1):
        typer.echo(
            f"{i:>3}  in {fmt_vad(x, 2)}  ->  {fmt_vad(s.vad, 3)}  {describe(s.vad, s.velocity)}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")
