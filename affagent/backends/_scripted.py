"""A deterministic backend for tests and demos: no model, replies whose tone follows the agent
state, role and strategy found in the prompt, word-by-word streaming, and fault injection.

It is what ``demo --backend scripted``, the TUI's no-model mode and the HTTP quick start show
first, so its replies must read like a person in the persona's role, never like "Lovely, lost
sounds promising!" to someone who lost their job.

What it reads, all from the *last* system message (user text is never trusted):

- the valence, with :data:`VALENCE_PATTERN` (case-insensitive): the word ``valence``
  followed, within 16 non-numeric characters, by a signed number (ASCII ``-`` or Unicode
  ``−``), or ``V=<number>`` / ``V: <number>``; e.g. ``valence −0.80``, ``Valence: +0.3``,
  ``valence (pleasure) = -0.42``, ``V=+0.30``. Valence ≤ −0.25 is the negative tone, ≥ +0.25
  the positive tone, anything else (or no number) neutral (``thresholds``);
- the persona's stance, ``Your stance: empathic concern|composed|contagion.``
  (:data:`affagent.prompting.ROLE_STANCES`);
- the strategy, ``Strategy for this reply: <name>.`` (one closing sentence per ESConv
  strategy, :data:`STRATEGY_LINES`);
- the user's emotions from the hint section (``Likely emotions: sadness (0.71), ...`` or
  ``The user likely feels: sadness (71%), ...``): their mean valence in Russell &
  Mehrabian's table says whether the user is distressed or glad.

How the reply is chosen: a listener (``empathic concern``) or a professional (``composed``)
facing a distressed user answers from :data:`CONCERN_REPLIES` / :data:`COMPOSED_REPLIES`
whatever its valence; otherwise the tone picks the pool (:data:`NEGATIVE_REPLIES`,
:data:`NEUTRAL_REPLIES`, :data:`POSITIVE_REPLIES`). A cheerful reply celebrates the user's
words only when the hints say the user is glad (:data:`GOOD_NEWS_REPLIES`); otherwise it only
thanks them for telling, and a distressed user never gets a cheerful reply at all: it is
answered from the neutral pool instead. A user who thanks the agent (top hinted emotion
gratitude) gets a "you're welcome" (:data:`THANKS_REPLIES`), not a celebration. With no stance,
strategy or hints in the prompt the replies come from the three tone pools, as before. The
pick inside a pool and the topic echoed back are a pure function of the conversation and
``seed``, so the same prompt gives the same reply.

Example::

    backend = ScriptedBackend(delay_s=0.01)
    msgs = [ChatMessage(role="system", content="valence -0.7"),
            ChatMessage(role="user", content="My exam went badly")]
    await backend.generate(msgs, GenerationParams())   # a gloomy reply about "your exam"

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
from affagent.types import BackendCapabilities, ChatMessage, GenerationParams

VALENCE_PATTERN = re.compile(
    r"(?:\bvalence\b[^0-9+\-−\n]{0,16}?|\bV\s*[:=]\s*)([+\-−]?(?:\d+(?:\.\d*)?|\.\d+))",
    re.IGNORECASE,
)

NEGATIVE_REPLIES = (
    "Honestly, hearing about {topic} leaves me uneasy and a little sad. I'm not going to "
    "pretend it is fine.",
    "I'm upset hearing about {topic}. It feels heavy and unfair, and I am worried.",
    "That sounds bad. What happened with {topic} troubles me, and I feel low about it right now.",
    "I'm frustrated hearing about {topic}. It is hard, and I don't feel hopeful yet.",
)
NEUTRAL_REPLIES = (
    "I see. Tell me more about {topic}, so I understand what matters most.",
    "Okay, I hear you about {topic}. What happened next, and how are you handling it?",
    "Thanks for explaining. Which part of {topic} would you like to look at first?",
    "I follow you on {topic}. What would help you most at this point?",
)
#: Warm replies for the positive tone when the hints do not say the user is glad: the topic is
#: acknowledged ("thank you for telling me about ..."), never celebrated, since a pleasant
#: state is no reason to find what the user said lovely or promising.
POSITIVE_REPLIES = (
    "Thank you for telling me about {topic}. I'm glad you're here, and I'm happy to help.",
    "I'm glad we can talk about {topic}. I'm in a good mood and keen to hear more.",
    "Thanks for bringing up {topic}. It's wonderful to talk with you; tell me more.",
    "I appreciate you telling me about {topic}. I'm delighted to help, and in good spirits.",
)
#: Cheerful replies about the user's own good news (the hints say the user is glad).
GOOD_NEWS_REPLIES = (
    "That's wonderful news about {topic}! I'm really happy for you.",
    "Oh, that's lovely to hear about {topic}! You must be so pleased.",
    "I'm delighted for you about {topic}. That is something to celebrate.",
    "What great news about {topic}! Thank you for sharing it with me.",
)
#: The user thanks the agent (the top hinted emotion is gratitude): no news to celebrate.
THANKS_REPLIES = (
    "You're very welcome. I'm really glad this helped.",
    "Thank you for saying so. I'm glad I could be here for you.",
    "You're welcome. I'm happy it feels a little lighter now.",
    "I'm glad it helped. I'm here whenever you want to talk again.",
)
#: Empathic concern facing distress: for the person, steady, never cheerful.
CONCERN_REPLIES = (
    "I'm so sorry about {topic}. That sounds really painful, and I'm here with you.",
    "That sounds so hard. Take all the time you need to tell me about {topic}.",
    "Oh, I'm sorry. What happened with {topic} is a lot to carry, and it makes sense that it "
    "hurts.",
    "Thank you for telling me about {topic}. I'm sorry it has been this hard, and I'm listening.",
)
#: Composed (support agent, mentor) facing a distressed user: calm, serious, helpful.
COMPOSED_REPLIES = (
    "I'm sorry about {topic}. Let's work through it together, one step at a time.",
    "I understand. I'm sorry about {topic}, and I'll stay with you on this.",
    "That's a difficult situation with {topic}. Let's look at what we can do first.",
    "I hear you about {topic}, and I'm sorry it has come to this. Let's take it calmly.",
)

#: One closing sentence per ESConv strategy (lower-case name): (for a distressed user, else).
STRATEGY_LINES: dict[str, tuple[str, str]] = {
    "question": ("What has been the hardest part of it for you?",
                 "What would you like to talk about first?"),
    "restatement or paraphrasing": ("So {topic} has turned things upside down; have I got that "
                                    "right?", "So this is about {topic}; have I got that right?"),
    "reflection of feelings": ("It sounds like this has left you feeling {feeling}.",
                               "It sounds like you feel {feeling} about it."),
    "self-disclosure": ("Many people I talk with have been through something like this; you are "
                        "not alone in it.", "Many people I talk with would feel the same."),
    "affirmation and reassurance": ("Reaching out about it takes strength, and you are coping "
                                    "with a lot.", "You have every reason to feel good about "
                                    "this."),
    "providing suggestions": ("One small step that might help is to write down what you need "
                              "most today, and we can start there.", "One idea: note what "
                              "worked, so you can do it again."),
    "information": ("It may help to know that reactions like yours are very common after "
                    "something like this.", "For what it's worth, that is a common and "
                    "healthy way to feel."),
    "others": ("", ""),
}

#: Plain words for the user's feeling, by classifier label (reflection of feelings).
USER_FEELING_WORDS: dict[str, str] = {
    "sadness": "sad", "grief": "heartbroken", "disappointment": "let down", "fear": "scared",
    "nervousness": "anxious", "anger": "angry", "annoyance": "frustrated", "remorse": "sorry",
    "embarrassment": "embarrassed", "disgust": "disgusted", "disapproval": "unhappy",
    "confusion": "confused", "joy": "happy", "excitement": "excited", "pride": "proud",
    "gratitude": "grateful", "relief": "relieved", "optimism": "hopeful", "love": "loved",
    "amusement": "amused", "admiration": "impressed",
}

STANCE_PATTERN = re.compile(r"\bYour stance:\s*(empathic concern|composed|contagion)\b", re.I)
STRATEGY_PATTERN = re.compile(r"\bStrategy for this reply:\s*([^.\n]+?)\s*\.", re.I)
_HINT_LINE = re.compile(r"(?:Likely emotions|The user likely feels):\s*([^\n]*)", re.I)
_HINT_ITEM = re.compile(r"([A-Za-z][A-Za-z _\-]*?)\s*\(\s*(\d+(?:\.\d+)?)\s*(%?)\s*\)")

_STOPWORD_TEXT = (
    "about after again also always because been before being could didn does doing don't "
    "every from have having here just like make more most much never only other really said "
    "should some still than that their them then there these they thing things think this "
    "those through very want was were what when where which while will with would your "
    "you're i'm it's today tonight went feel feeling felt going okay yeah the and but for "
    "not are can had has her his its our out who why how all any got get lost made keep "
    "kept you she him yes off put let did say see use now too one two per via down away "
    "back over i've i'd i'll can't don't haven't didn't won't"
    " since until into onto upon"
)
_VERB_TEXT = (
    "left went got told said broke died came gave took made ran fell lost won is was has had "
    "keeps says does goes gets hurt feel felt found know knew start started finish won't "
    "can't didn't wasn't isn't paid sold bought heard saw met"
)
_VERBS = frozenset(_VERB_TEXT.split())
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
#: Possessives said back ("her" is left out: it is as often an object as an owner).
_OWNERS = {"my": "your", "our": "your", "his": "his", "their": "their"}
_DETERMINERS = {"the": "the", "a": "the", "an": "the", "this": "the", "that": "the"}
#: Never a topic: feelings, quantities and time words.
_NOT_TOPIC_TEXT = (
    "furious angry sad happy upset humiliated anxious scared lonely tired exhausted better "
    "worse good bad great fine glad sorry afraid nervous stressed depressed hopeless ashamed "
    "bit lot little few while way time moment tomorrow yesterday day week weekend morning "
    "night "
    "complete total whole real"
)
_NOT_TOPICS = frozenset(_NOT_TOPIC_TEXT.split())


def _last_system(messages: Sequence[ChatMessage]) -> str | None:
    for msg in reversed(messages):
        if msg.role == "system":
            return msg.content
    return None


def read_valence(messages: Sequence[ChatMessage]) -> float | None:
    """The valence number injected in the last system message, or None (see module doc)."""
    text = _last_system(messages)
    m = VALENCE_PATTERN.search(text) if text is not None else None
    if not m:
        return None
    try:
        return max(-1.0, min(1.0, float(m.group(1).replace("−", "-"))))
    except ValueError:
        return None


def read_role(messages: Sequence[ChatMessage]) -> str | None:
    """``empathic_concern`` / ``composed`` / ``contagion`` from the stance line, or None."""
    text = _last_system(messages)
    m = STANCE_PATTERN.search(text) if text is not None else None
    return m.group(1).lower().replace(" ", "_") if m else None


def read_strategy(messages: Sequence[ChatMessage]) -> str | None:
    """The strategy name from ``Strategy for this reply: <name>.``, lower-cased, or None."""
    text = _last_system(messages)
    m = STRATEGY_PATTERN.search(text) if text is not None else None
    return m.group(1).strip().lower() if m else None


def read_user_emotions(messages: Sequence[ChatMessage]) -> dict[str, float]:
    """The user's emotions from the hint section (probabilities on 0–1), or ``{}``."""
    text = _last_system(messages)
    m = _HINT_LINE.search(text) if text is not None else None
    if not m:
        return {}
    out: dict[str, float] = {}
    for name, num, pct in _HINT_ITEM.findall(m.group(1)):
        p = float(num) / (100.0 if pct else 1.0)
        out[name.strip().lower()] = p
    return out


def user_mood(emotions: dict[str, float], margin: float = 0.15) -> str | None:
    """``distressed`` / ``glad`` from the hinted emotions' mean valence (Russell & Mehrabian
    locations; ``neutral`` at 0), or None when it is within ``margin`` of neutral."""
    if not emotions:
        return None
    from affagent.affect.labels import expected_vad

    v = expected_vad(emotions).v
    return "distressed" if v <= -margin else "glad" if v >= margin else None


def _verbish(word: str) -> bool:
    return word in _VERBS or word.endswith(("ed", "ing")) or (
        word.endswith("s") and not word.endswith("ss")
    )


def _phrase(tokens: list[str], i: int) -> list[str]:
    """The one or two words of a noun phrase starting at ``tokens[i]`` (empty if none): a
    second word is kept when it does not look like a verb ("final exam", "panic attack", but
    "boss" of "boss humiliated")."""
    nxt = [t.lower() for t in tokens[i : i + 2]]
    if not nxt or not nxt[0][0].isalpha():
        return []
    first = nxt[0]
    if first in _STOPWORDS or first in _NOT_TOPICS or first in _OWNERS or len(first) < 3:
        return []
    words = [first]
    second = nxt[1] if len(nxt) > 1 else ""
    if (
        second[:1].isalpha()
        and second not in _STOPWORDS
        and second not in _NOT_TOPICS
        and second not in _OWNERS
        and (first.endswith("'s") or (len(second) >= 3 and not _verbish(second)))
    ):
        words.append(second)
    return words


def topic_of(text: str) -> str:
    """A crude topic, said back to the user as a noun phrase: the first ``my X`` phrase with
    the possessive turned to ``your`` ("my job" → "your job", "my final exam" → "your final
    exam", "my boss humiliated me" → "your boss"); else the first ``a/the X`` phrase as
    ``the X`` ("I adopted a puppy" → "the puppy"); else ``that``. Feeling words ("furious",
    "better") and quantities ("a bit") are never topics."""
    tokens = re.findall(r"[A-Za-z][A-Za-z'\-]*|[^\sA-Za-z]", text)
    for lookup in (_OWNERS, _DETERMINERS):
        for i, tok in enumerate(tokens):
            own = lookup.get(tok.lower())
            if own is None:
                continue
            words = _phrase(tokens, i + 1)
            if words:
                return f"{own} {' '.join(words)}"
    return "that"


def tone_of(valence: float | None, low: float = -0.25, high: float = 0.25) -> str:
    if valence is None:
        return "neutral"
    return "negative" if valence <= low else "positive" if valence >= high else "neutral"


def choose_pool(tone: str, role: str | None, mood: str | None) -> tuple[str, tuple[str, ...]]:
    """The reply pool for a tone, the persona's role and the user's mood (see module doc)."""
    if mood == "distressed" and role == "empathic_concern":
        return "concern", CONCERN_REPLIES
    if mood == "distressed" and role == "composed":
        return "composed", COMPOSED_REPLIES
    if tone == "negative":
        if role == "empathic_concern":
            return "concern", CONCERN_REPLIES
        if role == "composed":
            return "composed", COMPOSED_REPLIES
        return "negative", NEGATIVE_REPLIES
    if tone == "positive" and mood != "distressed":
        if mood == "glad":
            return "good_news", GOOD_NEWS_REPLIES
        return "positive", POSITIVE_REPLIES
    return "neutral", NEUTRAL_REPLIES


def _thanked(emotions: dict[str, float]) -> bool:
    top = max(emotions.items(), key=lambda kv: kv[1])[0] if emotions else ""
    return top in ("gratitude", "grateful")


def _user_feeling(emotions: dict[str, float], distressed: bool) -> str:
    for label, _ in sorted(emotions.items(), key=lambda kv: -kv[1]):
        word = USER_FEELING_WORDS.get(label)
        if word:
            return word
    return "weighed down" if distressed else "good"


class ScriptedBackend(StreamingBackend):
    """Deterministic replies (see the module doc). ``replies`` replaces the pools with a fixed
    sequence (call *i* gets ``replies[i % len]``); ``reply_fn(messages, params) -> str`` replaces
    them with any function. ``calls`` records every request, for assertions."""

    name = "scripted"
    #: replies continue a prefill exactly; the tone is read from the system prompt's V= line
    capabilities = BackendCapabilities(prefill="continue", injection="system", concurrent=True)

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
        emotions = read_user_emotions(messages)
        mood = user_mood(emotions)
        role = read_role(messages)
        name, pool = choose_pool(tone, role, mood)
        if name in ("positive", "good_news", "neutral") and _thanked(emotions):
            name, pool = "thanks", THANKS_REPLIES
        key = f"{self.seed}|{params.seed}|{len(messages)}|{user}".encode()
        pick = int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % len(pool)
        topic = topic_of(user)
        body = pool[pick].format(topic=topic, Topic=topic[:1].upper() + topic[1:])
        strategy = read_strategy(messages)
        lines = STRATEGY_LINES.get(strategy or "")
        if lines:
            hard = name in ("concern", "composed", "negative") or mood == "distressed"
            line = lines[0 if hard else 1]
            if line:
                feeling = _user_feeling(emotions, hard)
                body += " " + line.format(topic=topic, feeling=feeling)
        return body

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
