"""Which words the classifier names as an emotion's cause, with and without the content-word
filter (affagent/perception/causes.py).

There is no cause annotation in the data we have, so the check is indirect: the share of
named words that carry affect in the NRC VAD lexicon (valence at least 0.25 from neutral, or
arousal at least 0.7 on its 0–1 scale), and the words named most often. ::

    python scripts/cause_words.py \\
        --data ../shared/data/empatheticdialogues/ed_dev_first_turn.jsonl \\
        --lexicon ../shared/data/nrc_vad/NRC-VAD-Lexicon.txt --limit 400
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np

from affagent.perception.causes import is_content_word, rank_causes
from affagent.perception.classifiers import EncoderEmotionClassifier


def _lexicon(path: Path) -> dict[str, tuple[float, float]]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        try:
            out[parts[0].lower()] = (float(parts[1]), float(parts[2]))
        except (IndexError, ValueError):
            continue  # the header
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="JSONL with a 'text' field")
    ap.add_argument("--lexicon", type=Path, required=True, help="NRC VAD lexicon (TSV)")
    ap.add_argument("--limit", type=int, default=400, help="first N texts")
    ap.add_argument("--k", type=int, default=3, help="words named per text (the prompt's 3)")
    args = ap.parse_args()

    texts = [json.loads(ln)["text"] for ln in args.data.read_text().splitlines() if ln.strip()]
    texts = texts[: args.limit]
    lex = _lexicon(args.lexicon)
    clf = EncoderEmotionClassifier("goemotions")
    head = clf.head
    scored_all = []
    for enc in clf.model.encode(texts):
        p = head.probs(head.logits(clf.model.head_input(head, enc)))
        order = np.argsort(-p)
        target = int(order[1] if head.labels[order[0]] == "neutral" else order[0])
        scored_all.append(clf.model.pooled_occlusion(enc, head, target))

    def affective(w: str) -> bool:
        v = lex.get(w)
        return v is not None and (abs(v[0] - 0.5) >= 0.25 or v[1] >= 0.7)

    print(f"{len(texts)} texts from {args.data}, up to {args.k} words each")
    print("| words named | per text | affective share (NRC) | most often named |")
    print("|---|---|---|---|")
    for name, keep in (("any word", lambda w: True), ("content words", is_content_word)):
        counts: collections.Counter[str] = collections.Counter()
        n = aff = 0
        for scored in scored_all:
            if keep is is_content_word:
                words = [w for w, _ in rank_causes(scored, args.k)]
            else:  # the ranking before the filter: positive drop, each word once
                best: dict[str, float] = {}
                for w, s in scored:
                    if s > 0 and s > best.get(w.lower(), 0.0):
                        best[w.lower()] = s
                words = sorted(best, key=lambda w: -best[w])[: args.k]
            n += len(words)
            aff += sum(affective(w) for w in words)
            counts.update(words)
        top = ", ".join(f"{w} ({c})" for w, c in counts.most_common(8))
        print(f"| {name} | {n / len(texts):.2f} | {aff / max(n, 1):.3f} | {top} |")


if __name__ == "__main__":
    main()
