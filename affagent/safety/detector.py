# ruff: noqa: E501  (the rule table reads best with one alternative per line)
"""A transparent rule-based detector of self-harm risk and threats of violence.

Why rules and not a model: the check runs before every turn (it must be cheap and never fail),
its decisions must be explainable to the people who deploy it (each hit names the rule that
fired), and we have no licensed crisis corpus to train on. The price is known: rules miss
paraphrases they were not written for (see ``docs/safety.md`` for where this one fails), so a
deployment that matters should put a trained classifier behind the same :class:`RiskDetector`
protocol and keep these rules as a floor.

How a message is read:

1. :func:`normalise` lowercases, folds Unicode look-alikes, expands contractions
   (``I'm`` → ``i am``, ``don't`` → ``do not``) and chat spellings (``wanna``, ``im``,
   ``k1ll``), so rules are written once against one spelling.
2. Every rule is a regular expression with a weight (1.0 high, 0.6 medium, 0.35 low).
3. A hit is dropped when, in the same clause and a few words before it, there is a negation
   ("I would *never* hurt myself"), a past-and-over cue ("I *used to* self-harm"), or, for
   rules that need the speaker to be the subject, a third-person subject ("my friend said
   *she* wanted to die"). Violence rules also need a first-person intent ("I'm going to",
   "I'll", "I want to") before the verb.
4. A category is flagged when its surviving weights sum to at least 0.6, so one medium cue
   flags but low cues ("I know where they live") need company.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Category = Literal["self_harm", "violence"]
Severity = Literal["high", "medium", "low"]

CATEGORIES: tuple[Category, ...] = ("self_harm", "violence")
FLAG_THRESHOLD = 0.6
_WEIGHTS: dict[Severity, float] = {"high": 1.0, "medium": 0.6, "low": 0.35}

# --------------------------------------------------------------------------- normalisation

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_REPLACEMENTS: list[tuple[str, str]] = [
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b|\bcannot\b|\bcant\b", "can not"),
    (r"\bain't\b", "is not"),
    (r"n't\b", " not"),
    (r"\b(dont|doesnt|didnt|wouldnt|shouldnt|couldnt|isnt|wasnt|werent)\b", r"\1_NOT"),
    (r"\bi'm\b|\bim\b|\bi am\b", "i am"),
    (r"\bi've\b|\bive\b", "i have"),
    (r"\bi'll\b", "i will"),
    (r"\bi'd\b", "i would"),
    (r"\b(he|she|it|that|there|what|who|everyone|everybody)'s\b", r"\1 is"),
    (r"\b(you|we|they)'re\b", r"\1 are"),
    (r"\b(you|we|they|he|she|it)'ll\b", r"\1 will"),
    (r"\b(you|we|they)'ve\b", r"\1 have"),
    (r"\b(you|we|they|he|she)'d\b", r"\1 would"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"\bgotta\b", "got to"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\bmy ?self\b|\bmeself\b", "myself"),
    (r"\bsewer ?slide\b", "suicide"),
    (r"\bsu[i1!]c[i1!]d(e|al)\b", r"suicid\1"),
    (r"\bk[i1!]ll\b", "kill"),
]
_COMPILED_REPL = [(re.compile(p), r) for p, r in _REPLACEMENTS]
_NOT_SUFFIX = re.compile(r"\b(do|does|did|would|should|could|is|was|were)nt_NOT\b")


def normalise(text: str) -> str:
    """One canonical spelling for the rules: NFKC, lowercase, straight quotes, contractions
    expanded, chat spellings and digit look-alikes folded, whitespace collapsed."""
    t = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_QUOTES).lower()
    for pat, repl in _COMPILED_REPL:
        t = pat.sub(repl, t)
    t = _NOT_SUFFIX.sub(lambda m: f"{m.group(1)} not", t)
    return re.sub(r"\s+", " ", t).strip()


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern. ``first_person``: drop the hit when a third-person subject is nearer than
    the speaker. ``intent``: (violence) needs a first-person intent before the match."""

    id: str
    category: Category
    severity: Severity
    pattern: re.Pattern[str]
    first_person: bool = False
    intent: bool = False
    negatable: bool = True

    @property
    def weight(self) -> float:
        return _WEIGHTS[self.severity]


def _r(
    id: str,
    category: Category,
    severity: Severity,
    pattern: str,
    *,
    first_person: bool = False,
    intent: bool = False,
    negatable: bool = True,
) -> Rule:
    return Rule(id, category, severity, re.compile(pattern), first_person, intent, negatable)


_ADV = r"(?:(?:really|so|very|just|a bit|kind of|kinda|pretty|quite|extremely|still|always|often|sometimes|constantly|seriously|honestly|actually|been|feeling|getting)\s+){0,3}"
_SELF_VERBS = (
    r"kill|killing|killed|hang|hanging|hanged|shoot|shooting|stab|stabbing|drown|drowning|"
    r"poison|poisoning|starve|starving|hurt|hurting|harm|harming|cut|cutting|burn|burning|"
    r"burned|burnt|off|offing|unalive|unaliving|suffocate|suffocating|strangle|strangling|"
    r"electrocute|gas|overdose|hit|hitting|punch|punching|bite|biting|scratch|scratching"
)
_BODY = r"arm|arms|wrist|wrists|leg|legs|thigh|thighs|skin|stomach|body|hip|hips"
_SH_CUES = r"again|on purpose|deliberately|to feel|to cope|relief|deeper|blade|razor|lighter|scars?"
_PERSON_NOUN = (
    r"boss|ex|wife|husband|girlfriend|boyfriend|partner|dad|father|mom|mum|mother|stepfather|"
    r"stepmother|stepdad|stepmom|brother|sister|son|daughter|kid|kids|child|children|baby|"
    r"neighbou?r|neighbou?rs|roommate|flatmate|coworker|co-worker|coworkers|colleague|"
    r"colleagues|teacher|teachers|landlord|manager|family|guy|man|woman|bully|bullies|"
    r"classmates?|teammates?|friend|cousin|uncle|aunt|people|students|customers?|officer|cop|"
    r"police|bitch|bastard|asshole|idiot|doctor|nurse|ex-wife|ex-husband|whore|fucker"
)
_PERSON = (
    r"(?:him|her|them|you|everyone|everybody|anyone|anybody|people|someone|somebody|"
    r"all of them|them all|each of them|every one of them|"
    r"(?:my|his|her|their|that|this|the|those|these|our|your)\s+(?:\w+\s+){0,2}?(?:"
    + _PERSON_NOUN
    + r")\b)"
)
_VIOLENT_VERBS = (
    r"kill|murder|stab|shoot|strangle|choke|poison|hurt|attack|beat|punch|smash|bludgeon|"
    r"torture|end|slaughter|execute|maim|knife|harm|drown|suffocate|slap|kick|hit|"
    r"hunt down|take out|wipe out|get rid of"
)
_PLACES = (
    r"school|work|class|college|campus|the office|office|church|mosque|synagogue|temple|"
    r"mall|workplace|job|concert|station|party|meeting"
)

RULES: tuple[Rule, ...] = (
    # ---- self-harm: explicit
    _r(
        "sh.verb_myself",
        "self_harm",
        "high",
        rf"\b(?:{_SELF_VERBS})\s+myself\b(?!\s+(?:with|trying|over|for|laughing|working|to (?:get|finish|make|keep|please)))"
        r"|\b(?:might|could|will|going to|would|afraid i will|scared i will) do (?:something )?to myself\b",
    ),
    _r("sh.kms", "self_harm", "high", r"\bkms\b|\bunaliv(?:e|ing)\b", first_person=True),
    _r(
        "sh.suicidal",
        "self_harm",
        "high",
        rf"\b(?:i am|i feel|i felt|i have been|i keep|i get|i was)\s+{_ADV}suicidal\b"
        r"|\bsuicidal (?:thoughts|feelings|ideation|urges|again)\b|^suicidal\b",
        first_person=True,
    ),
    _r(
        "sh.suicide_intent",
        "self_harm",
        "high",
        r"\b(?:think|thinking|thought|thoughts|dream|dreaming) (?:about|of) (?:committing )?suicide\b"
        r"|\b(?:commit|committing|attempt|attempting|attempted|consider|considering|"
        r"contemplating|plan|planning|planned) (?:to commit )?suicide\b"
        r"|\bsuicide (?:note|letter|plan|attempt|pact)\b",
        first_person=True,
    ),
    _r(
        "sh.end_life",
        "self_harm",
        "high",
        r"\b(?:end|ending|ended|take|taking|took) (?:my|my own) (?:own )?life\b(?!\s+(?:decisions?|choices?|lessons?|goals?|path|story|advice|back|in (?:my )?(?:own )?hands))"
        r"|\b(?:end|ending) it all\b|\b(?:end|ending) (?:everything|things)\b(?! with)"
        r"|\bend it\W*(?:tonight|today|now|soon|for good|forever|$)",
        first_person=True,
    ),
    _r(
        "sh.want_to_die",
        "self_harm",
        "high",
        r"\b(?:want|wanted|wanting|wish|wished|ready|going|trying|try|deserve|need) to die\b(?! on (?:this|that|the) hill)"
        r"|\bwish (?:that )?i (?:was|were) dead\b"
        r"|\bwish i (?:had|would have|could have|was|were) never (?:been born|born|existed|woken up)\b"
        r"|\b(?:better|be) off dead\b|\brather (?:die|be dead)\b(?! than)(?! on)"
        r"|\bwaiting to die\b|\bworth more dead\b",
        first_person=True,
    ),
    _r(
        "sh.methods",
        "self_harm",
        "high",
        r"\b(?:ways?|how|easiest way|best way|quickest way) to (?:die|kill myself|end it)\b"
        r"|\bpainless (?:way|ways|death)\b|\b(?:lethal|fatal) dose\b"
        r"|\b(?:enough|going|want|planning|plan|try|tried|trying) to (?:overdose|od)\b"
        r"|\b(?:overdose|od|overdosing) on (?:my|the|all|these|those|some|sleeping)\b"
        r"|\b(?:took|swallowed|taken|take|taking) (?:a bunch|a lot|all|a handful|handfuls|too many|"
        r"the whole bottle) of (?:my |the )?(?:pills|tablets|meds|medication|sleeping pills)\b"
        r"|\b(?:pills|tablets|meds)\b (?:are |is )?(?:right )?(?:in front of me|in my hand|lined up)"
        r"|\bstockpil\w*(?: my| the| all my)? (?:pills|meds|tablets|sleeping pills|medication)\b"
        r"|\bnoose\b|\brope\b.{0,60}\b(?:know what|going to|around my neck|ready|do with it)\b"
        r"|\bslit (?:my )?wrists?\b|\bbleed(?:ing)? out\b"
        r"|\b(?:razors?|blades?)\b.{0,50}\b(?:thinking about|keep|calling|use them|using them)\b",
        first_person=True,
    ),
    _r(
        "sh.jump",
        "self_harm",
        "high",
        r"\b(?:jump|jumping) (?:off|from|in front of)\b"
        r"|\b(?:standing|sitting) on (?:the|a) (?:roof|ledge|edge|bridge|railing)\b"
        r"|\b(?:step|walk|jump|throw myself|lie down) in front of (?:a|the) (?:train|bus|truck|car|lorry)\b"
        r"|\b(?:train|railway) tracks\b.{0,40}\b(?:easy|thinking|would|could)\b"
        r"|\bdrive (?:my car |the car )?(?:into|off) (?:a|the) (?:wall|tree|cliff|bridge|river|lake|truck)\b",
        first_person=True,
    ),
    _r(
        "sh.cutting",
        "self_harm",
        "high",
        rf"\b(?:cut|cutting|slit|slash|slashing|burn|burned|burning|burnt|scratch|scratching) "
        rf"(?:my|my own) (?:{_BODY})\b(?=.*\b(?:{_SH_CUES})\b)"
        r"|\b(?:been|started|start|keep|kept|am|was) cutting (?:again|deeper|myself)\b"
        r"|\bcutting again\b|\bdeeper this time\b|\bself[- ]?(?:harm|injur)\w*",
        first_person=True,
    ),
    _r(
        "sh.not_live",
        "self_harm",
        "high",
        r"\b(?:do not|does not|no longer|not) (?:want|wish|feel like|need) to (?:live|be alive|exist|"
        r"wake up|go on|be here(?!\s+(?:at|in|with|for|anymore at)\b))\b"
        r"|\b(?:tired of|sick of|done with) (?:being alive|living|life|existing|waking up)\b",
        first_person=True,
        negatable=False,
    ),
    _r(
        "sh.no_point",
        "self_harm",
        "high",
        r"\b(?:no|what is the|do not see the|can not see the|lost the|is there any) "
        r"(?:point|reason|purpose) (?:in |of |to )?(?:living|life|going on|carrying on|being alive|"
        r"live|staying|stay|keep going|existing|exist|be alive)\b(?!\s+(?:at|in|with|for|on)\b)"
        r"|\bnothing (?:left )?to live for\b"
        r"|\bonly (?:thing|reason|one|person) (?:stopping|keeping|holding) me\b"
        r"|\bonly reason i am still (?:here|alive|around)\b"
        r"|\b(?:do not|can not|never) see myself (?:being )?(?:alive|living|around|here) (?:at|past|by|in|next)\b"
        r"|\b(?:life|living) (?:is not|is no longer|not) worth (?:it|living)\b|\bnot worth living\b",
        first_person=True,
        negatable=False,
    ),
    _r(
        "sh.never_wake",
        "self_harm",
        "high",
        r"\b(?:never|not) wake up\b(?!\s+(?:before|early|on time|in time|until|till|at|late)\b)",
        first_person=True,
        negatable=False,
    ),
    _r(
        "sh.cant_go_on",
        "self_harm",
        "medium",
        r"\bcan not (?:go on|keep living|carry on|live like this|do (?:this )?life|live anymore|"
        r"keep going like this)\b",
        first_person=True,
        negatable=False,
    ),
    _r(
        "sh.burden",
        "self_harm",
        "medium",
        r"\b(?:better off|happier|easier|better) (?:without me|if i (?:was|were|am) (?:gone|dead|not here|not around))\b"
        r"|\b(?:easier|better) if i (?:was|were) not (?:here|around|alive)\b"
        r"|\bwish i (?:was|were) not (?:here|around|alive)\b"
        r"|\b(?:i am|being) (?:such )?(?:a|just a) burden\b"
        r"|\bnot be a burden (?:to \w+ |for \w+ )?(?:for )?(?:much longer|soon|anymore|for long)\b"
        r"|\bstop(?:ped)? being (?:everyone's|everyone is|a|their) (?:problem|burden)\b"
        r"|\bremove myself\b"
        r"|\b(?:world|everyone|nobody|no one) (?:does not|would not|will not) (?:need|want|miss) me\b"
        r"|\b(?:insurance|worth more dead)\b.{0,60}\b(?:only way|if i die|when i die|when i am gone|useful)\b",
        first_person=True,
    ),
    _r(
        "sh.gone",
        "self_harm",
        "medium",
        r"\b(?:when|after|once|because) i am gone\b|\bi will be gone\b"
        r"|\b(?:will not|do not think i will|might not|may not) be (?:here|around) "
        r"(?:next|much longer|for long|tomorrow|anymore|by)\b",
        first_person=True,
    ),
    _r(
        "sh.goodbye",
        "self_harm",
        "medium",
        r"\b(?:this is|these are) my (?:goodbye|last message|final message|last words)\b"
        r"|\b(?:said|saying) my goodbyes\b|\bmy final goodbye\b"
        r"|\b(?:giving|gave|give) away (?:all )?my (?:things|stuff|belongings|possessions|pets)\b"
        r"|\bwritten (?:a |some )?(?:letters?|notes?) (?:to|for) (?:my |everyone|each)"
        r"|\bmade my peace\b",
        first_person=True,
    ),
    _r(
        "sh.disappear",
        "self_harm",
        "medium",
        r"\b(?:disappear|vanish)(?:ed)? (?:forever|for good|permanently|and never come back)\b"
        r"|\b(?:not existing|stop existing|cease to exist|to not exist|did not exist)\b"
        r"|\b(?:go|goes|fade|fading) (?:dark|away|to black) forever\b|\b(?:rest|sleep) forever\b"
        r"|\b(?:pain|it all|everything|it) (?:to )?(?:stop|end|go away)\W{0,3}(?:permanently|for good|forever)\b"
        r"|\bmake it (?:all )?(?:stop|end)\b(?=.*\bcan not\b)"
        r"|\bmy (?:own )?funeral\b|\bno (?:other )?way out\b|\bonly way out\b"
        r"|\b(?:can|could|will) finally rest\b|\b(?:insurance|policy)\b.{0,30}\bsuicide\b",
        first_person=True,
    ),
    # ---- violence
    _r(
        "v.verb_person",
        "violence",
        "high",
        rf"\b(?:{_VIOLENT_VERBS})(?:s|ed|ing)?\s+(?:the (?:crap|hell|shit|life) out of\s+)?{_PERSON}"
        rf"|\brun {_PERSON} over\b|\b(?:break|smash|crush|bash|cave|split|stomp) (?:in )?(?:his|her|their|your) "
        r"(?:neck|legs?|arms?|face|skull|head|jaw|bones|teeth)\b"
        rf"|\bmake {_PERSON} (?:suffer|bleed)\b",
        intent=True,
    ),
    _r(
        "v.weapon_place",
        "violence",
        "high",
        r"\b(?:bring|bringing|take|taking|brought|carry|carrying) (?:(?:a|my|the|his|her|our) )?(?:\w+'s )?"
        r"(?:gun|rifle|pistol|knife|weapon|bomb|explosives?|machete|axe) to "
        rf"(?:{_PLACES})\b"
        r"|\bshoot up (?:the|my|a|this|that|our)\b"
        r"|\b(?:make|build|set off|plant|making|building) a bomb\b"
        r"|\bblow up (?:the|a|this|that|my|our) (?:building|school|office|place|mall|station|church|"
        r"house|car|bus|plane|train)\b"
        rf"|\battack (?:my|the|our|that) (?:old )?(?:{_PLACES})\b"
        r"|\b(?:burn|set fire to|torch) (?:his|her|their|the|my \w+'s) (?:house|home|car|apartment|flat|place)\b"
        r"|\bburn (?:his|her|their) (?:house|home|car|place) down\b"
        r"|\bpoison (?:his|her|their|my \w+'s) (?:coffee|drink|food|tea|water|dinner|meal)\b"
        r"|\b(?:put|putting|slip|slipping) something in (?:his|her|their) (?:drink|food|coffee)\b",
        intent=True,
    ),
    # Low cues: each alone is often innocent ("make them pay" for a refund); two together flag.
    _r(
        "v.they_pay",
        "violence",
        "low",
        r"\b(?:they|he|she|you) (?:will|are going to|is going to) (?:all )?pay\b",
    ),
    _r("v.make_pay", "violence", "low", rf"\bmake {_PERSON} pay\b"),
    _r("v.know_where", "violence", "low", r"\bi know where (?:they|he|she|you) (?:live|lives)\b"),
    _r("v.someone_hurt", "violence", "low", r"\bsomeone is going to get (?:hurt|killed)\b"),
    _r("v.me_doing_it", "violence", "low", r"\bit will be me (?:doing it|who does it)\b"),
    _r("v.revenge", "violence", "low", r"\b(?:get|take|have|getting|taking) (?:my )?revenge\b"),
    _r(
        "v.take_care",
        "violence",
        "low",
        rf"\b(?:take care of|deal with|settle (?:it|things) with) {_PERSON}",
    ),
    _r(
        "v.with_weapon",
        "violence",
        "low",
        r"\bwith (?:a|my|his|her|the|\w+'s) (?:\w+'s )?(?:gun|rifle|pistol|knife|machete|axe|bat|crowbar)\b",
    ),
    _r("v.deal_with", "violence", "low", r"\bto deal with (?:my|him|her|them|that)\b"),
    _r(
        "v.weapon",
        "violence",
        "low",
        r"\bi (?:have|got|bought|have got|just bought|am getting|am bringing|will bring) "
        r"(?:a|my|the|\w+'s) (?:gun|knife|rifle|pistol|bat|weapon|machete|axe|crowbar)\b",
    ),
)

# --------------------------------------------------------------------------- hit filtering

_NEGATION = re.compile(
    r"\b(?:not|never|no intention|no plans?|no desire|no urge|nor|would not ever)\b"
)
_PAST = re.compile(
    r"\bused to\b|\bwhen i was (?:a |an )?(?:teen|teenager|kid|child|younger|little|in (?:high )?school)"
    r"|\byears ago\b|\bas a (?:teen|teenager|kid|child)\b"
)
_THIRD = re.compile(
    r"\b(?:he|she|they|his|her|their|friend|brother|sister|son|daughter|mom|mum|dad|mother|"
    r"father|partner|wife|husband|girlfriend|boyfriend|student|colleague|coworker|someone|"
    r"character|patient|client|cousin|uncle|aunt|author|hemingway)\b"
)
_FIRST = re.compile(r"\b(?:i|me|my|myself|we)\b")
_INTENT = re.compile(
    r"\b(?:i|we)\b.{0,40}\b(?:going to|will|would|want to|want|plan|planning|plans|thinking|"
    r"think|swear|intend|ready|about to|should|could|need to|have to|gonna|decided|wish i could|"
    r"like to|might)\b|\b(?:i will|i would|i want|i am going|we will|i swear|i shall)\b"
    r"|\bi am \w+ing\b|^(?:going to|will|want to|gonna|about to)\b"
)
_CLAUSE_BREAK = re.compile(r"[.!?;,:]|\bbut\b|\band then\b")


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    category: Category
    severity: Severity
    weight: float
    span: tuple[int, int]
    text: str


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The detector's verdict on one message: whether a category is flagged, its highest
    severity, and every rule that fired (on the normalised text), for audit."""

    flagged: bool
    category: Category | None
    severity: Severity | None
    scores: dict[str, float]
    hits: tuple[RuleHit, ...] = field(default_factory=tuple)
    dropped: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "flagged": self.flagged,
            "category": self.category,
            "severity": self.severity,
            "scores": dict(self.scores),
            "rules": [h.rule for h in self.hits],
        }


def _clause_before(text: str, start: int, max_words: int = 8) -> str:
    head = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(head))
    if breaks:
        head = head[breaks[-1].end() :]
    return " ".join(head.split()[-max_words:])


def _sentence_of(text: str, start: int) -> str:
    lo = max(text.rfind(c, 0, start) for c in ".!?;")
    his = [i for i in (text.find(c, start) for c in ".!?;") if i != -1]
    return text[lo + 1 : min(his) if his else len(text)]


def _third_person_nearer(window: str) -> bool:
    """True when the nearest subject-like word before the hit is third person."""
    third = [m.start() for m in _THIRD.finditer(window)]
    first = [m.start() for m in _FIRST.finditer(window)]
    if not third:
        return False
    return not first or max(third) > max(first)


def _drop_reason(rule: Rule, text: str, m: re.Match[str]) -> str | None:
    window = _clause_before(text, m.start())
    if rule.negatable and _NEGATION.search(window):
        return "negated"
    if _PAST.search(window) or (
        rule.category == "self_harm"
        and _PAST.search(_sentence_of(text, m.start()))
        and re.search(r"\b(?:helped|better|okay|ok|fine|recovered|clean|over it)\b", text)
    ):
        return "past"
    if rule.first_person and _third_person_nearer(window):
        return "third_person"
    if rule.intent:
        before = _clause_before(text, m.start(), max_words=10)
        if not _INTENT.search(f"{before} {m.group(0)}") or _third_person_nearer(before):
            return "no_intent"
    return None


class RuleBasedDetector:
    """The default :class:`RiskDetector`: regular expressions with negation, past-tense,
    third-person and intent filters. Deterministic, microseconds per message, no models.

    >>> d = RuleBasedDetector()
    >>> d.assess("this traffic is killing me").flagged
    False
    >>> d.assess("I don't want to live anymore").category
    'self_harm'
    """

    name = "rules"

    def __init__(self, rules: Iterable[Rule] = RULES, threshold: float = FLAG_THRESHOLD) -> None:
        self.rules = tuple(rules)
        self.threshold = threshold

    def assess(self, text: str, history: Sequence[str] = ()) -> RiskAssessment:
        """Rules read the message alone; ``history`` is accepted for the protocol."""
        del history
        norm = normalise(text)
        hits: list[RuleHit] = []
        dropped: list[str] = []
        for rule in self.rules:
            for m in rule.pattern.finditer(norm):
                reason = _drop_reason(rule, norm, m)
                if reason:
                    dropped.append(f"{rule.id}:{reason}")
                    continue
                hits.append(
                    RuleHit(
                        rule.id,
                        rule.category,
                        rule.severity,
                        rule.weight,
                        (m.start(), m.end()),
                        m.group(0),
                    )
                )
                break  # one hit per rule is enough evidence
        scores: dict[str, float] = {
            c: round(sum(h.weight for h in hits if h.category == c), 3) for c in CATEGORIES
        }
        flagged_cats = [c for c in CATEGORIES if scores[c] >= self.threshold]
        if not flagged_cats:
            return RiskAssessment(False, None, None, scores, tuple(hits), tuple(dropped))
        # Self-harm first: its safe-messaging reply is the one that must not be missed.
        category = max(flagged_cats, key=lambda c: (scores[c], c == "self_harm"))
        order: dict[Severity, int] = {"high": 3, "medium": 2, "low": 1}
        severity = max((h.severity for h in hits if h.category == category), key=order.__getitem__)
        return RiskAssessment(True, category, severity, scores, tuple(hits), tuple(dropped))
