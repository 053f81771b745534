"""How a strategy shapes the reply: instruction placement, reply stems after the tone opener,
the sentence limit, and the steer method's coefficients on the prompt."""

from __future__ import annotations

import dataclasses

import pytest

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import ConfigError
from affagent.persona import load_persona
from affagent.prompting import PromptBuilder, PromptInputs
from affagent.prompting.openers import OPENERS, join_prefill, strategy_opener
from affagent.strategy import load_strategies
from affagent.types import StrategyChoice

PERSONA = load_persona("calm-counsellor")
SAD = AffectState(vad=VAD(-0.6, -0.3, -0.3))
STRATEGIES = {s.name: s for s in load_strategies()}


def inputs(strategy: str = "Question", **kw: object) -> PromptInputs:
    base: dict[str, object] = {
        "persona": PERSONA, "state": SAD, "user_text": "I failed my exam.",
        "strategy": StrategyChoice(strategy=strategy, probabilities={strategy: 1.0}),
        "strategy_info": STRATEGIES[strategy], "key": "s:3",
    }
    base.update(kw)
    return PromptInputs(**base)  # type: ignore[arg-type]


def test_every_shipped_strategy_shapes_the_reply() -> None:
    for s in STRATEGIES.values():
        assert s.instruction and s.openers and s.max_sentences


def test_instruction_ends_the_system_prompt_by_default() -> None:
    q = STRATEGIES["Question"]
    p = PromptBuilder("system").build(inputs(hints="The user likely feels: sadness (60%)."))
    assert p.messages[-1].content == "I failed my exam."
    assert p.messages[0].content.endswith(str(q.instruction))  # after the hints
    assert p.sections["instruction"] == q.instruction
    in_user = PromptBuilder("system", instruction_at="user").build(inputs())
    assert in_user.messages[-1].role == "user"
    assert in_user.messages[-1].content == f"I failed my exam.\n\n({q.instruction})"
    assert str(q.instruction) not in in_user.messages[0].content
    with pytest.raises(ConfigError):
        PromptBuilder("system", instruction_at="assistant")


def test_prefill_is_tone_opener_then_strategy_stem() -> None:
    p = PromptBuilder("prefill").build(inputs("Reflection of feelings"))
    assert any(p.prefill.startswith(o + " ") for o in OPENERS["sad"])
    assert any(p.prefill.endswith(o) for o in STRATEGIES["Reflection of feelings"].openers)
    plain = PromptBuilder("system").build(inputs("Reflection of feelings"))
    assert plain.prefill in STRATEGIES["Reflection of feelings"].openers
    assert p.max_sentences == STRATEGIES["Reflection of feelings"].max_sentences


def test_without_a_strategy_nothing_is_added() -> None:
    p = PromptBuilder("system").build(PromptInputs(PERSONA, SAD, "I failed my exam."))
    assert p.prefill == "" and p.max_sentences is None
    assert p.messages[-1].content == "I failed my exam." and "instruction" not in p.sections


def test_stem_choice_is_deterministic_per_key() -> None:
    info = STRATEGIES["Question"]
    assert strategy_opener(info, "a:1") == strategy_opener(info, "a:1")
    assert {strategy_opener(info, f"a:{i}") for i in range(30)} == set(info.openers)
    assert strategy_opener(None, "a:1") == ""
    assert join_prefill("Oh... I'm sorry.", "What") == "Oh... I'm sorry. What"
    assert join_prefill("", "What") == "What" and join_prefill("Okay.", "") == "Okay."


def test_a_run_of_questions_does_not_reuse_the_last_stems() -> None:
    """Ten Questions in a row, each built on the replies so far: no reply opens with a stem
    one of the two before it used (three stems, so one is always fresh)."""
    builder = PromptBuilder("system")
    history: list[tuple[str, str]] = []
    stems = []
    for turn in range(10):
        p = builder.build(inputs(history=list(history), key=f"s:{turn}"))
        stems.append(p.prefill)
        history.append(("I failed my exam.", f"{p.prefill} this, then?"))
    for i, stem in enumerate(stems):
        assert stem not in stems[max(0, i - 2):i], stems
    assert len(set(stems)) == len(STRATEGIES["Question"].openers)


def test_steer_method_carries_the_state_and_strategy_as_coefficients() -> None:
    p = PromptBuilder("steer+prefill").build(inputs())
    assert p.steering == {"V": -0.6, "A": -0.3, "D": -0.3, "strategy:Question": 1.0}
    no_choice = PromptBuilder("steer").build(
        dataclasses.replace(inputs(), strategy=None, strategy_info=None))
    assert no_choice.steering == {"V": -0.6, "A": -0.3, "D": -0.3}
    assert "V=-0.60" in p.sections["steering"] and "state" in p.sections
    assert PromptBuilder("prefill").build(inputs()).steering is None
    assert PromptBuilder("none").build(inputs()).steering is None
