"""Transcript export: the conversation with its state trace, as Markdown (to read) and JSON
(to analyse; every trace exactly as stored, so a session can be replayed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from affagent.affect.labels import mixture
from affagent.tui.model import SessionView

FORMAT = "affagent.transcript/1"


def _vad(v: Any) -> str:
    return f"V {v.v:+.2f} · A {v.a:+.2f} · D {v.d:+.2f}"


def transcript_markdown(session: SessionView) -> str:
    """A readable transcript: each exchange followed by what it did to the state, then the
    whole state trace as a table."""
    lines = [
        f"# affagent session {session.session_id}",
        "",
        f"- persona: `{session.persona}`",
        f"- dynamics: `{session.dynamics}`",
        f"- turns: {len(session.turns)}",
        f"- agent state at start: {_vad(session.start)}",
    ]
    if session.title:
        lines.append(f"- title: {session.title}")
    lines.append("")
    for t in session.turns:
        lines += [f"## Turn {t.turn}", "", f"**You:** {t.user_text}", ""]
        lines += [f"**Agent:** {t.reply}", ""]
        feels = ", ".join(f"{n} {p:.0%}" for n, p in mixture(t.agent, top_k=3))
        lines.append(f"- agent state: {_vad(t.agent)} ({feels})")
        lines.append(f"- user estimate: {_vad(t.user)}")
        if t.strategy:
            p = "" if t.strategy_p is None else f" (p = {t.strategy_p:.2f})"
            lines.append(f"- strategy: {t.strategy}{p}")
        if t.emotions:
            lines.append("- emotions read: " + ", ".join(f"{n} {p:.0%}" for n, p in t.emotions))
        if t.causes:
            lines.append("- cause words: " + ", ".join(w for w, _ in t.causes))
        lines.append("")
    lines += [
        "## State trace",
        "",
        "| turn | agent V | agent A | agent D | user V | user A | user D | strategy |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| 0 | {session.start.v:+.3f} | {session.start.a:+.3f} | {session.start.d:+.3f} "
        "|  |  |  |  |",
    ]
    for t in session.turns:
        lines.append(
            f"| {t.turn} | {t.agent.v:+.3f} | {t.agent.a:+.3f} | {t.agent.d:+.3f} "
            f"| {t.user.v:+.3f} | {t.user.a:+.3f} | {t.user.d:+.3f} | {t.strategy or ''} |"
        )
    return "\n".join(lines) + "\n"


def transcript_json(session: SessionView) -> dict[str, Any]:
    """The session and every turn's full trace (``TurnTrace.model_dump(mode="json")``)."""
    return {
        "format": FORMAT,
        "session": {
            "id": session.session_id,
            "persona": session.persona,
            "dynamics": session.dynamics,
            "title": session.title,
            "start": session.start.to_dict(),
        },
        "turns": [
            {
                "turn": t.turn,
                "user": t.user_text,
                "reply": t.reply,
                "state": t.agent.to_dict(),
                "user_estimate": t.user.to_dict(),
                "strategy": t.strategy,
                "strategy_p": t.strategy_p,
                "trace": None if t.trace is None else t.trace.model_dump(mode="json"),
            }
            for t in session.turns
        ],
    }


def export_session(session: SessionView, directory: Path) -> tuple[Path, Path]:
    """Write ``<session id>.md`` and ``<session id>.json`` into ``directory`` (created if
    needed), replacing an earlier export of the same session; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in session.session_id) or "session"
    md = directory / f"{stem}.md"
    js = directory / f"{stem}.json"
    md.write_text(transcript_markdown(session), encoding="utf-8")
    js.write_text(
        json.dumps(transcript_json(session), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return md, js
