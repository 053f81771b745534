"""Scoring of ``affagent eval injection`` on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from affagent.evals.injection.scoring import (
    complete_sentence,
    copies_example,
    distinct_n,
    ends_with_question,
    has_question,
    own_words,
    repeated_trigram_rate,
    shuffled_pairs,
    tokens,
    tone_stats,
)


def test_own_words_strips_what_a_method_inserted() -> None:
    assert own_words("Oh... I'm sorry. That sounds hard.", "Oh... I'm sorry.") == \
        "That sounds hard."
    assert own_words("What happened next?", "What") == "happened next?"
    assert own_words("A reply without the opener.", "Oh no.") == "A reply without the opener."
    assert own_words("Oh no.", "Oh no.") == ""


@pytest.mark.parametrize(("text", "complete"), [
    ("I see.", True),
    ("Really? Tell me more!", True),
    ('She said "stop."', True),
    ("(That is fine.)", True),
    ("I think that", False),
    ("Well...", False),
    ("So…", False),
    ("Here are some tips:", False),
    ("", False),
    ("Call Dr.", False),
])
def test_complete_sentence(text: str, complete: bool) -> None:
    assert complete_sentence(text) is complete


def test_questions() -> None:
    assert has_question("What? No. Fine.") and not ends_with_question("What? No. Fine.")
    assert ends_with_question('Are you "okay?"') and not has_question("Fine.")


def test_distinct_n_counts_unique_ngrams_across_replies() -> None:
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["same same", "same same"], 2) == pytest.approx(1 / 2)
    assert distinct_n([], 2) == 0.0


def test_repeated_trigram_rate() -> None:
    assert repeated_trigram_rate("one two three four") == 0.0
    # trigrams: (i am here) (am here i) (here i am) (i am here) → 1 of 4 repeats
    assert repeated_trigram_rate("I am here, I am here") == pytest.approx(0.25)
    assert repeated_trigram_rate("hi") == 0.0


def test_copies_example_needs_five_words_in_a_row() -> None:
    ex = "Many people I talk with describe that same knot of dread before a difficult call."
    assert copies_example("I also feel that same knot of dread before exams", ex)
    assert not copies_example("that same knot of worry", ex)  # four of its words in a row
    assert not copies_example("dread knot same that", ex)
    assert not copies_example("anything at all", "")


def test_tokens_split_words_and_punctuation() -> None:
    assert tokens("It's fine, OK?") == ["it", "'", "s", "fine", ",", "ok", "?"]


def test_shuffled_pairs_is_a_derangement() -> None:
    perm = shuffled_pairs(50, seed=3)
    assert sorted(perm) == list(range(50)) and all(i != p for i, p in enumerate(perm))
    assert shuffled_pairs(50, seed=3) == perm


def test_partial_r_removes_what_the_seeker_explains() -> None:
    """Replies that only echo the seeker: raw r with the target is high (the target also
    follows the seeker), partial r given the seeker is ~0. Replies that follow the target
    itself keep a high partial r."""
    rng = np.random.default_rng(0)
    seeker = rng.normal(size=300)
    target = 0.8 * seeker + 0.6 * rng.normal(size=300)
    echo = seeker + 0.1 * rng.normal(size=300)
    follows = target + 0.1 * rng.normal(size=300)
    s_echo = tone_stats(target, echo, seeker, n_boot=200)
    s_follow = tone_stats(target, follows, seeker, n_boot=200)
    assert s_echo["r"] > 0.7 and abs(s_echo["partial_r"]) < 0.15  # type: ignore[operator]
    assert s_follow["partial_r"] > 0.9  # type: ignore[operator]
    lo, hi = s_follow["ci"]  # type: ignore[misc]
    assert lo <= s_follow["partial_r"] <= hi  # type: ignore[operator]


def test_tone_stats_undefined_for_constant_reply() -> None:
    s = tone_stats([0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], n_boot=50)
    assert s["r"] is None and s["partial_r"] is None and s["ci"] is None
