"""Protocol dynamics without a language model: perceive each user turn once and appraise it
for the persona's role with the agent's own stages (:class:`affagent.agent.ModelPerceiver`,
:class:`affagent.agent.RoleAppraiser`), then run the pure dynamics
(:func:`affagent.affect.dynamics.simulate`) under each condition.

In affagent only the user's turns move the state (the reply never feeds back), so for a fixed
script this gives exactly the state trajectories a full ``protocol run`` with the same
estimator and classifier would produce, in seconds, and every metric except tone tracking.
Use it to choose conditions or a persona before spending hours of generation, and as a check
on a full run (the report's momentum sweep is built the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from affagent.affect.dynamics import DynamicsSpec, simulate
from affagent.affect.personality import target
from affagent.affect.vad import VAD
from affagent.evals.metrics import MetricParams, Trajectory, run_metrics, top_labels
from affagent.evals.protocol import PhaseRoles, Protocol

if TYPE_CHECKING:
    from affagent.agent import Perception
    from affagent.persona import Persona

__all__ = ["perceive_inputs", "simulate_protocol", "stimuli"]


def perceive_inputs(
    protocol: Protocol, estimator: str = "default", classifier: str = "goemotions"
) -> tuple[list[Perception], dict[str, str]]:
    """Each user turn as the agent's perceive stage reads it, and the components used (the
    agent's loaders: the keyword estimator stands in when the perception models are
    missing)."""
    from affagent.agent import ModelPerceiver
    from affagent.agent._components import load_classifier, load_estimator, load_hints_formatter

    notes: dict[str, str] = {}
    perceiver = ModelPerceiver(
        load_estimator(estimator, notes),
        load_classifier(classifier, notes),
        load_hints_formatter(),
    )
    return [perceiver.perceive(t.user) for t in protocol.turns], notes


def stimuli(perceptions: Sequence[Perception], persona: Persona) -> list[VAD]:
    """What each perceived user turn means to ``persona``: the agent's appraise stage. For
    ``contagion`` (the neutral persona of the paper replication) this is the perceived
    affect."""
    from affagent.agent import RoleAppraiser

    appraiser = RoleAppraiser()
    return [appraiser.appraise(p, persona).stimulus for p in perceptions]


def simulate_protocol(
    protocol: Protocol,
    perceptions: Sequence[Perception],
    persona: str,
    conditions: Sequence[DynamicsSpec],
    roles: PhaseRoles | None = None,
    params: MetricParams | None = None,
) -> dict[str, Any]:
    """``{"conditions": {NAME: {METRIC: value}}, "trajectories": {NAME: [[v, a, d], ...]},
    "inputs": [[v, a, d], ...], "stimuli": [[v, a, d], ...], "role": ROLE}``."""
    from affagent.persona import load_persona

    persona_ = load_persona(persona)
    p = persona_.traits
    w = p.weights()
    r = protocol.phase_roles(roles)
    stim = stimuli(perceptions, persona_)
    inputs = [x.estimate.vad for x in perceptions]
    tv = [target(x, w).v for x in stim]
    metrics: dict[str, Any] = {}
    trajs: dict[str, list[list[float]]] = {}
    for spec in conditions:
        states = simulate(stim, p, spec)
        traj = Trajectory(
            phases=protocol.phases,
            valence=[s.vad.v for s in states],
            target=tv,
            labels=top_labels([s.vad.as_tuple() for s in states]),
            rest=w.rest.v,
        )
        m = run_metrics(traj, r, params)
        metrics[str(spec)] = {k: v for k, v in m.items() if not k.startswith("tone")}
        trajs[str(spec)] = [list(s.vad.as_tuple()) for s in states]
    return {
        "conditions": metrics,
        "trajectories": trajs,
        "inputs": [list(x) for x in inputs],
        "stimuli": [list(x) for x in stim],
        "role": persona_.role,
    }
