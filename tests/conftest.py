"""Shared fixtures. Real-component tests are marked (slow, embedded, postgres) in their files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the embedded backend's saved prompt prefixes go to a throwaway folder, not ~/.cache
os.environ.setdefault("AFFAGENT_PROMPT_CACHE", tempfile.mkdtemp(prefix="affagent-test-prompts-"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AFFAGENT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture()
def affagent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated AFFAGENT_HOME so tests never touch the user's store."""
    monkeypatch.setenv("AFFAGENT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
