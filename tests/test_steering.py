"""Activation steering: the llama.cpp buffer layout, finding vectors for a model file, and
(slow) the real model: steering changes the reply, and an unsteered call after a steered
one is exactly an unsteered call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from affagent.backends._steering import (
    SteeringSettings,
    SteeringVectors,
    cvec_rows,
    find_vectors,
    load_vectors,
    turn_coefficients,
)
from affagent.errors import ConfigError


def vectors(blocks: int = 6, hidden: int = 4) -> SteeringVectors:
    dirs = {ax: np.full((blocks, hidden), k + 1, dtype=np.float32) for k, ax in enumerate("VAD")}
    for b in range(blocks):
        dirs["V"][b] *= 10 * b  # block b's V direction is 10*b in every dimension
    return SteeringVectors(Path("x.npz"), dirs, {})


def test_rows_start_at_layer_one_and_cover_only_the_steered_blocks() -> None:
    vec = vectors()
    rows = cvec_rows(vec, {"V": 0.5}, SteeringSettings(blocks=(2, 4), scale=2.0), n_layers=6)
    assert rows.shape == (6, 4)
    # row il-1 carries block il's direction: blocks 2..4 → rows 1..3, times 0.5 * 2.0
    assert rows[:, 0].tolist() == [0.0, 20.0, 30.0, 40.0, 0.0, 0.0]


def test_axes_add_up_and_unknown_axis_is_an_error() -> None:
    vec = vectors()
    rows = cvec_rows(vec, {"A": 1.0, "D": -1.0}, SteeringSettings(blocks=(1, 5)), n_layers=6)
    assert np.allclose(rows[:5], 2.0 - 3.0) and not rows[5].any()
    with pytest.raises(ConfigError, match="no steering direction X"):
        cvec_rows(vec, {"X": 1.0}, SteeringSettings(), n_layers=6)
    with pytest.raises(ConfigError, match="6 blocks, model has 30"):
        cvec_rows(vec, {"V": 1.0}, SteeringSettings(), n_layers=30)


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError):
        SteeringSettings(blocks=(0, 3))
    with pytest.raises(ConfigError):
        SteeringSettings(scope="prompt")  # type: ignore[arg-type]


def test_vectors_belong_to_one_model_file(tmp_path: Path) -> None:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    meta = {"model": model.name, "model_bytes": 64}
    z = tmp_path / "vec"
    z.mkdir()
    np.savez(z / "tiny.npz", V=np.ones((3, 2), np.float16), meta=np.array(json.dumps(meta)))
    assert find_vectors(model, z) == z / "tiny.npz"
    (z / "tiny.json").write_text(json.dumps({"blocks": [1, 2], "scale": 0.5, "scope": "all"}))
    vec = load_vectors(z / "tiny.npz")
    assert vec.names == ("V",) and vec.settings == SteeringSettings((1, 2), 0.5, "all")
    model.write_bytes(b"GGUF" + bytes(61))  # another quantisation, same name
    assert find_vectors(model, z) is None


def test_embedded_backend_rejects_steering_it_cannot_do(tmp_path: Path) -> None:
    """Before loading anything: a model without vectors has no steering capability and a
    steered call fails with a one-line ConfigError."""
    from affagent.backends._embedded import EmbeddedBackend
    from affagent.types import ChatMessage, GenerationParams

    model = tmp_path / "nothing.gguf"
    model.write_bytes(b"GGUF")
    be = EmbeddedBackend(str(model))
    assert be.capabilities.steering == ()
    assert be.capabilities.injection == "prefill"  # nothing to steer with: the opener

    async def go() -> None:
        async for _ in be.stream([ChatMessage(role="user", content="hi")],
                                 GenerationParams(steering={"V": 1.0})):
            pass

    with pytest.raises(ConfigError, match=r"cannot steer nothing\.gguf"):
        asyncio.run(go())


def test_shipped_default_model_steers_by_default() -> None:
    """The default model ships V, A, D directions and a sidecar; its best method is steer."""
    pytest.importorskip("llama_cpp")
    from affagent.backends._embedded import EmbeddedBackend

    try:
        be = EmbeddedBackend()
    except ConfigError as exc:
        pytest.skip(f"no default model here: {exc}")
    vec = be.steering_vectors()
    assert vec is not None and {"V", "A", "D"} <= set(vec.names)
    assert vec.settings.scale < 1.0  # a unit scale broke the 135M model (evals/RESULTS.md)
    assert be.capabilities.injection == "steer" and type(be).capabilities.injection == "prefill"
    # one direction per ESConv strategy; the three that made replies invent specifics are
    # shipped but not applied (evals/RESULTS.md, "Per-strategy steering")
    from affagent.strategy.metrics import STRATEGY_NAMES

    assert {f"strategy:{s}" for s in STRATEGY_NAMES} <= set(vec.names)
    assert "Question" in vec.settings.strategies
    assert not {"Information", "Providing Suggestions", "Self-disclosure"} & set(
        vec.settings.strategies)


def test_strategy_directions_apply_only_where_the_settings_say() -> None:
    dirs = {k: np.ones((6, 4), np.float32) for k in ("V", "A", "D", "strategy:Question",
                                                      "strategy:Information")}
    vec = SteeringVectors(Path("x.npz"), dirs, {}, SteeringSettings(strategies=("Question",)))
    assert turn_coefficients(vec, {"V": 0.2, "strategy:Question": 1.0}) == {
        "V": 0.2, "strategy:Question": 1.0}
    # shipped but not applied, or not shipped at all: left out, not an error
    assert turn_coefficients(vec, {"V": 0.2, "strategy:Information": 1.0}) == {"V": 0.2}
    assert turn_coefficients(vec, {"V": 0.2, "strategy:Others": 1.0}) == {"V": 0.2}
    with pytest.raises(ConfigError, match="no steering direction X"):
        turn_coefficients(vec, {"X": 1.0})


def test_steering_strategies_option_overrides_the_sidecar(tmp_path: Path) -> None:
    from affagent.backends._embedded import EmbeddedBackend

    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    np.savez(tmp_path / "tiny.npz", V=np.ones((3, 2), np.float16),
             **{"strategy:Question": np.ones((3, 2), np.float16)},
             meta=np.array(json.dumps({"model_bytes": 64})))
    (tmp_path / "tiny.json").write_text(json.dumps(
        {"blocks": [1, 2], "scale": 0.5, "strategies": ["Question"]}))
    path = str(tmp_path / "tiny.npz")
    vec = EmbeddedBackend(str(model), steering=path).steering_vectors()
    assert vec is not None and vec.settings.strategies == ("Question",)
    assert "strategy:Question" in vec.names
    off = EmbeddedBackend(str(model), steering=path, steering_strategies="none")
    assert off.steering_vectors().settings.strategies == ()  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="steering_strategies: unknown Chitchat"):
        EmbeddedBackend(str(model), steering=path, steering_strategies="Question,Chitchat")


@pytest.mark.embedded
@pytest.mark.parametrize("scope", ["reply", "all"])
def test_real_model_steering_changes_the_reply_and_leaves_no_trace(scope: str) -> None:
    """Greedy replies on the shipped model: a steered call differs from the unsteered one,
    repeats itself exactly, and an unsteered call afterwards is exactly the first (the
    control vector is cleared and no KV computed while steered is reused)."""
    from affagent.backends._embedded import EmbeddedBackend, clear_cache
    from affagent.types import ChatMessage, GenerationParams

    clear_cache()  # a context of our own: other tests' calls would change what "fresh" is
    be = EmbeddedBackend(seeded_reset=False, prompt_cache=False, steering_scope=scope)
    if not be.capabilities.steering:
        pytest.skip("no steering vectors for the default model")
    assert set(be.capabilities.steering) >= {"V", "A", "D"}
    msgs = [ChatMessage(role="system", content="You are a supportive listener."),
            ChatMessage(role="user", content="My boss shouted at me in front of everyone.")]

    def gen(steering: dict[str, float] | None) -> str:
        params = GenerationParams(max_tokens=20, temperature=0.0, seed=1, steering=steering)
        return asyncio.run(be.generate(msgs, params))

    # A fresh context reads the whole prompt in one batch; later calls reuse its KV prefix and
    # read the last token alone, which rounds differently. Scope "all" resets the context, so
    # the unsteered call after it is a fresh read again; scope "reply" keeps the prompt's KV.
    fresh = gen(None)
    plain = gen(None)
    assert gen(None) == plain
    happy = gen({"V": 1.0, "A": 0.0, "D": 0.0})
    assert happy not in (plain, fresh)
    assert gen({"V": 1.0, "A": 0.0, "D": 0.0}) == happy
    after = gen(None)
    assert after == (plain if scope == "reply" else fresh)
    assert gen({"V": 0.0, "A": 0.0, "D": 0.0}) == plain  # a zero state steers nothing
    # the chosen strategy's direction moves the reply where the settings apply it, and is
    # left out where they do not
    asking = gen({"V": 0.0, "A": 0.0, "D": 0.0, "strategy:Question": 1.0})
    assert asking != plain
    not_applied = gen({"V": 0.0, "A": 0.0, "D": 0.0, "strategy:Information": 1.0})
    assert not_applied == (plain if scope == "reply" else fresh)  # as `after` above
