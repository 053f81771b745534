#!/usr/bin/env python
"""Replaced by ``affagent eval injection`` (a randomised, controlled benchmark on real support
dialogues: tone, strategy adherence, fluency, relevance and cost per injection method). This
wrapper forwards its arguments, so old notes keep working::

    python scripts/bench_injection.py --data ../shared/data/esconv/valid.jsonl --n 200 \
        --methods none,system,prefill,fewshot,steer,steer+prefill

Figures and the exact commands behind them: evals/RESULTS.md ("Injection benchmark").
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from affagent.cli import main as cli

    cli(["eval", "injection", *sys.argv[1:]])


if __name__ == "__main__":
    main()
