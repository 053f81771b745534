"""Protocol dynamics without a language model: estimate each user turn once, then run the
pure dynamics (:func:`affagent.affect.dynamics.simulate`) under each condition.

In affagent only the user's turns move the state (the reply never feeds back), so for a fixed
script this gives exactly the state trajectories a full ``protocol run`` would produce, in
seconds, and every metric except tone tracking. Use it to choose conditions or a persona
before spending hours of generation, and as a check on a full run (the report's momentum
sweep is built the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from affagent.affect.dynamics import DynamicsSpec, simulate
from affagent.affect.personality import target
from affagent.affect.vad import VAD
from affagent.evals.metrics import MetricParams, Trajectory, run_metrics, top_labels
from affagent.evals.protocol import PhaseRoles, Protocol

__all__ = ["estimate_inputs", "simulate_protocol"]


def estimate_inputs(protocol: Protocol, estimator: str = "default") -> tuple[list[VAD], str]:
    """The estimated VAD of each user turn, and the estimator actually used (the agent's
    loader: the keyword estimator stands in when the perception models are missing)."""
    from affagent.agent._components import load_estimator

    notes: dict[str, str] = {}
    est = load_estimator(estimator, notes)
    out = est.estimate([t.user for t in protocol.turns])
    return [e.vad for e in out], notes.get("estimator", estimator)


def simulate_protocol(
    protocol: Protocol,
    inputs: Sequence[VAD],
    persona: str,
    conditions: Sequence[DynamicsSpec],
    roles: PhaseRoles | None = None,
    params: MetricParams | None = None,
) -> dict[str, Any]:
    """``{"conditions": {NAME: {METRIC: value}}, "trajectories": {NAME: [[v, a, d], ...]}}``."""
    from affagent.persona import load_persona

    p = load_persona(persona).traits
    w = p.weights()
    r = protocol.phase_roles(roles)
    tv = [target(x, w).v for x in inputs]
    metrics: dict[str, Any] = {}
    trajs: dict[str, list[list[float]]] = {}
    for spec in conditions:
        states = simulate(list(inputs), p, spec)
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
    return {"conditions": metrics, "trajectories": trajs, "inputs": [list(x) for x in inputs]}
