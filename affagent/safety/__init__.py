"""Crisis safety and emotional boundaries, checked before every turn.

>>> from affagent.safety import SafetyGuard
>>> guard = SafetyGuard()
>>> decision = guard.check("I don't want to be alive anymore", locale="en-US")
>>> decision.action, decision.category
('crisis', 'self_harm')
>>> print(decision.reply)                                       # doctest: +ELLIPSIS
I'm really sorry you're in this much pain... 988 Suicide & Crisis Lifeline: call or text 988...

- :class:`SafetyCheck` — the protocol callers use (the Agent, the HTTP service);
- :class:`SafetyGuard` — the default: a :class:`RiskDetector` (``load_detector("auto")``),
  crisis resources per locale (:func:`load_resources`, a YAML the deployer owns) and the
  persona's emotional boundaries (:func:`detect_boundary`, :func:`boundary_reply`);
- :class:`HybridDetector` — the default detector: :class:`RuleBasedDetector` for explicit
  statements plus :class:`LearnedRiskDetector`, a fine-tuned sentence encoder that reads the
  message with the user's last messages (:func:`load_detector` ``"auto" | "hybrid" |
  "learned" | "rules"``);
- the check is a stage of every :class:`affagent.agent.Agent` turn (``AgentConfig.safety``),
  so every interface gets the same decision;
- :class:`SafetyWebhook` — an optional, bounded, fire-and-forget notification;
- :func:`evaluate` — precision/recall on a labelled JSONL file (``affagent eval safety``).

How well it does, per kind of message and where it fails, on a held-out set never used for
tuning: ``docs/safety.md``. Read it before relying on the detector.
"""

from __future__ import annotations

from affagent.safety.boundaries import BoundaryHit, boundary_reply, detect_boundary
from affagent.safety.detector import RiskAssessment, RuleBasedDetector, RuleHit, normalise
from affagent.safety.evaluate import SafetyItem, SafetyReport, evaluate, load_items
from affagent.safety.guard import PASS, RiskDetector, SafetyCheck, SafetyDecision, SafetyGuard
from affagent.safety.learned import LearnedRiskDetector, window_text
from affagent.safety.resources import CrisisResource, LocaleResources, ResourceBook, load_resources
from affagent.safety.responses import crisis_reply
from affagent.safety.semantic import HybridDetector, load_detector
from affagent.safety.webhook import SafetyWebhook

__all__ = [
    "PASS",
    "BoundaryHit",
    "CrisisResource",
    "HybridDetector",
    "LearnedRiskDetector",
    "LocaleResources",
    "ResourceBook",
    "RiskAssessment",
    "RiskDetector",
    "RuleBasedDetector",
    "RuleHit",
    "SafetyCheck",
    "SafetyDecision",
    "SafetyGuard",
    "SafetyItem",
    "SafetyReport",
    "SafetyWebhook",
    "boundary_reply",
    "crisis_reply",
    "detect_boundary",
    "evaluate",
    "load_detector",
    "load_items",
    "load_resources",
    "normalise",
    "window_text",
]
