"""A deterministic backend for tests and demos: no model, replies whose tone follows the agent
state found in the prompt, word-by-word streaming, and fault injection.

How the tone is chosen: the *last* system message is searched with :data:`VALENCE_PATTERN`
(case-insensitive): the word ``valence`` followed, within 16 non-numeric characters, by a
signed number (ASCII ``-`` or Unicode ``−``), or ``V=<number>`` / ``V: <number>``. Examples
it reads: ``valence −0.80``, ``Valence: +0.3``, ``valence (pleasure) = -0.42``, ``V=+0.30``.
Valence ≤ −0.25 picks the negative pool, ≥ +0.25 the positive pool, anything else (or no number
found) the neutral pool. The pick inside a pool and the topic word echoed back are a pure
function of the conversation and ``seed``, so the same prompt gives the same reply.

Example::

    backend = ScriptedBackend(delay_s=0.01)
    msgs = [ChatMessage(role="system", content="valence -0.7"),
            ChatMessage(role="user", content="My exam went badly")]
    await backend.generate(msgs, GenerationParams())   # a gloomy reply mentioning the exam

Fault injection: ``fail_on_call=2`` (or ``{2, 5}``) makes those calls (1-based) raise
:class:`~affagent.errors.BackendError`; ``fail_after_tokens=N`` makes the stream break after N
words (on the ``fail_on_call`` calls if given, otherwise on every call). A failure with N=0 is
raised before the first delta, like a server that is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

from affagent.backends._common import StopScanner, StreamingBackend
from affagent.errors import BackendError
from affagent.types import ChatMessage, GenerationParams

VALENCE_PATTERN = re.compile(
    r"(?:\bvalence\b[^0-9+\-−\n]{0,16}?|\bV\s*[:=]\s*)([+\-−]?(?:\d+(?:\.\d*)?|\.\d+))",
    re.IGNORECASE,
)

NEGATIVE_REPLIES = (
    "Honestly, {topic} leaves me uneasy and a little sad. I'm not going to pretend it is fine.",
    "I'm upset hearing about {topic}. It feels heavy and unfair, and I am worried.",
    "That sounds bad. {Topic} troubles me, and I feel low about it right now.",
    "I'm frustrated by {topic}. It is hard, and I don't feel hopeful yet.",
)
NEUTRAL_REPLIES = (
    "I see. Tell me more about {topic}, so I understand what matters most.",
    "Okay, {topic}. What happened next, and how are you handling it?",
    "Thanks for explaining {topic}. Which part would you like to look at first?",
    "I follow you on {topic}. What would help you most at this point?",
)
POSITIVE_REPLIES = (
    "I'm glad you brought up {topic}! I feel hopeful, and I'm happy to help.",
    "That's wonderful to talk about {topic}. I'm in a good mood and keen to hear more.",
    "Lovely, {topic} sounds promising! I feel warm and optimistic about it.",
    "Great, thank you for sharing {topic}. I'm delighted and confident we can work on it.",
)

_STOPWORD_TEXT = (
    "about after again also always because been before being could didn does doing don't "
    "every from have having here just like make more most much never only other really said "
    "should some still than that their them then there these they thing things think this "
    "those through very want was were what when where which while will with would your "
    "you're i'm it's today tonight went feel feeling felt going okay yeah"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def read_valence(messages: Sequence[ChatMessage]) -> float | None:
    """The valence number injected in the last system message, or None (see module doc)."""
    for msg in reversed(messages):
        if msg.role != "system":
            continue
        m = VALENCE_PATTERN.search(msg.content)
        if not m:
            return None
        try:
            return max(-1.0, min(1.0, float(m.group(1).replace("−", "-"))))
        except ValueError:
            return None
    return None


def topic_of(text: str) -> str:
    """A crude topic word: the last word of ``text`` with ≥ 4 letters that is not a stopword
    and does not end in -ly/-ed/-ing (else the last non-stopword); ``that`` if none."""
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'\-]{3,}", text)]
    words = [w for w in words if w not in _STOPWORDS]
    nouny = [w for w in words if not w.endswith(("ly", "ed", "ing"))]
    return (nouny or words or ["that"])[-1]


def tone_of(valence: float | None, low: float = -0.25, high: float = 0.25) -> str:
    if valence is None:
        return "neutral"
    return "negative" if valence <= low else "positive" if valence >= high else "neutral"


class ScriptedBackend(StreamingBackend):
    """Deterministic replies (see the module doc). ``replies`` replaces the pools with a fixed
    sequence (call *i* gets ``replies[i % len]``); ``reply_fn(messages, params) -> str`` replaces
    them with any function. ``calls`` records every request, for assertions."""

    name = "scripted"

    def __init__(
        self,
        *,
        replies: Sequence[str] | None = None,
        reply_fn: Callable[[Sequence[ChatMessage], GenerationParams], str] | None = None,
        delay_s: float = 0.0,
        fail_on_call: int | Iterable[int] | None = None,
        fail_after_tokens: int | None = None,
        seed: int = 0,
        thresholds: tuple[float, float] = (-0.25, 0.25),
    ) -> None:
        self.replies = list(replies) if replies is not None else None
        self.reply_fn = reply_fn
        self.delay_s = delay_s
        if isinstance(fail_on_call, int):
            fail_on_call = {fail_on_call}
        self.fail_on_call = set(fail_on_call) if fail_on_call is not None else None
        self.fail_after_tokens = fail_after_tokens
        self.seed = seed
        self.thresholds = thresholds
        self.calls: list[tuple[list[ChatMessage], GenerationParams]] = []
        self.closed = False

    # ------------------------------------------------------------------ reply text
    def compose(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str:
        """The full reply body (before prefill, max_tokens and stop are applied)."""
        if self.reply_fn is not None:
            return self.reply_fn(messages, params)
        if self.replies is not None:
            if not self.replies:
                return ""
            return self.replies[(len(self.calls) - 1) % len(self.replies)]
        user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        tone = tone_of(read_valence(messages), *self.thresholds)
        pool = {"negative": NEGATIVE_REPLIES, "neutral": NEUTRAL_REPLIES,
                "positive": POSITIVE_REPLIES}[tone]
        key = f"{self.seed}|{params.seed}|{len(messages)}|{user}".encode()
        pick = int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % len(pool)
        topic = topic_of(user)
        return pool[pick].format(topic=topic, Topic=topic[:1].upper() + topic[1:])

    def _should_fail(self, call_no: int) -> bool:
        if self.fail_on_call is not None:
            return call_no in self.fail_on_call
        return self.fail_after_tokens is not None

    # ------------------------------------------------------------------ protocol
    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[str]:
        if self.closed:
            raise BackendError("scripted backend is closed")
        self.calls.append((list(messages), params))
        call_no = len(self.calls)
        failing = self._should_fail(call_no)
        fail_at = (self.fail_after_tokens or 0) if failing else None
        if fail_at == 0:
            raise BackendError(f"scripted backend: injected failure on call {call_no}")

        body = self.compose(messages, params)
        if params.prefill:
            body = body[:1].lower() + body[1:] if body[:1].isupper() else body
            sep = "" if params.prefill.endswith((" ", "\n")) or not body else " "
            body = sep + body
        words = re.findall(r"\s*\S+", body)[: max(params.max_tokens, 0)]
        scanner = StopScanner(params.stop)
        if params.prefill:
            yield params.prefill
        for i, word in enumerate(words):
            if fail_at is not None and i >= fail_at:
                raise BackendError(
                    f"scripted backend: stream broke after {fail_at} tokens (injected)"
                )
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            out = scanner.feed(word)
            if out:
                yield out
            if scanner.stopped:
                return
        tail = scanner.flush()
        if tail:
            yield tail
        if fail_at is not None:  # the reply was shorter than fail_after_tokens
            raise BackendError(
                f"scripted backend: stream broke after {len(words)} tokens (injected)"
            )

    async def aclose(self) -> None:
        self.closed = True
