"""Prompt hints in the style of HEF (Yang et al. 2024): a small empathetic model names the
user's likely emotions and the words that carry them, and the prompt asks the LLM to attend
to those first."""

from __future__ import annotations

from affagent.types import EmotionResult


def format_hints(result: EmotionResult | None, k: int = 3, *, min_prob: float = 0.05) -> str:
    """Top-``k`` emotions (with probabilities) and the top cause words, as prompt text.

    Labels below ``min_prob`` are left out (the top label is always kept); an empty result
    gives an empty string so the prompt layer can skip the section.

    >>> r = EmotionResult(label_set="goemotions", labels={"sadness": 0.71, "fear": 0.2},
    ...                   causes=[("miss", 1.9), ("alone", 0.8)])
    >>> print(format_hints(r))
    Likely emotions: sadness (0.71), fear (0.20).
    Words that carry them: "miss", "alone". Attend to these first.
    """
    if result is None or not result.labels:
        return ""
    top = result.top(k)
    shown = [top[0]] + [(lab, p) for lab, p in top[1:] if p >= min_prob]
    lines = ["Likely emotions: " + ", ".join(f"{lab} ({p:.2f})" for lab, p in shown) + "."]
    words = [w for w, _ in result.causes[:k]]
    if words:
        lines.append("Words that carry them: " + ", ".join(f'"{w}"' for w in words)
                     + ". Attend to these first.")
    return "\n".join(lines)
