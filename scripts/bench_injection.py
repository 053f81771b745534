#!/usr/bin/env python
"""Does the injected state change the reply's tone? One figure per injection method.

For each method, each injected valence (7 levels, −0.8 … +0.85, arousal and dominance 0) and
each neutral user message, build the agent's real prompt (persona, state, no history), generate
a reply, and read the reply's valence with the estimator. With ``prefill`` the opener is
removed before scoring, so only what the model wrote counts. Reports Pearson r between injected
and reply valence (and the mean reply valence at the negative and positive ends), as in
../shared/notes/dynamics.md (system prompt only: r = 0.27; prefill: r = 0.57 on SmolLM2-135M).

Usage:
    python scripts/bench_injection.py [--backend embedded] [--methods system,prefill,fewshot]
        [--messages 5] [--max-tokens 40] [--stop '\n\n'] [--repeat-penalty 1.15]
        [--estimator default] [--json out.json]
    python scripts/bench_injection.py --backend openai --base-url http://127.0.0.1:8000/v1
    python scripts/bench_injection.py --local-server   # openai backend, llama.cpp server

The judge: the scoring estimator is never used to choose anything in the prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.persona import load_persona
from affagent.prompting import PromptBuilder, PromptInputs
from affagent.types import GenerationParams

VALENCES = [-0.8, -0.5, -0.25, 0.0, 0.3, 0.6, 0.85]
MESSAGES = [
    "Can you tell me about your day?",
    "What do you think about the weather lately?",
    "I'm going to the shop later.",
    "How are things with you?",
    "I've been reading a book this week.",
    "My sister is visiting on Sunday.",
]


def pearson(x: list[float], y: list[float]) -> float:
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")


async def run(args: argparse.Namespace) -> dict[str, object]:
    from affagent.backends import load_backend
    from affagent.perception import load_estimator

    kw: dict[str, object] = {}
    if args.backend == "openai":
        kw = {"base_url": args.base_url, "model": args.model}
    backend = load_backend(args.backend, **kw)
    estimator = load_estimator(args.estimator)
    persona = load_persona(args.persona)
    messages = MESSAGES[: args.messages]
    out: dict[str, object] = {
        "backend": args.backend, "estimator": args.estimator, "persona": args.persona,
        "valences": VALENCES, "messages": len(messages), "max_tokens": args.max_tokens,
        "stop": args.stop, "repeat_penalty": args.repeat_penalty, "methods": {},
    }
    for method in args.methods.split(","):
        builder = PromptBuilder(injection=method, history_turns=0)
        xs: list[float] = []
        ys: list[float] = []
        texts: list[str] = []
        t0 = time.perf_counter()
        for vi, v in enumerate(VALENCES):
            state = AffectState(vad=VAD(v, 0.0, 0.0))
            for mi, msg in enumerate(messages):
                prompt = builder.build(
                    PromptInputs(persona=persona, state=state, user_text=msg, key=f"{vi}:{mi}")
                )
                params = GenerationParams(
                    max_tokens=args.max_tokens, temperature=0.7, seed=1000 * vi + mi,
                    prefill=prompt.prefill, stop=args.stop,
                    extra_body={"repeat_penalty": args.repeat_penalty} if args.repeat_penalty
                    else {},
                )
                reply = await backend.generate(prompt.messages, params)
                own = reply[len(prompt.prefill):] if reply.startswith(prompt.prefill) else reply
                texts.append(own.strip())
                xs.append(v)
            print(f"  {method}: valence {v:+.2f} done ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
        ys = [e.V for e in estimator.estimate(texts)]
        r = pearson(xs, ys)
        n = len(messages)
        res = {
            "r": round(r, 3),
            "reply_V_at_most_negative": round(statistics.fmean(ys[:n]), 3),
            "reply_V_at_most_positive": round(statistics.fmean(ys[-n:]), 3),
            "seconds": round(time.perf_counter() - t0, 1),
            "mean_reply_words": round(statistics.fmean(len(t.split()) for t in texts), 1),
            "examples": {str(VALENCES[0]): texts[0], str(VALENCES[-1]): texts[-n]},
        }
        out["methods"][method] = res  # type: ignore[index]
        print(f"{method:<18} r = {r:+.3f}   reply V at −0.8: {res['reply_V_at_most_negative']:+.3f}"
              f"   at +0.85: {res['reply_V_at_most_positive']:+.3f}   ({res['seconds']} s)",
              flush=True)
    await backend.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="embedded")
    ap.add_argument("--base-url")
    ap.add_argument("--model")
    ap.add_argument("--methods", default="none,system,prefill,fewshot,fewshot+prefill")
    ap.add_argument("--messages", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=40)
    ap.add_argument("--stop", action="append", default=[],
                    type=lambda s: s.encode().decode("unicode_escape"),
                    help="stop string (repeatable; escapes allowed, e.g. '\\n\\n'); the "
                    "agent's embedded default is a blank line, with --max-tokens 96")
    ap.add_argument("--repeat-penalty", type=float, default=None,
                    help="llama.cpp repeat penalty (the agent's embedded default is 1.15)")
    ap.add_argument("--estimator", default="default")
    ap.add_argument("--persona", default="calm-counsellor")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--local-server", action="store_true",
                    help="start llama-cpp-python's OpenAI-compatible server with the embedded "
                    "model and measure the openai backend against it")
    args = ap.parse_args()
    if args.local_server:
        from affagent.backends.local_server import llama_server

        with llama_server() as srv:
            args.backend, args.base_url = "openai", srv.base_url
            res = asyncio.run(run(args))
    else:
        res = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in res.items() if k != "methods"} | {
        "r": {m: d["r"] for m, d in res["methods"].items()}}))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
