"""The Valence-Arousal-Dominance point, on −1..+1 per axis, and converters from data scales."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

AXES = ("V", "A", "D")


def clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    """Clamp to [lo, hi]; NaN becomes 0 so a bad estimate can never poison the state."""
    if math.isnan(x):
        return 0.0
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True, slots=True)
class VAD:
    """A point (or a vector, e.g. a velocity) in Valence-Arousal-Dominance space.

    Points are kept in −1..+1 by :meth:`clamped`; velocities may leave that range, so the
    constructor does not clamp.
    """

    v: float = 0.0
    a: float = 0.0
    d: float = 0.0

    # -- arithmetic used by the dynamics -------------------------------------------------
    def __add__(self, other: VAD) -> VAD:
        return VAD(self.v + other.v, self.a + other.a, self.d + other.d)

    def __sub__(self, other: VAD) -> VAD:
        return VAD(self.v - other.v, self.a - other.a, self.d - other.d)

    def scale(self, k: float) -> VAD:
        return VAD(self.v * k, self.a * k, self.d * k)

    def mul(self, other: VAD) -> VAD:
        """Element-wise (Hadamard) product, the ⊙ of the formulas."""
        return VAD(self.v * other.v, self.a * other.a, self.d * other.d)

    def clamped(self, lo: float = -1.0, hi: float = 1.0) -> VAD:
        return VAD(clamp(self.v, lo, hi), clamp(self.a, lo, hi), clamp(self.d, lo, hi))

    def norm(self) -> float:
        return math.sqrt(self.v * self.v + self.a * self.a + self.d * self.d)

    def __iter__(self) -> Iterator[float]:
        yield self.v
        yield self.a
        yield self.d

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.v, self.a, self.d)

    def to_dict(self) -> dict[str, float]:
        return {"V": self.v, "A": self.a, "D": self.d}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> VAD:
        return cls(float(d["V"]), float(d["A"]), float(d["D"]))

    @classmethod
    def of(cls, xs: Iterable[float]) -> VAD:
        v, a, d = (float(x) for x in xs)
        return cls(v, a, d)

    # -- scale converters ------------------------------------------------------------------
    @classmethod
    def from_emobank(cls, v: float, a: float, d: float) -> VAD:
        """EmoBank's 1–5 SAM ratings (3 = neutral) → −1..+1: x' = (x − 3) / 2."""
        return cls((v - 3.0) / 2.0, (a - 3.0) / 2.0, (d - 3.0) / 2.0)

    def to_emobank(self) -> tuple[float, float, float]:
        return (self.v * 2.0 + 3.0, self.a * 2.0 + 3.0, self.d * 2.0 + 3.0)

    @classmethod
    def from_nrc(cls, v: float, a: float, d: float) -> VAD:
        """NRC VAD lexicon's 0–1 scores (0.5 = neutral) → −1..+1: x' = 2x − 1."""
        return cls(2.0 * v - 1.0, 2.0 * a - 1.0, 2.0 * d - 1.0)

    def to_nrc(self) -> tuple[float, float, float]:
        return ((self.v + 1.0) / 2.0, (self.a + 1.0) / 2.0, (self.d + 1.0) / 2.0)


NEUTRAL = VAD(0.0, 0.0, 0.0)
