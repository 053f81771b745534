"""Dynamics metrics on synthetic trajectories with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from affagent.affect.dynamics import simulate
from affagent.affect.personality import Personality, target
from affagent.affect.vad import VAD
from affagent.evals.metrics import (
    MetricParams,
    Trajectory,
    baseline,
    blocks,
    delays,
    hysteresis_area,
    inertia,
    label_flip_rate,
    mean_abs_dv,
    partial_pearson,
    pearson,
    recovery_times,
    run_metrics,
    sign_flip_rate,
    summarise,
    top_labels,
)
from affagent.evals.protocol import DEFAULT_ROLES as R

# the notes' toy protocol: neutral 1-8, adversarial 9-16, reconciliation 17-25
PHASES = ["neutral"] * 8 + ["adversarial"] * 8 + ["reconciliation"] * 9
INPUT = [0.0] * 8 + [-0.7] * 8 + [0.5] * 9


def test_blocks_and_baseline() -> None:
    ph = ["neutral", "hostile", "hostile", "warm", "hostile", "warm", "warm"]
    assert blocks(ph, R, "adversarial") == [(1, 3), (4, 5)]
    assert blocks(ph, R, "reconciliation") == [(3, 4), (5, 7)]
    assert baseline([0.2, 9, 9, 9, 9, 9, 9], ph, R) == pytest.approx(0.2)
    assert baseline([1.0, 2.0], ["x", "y"], R, rest=0.33) == pytest.approx(0.33)


def test_delay_first_order_by_hand() -> None:
    # s_t = s_{t-1} + 0.1 (x_t - s_{t-1}); neutral at 0 → b = 0
    s, traj = 0.0, []
    for x in INPUT:
        s = s + 0.1 * (x - s)
        traj.append(s)
    # onset (index 8): s = -0.07 (inside band 0.1), next: -0.133 → delay 1
    assert traj[8] == pytest.approx(-0.07)
    assert delays(traj, PHASES, R, b=0.0, theta=0.1) == [1]
    # a wider band takes longer: -0.07, -0.133, -0.1897, -0.2407 → first > 0.2 at +3
    assert delays(traj, PHASES, R, b=0.0, theta=0.2) == [3]
    # a state that never moves never leaves the band
    assert delays([0.0] * 25, PHASES, R, b=0.0) == [None]


def test_recovery_by_hand_and_not_recovered() -> None:
    v = [0.0] * 8 + [-0.5] * 8 + [-0.4, -0.3, -0.05, 0.2, -0.05, 0.0, 0.0, 0.0, 0.0]
    # re-enters (>= -0.1) at index 18 (+2), stays at 19: recovered after 2 turns
    assert recovery_times(v, PHASES, R, b=0.0, epsilon=0.1, k=2) == [2]
    # k = 3 still holds: 18, 19, 20 all >= -0.1 → 2
    assert recovery_times(v, PHASES, R, b=0.0, epsilon=0.1, k=3) == [2]
    stuck = [0.0] * 8 + [-0.5] * 17
    assert recovery_times(stuck, PHASES, R, b=0.0) == [None]
    # recovering only on the very last turn does not give k turns in band → not recovered
    late = [0.0] * 24 + [0.0]
    late[8:24] = [-0.5] * 16
    assert recovery_times(late, PHASES, R, b=0.0, k=2) == [None]
    assert recovery_times(late, PHASES, R, b=0.0, k=1) == [8]


def test_recovery_waits_for_a_lagging_state_to_turn() -> None:
    # barely moved during the adversarial phase, keeps sinking after reconciliation starts
    v = [0.0] * 8 + [-0.05] * 8 + [-0.08, -0.3, -0.4, -0.2, -0.05, 0.0, 0.0, 0.0, 0.0]
    # deepest at index 18; back in band at 20 and 21 → 4 turns after the onset (16)
    assert recovery_times(v, PHASES, R, b=0.0, epsilon=0.1, k=2) == [4]


def test_recovery_counts_an_overshoot_as_ended_excursion() -> None:
    v = [0.0] * 8 + [-0.5] * 8 + [0.9] * 9
    assert recovery_times(v, PHASES, R, b=0.0) == [0]
    # a positive excursion recovers by coming back down
    up = [0.0] * 8 + [0.6] * 8 + [0.5, 0.3, 0.05, 0.0] + [0.0] * 5
    assert recovery_times(up, PHASES, R, b=0.0) == [2]


def test_inertia_by_hand() -> None:
    assert inertia([1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.25)
    assert inertia([1.0, -1.0] * 10) == pytest.approx(-0.95)
    assert inertia([0.3] * 5) is None
    assert inertia([1.0, 2.0]) is None


def test_hysteresis_is_zero_for_a_perfect_follower_and_sums_the_gap() -> None:
    assert hysteresis_area(INPUT, INPUT, PHASES, R) == 0.0
    lagged = [0.0, *INPUT[:-1]]  # one turn late: gap 0.7 at onset, 1.2 at reconciliation
    assert hysteresis_area(lagged, INPUT, PHASES, R) == pytest.approx(0.7 + 1.2)
    assert hysteresis_area(INPUT, INPUT, ["neutral"] * 25, R) is None


def test_flip_rates_and_mean_abs_dv() -> None:
    assert label_flip_rate(["a", "a", "b", "b", "a"]) == pytest.approx(2 / 4)
    assert sign_flip_rate([0.0, 1.0, 0.0, 1.0]) == pytest.approx(2 / 3)
    assert sign_flip_rate([0.0, 0.1, 0.2, 0.3]) == 0.0
    assert mean_abs_dv([0.0, 0.5, 0.0]) == pytest.approx(0.5)


def test_pearson_and_partial_match_numpy() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    x = z + rng.normal(size=200)
    y = 0.5 * x + z + rng.normal(size=200)
    assert pearson(list(x), list(y)) == pytest.approx(np.corrcoef(x, y)[0, 1])
    # partial r = correlation of residuals after regressing each on z
    rx = x - np.polyval(np.polyfit(z, x, 1), z)
    ry = y - np.polyval(np.polyfit(z, y, 1), z)
    assert partial_pearson(list(x), list(y), list(z)) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    assert partial_pearson(list(z), list(y), list(2 * z + 1)) is None
    assert pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None


def test_top_labels_are_russell_mehrabian_terms() -> None:
    labs = top_labels([(-0.8, 0.7, 0.3), (0.8, 0.4, 0.3)])
    assert labs[0] != labs[1]
    assert all(isinstance(x, str) and x for x in labs)


def _second_order_run(mu: float) -> dict[str, float | None]:
    p = Personality()
    w = p.weights()
    xs = [VAD(x, 0.0, 0.0) for x in INPUT]
    states = simulate(xs, p, f"second:{mu}")
    tv = [target(x, w).v for x in xs]
    traj = Trajectory(
        phases=PHASES,
        valence=[s.vad.v for s in states],
        target=tv,
        labels=top_labels([s.vad.as_tuple() for s in states]),
        rest=w.rest.v,
    )
    return run_metrics(traj, R, MetricParams())


def test_paper_pattern_on_pure_dynamics() -> None:
    """Inertia and hysteresis grow with momentum; stateless has no hysteresis at all."""
    p = Personality()
    xs = [VAD(x, 0.0, 0.0) for x in INPUT]
    stateless = simulate(xs, p, "stateless")
    tv = [target(x, p.weights()).v for x in xs]
    m0 = run_metrics(
        Trajectory(PHASES, [s.vad.v for s in stateless], target=tv, rest=p.weights().rest.v), R
    )
    assert m0["hysteresis"] == pytest.approx(0.0)
    assert m0["delay"] == 0.0 and m0["recovery_turns"] == 0.0
    runs = {mu: _second_order_run(mu) for mu in (0.5, 0.8, 0.95)}
    h = [runs[mu]["hysteresis"] for mu in (0.5, 0.8, 0.95)]
    assert h[0] is not None and h[1] is not None and h[2] is not None
    assert 0 < h[0] < h[1] < h[2]
    d = [runs[mu]["delay"] for mu in (0.5, 0.8, 0.95)]
    assert d[0] is not None and d[2] is not None and d[0] <= d[2]
    assert runs[0.8]["recovered"] == 1.0


def test_run_metrics_tone_tracking() -> None:
    s = [0.0] * 8 + [-0.5] * 8 + [0.4] * 9
    user = [0.0] * 8 + [-0.7] * 8 + [0.5] * 9
    reply = [0.1 * v for v in s]
    reply[3] = None  # a missing reply estimate is skipped
    gen = [0.0 if i % 2 else 0.3 for i in range(25)]  # the model's own words: unrelated
    m = run_metrics(Trajectory(PHASES, s, reply=reply, reply_gen=gen, user=user), R)
    assert m["tone_r"] == pytest.approx(1.0)
    assert m["tone_r_gen"] is not None and abs(m["tone_r_gen"]) < 0.5
    assert m["hysteresis"] is None  # no target given


def test_summarise_mean_sd_and_missing() -> None:
    out = summarise([{"a": 1.0, "b": None}, {"a": 3.0, "b": 2.0}, {"a": 5.0, "b": None}])
    assert out["a"]["mean"] == pytest.approx(3.0)
    assert out["a"]["sd"] == pytest.approx(2.0)
    assert out["a"]["n"] == 3
    assert out["b"] == {"mean": 2.0, "sd": None, "n": 1}
    assert summarise([{"c": math.nan}])["c"]["n"] == 0
