"""Benchmark cases: history as the agent stores it, reproducible draws inside the box."""

from __future__ import annotations

from affagent.evals.injection.cases import TARGET_BOX, draw_cases, turn_pairs
from affagent.types import DialogueTurn


def t(speaker: str, text: str, strategy: str | None = None) -> DialogueTurn:
    return DialogueTurn(speaker=speaker, text=text,  # type: ignore[arg-type]
                        strategy=strategy if speaker == "sys" else None)


DIALOGUE = [
    t("sys", "Hello, how can I help?", "Question"),
    t("usr", "Hi."),
    t("usr", "I lost my job."),
    t("sys", "I'm sorry.", "Others"),
    t("sys", "What happened?", "Question"),
    t("usr", "They closed the office."),
    t("sys", "That sounds hard.", "Reflection of feelings"),
    t("usr", "It is."),
    t("sys", "You reached out, which takes courage.", "Affirmation and Reassurance"),
]


def test_turn_pairs_joins_runs_and_drops_the_opening_greeting() -> None:
    split = turn_pairs(DIALOGUE[:6])
    assert split is not None
    pairs, user = split
    assert pairs == [("Hi. I lost my job.", "I'm sorry. What happened?")]
    assert user == "They closed the office."
    assert turn_pairs(DIALOGUE[:1]) is None


def test_draw_cases_is_reproducible_and_inside_the_box() -> None:
    dialogues = [DIALOGUE] * 5
    a = draw_cases(dialogues, 8, seed=1)
    b = draw_cases(dialogues, 8, seed=1)
    assert a == b and len(a) == 8
    assert draw_cases(dialogues, 8, seed=2) != a
    for c in a:
        assert c.user_text in ("Hi. I lost my job.", "They closed the office.", "It is.")
        for k, ax in enumerate("VAD"):
            lo, hi = TARGET_BOX[ax]
            assert lo <= tuple(c.target)[k] <= hi
    # every supporter turn answering a seeker turn is a candidate: 3 per dialogue
    assert len(draw_cases(dialogues, 100, seed=0)) == 15
    gold = {c.case_id: c.gold_strategy for c in draw_cases(dialogues, 100, seed=0)}
    assert gold["0:3"] == "Others" and gold["0:8"] == "Affirmation and Reassurance"


def test_strategies_are_drawn_uniformly() -> None:
    cases = draw_cases([DIALOGUE] * 400, 1200, seed=0)
    counts: dict[str, int] = {}
    for c in cases:
        counts[c.strategy] = counts.get(c.strategy, 0) + 1
    assert len(counts) == 8 and min(counts.values()) > 1200 / 8 * 0.7
