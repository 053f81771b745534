"""The reply filter: whole sentences only, no unfinished tail, no echo loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from affagent.backends._reply import (
    ReplyFilter,
    clean_reply,
    filter_stream,
    normalise_sentence,
    split_sentences,
)


def stream_through(text: str, step: int = 3, **kw: object) -> tuple[str, ReplyFilter]:
    """Feed ``text`` in small deltas (sentence ends split across deltas) and collect what
    the filter lets through."""
    f = ReplyFilter(**kw)  # type: ignore[arg-type]
    shown = "".join(f.feed(text[i:i + step]) for i in range(0, len(text), step))
    return shown + f.finish(), f


def test_unfinished_tail_is_dropped() -> None:
    shown, f = stream_through("That sounds really hard. What happened at work")
    assert shown == "That sounds really hard."
    assert f.text == shown and f.dropped_tail.strip() == "What happened at work"


def test_complete_reply_passes_unchanged_whatever_the_delta_size() -> None:
    text = "I hear you. That must have hurt! What did you do next?"
    for step in (1, 2, 5, 100):
        shown, _ = stream_through(text, step)
        assert shown == text


def test_nothing_is_shown_before_a_sentence_ends() -> None:
    f = ReplyFilter()
    assert f.feed("It sounds like you") == ""
    assert f.feed(" feel let down.") == ""   # the end may still grow ("..." or a quote)
    assert f.feed(" And") == "It sounds like you feel let down."


def test_repeated_sentence_ends_the_reply() -> None:
    shown, f = stream_through("I'm here for you. Take your time. I'm here for you. More text.")
    assert shown == "I'm here for you. Take your time."
    assert f.done and f.dropped_repeat


def test_near_repeat_counts_as_repeat() -> None:
    text = "You are not alone in this at all. You are not alone in this."
    assert clean_reply(text) == "You are not alone in this at all."


def test_max_sentences_stops_early() -> None:
    shown, f = stream_through("One. Two. Three. Four.", max_sentences=2)
    assert shown == "One. Two." and f.done


def test_no_sentence_end_at_all_keeps_whole_words_and_marks_trailing_off() -> None:
    assert clean_reply("I really think that you sho") == "I really think that you…"
    assert clean_reply("Take care...") == "Take care..."


def test_abbreviations_numbers_and_ellipses_do_not_split() -> None:
    sentences, rest = split_sentences("Dr. Lee said so. Try 2. Oh... okay then. Bye", final=True)
    assert sentences == ["Dr. Lee said so.", " Try 2. Oh... okay then."] and rest == " Bye"


def test_normalise_sentence() -> None:
    assert normalise_sentence("  I'm HERE, for you! ") == "i'm here for you"


def test_filter_stream_closes_the_source_once_done() -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[str]:
        try:
            for piece in ["Same thing. ", "Same thing. ", "never read"]:
                yield piece
        finally:
            closed.append(True)

    async def collect() -> list[str]:
        return [d async for d in filter_stream(source())]

    assert asyncio.run(collect()) == ["Same thing."]
    assert closed == [True]


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_input(text: str) -> None:
    assert clean_reply(text) == ""


def test_prefill_sentences_do_not_count_toward_max_sentences() -> None:
    text = "Oh... I'm sorry. It sounds like you feel alone. Many do. Extra."
    shown, _ = stream_through(text, max_sentences=1, prefill="Oh... I'm sorry. It sounds like")
    assert shown == "Oh... I'm sorry. It sounds like you feel alone."
