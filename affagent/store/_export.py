"""Session export: JSON (everything, machine-readable) and Markdown (for people)."""

from __future__ import annotations

import json

from affagent.affect.labels import describe
from affagent.store._records import SessionRecord, Snapshot, TurnRecord


def export_json(rec: SessionRecord, turns: list[TurnRecord], snaps: list[Snapshot]) -> str:
    """``{"session": ..., "turns": [trace, ...], "states": [{"turn", "V", "A", "D"}, ...]}``."""
    doc = {
        "format": "affagent-session/1",
        "session": rec.model_dump(mode="json"),
        "turns": [t.trace.model_dump(mode="json") for t in turns],
        "states": [
            {"turn": s.turn, **s.state.vad.to_dict(), "velocity": s.state.velocity.to_dict()}
            for s in snaps
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines() or [""])


def export_markdown(rec: SessionRecord, turns: list[TurnRecord], snaps: list[Snapshot]) -> str:
    lines = [
        f"# Session {rec.id}" + (f": {rec.title}" if rec.title else ""),
        "",
        f"- persona: `{rec.persona}`, dynamics: `{rec.dynamics}`, tenant: `{rec.tenant}`",
        f"- created {rec.created_at.isoformat(timespec='seconds')}, "
        f"updated {rec.updated_at.isoformat(timespec='seconds')}, {rec.turns} turns",
        "",
        "## State trace",
        "",
        "| turn | V | A | D | feeling | strategy | user V |",
        "|---:|---:|---:|---:|---|---|---:|",
    ]
    by_turn = {t.turn: t for t in turns}
    for s in snaps:
        t = by_turn.get(s.turn)
        v = s.state.vad
        strat = (t.strategy or "") if t else ""
        uv = f"{t.trace.user_estimate.V:+.2f}" if t else ""
        words = ", ".join(t.trace.feeling) if t and t.trace.feeling else describe(
            v, s.state.velocity
        )
        lines.append(
            f"| {s.turn} | {v.v:+.2f} | {v.a:+.2f} | {v.d:+.2f} | "
            f"{words} | {strat} | {uv} |"
        )
    lines += ["", "## Conversation", ""]
    for t in turns:
        after = t.trace.state
        lines += [
            f"### Turn {t.turn}",
            "",
            "**User**",
            "",
            _quote(t.user_text),
            "",
            "**Agent** ("
            + (", ".join(t.trace.feeling) or describe(after.vad, after.velocity))
            + (f"; strategy: {t.strategy}" if t.strategy else "")
            + ")",
            "",
            _quote(t.reply),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
