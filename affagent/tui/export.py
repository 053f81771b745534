"""F5: write the session's transcript with its state trace next to each other as Markdown (to
read) and JSON (every trace, to analyse or replay).

The formats are the store's own (:meth:`affagent.store.SessionStore.export`), the same as
``affagent sessions export``, so a file from the chat app and one from the CLI never differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def export_name(session_id: str) -> str:
    """A file stem for a session id, safe on every filesystem."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in session_id) or "session"


def export_session(
    store: Any, session_id: str, directory: Path, tenant: str = "default"
) -> tuple[Path, Path]:
    """Write ``<session id>.md`` and ``<session id>.json`` into ``directory`` (created if
    needed), replacing an earlier export of the same session; returns both paths."""
    md_text = store.export(session_id, tenant, fmt="md")
    json_text = store.export(session_id, tenant, fmt="json")
    directory.mkdir(parents=True, exist_ok=True)
    stem = export_name(session_id)
    md, js = directory / f"{stem}.md", directory / f"{stem}.json"
    md.write_text(md_text, encoding="utf-8")
    js.write_text(json_text if json_text.endswith("\n") else json_text + "\n", encoding="utf-8")
    return md, js
