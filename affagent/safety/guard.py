"""The safety check that runs before a turn: risk first, then emotional boundaries.

:class:`SafetyCheck` is the small protocol the Agent and the HTTP service call; the default
:class:`SafetyGuard` combines a :class:`RiskDetector` (``load_detector("auto")`` by
default: rules + the learned stage where the sentence encoder is installed), the crisis
resources for the locale and the persona's boundaries. A decision that carries a ``reply``
replaces the normal strategy and generation for that turn; ``trace()`` is what goes into
``TurnTrace.safety`` so flagged turns can be found and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from affagent.persona import Persona
from affagent.safety.boundaries import boundary_reply, detect_boundary
from affagent.safety.detector import RiskAssessment, RuleBasedDetector
from affagent.safety.resources import CrisisResource, ResourceBook, load_resources
from affagent.safety.responses import crisis_reply, follow_up_reply

Action = Literal["pass", "crisis", "boundary"]


class SafetyDecision(BaseModel):
    """What to do with one user message. ``action="pass"``: run the normal turn."""

    model_config = ConfigDict(frozen=True)

    action: Action = "pass"
    category: str | None = None
    severity: str | None = None
    rules: list[str] = Field(default_factory=list)
    reply: str | None = None
    locale: str | None = None
    resources: list[CrisisResource] = Field(default_factory=list)
    detector: str = ""

    @property
    def flagged(self) -> bool:
        """True for a crisis (the turn is flagged in the store and the webhook is called)."""
        return self.action == "crisis"

    @property
    def overrides(self) -> bool:
        return self.reply is not None

    def trace(self) -> dict[str, Any]:
        """The JSON stored in ``TurnTrace.safety`` (no user text: that is in the turn)."""
        return self.model_dump(mode="json", exclude={"reply"})


PASS = SafetyDecision()

#: Explicit statements in the conversation so far (rules only: microseconds per message).
_EXPLICIT = RuleBasedDetector()


@runtime_checkable
class RiskDetector(Protocol):
    """Anything that reads risk from one message (rules, a classifier, an LLM judge).
    ``history`` holds the user's previous few messages, oldest first: "the pills are counted
    out" after two turns about hopelessness is not the same as after a pharmacy question."""

    name: str

    def assess(self, text: str, history: Sequence[str] = ()) -> RiskAssessment: ...


@runtime_checkable
class SafetyCheck(Protocol):
    """Called before each turn; must be fast and must not raise on odd input. ``history``:
    the user's previous messages in this session, oldest first (at most a few)."""

    name: str

    def check(
        self,
        text: str,
        *,
        persona: Persona | None = None,
        locale: str | None = None,
        history: Sequence[str] = (),
    ) -> SafetyDecision: ...


class SafetyGuard:
    """The default :class:`SafetyCheck`.

    >>> guard = SafetyGuard()
    >>> d = guard.check("I want to end my life", locale="en-GB")
    >>> d.action, d.category, "116 123" in (d.reply or "")
    ('crisis', 'self_harm', True)
    >>> guard.check("are you a real person?").action
    'boundary'
    >>> guard.check("this traffic is killing me").action
    'pass'

    ``locale`` picks the crisis resources; when None, the persona's ``crisis_locale``, then
    ``default_locale``. ``boundaries=False`` turns the boundary replies off.
    """

    name = "guard"

    def __init__(
        self,
        detector: RiskDetector | None = None,
        *,
        resources: ResourceBook | str | Path | None = None,
        default_locale: str = "en-US",
        boundaries: bool = True,
    ) -> None:
        if detector is None:
            from affagent.safety.semantic import load_detector

            detector = load_detector("auto")  # rules + learned stage where the encoder is installed
        self.detector: RiskDetector = detector
        self.book = resources if isinstance(resources, ResourceBook) else load_resources(resources)
        self.default_locale = default_locale
        self.boundaries = boundaries

    def check(
        self,
        text: str,
        *,
        persona: Persona | None = None,
        locale: str | None = None,
        history: Sequence[str] = (),
    ) -> SafetyDecision:
        risk = self.detector.assess(text, history)
        if risk.flagged and risk.category and risk.severity:
            want = locale or (persona.crisis_locale if persona else None) or self.default_locale
            matched, res = self.book.lookup(want)
            rules = [h.rule for h in risk.hits if h.category == risk.category]
            # a conversation already in crisis (an explicit statement among the last turns):
            # a message flagged with it is met with a check-in, not the same long reply again
            ongoing = risk.severity != "high" and any(_EXPLICIT.assess(h).flagged for h in history)
            if ongoing:
                rules.append("follow_up")
            return SafetyDecision(
                action="crisis",
                category=risk.category,
                severity=risk.severity,
                rules=rules,
                reply=(
                    follow_up_reply(risk.category, res)
                    if ongoing
                    else crisis_reply(risk.category, risk.severity, res)
                ),
                locale=matched,
                resources=list(res.resources),
                detector=self.detector.name,
            )
        if self.boundaries:
            hit = detect_boundary(text)
            if hit is not None:
                return SafetyDecision(
                    action="boundary",
                    category=hit.kind,
                    rules=[f"boundary.{hit.kind}"],
                    reply=boundary_reply(hit.kind, persona),
                    detector=self.detector.name,
                )
        return PASS
