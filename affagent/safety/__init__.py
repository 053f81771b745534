"""Crisis safety and emotional boundaries, checked before every turn.

>>> from affagent.safety import SafetyGuard
>>> guard = SafetyGuard()
>>> decision = guard.check("I don't want to be alive anymore", locale="en-US")
>>> decision.action, decision.category
('crisis', 'self_harm')
>>> print(decision.reply)                                       # doctest: +ELLIPSIS
I'm really sorry you're in this much pain... 988 Suicide & Crisis Lifeline: call or text 988...

- :class:`SafetyCheck` — the protocol callers use (the Agent, the HTTP service);
- :class:`SafetyGuard` — the default: a :class:`RiskDetector` (:class:`RuleBasedDetector`),
  crisis resources per locale (:func:`load_resources`, a YAML the deployer owns) and the
  persona's emotional boundaries (:func:`detect_boundary`, :func:`boundary_reply`);
- :class:`HybridDetector` — the rules plus a sentence-embedding backstop for paraphrases
  (:func:`load_detector` ``"rules" | "hybrid" | "auto"``);
- :func:`guarded_respond` / :func:`guarded_stream` — an Agent turn behind the check (what the
  HTTP service does; the TUI and CLI can use the same two calls);
- :class:`SafetyWebhook` — an optional, bounded, fire-and-forget notification;
- :func:`evaluate` — precision/recall on a labelled JSONL file (``affagent eval safety``).

The detector is rules, evaluated on a set we wrote ourselves (``evals/safety/``); its figures
overstate real-world performance. Read ``docs/safety.md`` before relying on it.
"""

from __future__ import annotations

from affagent.safety.boundaries import BoundaryHit, boundary_reply, detect_boundary
from affagent.safety.detector import RiskAssessment, RuleBasedDetector, RuleHit, normalise
from affagent.safety.evaluate import SafetyItem, SafetyReport, evaluate, load_items
from affagent.safety.guard import PASS, RiskDetector, SafetyCheck, SafetyDecision, SafetyGuard
from affagent.safety.resources import CrisisResource, LocaleResources, ResourceBook, load_resources
from affagent.safety.responses import crisis_reply
from affagent.safety.semantic import EmbeddingRiskDetector, HybridDetector, load_detector
from affagent.safety.turns import check_turn, guarded_respond, guarded_stream, safety_turn
from affagent.safety.webhook import SafetyWebhook

__all__ = [
    "PASS",
    "BoundaryHit",
    "CrisisResource",
    "EmbeddingRiskDetector",
    "HybridDetector",
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
    "check_turn",
    "crisis_reply",
    "detect_boundary",
    "evaluate",
    "guarded_respond",
    "guarded_stream",
    "load_detector",
    "load_items",
    "load_resources",
    "normalise",
    "safety_turn",
]
