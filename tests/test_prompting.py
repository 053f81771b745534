"""Prompt assembly: sections, injection methods, the tone bank and the history window."""

from __future__ import annotations

import pytest

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import ConfigError
from affagent.persona import load_persona
from affagent.prompting import PromptBuilder, PromptInputs, default_hints, parse_injection
from affagent.prompting.openers import OPENERS, choose_opener, tone_label
from affagent.types import EmotionResult, StrategyChoice

PERSONA = load_persona("calm-counsellor")
ANGRY = AffectState(vad=VAD(-0.5, 0.6, 0.3), velocity=VAD(0.1, -0.05, 0.0))


def inputs(**kw: object) -> PromptInputs:
    base: dict[str, object] = {"persona": PERSONA, "state": ANGRY, "user_text": "hi"}
    base.update(kw)
    return PromptInputs(**base)  # type: ignore[arg-type]


def test_system_prompt_has_persona_state_numbers_and_words() -> None:
    p = PromptBuilder("system").build(inputs())
    system = p.messages[0].content
    assert p.messages[0].role == "system" and p.messages[-1].content == "hi"
    assert PERSONA.name in system and PERSONA.boundaries[0] in system
    assert "V=-0.50 A=+0.60 D=+0.30" in system
    assert "you feel" in p.sections["state"] and "calming down" in p.sections["state"]
    assert p.prefill == "" and "prefill" not in p.sections


def test_strategy_and_hints_sections() -> None:
    class Info:
        guidance = "Name the feeling you hear, gently."
        example = "It sounds like you feel let down."

    choice = StrategyChoice(strategy="Reflection of feelings", probabilities={"x": 1.0})
    hints = default_hints(
        EmotionResult(labels={"sadness": 0.6, "fear": 0.2}, causes=[("lost", 0.9), ("alone", 0.4)])
    )
    p = PromptBuilder("system").build(inputs(strategy=choice, strategy_info=Info(), hints=hints))
    assert "Reflection of feelings" in p.sections["strategy"]
    assert Info.guidance in p.sections["strategy"]
    # the example reply only on request: models copy it into their replies
    assert Info.example not in p.sections["strategy"]
    shown = PromptBuilder("system", strategy_example=True).build(
        inputs(strategy=choice, strategy_info=Info(), hints=hints))
    assert f'For example: "{Info.example}"' in shown.sections["strategy"]
    assert "sadness (60%)" in p.sections["hints"] and '"lost"' in p.sections["hints"]
    assert "Prioritise" in p.sections["hints"]
    assert list(p.sections) == ["persona", "state", "strategy", "hints"]


def test_prefill_opener_follows_state_tone_and_is_deterministic() -> None:
    b = PromptBuilder("prefill")
    friend = load_persona("warm-companion")  # role: contagion, so it may sound angry
    p1 = b.build(inputs(persona=friend, key="s:1"))
    p2 = b.build(inputs(persona=friend, key="s:1"))
    assert p1.prefill == p2.prefill and p1.prefill in OPENERS["angry"]
    # a counsellor (empathic_concern) in the same state opens with concern, not anger
    assert b.build(inputs(key="s:1")).prefill in OPENERS["concerned"]
    fewshot = PromptBuilder("fewshot").build(inputs(key="s:1"))
    assert "irritated" not in fewshot.sections["fewshot"]
    sad = b.build(inputs(state=AffectState(vad=VAD(-0.6, -0.3, -0.3)), key="s:1"))
    assert sad.prefill in OPENERS["sad"]
    calm = b.build(inputs(state=AffectState(), key="s:1"))
    assert calm.prefill in OPENERS["neutral"]
    assert p1.sections["prefill"] == p1.prefill


@pytest.mark.parametrize(
    "vad,label",
    [
        ((0.7, 0.5, 0.3), "joyful"),
        ((0.7, -0.4, 0.0), "relaxed"),
        ((-0.6, -0.3, -0.3), "sad"),
        ((-0.5, 0.6, 0.3), "angry"),
        ((-0.6, 0.6, -0.4), "anxious"),
        ((0.05, 0.0, 0.05), "neutral"),
    ],
)
def test_tone_labels(vad: tuple[float, float, float], label: str) -> None:
    assert tone_label(VAD(*vad)) == label
    assert choose_opener(VAD(*vad), "k") in OPENERS[label]
    caring = "concerned" if label in ("angry", "anxious") else label
    for role in ("empathic_concern", "composed"):
        assert tone_label(VAD(*vad), role) == caring
    assert tone_label(VAD(*vad), "contagion") == label


def test_fewshot_and_none_and_combinations() -> None:
    p = PromptBuilder("fewshot+prefill").build(inputs(history=[("u1", "a1")], key="k"))
    roles = [m.role for m in p.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert p.prefill and "fewshot" in p.sections
    none = PromptBuilder("none").build(inputs())
    assert "state" not in none.sections and "V=" not in none.messages[0].content
    with pytest.raises(ConfigError, match="unknown injection"):
        parse_injection("system+mindmeld")


def test_history_window_is_bounded_and_messages_cut() -> None:
    long = "word " * 500
    hist = [(f"u{i} {long}", f"a{i} {long}") for i in range(30)]
    p = PromptBuilder("system", history_turns=4, history_chars=100).build(inputs(history=hist))
    assert p.history_used == 4
    assert [m.content[:3] for m in p.messages[1:-1]] == [
        "u26",
        "a26",
        "u27",
        "a27",
        "u28",
        "a28",
        "u29",
        "a29",
    ]
    assert all(len(m.content) <= 100 for m in p.messages[1:-1])
    zero = PromptBuilder("system", history_turns=0).build(inputs(history=hist))
    assert len(zero.messages) == 2


def test_braces_in_user_text_are_not_template_syntax() -> None:
    p = PromptBuilder("system").build(inputs(user_text="{system} {input} {{x}}"))
    assert p.messages[-1].content == "{system} {input} {{x}}"
