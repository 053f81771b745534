"""``affagent eval ...``: evaluation commands, each taking a ``--data`` path.

The perception commands (vad, emotions) live in :mod:`eval_perception`, the strategy commands
(strategy, bias) in :mod:`eval_strategy`, the PELD check of the affect dynamics in
:mod:`eval_peld`; this module only builds the group.
"""

from __future__ import annotations

import typer

from affagent.cli import eval_injection, eval_peld, eval_perception, eval_safety, eval_strategy

eval_app = typer.Typer(
    help="Evaluate components on a data file (same format as the shipped data sets).",
    no_args_is_help=True,
)
eval_perception.register(eval_app)
eval_injection.register(eval_app)
eval_strategy.register(eval_app)
eval_safety.register(eval_app)
eval_peld.register(eval_app)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
