"""Which words may be named as the cause of an emotion.

The classifier ranks words by how much leaving each out lowers its top emotion (occlusion).
Function words often score high that way, because they carry the sentence's grammar ("I feel
humiliated" without "I" reads less like a feeling), yet "the words that cause them" is
what the prompt tells the model to attend to, and "i" or "feel" tells it nothing. So only
content words are named; the figures behind the list are in evals/RESULTS.md ("Cause words").
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FUNCTION_WORDS", "is_content_word", "rank_causes"]

_TEXT = """
a an the this that these those some any each every either neither no none all both such
i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his
himself she her hers herself it its itself they them their theirs themselves one ones
who whom whose which what whatever whoever when where why how there here
am is are was were be been being have has had having do does did doing done
will would shall should can could may might must ought
i'm i've i'd i'll you're you've you'd you'll he's she's it's we're we've they're they've
that's there's what's isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't
won't wouldn't can't cannot couldn't shouldn't mustn't im ive id ill dont didnt cant wont
and or but nor so yet if then than because as while though although unless until since
of to in on at by for with from into onto upon about over under after before between
through during without within against among around up down out off above below near
not just very really too also only even still quite rather pretty much more most less
some lot lots bit kind sort thing things stuff something anything everything nothing
again ever never always often sometimes now today yesterday tomorrow tonight ago soon
well oh yeah yes okay ok like get got gets getting go goes going went gone make made
feel feels feeling felt feelings think thought know knew say said tell told
last next first day days week weeks month months year years night morning afternoon evening
weekend time times
"""

#: Grammar words, generic verbs of feeling or saying, and time frames ("last week"), lower
#: case.
FUNCTION_WORDS: frozenset[str] = frozenset(_TEXT.split())


def is_content_word(word: str) -> bool:
    """Whether ``word`` may be named as a cause: not a function word, not a number or a
    single letter.

    >>> [w for w in ["I", "feel", "humiliated", "by", "my", "manager", "2"] if is_content_word(w)]
    ['humiliated', 'manager']
    """
    w = word.lower().strip("'\u2019")
    return len(w) > 1 and not w.isdigit() and w not in FUNCTION_WORDS


def rank_causes(scored: Iterable[tuple[str, float]], n: int) -> list[tuple[str, float]]:
    """The ``n`` content words whose removal lowered the emotion most (a positive drop), each
    once (lower case, its best score), highest first: what every classifier reports.

    >>> rank_causes([("I", 2.0), ("lost", 1.5), ("my", 1.2), ("job", 0.4), ("Lost", 1.7),
    ...              ("today", -0.3)], 3)
    [('lost', 1.7), ('job', 0.4)]
    """
    best: dict[str, float] = {}
    for w, s in scored:
        key = w.lower()
        if s > 0 and s > best.get(key, 0.0) and is_content_word(key):
            best[key] = s
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:n]
    return [(w, round(s, 4)) for w, s in ranked]
