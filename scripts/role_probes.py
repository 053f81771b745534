#!/usr/bin/env python
"""The role-probe figures quoted in evals/RESULTS.md: every shipped persona facing the held-out
messages of tests/fixtures/ (30 distressed, 8 good news), read by the shipped estimator and
classifier, appraised in the persona's role and moved by its own dynamics.

    .venv/bin/python scripts/role_probes.py            # a table per persona
    .venv/bin/python scripts/role_probes.py --json     # one JSON object on the last line

For each persona: the first-turn valence (from the resting mood) over the distressed messages
(min / median / max, how many stay ≤ 0.1), the same through one session of all 30, the
feeling words used (on the messages read as distressed, and on the misread ones), and how many
good-news messages raise the valence. "misread" counts the
messages the perception reads on the wrong side (a distressed one above V = −0.15, good news at
V ≤ 0): what appraisal is given there is wrong before it starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.affect.appraisal import DISTRESS_AT, appraise
from affagent.affect.dynamics import step
from affagent.affect.feeling import JOY_WORDS, feeling_words
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.persona import Persona, list_personas, load_persona

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def run(p: Persona, msgs: list[str], reads: dict[str, tuple[VAD, dict[str, float]]],
        session: bool) -> list[tuple[float, list[str], float]]:
    """(state V, feeling words, perceived user V) per message, each from rest or in one
    session."""
    w = p.traits.weights()
    state = AffectState.at_rest(w.rest)
    out = []
    for m in msgs:
        if not session:
            state = AffectState.at_rest(w.rest)
        vad, emo = reads[m]
        a = appraise(vad, role=p.role, personality=p.traits, emotions=emo)
        state = step(state, a.stimulus, p.traits, p.dynamics_spec)
        out.append((state.vad.v, feeling_words(state.vad, role=p.role, user=a.perceived),
                    a.perceived.v))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    from affagent.perception import load_classifier, load_estimator

    distress, good = lines("distressed_messages.txt"), lines("good_news.txt")
    texts = distress + good
    est, clf = load_estimator(), load_classifier()
    reads = {
        t: (e.vad, r.labels)
        for t, e, r in zip(texts, est.estimate(texts), clf.classify(texts, causes=False),
                           strict=True)
    }
    report: dict[str, Any] = {}
    for stem in list_personas():
        p = load_persona(stem)
        rest = p.traits.resting().v
        first = run(p, distress, reads, session=False)
        sess = run(p, distress, reads, session=True)
        news = run(p, good, reads, session=False)
        read = [x for x in first + sess if x[2] <= DISTRESS_AT]  # perceived as distressed
        words = sorted({w for _, ws, _ in read for w in ws})
        missed = sorted({w for _, ws, u in first + sess if u > DISTRESS_AT for w in ws})
        report[stem] = {
            "role": p.role,
            "dynamics": p.dynamics,
            "rest_v": round(rest, 3),
            "distress_first_v": [round(min(v for v, _, _ in first), 3),
                                 round(statistics.median(v for v, _, _ in first), 3),
                                 round(max(v for v, _, _ in first), 3)],
            "distress_first_le_0.1": sum(v <= 0.1 for v, _, _ in first),
            "distress_session_le_0.1": sum(v <= 0.1 for v, _, _ in sess),
            "distress_misread": sum(u > DISTRESS_AT for _, _, u in first),
            "distress_joy_words": sorted(set(words) & JOY_WORDS),
            "distress_words": words,
            "misread_words": missed,
            "good_news_raised": sum(v > rest for v, _, _ in news),
            "good_news_misread": sum(u <= 0 for _, _, u in news),
            "n_distress": len(distress),
            "n_good": len(good),
        }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{len(distress)} distressed, {len(good)} good-news messages (tests/fixtures/)")
    for stem, r in report.items():
        lo, med, hi = r["distress_first_v"]
        print(f"{stem:16} {r['role']:17} {r['dynamics']:11} rest V {r['rest_v']:+.2f}  "
              f"distress: first-turn V {lo:+.2f}/{med:+.2f}/{hi:+.2f}, "
              f"<=0.1 {r['distress_first_le_0.1']}/{r['n_distress']} "
              f"(session {r['distress_session_le_0.1']}), misread {r['distress_misread']}; "
              f"good news raised {r['good_news_raised']}/{r['n_good']} "
              f"(misread {r['good_news_misread']})")
        joy = ", ".join(r["distress_joy_words"]) or "none"
        print(f"{'':16} words at (perceived) distress: {', '.join(r['distress_words'])} "
              f"(joy words: {joy}); on the misread ones: {', '.join(r['misread_words'])}")


if __name__ == "__main__":
    main()
