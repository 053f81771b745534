"""The learned stage of the crisis detector: a fine-tuned sentence encoder that reads meaning.

Rules catch explicit statements; people in crisis often speak indirectly ("I checked how many
of my sleeping pills would be enough", "I've written letters to my family") and the words of
risk also fill ordinary talk ("this commute is killing me", "I counted my pills for the
pharmacy"). :class:`LearnedRiskDetector` reads the message *with the user's last few
messages* in one encoder pass and gives a probability per class (none, self_harm, violence).

The model is all-MiniLM-L6-v2 with a small LoRA adapter and a linear head on the mean-pooled
token states, trained by ``scripts/train_safety.py`` on ``evals/safety/tune.jsonl``,
``dev.jsonl``, ``probe.jsonl``, templated contrasts and GoEmotions comments as everyday
negatives; shipped in
``affagent/_weights/safety/`` in the perception weights layout, so it runs on the same
:class:`~affagent.perception.encoder.Encoder` machinery: onnxruntime from a cached ONNX export,
no torch on the hot path once the export exists (``warm_up()`` builds it; torch is imported
once for that). The decision threshold was chosen on out-of-fold predictions of the training
sets (``meta.json``: ``info.threshold``), never on ``evals/safety/heldout.jsonl``.

Why a separate fine-tuned encoder and not the perception or strategy embeddings: a linear probe
on frozen MiniLM embeddings (base or perception's) could not separate "I'm dying to see the new
season" from "I want to die" (out-of-fold recall 0.44 at precision 0.90 on the tuning set; the
perception embedding, tuned for emotion, 0.12); see ``docs/safety.md``. The price is one more
small encoder pass per turn (figures in ``evals/RESULTS.md``).

How history is read: :func:`window_text` joins the last :data:`HISTORY_TURNS` user messages,
oldest first, trimmed from the left to :data:`HISTORY_CHARS` characters, and the message after
a ``[SEP]``: ``"i can't see a way out | nobody would care [SEP] the pills are counted out"``.
The model was trained on such windows, including mirrored pairs (the same final message after
hopelessness and after a pharmacy question), so context raises or lowers the reading of an
ambiguous message, while an explicit message reads the same with or without it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from affagent.safety.detector import (
    CATEGORIES,
    FLAG_THRESHOLD,
    Category,
    RiskAssessment,
    RuleHit,
)

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "_weights" / "safety"
HISTORY_TURNS = 3
HISTORY_CHARS = 360
SEP = " [SEP] "
LABELS: tuple[str, ...] = ("none", *CATEGORIES)


def window_text(
    text: str,
    history: Sequence[str] = (),
    *,
    turns: int = HISTORY_TURNS,
    max_chars: int = HISTORY_CHARS,
) -> str:
    """What the model reads: the last ``turns`` user messages (oldest first, cut from the
    left to ``max_chars``) and the message after ``[SEP]``; the message alone without history.

    >>> window_text("the pills are counted", ["I feel hopeless", "nothing changes"])
    'I feel hopeless | nothing changes [SEP] the pills are counted'
    >>> window_text("hello")
    'hello'
    """
    msg = " ".join(text.split())
    past = [" ".join(h.split()) for h in list(history)[-turns:] if h and h.strip()]
    if not past or turns <= 0:
        return msg
    ctx = " | ".join(past)
    if len(ctx) > max_chars:
        ctx = ctx[-max_chars:]
        cut = ctx.find(" ")
        ctx = ctx[cut + 1 :] if 0 <= cut < 40 else ctx
    return f"{ctx}{SEP}{msg}"


def read_meta(weights: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """The shipped model's ``meta.json`` (threshold, training info)."""
    data: dict[str, Any] = json.loads((weights / "meta.json").read_text(encoding="utf-8"))
    return data


class LearnedRiskDetector:
    """The fine-tuned encoder + risk head (see the module doc). Thread-safe; the model loads
    on first use or :meth:`warm_up` (which also builds the ONNX export once)."""

    name = "learned"

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        threshold: float | None = None,
        runtime: str | None = None,
    ) -> None:
        self.weights = Path(weights) if weights else WEIGHTS_DIR
        if not (self.weights / "meta.json").is_file():
            from affagent.errors import ConfigError

            raise ConfigError(f"{self.weights}: no safety model (meta.json missing)")
        info = read_meta(self.weights).get("info", {})
        self.threshold = float(threshold if threshold is not None else info["threshold"])
        self._runtime = runtime
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from affagent.perception.model import load_model

                self._model = load_model(self.weights, runtime=self._runtime)
            return self._model

    def warm_up(self) -> None:
        """Load the model (and export it to ONNX once) now, off the first turn."""
        self.probabilities("warming up")

    def probabilities(self, text: str, history: Sequence[str] = ()) -> dict[str, float]:
        """P(none), P(self_harm), P(violence) for the message read in its context."""
        m = self.model
        head = m.head("risk")
        enc = m.encode([window_text(text, history)])[0]
        p = head.probs(head.logits(enc.pooled[None, :]))[0]
        return {label: float(v) for label, v in zip(head.labels, p, strict=True)}

    def assess(self, text: str, history: Sequence[str] = ()) -> RiskAssessment:
        """Flag (severity ``medium``: the reply asks directly) when P(risk) ≥ the threshold."""
        if not text.strip():
            zero: dict[str, float] = dict.fromkeys(CATEGORIES, 0.0)
            return RiskAssessment(False, None, None, zero)
        p = self.probabilities(text, history)
        risk = sum(p[c] for c in CATEGORIES)
        cat: Category = max(CATEGORIES, key=lambda c: p[c])
        scores: dict[str, float] = {c: round(p[c], 4) for c in CATEGORIES}
        if risk < self.threshold:
            return RiskAssessment(False, None, None, scores)
        rule = "learned+history" if any(h.strip() for h in history) else "learned"
        hit = RuleHit(rule, cat, "medium", FLAG_THRESHOLD, (0, len(text)), text)
        return RiskAssessment(True, cat, "medium", scores, (hit,))

