"""The default crisis detector: transparent rules for explicit statements, a learned stage for
what rules cannot read, and :func:`load_detector` to pick one by name.

:class:`HybridDetector` runs both on every message:

- the rules (:class:`~affagent.safety.detector.RuleBasedDetector`) read the message alone and
  decide explicit statements, with their severity ("I want to kill myself": ``high``, the full
  crisis reply);
- the learned stage (:class:`~affagent.safety.learned.LearnedRiskDetector`) reads the message
  with the user's last messages and flags indirect risk — means, preparation, passive
  ideation, slang, risk that only the conversation makes clear — as severity ``medium``, whose
  reply asks directly whether the person is thinking of ending their life.

A message is flagged when either flags it. The learned stage does not overrule the rules
(a missed explicit statement is the worse error); the rules' own negation, past-tense and
third-person filters still apply to their hits. If the learned stage fails at run time (a
broken model file), the error is logged once and the rules' verdict stands: the check must
never take a turn down.

Figures and failure cases: ``docs/safety.md`` and ``evals/RESULTS.md``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from typing import Any

from affagent.safety.detector import RiskAssessment, RuleBasedDetector
from affagent.safety.learned import WEIGHTS_DIR, LearnedRiskDetector

_log = logging.getLogger("affagent.safety")

#: The names :func:`load_detector` accepts.
DETECTORS = ("auto", "hybrid", "learned", "rules")


class HybridDetector:
    """Rules + learned stage (see the module doc). ``learned=None`` builds the shipped one."""

    name = "hybrid"

    def __init__(
        self,
        rules: RuleBasedDetector | None = None,
        learned: Any = None,
    ) -> None:
        self.rules = rules or RuleBasedDetector()
        self.learned = learned if learned is not None else LearnedRiskDetector()
        self._failed = False

    def warm_up(self) -> None:
        """Load the learned stage now (and build its ONNX export once), off the first turn."""
        warm = getattr(self.learned, "warm_up", None)
        if callable(warm):
            warm()

    def assess(self, text: str, history: Sequence[str] = ()) -> RiskAssessment:
        r = self.rules.assess(text, history)
        try:
            m = self.learned.assess(text, history)
        except Exception as exc:  # the rules still stand; never fail a turn on the backstop
            if not self._failed:
                _log.error("safety: learned stage failed (%s); using the rules' verdict", exc)
                self._failed = True
            return r
        scores = {**r.scores, **{f"learned.{k}": v for k, v in m.scores.items()}}
        if r.flagged:
            return RiskAssessment(True, r.category, r.severity, scores, r.hits + m.hits,
                                  r.dropped)
        if m.flagged:
            return RiskAssessment(True, m.category, m.severity, scores, r.hits + m.hits,
                                  r.dropped)
        return RiskAssessment(False, None, None, scores, r.hits, r.dropped)


def learned_available() -> str | None:
    """None when the learned stage can run here, else why not (for ``auto``'s warning)."""
    from affagent.errors import ConfigError
    from affagent.perception.encoder import default_encoder_dir

    if not (WEIGHTS_DIR / "meta.json").is_file():
        return f"no safety model in {WEIGHTS_DIR}"
    if importlib.util.find_spec("tokenizers") is None:
        return "the tokenizers package is not installed"
    if importlib.util.find_spec("onnxruntime") is None and importlib.util.find_spec(
            "torch") is None:
        return "neither onnxruntime nor torch is installed"
    try:
        default_encoder_dir()
    except ConfigError as exc:
        return str(exc)
    return None


def load_detector(name: str = "auto") -> Any:
    """A risk detector by name:

    - ``auto`` (the default): ``hybrid`` when the sentence encoder is installed (the
      ``perception`` extra), else ``rules`` with a logged warning;
    - ``hybrid``: rules + learned stage (a :class:`~affagent.errors.ConfigError` when the
      encoder is missing);
    - ``learned``: the learned stage alone (for evaluation);
    - ``rules``: the rules alone (no model; microseconds).

    Nothing heavy is loaded here: the model loads on the first message or ``warm_up()``."""
    from affagent.errors import ConfigError

    if name == "rules":
        return RuleBasedDetector()
    if name in ("auto", "hybrid", "learned"):
        why = learned_available()
        if why is not None:
            if name == "auto":
                _log.warning("safety detector 'auto': %s; using rules only", why)
                return RuleBasedDetector()
            raise ConfigError(f"safety detector {name!r} needs the perception extra: {why}")
        return LearnedRiskDetector() if name == "learned" else HybridDetector()
    raise ConfigError(f"unknown safety detector {name!r}; choose {', '.join(DETECTORS)}")
