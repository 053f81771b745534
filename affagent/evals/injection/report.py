"""Score generated replies per method: tone, strategy adherence, fluency, relevance, cost.

Only the model's own words are judged (``Generation.own``: what a method put in front is
stripped); tone is also reported on the whole reply the user reads (``tone.AXIS.whole``), so
a method whose opener carries the tone shows it there and not in the model's words; the
completeness of a reply is judged on the whole text the user reads. The judge
of tone is the EmoBank-trained estimator and of strategy the adherence judge
(:mod:`affagent.evals.injection.judge`); neither chooses anything in the prompt.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from affagent.evals.injection.cases import Case
from affagent.evals.injection.runner import Generation
from affagent.evals.injection.scoring import (
    AXES,
    complete_sentence,
    copies_example,
    distinct_n,
    ends_with_question,
    has_question,
    repeated_trigram_rate,
    shuffled_pairs,
    tokens,
    tone_stats,
)
from affagent.strategy.metrics import STRATEGY_NAMES
from affagent.types import VADEstimator

__all__ = ["Judge", "TextEncoderLike", "score_methods"]


class Judge(Protocol):
    @property
    def ceiling(self) -> dict[str, float]: ...

    def classify(self, replies: Sequence[str], contexts: Sequence[str]) -> list[str]: ...


class TextEncoderLike(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mean(xs: Sequence[float]) -> float | None:
    return round(statistics.fmean(xs), 4) if xs else None


def score_methods(
    cases: Sequence[Case],
    generations: Sequence[Generation],
    methods: Sequence[str],
    *,
    estimator: VADEstimator,
    judge: Judge,
    encoder: TextEncoderLike,
    seed: int = 0,
    n_boot: int = 1000,
    examples: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The per-method report (the ``methods`` object of ``--json``). ``examples``: each
    strategy's example text, as the prompt showed it (default: the strategy files')."""
    if examples is None:
        from affagent.strategy import load_strategies

        examples = {s.name: s.example for s in load_strategies()}
    by_case = {c.case_id: c for c in cases}
    seeker = estimator.estimate([c.user_text for c in cases])
    seeker_by = {c.case_id: e for c, e in zip(cases, seeker, strict=True)}
    user_vec = encoder.encode([c.user_text if c.user_text.strip() else "." for c in cases])
    user_by = {c.case_id: v for c, v in zip(cases, user_vec, strict=True)}
    out: dict[str, dict[str, Any]] = {}
    none_cost = None
    for m in methods:
        gens = [g for g in generations if g.method == m]
        if not gens:
            continue
        cs = [by_case[g.case_id] for g in gens]
        own = [g.own for g in gens]
        est = estimator.estimate(own)
        whole = estimator.estimate([g.reply for g in gens])
        tone = {}
        for k, ax in enumerate(AXES):
            tgt = [tuple(c.target)[k] for c in cs]
            rep = [(e.V, e.A, e.D)[k] for e in est]
            sk = [(seeker_by[c.case_id].V, seeker_by[c.case_id].A, seeker_by[c.case_id].D)[k]
                  for c in cs]
            full = [(e.V, e.A, e.D)[k] for e in whole]
            whole_stats = tone_stats(tgt, full, sk, n_boot=n_boot, seed=seed)
            tone[ax] = {**tone_stats(tgt, rep, sk, n_boot=n_boot, seed=seed),
                        "mean_reply": _mean(rep),
                        # what the user reads (opener included): the same statistics
                        "whole": {"r": whole_stats["r"], "partial_r": whole_stats["partial_r"],
                                  "ci": whole_stats["ci"]}}
        contexts = [c.user_text for c in cs]
        pred = judge.classify(own, contexts)
        pred_full = judge.classify([g.reply for g in gens], contexts)
        hit = [p == c.strategy for p, c in zip(pred, cs, strict=True)]
        hit_full = [p == c.strategy for p, c in zip(pred_full, cs, strict=True)]
        per_strategy = {}
        for name in STRATEGY_NAMES:
            idx = [i for i, c in enumerate(cs) if c.strategy == name]
            per_strategy[name] = {
                "n": len(idx),
                "adherence": _share([hit[i] for i in idx]),
                "asks": _share([has_question(own[i]) for i in idx]),
            }
        q_idx = [i for i, c in enumerate(cs) if c.strategy == "Question"]
        o_idx = [i for i, c in enumerate(cs) if c.strategy != "Question"]
        vecs = encoder.encode([t if t.strip() else "." for t in own])
        users = np.stack([user_by[c.case_id] for c in cs])
        cos = (vecs * users).sum(axis=1)
        perm = shuffled_pairs(len(cs), seed)
        cos_shuf = (vecs * users[perm]).sum(axis=1)
        cost = [g.prompt_ms + g.gen_ms for g in gens]
        res: dict[str, Any] = {
            "n": len(gens),
            "tone": tone,
            "adherence": {
                "overall": _share(hit),
                "whole_reply": _share(hit_full),
                "ceiling": judge.ceiling,
                "chance": round(1 / len(STRATEGY_NAMES), 4),
                "per_strategy": per_strategy,
                "question": {
                    "question_target_contains": _share([has_question(own[i]) for i in q_idx]),
                    "question_target_ends": _share(
                        [ends_with_question(own[i]) for i in q_idx]),
                    "other_targets_contain": _share([has_question(own[i]) for i in o_idx]),
                    "other_targets_end": _share([ends_with_question(own[i]) for i in o_idx]),
                },
            },
            "fluency": {
                "complete_rate": _share([complete_sentence(g.reply) for g in gens]),
                "distinct_1": round(distinct_n(own, 1), 4),
                "distinct_2": round(distinct_n(own, 2), 4),
                "repeat_trigram_rate": _mean([repeated_trigram_rate(t) for t in own]),
                "mean_tokens": _mean([float(len(tokens(t))) for t in own]),
                "empty_rate": _share([not t.strip() for t in own]),
                # 5 words in a row from the strategy's example in the prompt
                "example_copy_rate": _share([
                    copies_example(t, examples.get(c.strategy, ""))
                    for t, c in zip(own, cs, strict=True)
                ]),
            },
            "relevance": {"mean": _mean([float(x) for x in cos]),
                          "shuffled": _mean([float(x) for x in cos_shuf])},
            "timing": {
                "prompt_ms": _mean([g.prompt_ms for g in gens]),
                "gen_ms": _mean([g.gen_ms for g in gens]),
                "cached_share": _share([g.cached for g in gens]),
            },
            "overhead_ms": None,
        }
        if m == "none":
            none_cost = statistics.fmean(cost)
        out[m] = res
        out[m]["_cost"] = statistics.fmean(cost)
    for res in out.values():
        c = res.pop("_cost")
        res["overhead_ms"] = round(c - none_cost, 1) if none_cost is not None else None
    return out
