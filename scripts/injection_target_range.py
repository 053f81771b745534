#!/usr/bin/env python
"""The range of states the shipped personas actually reach on real support dialogues: the
box ``affagent eval injection`` draws its target states from.

Each seeker turn of an ESConv-format file is read by the default estimator; every shipped
persona then runs its own dynamics over each dialogue's seeker turns (from rest, as a new
session would), and the states after every turn are pooled. Prints per axis the 2.5th and
97.5th percentile over all personas (the box), and per persona the same.

Usage:
    python scripts/injection_target_range.py --data ../shared/data/esconv/valid.jsonl [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.affect.dynamics import simulate
from affagent.perception import load_estimator
from affagent.persona import list_personas, load_persona
from affagent.strategy.data import load_esconv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--lo", type=float, default=2.5)
    ap.add_argument("--hi", type=float, default=97.5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dialogues = load_esconv(args.data)
    seekers = [[t.text for t in d if t.speaker == "usr"] for d in dialogues]
    flat = [t for s in seekers for t in s]
    est = load_estimator()
    vads = [e.vad for e in est.estimate(flat)]
    out: dict[str, object] = {"data": str(args.data), "seeker_turns": len(flat), "personas": {}}
    pooled = []
    it = iter(vads)
    per_dialogue = [[next(it) for _ in s] for s in seekers]
    for name in list_personas():
        p = load_persona(name)
        states = []
        for xs in per_dialogue:
            states += [s.vad for s in simulate(xs, p.traits, p.dynamics_spec)]
        arr = np.array([[v.v, v.a, v.d] for v in states])
        pooled.append(arr)
        lo, hi = np.percentile(arr, [args.lo, args.hi], axis=0)
        out["personas"][name] = {  # type: ignore[index]
            ax: [round(float(a), 3), round(float(b), 3)]
            for ax, a, b in zip("VAD", lo, hi, strict=True)
        }
    allv = np.concatenate(pooled)
    lo, hi = np.percentile(allv, [args.lo, args.hi], axis=0)
    out["box"] = {ax: [round(float(a), 3), round(float(b), 3)]
                  for ax, a, b in zip("VAD", lo, hi, strict=True)}
    user = np.array([[v.v, v.a, v.d] for v in vads])
    ulo, uhi = np.percentile(user, [args.lo, args.hi], axis=0)
    out["seeker_estimates"] = {ax: [round(float(a), 3), round(float(b), 3)]
                               for ax, a, b in zip("VAD", ulo, uhi, strict=True)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(flat)} seeker turns in {args.data}; percentiles {args.lo}-{args.hi}")
    for name, box in out["personas"].items():  # type: ignore[attr-defined]
        print(f"  {name:<18}", "  ".join(f"{k} [{a:+.2f}, {b:+.2f}]" for k, (a, b) in box.items()))
    print("  seeker estimates  ", "  ".join(
        f"{k} [{a:+.2f}, {b:+.2f}]" for k, (a, b) in out["seeker_estimates"].items()))  # type: ignore[attr-defined]
    print("  all personas      ", "  ".join(
        f"{k} [{a:+.2f}, {b:+.2f}]" for k, (a, b) in out["box"].items()))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
