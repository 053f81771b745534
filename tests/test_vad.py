from __future__ import annotations

import math

from affagent.affect.vad import VAD, clamp


def test_converters() -> None:
    assert VAD.from_emobank(3, 1, 5) == VAD(0, -1, 1)
    assert VAD.from_nrc(0.5, 0.0, 1.0) == VAD(0, -1, 1)
    v = VAD(0.25, -0.5, 0.75)
    assert VAD.from_emobank(*v.to_emobank()) == v
    assert VAD.from_nrc(*v.to_nrc()) == v


def test_clamp_nan() -> None:
    assert clamp(math.nan) == 0.0
    assert VAD(2, -3, 0.5).clamped() == VAD(1, -1, 0.5)
