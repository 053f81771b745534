"""The agent's affective state: position, velocity and when it was last updated.

JSON round-trips are exact (Python's float repr is shortest-round-trip), so a resumed session
continues bit-for-bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from affagent.affect.vad import VAD


@dataclass(frozen=True, slots=True)
class AffectState:
    """Where the agent's feeling is (``vad``), where it is heading (``velocity``, used by
    second-order dynamics) and the wall-clock time of the last update (``updated_at``, Unix
    seconds, used for elapsed-time decay; ``None`` when unknown)."""

    vad: VAD = field(default_factory=VAD)
    velocity: VAD = field(default_factory=VAD)
    updated_at: float | None = None
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "vad": self.vad.to_dict(),
            "velocity": self.velocity.to_dict(),
            "updated_at": self.updated_at,
            "turns": self.turns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AffectState:
        ts = d.get("updated_at")
        return cls(
            vad=VAD.from_dict(d["vad"]),
            velocity=VAD.from_dict(d.get("velocity", {"V": 0.0, "A": 0.0, "D": 0.0})),
            updated_at=None if ts is None else float(ts),
            turns=int(d.get("turns", 0)),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> AffectState:
        return cls.from_dict(json.loads(s))

    @classmethod
    def at_rest(cls, rest: VAD, updated_at: float | None = None) -> AffectState:
        return cls(vad=rest, velocity=VAD(), updated_at=updated_at, turns=0)
