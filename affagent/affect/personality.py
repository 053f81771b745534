"""Big Five personality → resting mood and transition weights.

Three layers, after ALMA (Gebhard 2005): fast emotion (the state that the dynamics move), mood
(the resting point it returns to) and personality (stable, sets both).

All formulas work on *centred* traits ``t' = 2t − 1`` (0–1 scores → −1..+1), with emotional
stability ``S = −N'``. Using neuroticism instead of stability flips the sign and makes anxious
characters calm and happy, a known bug in ALMA- and PELD-derived code.

Resting mood (Mehrabian 1996, "Analysis of the Big-five Personality Factors in Terms of the
PAD Temperament Model", Australian Journal of Psychology 48(2)):

    P = 0.21 E' + 0.59 Ag' + 0.19 S
    A = 0.15 O' + 0.30 Ag' − 0.57 S
    D = 0.25 O' + 0.17 C' + 0.60 E' − 0.32 Ag'

clamped to −1..+1 (only extreme profiles reach the clamp).

Transition weights (affagent's own, monotonic in each trait, see :class:`TransitionWeights`): how
strongly each axis reacts to an impulse (gains, with a separate gain for negative valence so
neuroticism amplifies bad news), how quickly the state moves away from rest and back towards it,
how hard the second-order spring pulls back, and the half-life of the elapsed-time decay.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from affagent.affect.vad import VAD, clamp


class Personality(BaseModel):
    """Big Five (OCEAN) scores on 0–1, 0.5 = population average."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    openness: float = Field(0.5, ge=0.0, le=1.0)
    conscientiousness: float = Field(0.5, ge=0.0, le=1.0)
    extraversion: float = Field(0.5, ge=0.0, le=1.0)
    agreeableness: float = Field(0.5, ge=0.0, le=1.0)
    neuroticism: float = Field(0.5, ge=0.0, le=1.0)

    @property
    def centred(self) -> tuple[float, float, float, float, float]:
        """(O', C', E', Ag', N') on −1..+1."""
        return (
            2 * self.openness - 1,
            2 * self.conscientiousness - 1,
            2 * self.extraversion - 1,
            2 * self.agreeableness - 1,
            2 * self.neuroticism - 1,
        )

    def temperament(self) -> VAD:
        """Mehrabian (1996) PAD temperament, unclamped."""
        o, c, e, ag, n = self.centred
        s = -n  # emotional stability
        return VAD(
            0.21 * e + 0.59 * ag + 0.19 * s,
            0.15 * o + 0.30 * ag - 0.57 * s,
            0.25 * o + 0.17 * c + 0.60 * e - 0.32 * ag,
        )

    def resting(self) -> VAD:
        """The resting mood: the temperament clamped to −1..+1."""
        return self.temperament().clamped()

    def weights(self) -> TransitionWeights:
        return TransitionWeights.from_personality(self)


@dataclass(frozen=True, slots=True)
class TransitionWeights:
    """How a personality moves its state. On centred traits (see module docstring):

    - ``gain_pos`` (valence gain for V > 0) = 0.60 + 0.15 E' + 0.10 Ag':
      warm, outgoing people take in good news;
    - ``gain_neg`` (valence gain for V < 0) = 0.60 + 0.25 N' + 0.05 Ag':
      neuroticism amplifies negative input;
    - arousal gain = 0.50 + 0.15 E' + 0.15 N': extraversion raises arousal gain;
    - dominance gain = 0.45 + 0.10 E' − 0.10 Ag': agreeable people yield;
    - ``speed_away`` = 1 + 0.20 E' + 0.10 N': how fast the state leaves rest;
    - ``speed_back`` = 1 − 0.30 N' + 0.10 E': how fast it returns (neurotic: slowly);
    - ``spring`` = 0.08 (1 − 0.5 N'): second-order pull back to rest, per turn;
    - ``half_life_s`` = 600 (1 + 0.5 N'): elapsed-time decay toward rest (ALMA).

    Every weight is positive over the whole trait range, so dynamics stay stable for any persona.
    """

    rest: VAD
    gain_pos: VAD
    gain_neg: VAD
    speed_away: float
    speed_back: float
    spring: float
    half_life_s: float

    @classmethod
    def from_personality(cls, p: Personality) -> TransitionWeights:
        o, c, e, ag, n = p.centred
        del o, c
        gain_a = 0.50 + 0.15 * e + 0.15 * n
        gain_d = 0.45 + 0.10 * e - 0.10 * ag
        return cls(
            rest=p.resting(),
            gain_pos=VAD(0.60 + 0.15 * e + 0.10 * ag, gain_a, gain_d),
            gain_neg=VAD(0.60 + 0.25 * n + 0.05 * ag, gain_a, gain_d),
            speed_away=1.0 + 0.20 * e + 0.10 * n,
            speed_back=1.0 - 0.30 * n + 0.10 * e,
            spring=0.08 * (1.0 - 0.5 * n),
            half_life_s=600.0 * (1.0 + 0.5 * n),
        )

    def gains_for(self, impulse: VAD) -> VAD:
        """Per-axis gain; the valence gain depends on the sign of the impulse's valence."""
        gv = self.gain_neg.v if impulse.v < 0 else self.gain_pos.v
        return VAD(gv, self.gain_pos.a, self.gain_pos.d)


def peld_response(preceding: VAD, variation: VAD, weight: VAD) -> VAD:
    """PELD's transition (Wen et al. 2021, "Automatically Select Emotion for Response via
    Personality-affected Emotion Transition", Findings of ACL): the response emotion is the
    preceding emotion plus the context-driven variation weighted by personality,

        e = clamp(preceding + variation ⊙ weight).
    """
    return VAD(
        clamp(preceding.v + variation.v * weight.v),
        clamp(preceding.a + variation.a * weight.a),
        clamp(preceding.d + variation.d * weight.d),
    )


def target(impulse: VAD, w: TransitionWeights) -> VAD:
    """Where an impulse pushes this personality, per axis with ``r`` the resting mood, ``x`` the
    impulse (the appraised stimulus) and ``g`` the gain for its sign:

    - ``x`` in the direction of ``r`` (or ``r = 0``): ``e = clamp(r + g x)``, PELD's transition
      (Wen et al. 2021) with the resting mood as the preceding emotion;
    - ``x`` against ``r``: ``e = r (1 − |x|) + g x``: the impulse takes the place of that share
      of the resting mood, so a strong event is felt whatever the temperament (a pleasant,
      stable counsellor is not still "content" when someone is in distress; ALMA's mood
      likewise moves into the octant of the active emotion, Gebhard 2005).

    Continuous and increasing in ``x``; ``x = 0`` targets the resting mood, so every dynamics
    mode settles there; with ``r = 0`` (the neutral persona) both cases are ``e = g x``.
    """
    g = w.gains_for(impulse)
    out = []
    for r, x, k in zip(w.rest, impulse, g, strict=True):
        if x * r < 0:
            out.append(clamp(r * (1.0 - abs(x)) + k * x))
        else:
            out.append(clamp(r + k * x))
    return VAD.of(out)
