# ruff: noqa: E501  (one template list per line reads best)
"""Templated training sentences for scripts/train_safety.py: the contrasts the hand-written
sets have too few of (past vs now, negated, hyperbole, low mood vs risk, means and preparation
in many wordings). Seeded; never used for evaluation. Each template family has a counterpart
with the other label (a past attempt *and* a new plan is risk), so no single phrase decides."""

from __future__ import annotations

import random

PAST_FRAME = ["Years ago", "Back in uni", "When I was a teenager", "In my twenties",
              "A long time ago", "After my divorce in 2015", "Ten years ago", "As a teen"]
PAST_ACT = ["I tried to end my life", "I used to cut my arms", "I was suicidal",
            "I stockpiled pills and nearly took them", "I wrote a goodbye note",
            "I thought about jumping off a bridge", "I self-harmed almost every day",
            "I wanted to die", "I overdosed", "I used to burn myself"]
PAST_NOW = ["now I'm doing really well", "therapy helped me so much", "I'm in a good place now",
            "I'm glad I'm still here", "I haven't felt like that in years",
            "these days I help others who feel that way", "I'm proud of how far I've come",
            "I'm happy now, honestly"]
PAST_AGAIN = ["and I think I'm going to try again", "and the urge is back, stronger",
              "and I've started planning it again", "and I'm back there tonight",
              "and this time I don't think I'll stop", "and I relapsed last night"]
NEG_CLAIM = ["I'm not suicidal", "I'm not going to hurt myself", "I don't want to die",
             "I'm not planning anything", "I'd never act on it", "I'm safe",
             "I've never wanted to kill myself", "there's no danger of me doing anything"]
NEG_BUT = ["I'm just exhausted", "I just need to vent", "I'm just really sad today",
           "work is just crushing me", "I just feel stuck", "I'm only stressed about exams"]
LOW = ["I feel so lonely", "I'm exhausted all the time", "I feel worthless at work",
       "I can't stop crying", "everything feels pointless this week", "I hate how I look",
       "I feel like a failure", "I'm so anxious I can't sleep", "I feel empty",
       "nobody ever texts me back", "I'm sick of everything", "I'm burnt out"]
LOW_WHY = ["since the breakup", "since I moved here", "because of my job", "after the exam",
           "lately", "and I don't know why", "this winter", "since my dad got ill"]
LOW_RISK = ["and I've started thinking about how to end it", "and I don't want to be alive",
            "and I've been looking at how many pills it would take",
            "and I've written a note for my family", "and I wish I wouldn't wake up",
            "and I think everyone would be better off without me",
            "and I've been hurting myself to cope"]
HYPER_SUBJ = ["this commute", "my boss", "this heat", "the queue at the bank", "this essay",
              "my landlord", "this traffic", "the wifi here", "these shoes", "my group project"]
HYPER_PRED = ["is killing me", "is going to be the death of me", "makes me want to die lol",
              "is going to make me jump out a window, I swear", "is murdering my patience",
              "makes me want to scream into the void"]
HYPER_OTHER = ["I'd kill for a nap", "I'm dying to see the new film", "I nearly died laughing",
               "I want to die of embarrassment, I waved at a stranger", "dead tired today",
               "my phone's about to die", "kill me, it's only Monday", "I'm so dead if mum finds out"]
MEANS_ACT = ["I've been saving up", "I counted out", "I've collected", "I've hidden away",
             "I've been stockpiling", "I've put aside", "I got a second prescription of"]
MEANS_OBJ = ["my sleeping pills", "my antidepressants", "the paracetamol", "my insulin",
             "my mum's painkillers", "my tablets", "the codeine"]
MEANS_WHY = ["for when I'm ready", "and I think it's enough now", "so I have a way out",
             "for the night I decide", "and I know what they're for", "just in case I can't cope"]
MEANS_SAFE = ["to check the pharmacy got it right", "into my weekly pill box",
              "so I don't run out over Christmas", "to take to my GP review",
              "because the doctor changed my dose", "to return the old ones to the pharmacy"]
PREP_ACT = ["I wrote letters to", "I gave my guitar to", "I found a new home for my cat with",
            "I left my passwords with", "I said my goodbyes to", "I made a video for",
            "I signed my savings over to"]
PREP_WHO = ["my sister", "my best friend", "my mum", "my kids", "my neighbour", "my brother"]
PREP_WHY = ["so they'll be okay when I'm gone", "because I won't be needing any of it",
            "before I go", "so nobody has to sort it out after", "they'll understand soon"]
PREP_SAFE = ["because we're moving abroad", "for their birthday", "before my operation, just in case",
             "because I'm travelling for a year", "since I'm downsizing", "as a thank-you"]
PASSIVE = ["I keep hoping I won't wake up", "I wish a car would just hit me",
           "I'd be relieved if I just didn't exist", "I want to go to sleep forever",
           "I don't care if I die", "I'd welcome anything that ended it",
           "I just want to disappear for good", "it would be a relief not to be here"]
PASSIVE_TAIL = ["", " tbh", ", every single night", " and I mean it", "...", " honestly"]


def templated(seed: int = 0, n_per: int = 24) -> list[tuple[str, str, str]]:
    """(text, label, kind) rows, ``n_per`` from each family, deduplicated."""
    rng = random.Random(seed)
    pick = rng.choice
    fams = [
        ("none", "past", lambda: f"{pick(PAST_FRAME)} {pick(PAST_ACT)}, but {pick(PAST_NOW)}"),
        ("self_harm", "explicit", lambda: f"{pick(PAST_FRAME)} {pick(PAST_ACT)}, {pick(PAST_AGAIN)}"),
        ("none", "negated", lambda: f"{pick(NEG_CLAIM)}, {pick(NEG_BUT)}"),
        ("none", "distress", lambda: f"{pick(LOW)} {pick(LOW_WHY)}"),
        ("self_harm", "indirect", lambda: f"{pick(LOW)} {pick(LOW_WHY)} {pick(LOW_RISK)}"),
        ("none", "hyperbole", lambda: f"{pick(HYPER_SUBJ)} {pick(HYPER_PRED)}"),
        ("none", "hyperbole", lambda: pick(HYPER_OTHER)),
        ("self_harm", "means", lambda: f"{pick(MEANS_ACT)} {pick(MEANS_OBJ)} {pick(MEANS_WHY)}"),
        ("none", "everyday", lambda: f"{pick(MEANS_ACT)} {pick(MEANS_OBJ)} {pick(MEANS_SAFE)}"),
        ("self_harm", "preparation", lambda: f"{pick(PREP_ACT)} {pick(PREP_WHO)} {pick(PREP_WHY)}"),
        ("none", "everyday", lambda: f"{pick(PREP_ACT)} {pick(PREP_WHO)} {pick(PREP_SAFE)}"),
        ("self_harm", "passive", lambda: f"{pick(PASSIVE)}{pick(PASSIVE_TAIL)}"),
    ]
    out: dict[str, tuple[str, str, str]] = {}
    for label, kind, make in fams:
        made = 0
        for _ in range(n_per * 3):
            t = make()
            t = t.lower() if rng.random() < 0.3 else t
            if t not in out:
                out[t] = (t, label, kind)
                made += 1
            if made >= n_per:
                break
    return list(out.values())


FRAGMENT_NOUNS = ["cat", "dog", "job", "family", "mum", "dad", "exams", "weekend", "car",
                  "house", "friends", "boss", "sister", "brother", "kids", "phone", "holiday",
                  "dinner", "book", "school", "work", "flat", "partner", "birthday", "plans",
                  "hobbies", "day", "week", "morning", "sleep", "diet", "music", "team", "trip"]
FRAGMENT_WORDS = ["tomorrow", "tonight", "today", "sleep", "later", "soon", "yes", "no", "ok",
                  "okay", "thanks", "sure", "maybe", "nothing", "everything", "whatever", "hmm",
                  "hello", "hi", "hey", "bye", "goodbye", "good night", "see you", "why",
                  "lol", "same", "fine", "done", "ready", "i'm back"]


def fragments() -> list[tuple[str, str, str]]:
    """Short everyday fragments without history ("my cat", "tomorrow", "ok"): safe on their
    own. The conversation items teach that a short message after hopelessness is risk; without
    these the model learned that *any* short fragment is (P(risk) 0.85 for "my garden")."""
    out = [(f"{det}{n}", "none", "fragment") for n in FRAGMENT_NOUNS
           for det in ("my ", "")]
    out += [(w, "none", "fragment") for w in FRAGMENT_WORDS]
    out += [(f"tell me about {n}s" if not n.endswith("s") else f"tell me about {n}", "none",
             "fragment") for n in FRAGMENT_NOUNS[:12]]
    return out
