"""Appraisal: what the user's feeling means to this persona, before any dynamics.

Perception reads the *user's* affect. Feeding it straight into the dynamics makes every agent
catch the user's mood, and a persona whose resting mood is pleasant stays pleasant through
someone else's grief. Appraisal theory (Lazarus 1991; Scherer 2001) puts a step in between:
the same event is felt according to what it means to the one who perceives it. Here the
persona's **role** says what another person's feeling means to it, and the result is the
*stimulus* the dynamics take in (:func:`affagent.affect.dynamics.step`), on −1..+1 per axis.

Three roles (``personas/*.yaml``, field ``role``):

``contagion``
    A companion mirrors: ``stimulus = u`` (emotional contagion, Hatfield, Cacioppo & Rapson
    1993). The neutral persona uses it, so the explicit-state-dynamics replication is
    unchanged by this stage.
``empathic_concern``
    A counsellor facing distress feels *for* the person, not *as* the person (empathic
    concern vs. personal distress, Batson 1987): valence clearly negative (concern grows
    with the distress, full at user valence −0.15), arousal following the user's at half
    strength, dominance a little up (steady, able to help). Good news is shared, a little
    less strongly than the user feels it. Agreeable people feel more concern (Graziano et al.
    2007): strength ``0.9 + 0.1 Ag'``.
``composed``
    A support agent or mentor stays professional: distress makes it serious (valence a little
    negative, at 0.8 of concern's strength), *calmer* rather than more aroused, and a little
    more in control; good news pleases it at half strength.

``u`` is the *perceived* user affect: the estimator's VAD blended with the classifier's
emotions located in VAD by Russell & Mehrabian (1977) (``emotion_weight``), scaled by the
estimate's confidence. Personality does the rest in the dynamics: resting mood, gains (with
the asymmetry between negative and positive stimuli), speeds and decay
(:class:`affagent.affect.personality.TransitionWeights`; sources in ``docs/dynamics.md``).

Example::

    a = appraise(VAD(-0.6, 0.4, -0.2), role="empathic_concern", personality=Personality())
    a.stimulus   # VAD(v=-0.9, a=0.2, d=0.25): concern, calmer than the user, steady
    a.reason     # 'the user is distressed (V -0.60); concern for them: ...'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from affagent.affect.labels import expected_vad, label_vad
from affagent.affect.personality import Personality
from affagent.affect.vad import VAD, clamp

Role = Literal["empathic_concern", "contagion", "composed"]
ROLES: tuple[str, ...] = get_args(Role)

Situation = Literal["distress", "good", "neutral"]

#: User valence at or below which the user counts as distressed, at or above which as glad
#: (for the feeling words and the reason text; the stimulus itself is continuous).
DISTRESS_AT = -0.15
GOOD_AT = 0.15


@dataclass(frozen=True, slots=True)
class AppraisalParams:
    """The appraisal's coefficients (affagent's own; see the module doc for their reading).

    - ``emotion_weight``: share of the classifier's emotions in the perceived user affect
      (0.25: the best of 0, 0.25, 0.5, 0.75, 1 for Pearson r with the gold valence on EmoBank
      dev, 0.716, and with the label valence on EmpatheticDialogues dev, 0.588; 0 gives
      0.715 and 0.582, so the blend matters little);
    - ``onset``, ``full``: user valence magnitudes where concern starts and where it is full:
      the 90th and 75th percentiles of the perceived valence of the help-seekers' own problem
      descriptions in ESConv (train ``situation``, n = 910: −0.02 and −0.15; median −0.28),
      so three in four people who come for support are met with full concern;
    - ``concern``: strength of empathic concern at full distress (before the agreeableness
      term); ``composure``: the composed role's strength, as a share of it;
    - ``arousal_follow``: how much of the user's arousal a concerned listener takes on;
    - ``steady``: the dominance lift of a helper facing distress;
    - ``share_good`` / ``share_good_composed``: how much of the user's good news is felt.
    """

    emotion_weight: float = 0.25
    onset: float = 0.02
    full: float = 0.15
    concern: float = 0.9
    composure: float = 0.8
    arousal_follow: float = 0.5
    steady: float = 0.25
    share_good: float = 0.8
    share_good_composed: float = 0.5


DEFAULT_PARAMS = AppraisalParams()


@dataclass(frozen=True, slots=True)
class Appraisal:
    """The outcome of appraising one user turn.

    ``stimulus`` goes to :func:`affagent.affect.dynamics.step`; ``perceived`` is the user's
    affect as read (pass it to :func:`affagent.affect.feeling.feeling_words` as ``user``);
    ``situation`` is the user's state in one word; ``reason`` says why, in plain words."""

    stimulus: VAD
    role: str
    reason: str
    perceived: VAD = field(default_factory=VAD)
    situation: Situation = "neutral"

    def to_dict(self) -> dict[str, object]:
        return {
            "stimulus": self.stimulus.to_dict(),
            "role": self.role,
            "reason": self.reason,
            "perceived": self.perceived.to_dict(),
            "situation": self.situation,
        }


def check_role(role: str) -> str:
    """``role`` if it is known, else ``ValueError`` naming the allowed values."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    return role


def situation_of(user: VAD | None) -> Situation:
    """``distress`` / ``good`` / ``neutral`` from the user's valence (``neutral`` if unknown)."""
    if user is None:
        return "neutral"
    if user.v <= DISTRESS_AT:
        return "distress"
    if user.v >= GOOD_AT:
        return "good"
    return "neutral"


def perceived_affect(
    user: VAD,
    emotions: Mapping[str, float] | None = None,
    confidence: float = 1.0,
    emotion_weight: float = DEFAULT_PARAMS.emotion_weight,
) -> VAD:
    """The user's affect as the agent reads it: the estimator's VAD, blended with the
    classifier's label distribution placed in VAD space (:func:`affagent.affect.labels.
    expected_vad`; ``neutral`` at the origin; labels with no location are ignored, and with
    none left the estimator's reading stands), times the confidence (0 for empty text)."""
    x = VAD(_finite(user.v), _finite(user.a), _finite(user.d))
    if emotions:
        known = {k: float(p) for k, p in emotions.items() if p == p and p > 0 and _located(k)}
        if known:
            e = expected_vad(known)
            w = min(1.0, max(0.0, emotion_weight))
            x = x.scale(1.0 - w) + e.scale(w)
    c = min(1.0, max(0.0, _finite(confidence)))
    return x.scale(c).clamped()


def _located(label: str) -> bool:
    try:
        label_vad(label)
    except KeyError:
        return False
    return True


def _finite(x: float) -> float:
    return x if x == x and abs(x) != float("inf") else 0.0


def _ramp(x: float, lo: float, hi: float) -> float:
    if hi <= lo:
        return 1.0 if x >= hi else 0.0
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def appraise(
    user: VAD,
    *,
    role: str,
    personality: Personality,
    emotions: Mapping[str, float] | None = None,
    confidence: float = 1.0,
    causes: Sequence[str] = (),
    params: AppraisalParams = DEFAULT_PARAMS,
) -> Appraisal:
    """The stimulus a user turn is for a persona in ``role`` (see the module doc).

    ``user`` is the estimator's VAD of the user's text, ``emotions`` the classifier's label
    probabilities (optional), ``causes`` the words behind them (only quoted in ``reason``).
    Pure and deterministic; NaN inputs count as 0. Raises ``ValueError`` for an unknown role.
    """
    check_role(role)
    u = perceived_affect(user, emotions, confidence, params.emotion_weight)
    sit = situation_of(u)
    about = f" about {', '.join(repr(c) for c in causes[:3])}" if causes else ""
    felt = f"V {u.v:+.2f} A {u.a:+.2f} D {u.d:+.2f}"
    if role == "contagion":
        return Appraisal(u, role, f"mirrors the user's feeling ({felt}){about}", u, sit)
    ag = personality.centred[3]
    distress = _ramp(-u.v, params.onset, params.full)
    glad = max(0.0, u.v)
    if role == "empathic_concern":
        strength = params.concern + 0.1 * ag
        v = -strength * distress + params.share_good * glad
        a = params.arousal_follow * u.a
        d = params.steady * distress
        why = (
            f"the user is distressed ({felt}){about}: concern for them, steadier and calmer "
            "than they are"
            if distress > 0
            else f"good news for the user ({felt}){about}: glad for them"
            if sit == "good"
            else f"nothing distressing ({felt}): at ease, attentive"
        )
    else:  # composed
        strength = params.concern * params.composure
        v = -strength * distress + params.share_good_composed * glad
        a = -0.2 * distress + 0.3 * max(0.0, u.a) * (1.0 - distress)
        d = params.steady * distress
        why = (
            f"the user is upset ({felt}){about}: stays composed, more serious and calmer"
            if distress > 0
            else f"good news for the user ({felt}){about}: pleased, professionally"
            if sit == "good"
            else f"routine ({felt}): calm and attentive"
        )
    stimulus = VAD(clamp(v), clamp(a), clamp(d))
    return Appraisal(stimulus, role, why, u, sit)
