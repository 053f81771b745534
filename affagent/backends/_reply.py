"""Clean reply text as it streams: whole sentences only, no echo loops.

Small models stop wherever the token budget runs out ("...and I think that you sho") and fall
into loops ("I'm here for you. I'm here for you."). :class:`ReplyFilter` sits between the
backend's stream and the reader:

* it passes text on **one complete sentence at a time** and holds the rest, so a reader never
  sees half a sentence that might be dropped later;
* at the end of the stream it **drops an unfinished tail** (text after the last sentence end);
* a sentence that repeats an earlier one (same words; or nearly: word-set Jaccard ≥ 0.8 for
  sentences of 4+ words, or 5+ words all found in one earlier sentence) is dropped and the
  filter reports :attr:`ReplyFilter.done`, so the caller can stop generating: a model that
  has started repeating itself has nothing new left;
* ``max_sentences`` (optional) also ends the reply once that many sentences were accepted,
  not counting the sentences of a ``prefill`` (a tone opener is not the model's reply).

A reply whose *first* sentence never ends (the budget ran out inside it) would otherwise come
out empty; then the held text is kept up to its last whole word and marked with "…", so the
reader sees it trailed off (:func:`affagent.evals.injection.scoring.complete_sentence` counts
that as incomplete).

The agent's turn and ``affagent eval injection`` both run replies through this filter (the
benchmark measures what a user reads). Pure text processing; no model needed::

    >>> f = ReplyFilter()
    >>> f.feed("I hear you. That sounds hard. I hear you")
    'I hear you. That sounds hard.'
    >>> f.feed(". And then")
    ''
    >>> f.done, f.finish()
    (True, '')
    >>> f.text
    'I hear you. That sounds hard.'
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable

__all__ = ["ReplyFilter", "clean_reply", "filter_stream", "normalise_sentence", "split_sentences"]

#: Terminal punctuation, then closing quotes/brackets, then whitespace (or the end of text).
_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*(?=\s|$)")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "jr", "sr", "prof",
}
_WORD = re.compile(r"[a-z0-9']+")


def _is_boundary(text: str, m: re.Match[str], final: bool) -> bool:
    """Does the punctuation at ``m`` end a sentence? Not after a known abbreviation or a list
    number ("1."), and an ellipsis only when the next word starts with a capital (so
    "Oh... okay" stays one sentence) or, at the end of the text, never (trailing off)."""
    punct = m.group(0)
    start = m.start()
    before = text[:start]
    word = re.search(r"([A-Za-z.]+|\d+)$", before)
    if punct.startswith(".") and not punct.startswith("..") and word:
        w = word.group(1).lower().rstrip(".")
        if w in _ABBREV or w.isdigit():
            return False
    if punct.startswith("..") or punct.startswith("…"):
        rest = text[m.end():].lstrip()
        if not rest:
            return False
        return rest[0].isupper()
    if not before.strip():
        return False
    return m.end() < len(text) or final


def split_sentences(text: str, *, final: bool = True) -> tuple[list[str], str]:
    """``text`` → (complete sentences, each with its leading whitespace, and the unfinished
    rest). With ``final=False`` a sentence end at the very end of ``text`` is not trusted yet
    (more punctuation or a closing quote may follow)."""
    out: list[str] = []
    pos = 0
    for m in _END.finditer(text):
        if m.end() <= pos:
            continue
        if m.end() == len(text) and not final:
            break
        if _is_boundary(text, m, final):
            out.append(text[pos:m.end()])
            pos = m.end()
    return out, text[pos:]


def normalise_sentence(sentence: str) -> str:
    """Lower-case words only: the key two sentences are compared on."""
    return " ".join(_WORD.findall(sentence.lower()))


def _repeats(key: str, seen: Iterable[str]) -> bool:
    if not key:
        return False
    words = set(key.split())
    for s in seen:
        if s == key:
            return True
        other = set(s.split())
        big = len(words) >= 4 and len(other) >= 4
        if big and len(words & other) / len(words | other) >= 0.8:
            return True
        if len(words) >= 5 and words <= other:  # says nothing an earlier sentence did not
            return True
    return False


class ReplyFilter:
    """Stream filter: :meth:`feed` deltas, show what it returns, then :meth:`finish`.

    :attr:`done` turns true once the reply is over (a repeat was seen or ``max_sentences``
    reached): stop generating then; later deltas are ignored. :attr:`text` is the accepted
    reply so far (what was shown)."""

    def __init__(self, *, max_sentences: int | None = None, prefill: str = "") -> None:
        self.max_sentences = max_sentences
        self._uncounted = len(prefill.strip())
        self._consumed = 0
        self._counted = 0
        self._pending = ""
        self._seen: list[str] = []
        self._shown: list[str] = []
        self.done = False
        self.dropped_repeat = False
        self.dropped_tail = ""

    @property
    def text(self) -> str:
        return "".join(self._shown).strip()

    def _accept(self, sentences: list[str]) -> str:
        out: list[str] = []
        for s in sentences:
            key = normalise_sentence(s)
            if _repeats(key, self._seen):
                self.done = self.dropped_repeat = True
                break
            if key:
                self._seen.append(key)
            piece = s if self._shown or out else s.lstrip()
            out.append(piece)
            self._consumed += len(piece)
            if self._consumed > self._uncounted:  # the prefill's own sentences do not count
                self._counted += 1
            if self.max_sentences is not None and self._counted >= self.max_sentences:
                self.done = True
                break
        text = "".join(out)
        self._shown.append(text)
        return text

    def feed(self, delta: str) -> str:
        """Add a delta; returns the newly completed sentences (possibly "")."""
        if self.done or not delta:
            return ""
        self._pending += delta
        sentences, rest = split_sentences(self._pending, final=False)
        if not sentences:
            return ""
        self._pending = rest
        out = self._accept(sentences)
        if self.done:
            self._pending = ""
        return out

    def finish(self) -> str:
        """End of stream: the last sentence if it just ended; an unfinished tail is dropped
        (kept, cut to whole words and marked "…", only when nothing else was shown)."""
        if self.done:
            return ""
        sentences, rest = split_sentences(self._pending, final=True)
        self._pending = ""
        out = self._accept(sentences) if sentences else ""
        if rest.strip() and not self.done:
            if self._seen:
                self.dropped_tail = rest
            else:
                out += _trail_off(rest)
                self._shown.append(out)
        self.done = True
        return out


def _trail_off(text: str) -> str:
    """An unfinished sentence cut back to its last whole word, marked as trailing off."""
    body = text.strip()
    if not body:
        return ""
    if body.endswith(("...", "…")):
        return body
    # the budget may have ended inside the last word: drop it unless it is all there is
    cut = re.sub(r"\s+\S*$", "", body) or body
    return cut.rstrip(" ,;:-–—") + "…"


def clean_reply(text: str, *, max_sentences: int | None = None, prefill: str = "") -> str:
    """The whole-text form of :class:`ReplyFilter`.

    >>> clean_reply("That is hard. Do you want to talk about it? Maybe we could")
    'That is hard. Do you want to talk about it?'
    """
    f = ReplyFilter(max_sentences=max_sentences, prefill=prefill)
    f.feed(text)
    f.finish()
    return f.text


async def filter_stream(
    deltas: AsyncIterator[str], *, max_sentences: int | None = None, prefill: str = ""
) -> AsyncGenerator[str, None]:
    """Wrap a backend's delta stream; stops pulling (closing the backend's stream, so it
    stops generating) once the filter is done. The agent's turn and the injection benchmark
    both read the backend through this, so the benchmark scores what a user reads::

        async for text in filter_stream(backend.stream(prompt.messages, params),
                                        max_sentences=prompt.max_sentences,
                                        prefill=prompt.prefill):
            ...   # show / collect text
    """
    f = ReplyFilter(max_sentences=max_sentences, prefill=prefill)
    try:
        async for delta in deltas:
            out = f.feed(delta)
            if out:
                yield out
            if f.done:
                break
        tail = f.finish()
        if tail:
            yield tail
    finally:
        closer = getattr(deltas, "aclose", None)
        if closer is not None:
            await closer()
