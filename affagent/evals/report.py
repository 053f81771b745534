"""``affagent protocol report DIR``: a Markdown summary and PNG plots of a protocol run.

Writes into ``DIR`` (or ``--to``):

``report.md``
    mean ± SD per condition of every metric (:mod:`affagent.evals.metrics`), the momentum
    sweep as a table, and links to the figures;
``trajectories.png``
    V, A and D of the agent's state per condition, mean ± SD band over seeds, with the phases
    shaded and the input (the personality's target for each user turn) overlaid;
``sweep.png``
    hysteresis, delay, recovery time and inertia against the momentum μ, computed by the pure
    dynamics (:func:`affagent.affect.dynamics.simulate`) over the protocol's *estimated*
    inputs, with the measured second-order conditions overlaid. In affagent only the user's
    turns move the state, so for a fixed script the sweep is what the full loop would give;
    the overlay checks that;
``tone.png``
    the injected valence against the estimator's valence of the agent's own reply, one panel
    per condition, with Pearson's r.

matplotlib is imported here, on first use, with the Agg backend (no display needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from affagent.affect.dynamics import parse_dynamics, simulate
from affagent.affect.personality import target
from affagent.affect.vad import VAD
from affagent.evals.metrics import METRIC_NAMES, MetricParams, Trajectory, run_metrics, top_labels
from affagent.evals.protocol import PhaseRoles, Protocol
from affagent.evals.results import (
    Manifest,
    RunData,
    load_manifest,
    load_protocol_copy,
    load_runs,
    mean_series,
)
from affagent.evals.runner import summarise_dir

__all__ = ["SWEEP_MUS", "momentum_sweep", "write_report"]

#: The momentum values of the sweep.
SWEEP_MUS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)

_ROLE_COLOURS = {"neutral": "#dddddd", "adversarial": "#f4b6b6", "reconciliation": "#b9e4b9"}
_OTHER_COLOUR = "#cfe0f5"
_METRIC_LABELS = {
    "delay": "delay (turns)",
    "recovery_turns": "recovery (turns)",
    "recovered": "recovered (fraction)",
    "inertia": "inertia (lag-1 r)",
    "input_inertia": "input inertia",
    "hysteresis": "hysteresis Σ|s−x|",
    "label_flip_rate": "label flips / turn",
    "dv_sign_flip_rate": "ΔV sign flips / turn",
    "mean_abs_dv": "mean |ΔV|",
    "tone_r": "tone r",
    "tone_partial_r": "tone partial r",
    "tone_r_gen": "tone r (model's own words)",
    "tone_partial_r_gen": "tone partial r (model's own words)",
}


def _fmt(cell: dict[str, Any] | None, runs: int) -> str:
    if not cell or cell.get("mean") is None:
        return "—"
    m, sd, n = cell["mean"], cell.get("sd"), cell.get("n", 0)
    s = f"{m:.2f}" if sd is None else f"{m:.2f} ± {sd:.2f}"
    return s if n >= runs else f"{s} ({n}/{runs})"


def mean_stimuli(runs: dict[str, list[RunData]], persona: str) -> list[VAD]:
    """The stimulus of each user turn (what the appraisal made of it), averaged over every
    run (perception and appraisal are deterministic, so the runs agree up to float noise).
    Rows written before the appraisal stage carry only the user's estimate: it is appraised
    here, for the persona's role."""
    from affagent.affect.appraisal import appraise
    from affagent.persona import load_persona

    all_runs = [r for rs in runs.values() for r in rs]
    if not all_runs:
        return []
    p = load_persona(persona)
    n = min(r.complete_for for r in all_runs)

    def stim(row: Any) -> VAD:
        if row.stimulus is not None:
            return VAD(row.stimulus["V"], row.stimulus["A"], row.stimulus["D"])
        u = VAD(row.user_vad["V"], row.user_vad["A"], row.user_vad["D"])
        return appraise(u, role=p.role, personality=p.traits).stimulus

    return [
        VAD(*(sum(stim(r.rows[t]).as_tuple()[i] for r in all_runs) / len(all_runs)
              for i in range(3)))
        for t in range(n)
    ]


def momentum_sweep(
    stim: Sequence[VAD],
    phases: Sequence[str],
    persona: str,
    roles: PhaseRoles,
    params: MetricParams | None = None,
    mus: Sequence[float] = SWEEP_MUS,
) -> list[dict[str, Any]]:
    """Metrics of ``second:μ`` for each μ, by the pure dynamics over ``stim``: the stimuli
    the runs' agents appraised (:func:`mean_stimuli`)."""
    from affagent.persona import load_persona

    p = load_persona(persona).traits
    w = p.weights()
    tv = [target(x, w).v for x in stim]
    out = []
    for mu in mus:
        states = simulate(list(stim), p, parse_dynamics(f"second:{mu}"))
        traj = Trajectory(
            phases=list(phases)[: len(states)],
            valence=[s.vad.v for s in states],
            target=tv,
            labels=top_labels([s.vad.as_tuple() for s in states]),
            rest=w.rest.v,
        )
        out.append({"mu": mu, **run_metrics(traj, roles, params)})
    return out


def _shade(ax: Any, phases: Sequence[str], roles: PhaseRoles, label: bool) -> None:
    start = 0
    for i in range(1, len(phases) + 1):
        if i == len(phases) or phases[i] != phases[start]:
            role = roles.role(phases[start])
            colour = _ROLE_COLOURS.get(role or "", _OTHER_COLOUR)
            ax.axvspan(start + 0.5, i + 0.5, color=colour, alpha=0.45, lw=0)
            if label:
                ax.text((start + i + 1) / 2, 1.02, phases[start], ha="center", va="bottom",
                        fontsize=7, transform=ax.get_xaxis_transform())
            start = i


def _plot_trajectories(path: Path, runs: dict[str, list[RunData]], phases: Sequence[str],
                       roles: PhaseRoles, title: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    x = list(range(1, len(phases) + 1))
    for ai, (ax, axis) in enumerate(zip(axes, "VAD", strict=True)):
        _shade(ax, phases, roles, label=ai == 0)
        for ci, (cond, rs) in enumerate(runs.items()):
            if not rs:
                continue
            m, sd = mean_series(rs, "state", axis)
            xs = x[: len(m)]
            colour = f"C{ci}"
            ax.plot(xs, m, color=colour, lw=1.6, label=f"{cond} (n={len(rs)})")
            ax.fill_between(xs, [a - b for a, b in zip(m, sd, strict=True)],
                            [a + b for a, b in zip(m, sd, strict=True)], color=colour, alpha=0.2)
        all_runs = [r for rs in runs.values() for r in rs]
        if all_runs:
            mi, _ = mean_series(all_runs, "user_vad", axis)
            ax.plot(x[: len(mi)], mi, color="k", ls=":", lw=1.0, marker=".", ms=3,
                    label="input (estimated user turn)")
        ax.set_ylabel(axis)
        ax.set_ylim(-1.05, 1.05)
        ax.axhline(0, color="grey", lw=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(5, len(labels)),
               frameon=False)
    axes[-1].set_xlabel("turn")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_sweep(path: Path, sweep: list[dict[str, Any]], measured: dict[str, list[dict[str, Any]]],
                title: str) -> None:
    import matplotlib.pyplot as plt

    keys = ["hysteresis", "delay", "recovery_turns", "inertia"]
    fig, axes = plt.subplots(2, 2, figsize=(8, 5.5))
    mus = [r["mu"] for r in sweep]
    for ax, key in zip(axes.flat, keys, strict=True):
        ys = [math.nan if r[key] is None else r[key] for r in sweep]
        ax.plot(mus, ys, "o-", color="C0", ms=3, label="pure dynamics")
        if key == "recovery_turns":
            nr = [r["mu"] for r in sweep if r["recovered"] is not None and r["recovered"] < 1]
            if nr:
                top = max([y for y in ys if not math.isnan(y)], default=1.0) + 1
                ax.plot(nr, [top] * len(nr), "x", color="C3", label="not recovered")
        for cond, rows in measured.items():
            spec = parse_dynamics(cond)
            vals = [r[key] for r in rows if r.get(key) is not None]
            if spec.kind != "second" or not vals:
                continue
            m = sum(vals) / len(vals)
            sd = (math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
                  if len(vals) > 1 else 0.0)
            ax.errorbar([spec.param], [m], yerr=[sd], fmt="s", color="C1", ms=5, capsize=3,
                        label="measured (loop)")
        ax.set_title(_METRIC_LABELS[key], fontsize=9)
        ax.set_xlabel("momentum μ", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_tone(path: Path, runs: dict[str, list[RunData]],
               per_run: dict[str, list[dict[str, Any]]], title: str) -> None:
    import matplotlib.pyplot as plt

    conds = [c for c, rs in runs.items() if rs]
    n = max(1, len(conds))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 3.0), sharey=True, squeeze=False)
    for ci, (ax, cond) in enumerate(zip(axes[0], conds, strict=False)):
        xs, ys = [], []
        for r in runs[cond]:
            for row in r.rows:
                if row.reply_vad is not None:
                    xs.append(row.state["V"])
                    ys.append(row.reply_vad["V"])
        ax.scatter(xs, ys, s=7, alpha=0.5, color=f"C{ci}")
        rs = [m["tone_r"] for m in per_run.get(cond, []) if m.get("tone_r") is not None]
        r_txt = f"r = {sum(rs) / len(rs):.2f} (mean of {len(rs)})" if rs else "r undefined"
        ax.set_title(f"{cond}\n{r_txt}", fontsize=8)
        ax.set_xlabel("injected V (state)", fontsize=8)
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
    axes[0][0].set_ylabel("reply V (estimator)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(m: Manifest, proto: Protocol, summary: dict[str, Any], sweep: list[dict[str, Any]],
              roles: PhaseRoles, params: MetricParams, figs: dict[str, str]) -> str:
    runs = len(m.seeds)
    lines = [
        f"# Protocol report: {m.protocol}",
        "",
        f"- persona `{m.persona}`, backend `{m.backend}`"
        + (f" (model `{m.model}`)" if m.model else "")
        + f", {m.turns} turns, seeds {m.seeds}",
        f"- generation: `{m.generation}`" if m.generation else "- generation: defaults",
        f"- phase roles: neutral {sorted(roles.neutral & set(proto.phases)) or '—'}, "
        f"adversarial {sorted(roles.adversarial & set(proto.phases))}, "
        f"reconciliation {sorted(roles.reconciliation & set(proto.phases))}",
        f"- metric parameters: θ = {params.theta}, ε = {params.epsilon}, k = {params.k} "
        "(definitions: `affagent/evals/metrics.py`)",
        "",
        "## Mean ± SD over seeds",
        "",
    ]
    conds = list(summary)
    lines.append("| metric | " + " | ".join(f"`{c}`" for c in conds) + " |")
    lines.append("|---|" + "---|" * len(conds))
    for key in METRIC_NAMES:
        lines.append(
            "| " + _METRIC_LABELS[key].replace("|", "\\|") + " | "
            + " | ".join(_fmt(summary[c].get(key), runs) for c in conds)
            + " |"
        )
    lines += [
        "",
        "A cell `x ± y (n/N)` has a value in n of N runs (e.g. recovery time only where the run "
        "recovered). `—`: undefined for this condition.",
        "",
        "## Momentum sweep (pure dynamics over the estimated inputs)",
        "",
        "| μ | delay | recovery | recovered | inertia | hysteresis |",
        "|---|---|---|---|---|---|",
    ]

    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.2f}"

    for r in sweep:
        lines.append(
            f"| {r['mu']:g} | {f(r['delay'])} | {f(r['recovery_turns'])} | {f(r['recovered'])} | "
            f"{f(r['inertia'])} | {f(r['hysteresis'])} |"
        )
    lines += ["", "## Figures", ""]
    lines += [f"![{k}]({v})" for k, v in figs.items()]
    return "\n".join(lines) + "\n"


def write_report(
    out: Path,
    *,
    to: Path | None = None,
    roles: PhaseRoles | None = None,
    params: MetricParams | None = None,
) -> dict[str, Any]:
    """Compute the metrics of the runs in ``out`` and write ``report.md`` and the PNGs to
    ``to`` (default ``out``). Returns ``{"report": path, "figures": [...], "conditions": ...}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    m = load_manifest(out)
    proto = load_protocol_copy(out)
    roles = roles or m.phase_roles()
    params = params or MetricParams()
    dest = to or out
    dest.mkdir(parents=True, exist_ok=True)
    summ = summarise_dir(out, m, params, roles=roles)
    runs = {c: [r for r in rs if r.complete_for >= m.turns]
            for c, rs in load_runs(out, m).items()}
    title = f"{m.protocol} · {m.persona} · {m.backend}"
    figs: dict[str, str] = {}
    _plot_trajectories(dest / "trajectories.png", runs, proto.phases, roles,
                       f"{title}: agent state, mean ± SD over seeds")
    figs["trajectories"] = "trajectories.png"
    inputs = mean_stimuli(runs, m.persona)
    sweep = (
        momentum_sweep(inputs, proto.phases, m.persona, roles, params)
        if len(inputs) == len(proto.phases)
        else []
    )
    if sweep:
        _plot_sweep(dest / "sweep.png", sweep, summ["runs"],
                    f"{title}: second-order momentum sweep")
        figs["sweep"] = "sweep.png"
    _plot_tone(dest / "tone.png", runs, summ["runs"], f"{title}: tone tracking")
    figs["tone"] = "tone.png"
    md = _markdown(m, proto, summ["conditions"], sweep, roles, params, figs)
    (dest / "report.md").write_text(md, encoding="utf-8")
    return {
        "report": str(dest / "report.md"),
        "figures": [str(dest / v) for v in figs.values()],
        "conditions": summ["conditions"],
        "sweep": sweep,
    }
