"""``affagent eval injection``: does the agent's state and chosen strategy reach the reply?

A randomised, controlled benchmark on real support dialogues (ESConv format). For each
sampled supporter turn the dialogue before it is the history; a target state (V, A, D drawn
uniformly over the range the shipped personas reach) and a target strategy (uniform over the
8) are drawn; the agent's real prompt is built for that target and one reply is generated per
injection method with the same seed and the agent's options, then run through the agent's
reply filter. Only the model's own words are scored:

- :mod:`~affagent.evals.injection.cases`  sampling cases and targets;
- :mod:`~affagent.evals.injection.runner` building prompts and generating (cached);
- :mod:`~affagent.evals.injection.scoring` the pure scoring functions;
- :mod:`~affagent.evals.injection.judge`  the strategy-adherence classifier;
- :mod:`~affagent.evals.injection.report` the per-method figures;
- :mod:`~affagent.evals.injection.benchmark` all of it, for the CLI.

Results and the commands that produced them: evals/RESULTS.md.
"""

from __future__ import annotations

from affagent.evals.injection.benchmark import BenchmarkConfig, default_methods, run_benchmark
from affagent.evals.injection.cases import TARGET_BOX, Case, draw_cases, load_cases

__all__ = [
    "TARGET_BOX",
    "BenchmarkConfig",
    "Case",
    "default_methods",
    "draw_cases",
    "load_cases",
    "run_benchmark",
]
