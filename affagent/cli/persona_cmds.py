"""``affagent personas list|show``."""

from __future__ import annotations

import typer

from affagent.cli._common import fmt_vad, print_json

personas_app = typer.Typer(
    help="List and inspect personas (personas/*.yaml).", no_args_is_help=True
)


@personas_app.command("list")
def list_cmd(json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the available personas with their resting mood."""
    from affagent.persona import list_personas, load_persona

    personas = [load_persona(stem) for stem in list_personas()]
    if json_out:
        print_json(
            {
                "personas": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "dynamics": p.dynamics,
                        "rest": p.traits.resting().to_dict(),
                    }
                    for p in personas
                ]
            }
        )
        return
    for p in personas:
        typer.echo(
            f"{p.id:<20} {p.name:<26} {p.dynamics:<12} rest {fmt_vad(p.traits.resting(), 2)}"
        )


@personas_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Persona id (file stem) or path to a YAML file."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show a persona: traits, resting mood, transition weights, style and boundaries."""
    from dataclasses import asdict

    from affagent.persona import load_persona

    p = load_persona(name)
    w = p.traits.weights()
    data = p.model_dump()
    data["rest"] = w.rest.to_dict()
    data["weights"] = {
        k: (v.to_dict() if hasattr(v, "to_dict") else v)
        for k, v in asdict(w).items()
        if k != "rest"
    }
    data["weights"]["gain_pos"] = w.gain_pos.to_dict()
    data["weights"]["gain_neg"] = w.gain_neg.to_dict()
    if json_out:
        print_json(data)
        return
    typer.echo(f"{p.name} ({p.id})\n  {p.description}")
    t = p.traits
    typer.echo(
        f"  traits   O={t.openness:.2f} C={t.conscientiousness:.2f} E={t.extraversion:.2f} "
        f"A={t.agreeableness:.2f} N={t.neuroticism:.2f}"
    )
    r = w.rest
    typer.echo(f"  rest     V={r.v:+.3f} A={r.a:+.3f} D={r.d:+.3f}  (Mehrabian 1996)")
    typer.echo(f"  dynamics {p.dynamics}")
    typer.echo(
        f"  gains    V+={w.gain_pos.v:.2f} V-={w.gain_neg.v:.2f} A={w.gain_pos.a:.2f} "
        f"D={w.gain_pos.d:.2f}; speed away {w.speed_away:.2f} back {w.speed_back:.2f}; "
        f"spring {w.spring:.3f}; half-life {w.half_life_s / 60:.0f} min"
    )
    typer.echo(f"  style    {p.style}")
    for b in p.boundaries:
        typer.echo(f"  boundary {b}")


def register(app: typer.Typer) -> None:
    app.add_typer(personas_app, name="personas")
