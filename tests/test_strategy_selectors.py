from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from affagent.errors import ConfigError
from affagent.strategy import STRATEGY_NAMES, load_selector
from affagent.strategy.baselines import TRAIN_COUNTS, train_prior
from affagent.strategy.calibration import apply_offsets, match_marginals, prior_offsets
from affagent.strategy.data import iter_examples, load_esconv
from affagent.strategy.features import (
    CONTEXT_BLOCKS,
    N_STRUCTURED,
    context_features,
    context_texts,
    structured_features,
    texts_to_encode,
)
from affagent.strategy.learned import (
    DEFAULT_WEIGHTS,
    MINILM_WEIGHTS,
    LearnedSelector,
    StrategyHead,
    load_head,
)
from affagent.strategy.llm import LLMSelector, parse_strategy
from affagent.types import (
    BackendCapabilities,
    DialogueTurn,
    StrategyContext,
    StrategySelector,
    VADEstimate,
)
from tests.agent_fakes import FakeBackend

DIM = 16


class HashEncoder:
    """Deterministic fake encoder: unit vectors seeded by the text's hash."""

    name = "hash"
    dim = DIM

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = []
        for t in texts:
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=DIM)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32)


class HashPerception(HashEncoder):
    """A fake perception encoder: hash vectors (not unit-norm) plus an affect reading."""

    affect_dim = 4

    def __init__(self, fingerprint: str = "fake") -> None:
        super().__init__()
        self._fp = fingerprint

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return 3.0 * super().encode(texts)

    def affect(self, pooled: np.ndarray) -> np.ndarray:
        return np.asarray(pooled)[..., : self.affect_dim] * 2.0

    def fingerprint(self) -> str:
        return self._fp


def _dialogue() -> list[DialogueTurn]:
    return [
        DialogueTurn(speaker="usr", text="Hi there."),
        DialogueTurn(speaker="sys", text="Hello! How are you?", strategy="Question"),
        DialogueTurn(speaker="usr", text="Bad. I lost my job."),
        DialogueTurn(speaker="usr", text="What should I do?"),
    ]


def _head(tmp_path: Path, offsets: np.ndarray | None = None) -> Path:
    rng = np.random.default_rng(0)
    d_in = 3 * DIM + N_STRUCTURED
    layers = [
        (rng.normal(size=(d_in, 12)).astype(np.float32), np.zeros(12, np.float32)),
        (rng.normal(size=(12, 8)).astype(np.float32), np.zeros(8, np.float32)),
    ]
    off = offsets if offsets is not None else np.linspace(-1, 1, 8)
    head = StrategyHead(layers, np.zeros(d_in), np.ones(d_in), off, {"dim": DIM, "fp16": True})
    path = tmp_path / "head.npz"
    head.save(path)
    return path


def _perception_head(tmp_path: Path, fingerprint: str = "fake") -> Path:
    rng = np.random.default_rng(1)
    d_in = len(CONTEXT_BLOCKS) * DIM + 2 * HashPerception.affect_dim + N_STRUCTURED
    layers = [(rng.normal(size=(d_in, 8)).astype(np.float32), np.zeros(8, np.float32))]
    meta = {"dim": DIM, "features": "perception", "perception_fingerprint": fingerprint}
    head = StrategyHead(layers, np.zeros(d_in), np.ones(d_in), np.zeros(8), meta)
    path = tmp_path / "perception.npz"
    head.save(path)
    return path


def test_perception_selector_reads_each_utterance_once(tmp_path: Path) -> None:
    enc = HashPerception()
    sel = LearnedSelector(_perception_head(tmp_path), encoder=enc)
    assert sel.name == "learned" and sel.kind == "perception"
    ctxs = [StrategyContext(dialogue=_dialogue()[: k + 1]) for k in range(4)]
    probs = sel.predict_proba(ctxs)
    assert probs.shape == (4, 8) and np.allclose(probs.sum(axis=1), 1.0)
    # one call for the whole batch, each text once, exactly as written
    assert len(enc.calls) == 1 and sorted(enc.calls[0]) == sorted(t.text for t in _dialogue())
    # select (one context, with a reason) and predict_proba (batches) agree
    one = sel.select(ctxs[-1])
    assert np.allclose([one.probabilities[n] for n in sel.names], probs[-1], atol=1e-6)
    # a context with no supporter turn yet has zero supporter blocks
    x = sel.features(ctxs[:1])[0]
    assert not x[2 * DIM : 4 * DIM].any() and x[:DIM].any()


def test_context_features_layout_and_affect() -> None:
    d = _dialogue()
    enc = HashPerception()
    table = dict(zip(context_texts(d), enc.encode(context_texts(d)), strict=True))
    x = context_features(d, table, DIM, enc.affect, enc.affect_dim)
    n_text = len(CONTEXT_BLOCKS) * DIM
    assert x.shape == (n_text + 2 * enc.affect_dim + N_STRUCTURED,)
    blocks = x[:n_text].reshape(len(CONTEXT_BLOCKS), DIM)
    # unit blocks; the supporter's turn before last does not exist yet: zero
    assert np.allclose(np.linalg.norm(blocks, axis=1), [1, 1, 1, 0, 1, 1], atol=1e-5)
    user_block = np.mean([table[t.text] for t in d[2:]], axis=0)
    assert np.allclose(x[n_text : n_text + enc.affect_dim], enc.affect(user_block), atol=1e-5)
    assert np.allclose(blocks[2], table["Hello! How are you?"] / 3.0, atol=1e-5)  # sys_prev
    assert "" not in context_texts([DialogueTurn(speaker="usr", text="  ")])


def test_perception_head_refuses_another_perception_model(tmp_path: Path) -> None:
    sel = LearnedSelector(_perception_head(tmp_path, "aaaa"), encoder=HashPerception("bbbb"))
    with pytest.raises(ConfigError, match=r"trained on perception weights aaaa.*retrain"):
        sel.select(StrategyContext(dialogue=_dialogue()))
    with pytest.raises(ConfigError, match="affect"):
        LearnedSelector(_perception_head(tmp_path), encoder=HashEncoder())


def test_learned_selector_contract_with_fake_encoder(tmp_path: Path) -> None:
    enc = HashEncoder()
    sel = LearnedSelector(_head(tmp_path), encoder=enc)
    assert isinstance(sel, StrategySelector)
    choice = sel.select(StrategyContext(dialogue=_dialogue()))
    assert choice.strategy in STRATEGY_NAMES
    assert set(choice.probabilities) == set(STRATEGY_NAMES)
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)
    assert choice.strategy == max(choice.probabilities, key=choice.probabilities.__getitem__)
    assert "after Question" in choice.reason and "user asked a question" in choice.reason
    # one encoder pass, each utterance once
    assert len(enc.calls) == 1 and len(enc.calls[0]) == len(set(enc.calls[0]))


def test_bias_control_shifts_by_the_offsets(tmp_path: Path) -> None:
    path = _head(tmp_path)
    ctxs = [StrategyContext(dialogue=_dialogue()[: k + 1]) for k in range(4)]
    on = LearnedSelector(path, encoder=HashEncoder()).predict_proba(ctxs)
    off = LearnedSelector(path, encoder=HashEncoder(), bias_control=False).predict_proba(ctxs)
    ratio = np.log(on) - np.log(off)
    offsets = np.linspace(-1, 1, 8)
    # same shift for every row, up to renormalisation
    assert np.allclose(ratio - ratio[:, :1], offsets - offsets[0], atol=1e-3)


def test_missing_or_broken_head_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train one with scripts/train_strategy\.py"):
        LearnedSelector(tmp_path / "none.npz", encoder=HashEncoder())
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ConfigError, match="not a strategy head"):
        load_head(bad)


def test_structured_features_reflect_context() -> None:
    d = _dialogue()
    f = structured_features(d)
    assert f.shape == (N_STRUCTURED,)
    assert f[STRATEGY_NAMES.index("Question")] == 1.0  # previous strategy one-hot
    assert f[-1] == 0.0  # no VAD given
    vad = [VADEstimate(V=-0.2, A=0.1, D=0.0), VADEstimate(V=-0.6, A=0.4, D=-0.2)]
    g = structured_features(d, vad)
    assert g[-1] == 1.0 and g[-7] == pytest.approx(-0.6) and g[-4] == pytest.approx(-0.4)
    assert texts_to_encode(d)[:2] == ["Bad. I lost my job.", "What should I do?"]


def test_match_marginals_hits_the_target_shares() -> None:
    rng = np.random.default_rng(1)
    lp = np.log(rng.dirichlet(np.ones(8) * 0.5, size=4000))
    lp[:, 0] += 1.5  # a head that over-predicts strategy 0
    target = train_prior()
    b = match_marginals(lp, target)
    share = np.bincount(np.argmax(lp + b, axis=1), minlength=8) / len(lp)
    assert np.abs(share - target).sum() < 0.02
    assert apply_offsets(lp, b).sum(axis=1) == pytest.approx(np.ones(len(lp)))
    assert prior_offsets(target, 1.0) == pytest.approx(-np.log(target))


def test_train_counts_match_the_data(shared_data: Path) -> None:
    from collections import Counter

    c = Counter(e.gold for e in iter_examples(load_esconv(shared_data / "esconv/train.jsonl")))
    assert dict(c) == TRAIN_COUNTS


def test_baselines() -> None:
    ctx = StrategyContext(dialogue=_dialogue())
    assert load_selector("prior").select(ctx).strategy == "Others"
    draws = {load_selector("uniform", seed=s).select(ctx).strategy for s in range(40)}
    assert len(draws) >= 6
    sampled = load_selector("prior", sample=True, seed=3)
    assert isinstance(sampled, StrategySelector)
    with pytest.raises(ConfigError, match="unknown selector"):
        load_selector("oracle")
    with pytest.raises(ConfigError, match="needs a backend"):
        load_selector("llm")
    with pytest.raises(ConfigError, match="selector 'prior'"):
        load_selector("prior", colour="red")


OPENAI_LIKE = BackendCapabilities(constrained="structured_outputs")
EMBEDDED_LIKE = BackendCapabilities(constrained="guided_choice")


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("Question", "Question"),
        ("  [reflection of feelings]. ", "Reflection of feelings"),
        ("I would use Providing Suggestions here.", "Providing Suggestions"),
        ("paraphrase what they said", "Restatement or Paraphrasing"),
        ("Offer reassurance", "Affirmation and Reassurance"),
        ("¯\\_(ツ)_/¯", None),
    ],
)
def test_parse_strategy(answer: str, expected: str | None) -> None:
    assert parse_strategy(answer, STRATEGY_NAMES) == expected


def test_llm_selector_prompts_parses_and_constrains() -> None:
    fake = FakeBackend(replies=["Reflection of Feelings", "no idea"], capabilities=EMBEDDED_LIKE)
    sel = LLMSelector(fake, constrained="guided_choice")
    ctx = StrategyContext(dialogue=_dialogue())
    c1 = sel.select(ctx)
    assert c1.strategy == "Reflection of feelings" and c1.probabilities[c1.strategy] == 1.0
    msgs, params = fake.calls[0]
    assert "Articulate and describe the help-seeker's feelings" in msgs[0].content
    assert "Supporter [Question]: Hello! How are you?" in msgs[1].content
    assert params.extra_body["guided_choice"] == list(STRATEGY_NAMES)
    c2 = asyncio.run(sel.aselect(ctx))
    assert c2.strategy == "Others" and "fell back" in c2.reason
    vllm = LLMSelector(
        FakeBackend(replies=["Question"], capabilities=OPENAI_LIKE)
    )
    vllm.select(ctx)
    assert vllm.constrained == "structured_outputs"
    assert vllm.backend.calls[0][1].extra_body["structured_outputs"] == {  # type: ignore[attr-defined]
        "choice": list(STRATEGY_NAMES)
    }
    assert LLMSelector(FakeBackend(replies=["x"])).constrained == "none"


async def test_llm_select_works_inside_a_running_loop() -> None:
    sel = LLMSelector(FakeBackend(replies=["Information"]))
    assert sel.select(StrategyContext(dialogue=_dialogue())).strategy == "Information"


@pytest.mark.parametrize("path", [DEFAULT_WEIGHTS, MINILM_WEIGHTS], ids=["learned", "minilm"])
def test_shipped_head_metadata_is_honest(path: Path) -> None:
    assert path.exists(), f"ship {path}"
    head = load_head(path)
    meta = head.meta
    assert meta["names"] == list(STRATEGY_NAMES) and meta["dim"] == 384
    assert "CC BY-NC 4.0" in meta["licence"]
    matched, none = meta["valid"]["matched"], meta["valid"]["none"]
    # bias control must pay for itself: lower B and higher Q than the raw head
    assert matched["B"] < none["B"] and matched["Q"] > none["Q"]
    assert matched["B"] <= 0.25


def test_shipped_learned_head_matches_the_shipped_perception_weights() -> None:
    """Retraining perception without retraining the strategy head must fail here, not in a
    user's conversation."""
    from affagent.perception.model import WEIGHTS_DIR
    from affagent.strategy.encoder import perception_fingerprint

    meta = load_head(DEFAULT_WEIGHTS).meta
    assert meta["features"] == "perception"
    assert meta["perception_fingerprint"] == perception_fingerprint(WEIGHTS_DIR)
    assert load_selector("learned-minilm").name == "learned-minilm"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_learned_selector_reuses_the_perception_pass() -> None:
    """What the agent does: perceive the user's text, reflect on its reply, then choose. The
    real selector must run no encoder pass of its own for texts perception has read."""
    from affagent.perception import load_estimator

    est = load_estimator()
    d = _dialogue()
    est.estimate([t.text for t in d])  # the agent read every one of these turns
    sel = load_selector("learned")
    enc = sel.encoder  # type: ignore[attr-defined]
    model = enc.model
    assert model is est.model  # type: ignore[attr-defined]  (one process-wide model)
    passes: list[list[str]] = []
    real = model.encoder._forward
    model.encoder._forward = lambda texts: passes.append(list(texts)) or real(texts)
    try:
        choice = sel.select(StrategyContext(dialogue=d))
        assert passes == []
        new = [*d, DialogueTurn(speaker="usr", text="Nobody ever listens to me.")]
        sel.select(StrategyContext(dialogue=new))
        assert passes == [["Nobody ever listens to me."]]  # only the unseen text
    finally:
        model.encoder._forward = real
    assert choice.strategy in STRATEGY_NAMES
    assert "the user's message reads as" in choice.reason and "(V -" in choice.reason


@pytest.mark.slow
def test_real_learned_selector_beats_baselines_on_valid_subset(shared_data: Path) -> None:
    """Both shipped heads with their real encoders on the first 300 valid turns."""
    from affagent.strategy.evaluation import evaluate_selector

    dialogues = load_esconv(shared_data / "esconv/valid.jsonl")
    prior, _, _ = evaluate_selector(load_selector("prior"), dialogues, limit=300)
    for name in ("learned", "learned-minilm"):
        learned, _, _ = evaluate_selector(load_selector(name), dialogues, limit=300)
        assert learned.accuracy > prior.accuracy and learned.Q > prior.Q + 10, name
        assert learned.B < 0.5, name
        choice = load_selector(name).select(StrategyContext(dialogue=_dialogue()))
        assert choice.strategy in STRATEGY_NAMES and choice.reason


@pytest.mark.parametrize(
    "dialogue",
    [
        [],
        [DialogueTurn(speaker="usr", text="")],
        [DialogueTurn(speaker="sys", text="Hi, I'm here to listen.", strategy=None)],
        [DialogueTurn(speaker="usr", text="😢 " * 500 + "情绪很低落")],
    ],
)
def test_learned_selector_survives_odd_contexts(tmp_path: Path, dialogue: list) -> None:
    for sel in (LearnedSelector(_head(tmp_path), encoder=HashEncoder()),
                LearnedSelector(_perception_head(tmp_path), encoder=HashPerception())):
        choice = sel.select(StrategyContext(dialogue=dialogue))
        assert choice.strategy in STRATEGY_NAMES
        assert np.isfinite(list(choice.probabilities.values())).all()
