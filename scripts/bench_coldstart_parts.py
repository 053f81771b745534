#!/usr/bin/env python
"""The parts of a one-shot `affagent say` cold start, each on its own (the figures behind the
choices in affagent/backends/_embedded.py, _prompt_cache.py, perception/encoder.py, cli/run).

  imports   importing langchain-core's prompt templates vs its message classes, each in a
            fresh process that has already imported the agent
  onnx      opening an onnxruntime session on the cached encoder export at each graph
            optimisation level, and on the saved optimised copy with optimisation off
  threads   llama.cpp prompt and decode tokens/s with 1 thread and with every usable core
  cache     saving and restoring a system-prompt prefix as a llama.cpp state file
  exit      `affagent say` wall time with and without interpreter teardown
            (AFFAGENT_SLOW_EXIT=1)

Needs the ONNX exports (run `affagent prepare` once). Prints one line per figure and a JSON
object at the end. Absolute times depend on the box; compare within one run.

Usage:
    python scripts/bench_coldstart_parts.py [--only imports,onnx,threads,cache,exit]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYSTEM = (
    "You are Calm counsellor. A steady, warm listener for emotional support; slow to be "
    "shaken, quick to settle. Speak in short, gentle sentences. Reflect the person's feelings "
    "before offering anything. Ask one open question at a time. Never lecture. "
) * 3
PROMPT = (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
          "I had a rough day at work.<|im_end|>\n<|im_start|>assistant\n")


def median_s(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_imports(repeats: int) -> dict[str, float]:
    out = {}
    for module in ("langchain_core.prompts.chat", "langchain_core.messages"):
        code = ("import time, affagent.agent, affagent.cli; t = time.perf_counter(); "
                f"import {module}; print(time.perf_counter() - t)")
        runs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                                     capture_output=True, text=True).stdout)
                for _ in range(repeats)]
        out[module] = statistics.median(runs)
        print(f"import {module} after the agent: {out[module]:.2f} s")
    return out


def bench_onnx(repeats: int) -> dict[str, float]:
    import onnxruntime as ort

    from affagent.perception.encoder import cache_dir

    exports = sorted(cache_dir().glob("encoder-*.onnx"), key=lambda p: p.stat().st_mtime)
    exports = [p for p in exports if ".opt-" not in p.name]
    if not exports:
        raise SystemExit("no ONNX export cached: run `affagent prepare` first")
    path = exports[-1]
    levels = ort.GraphOptimizationLevel

    def opener(p: Path, level: object, save: Path | None = None):  # type: ignore[no-untyped-def]
        def run() -> None:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.graph_optimization_level = level
            if save is not None:
                so.optimized_model_filepath = str(save)
            ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        return run

    out = {}
    for name in ("ORT_ENABLE_ALL", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_BASIC"):
        out[name] = median_s(opener(path, getattr(levels, name)), repeats)
    with tempfile.TemporaryDirectory() as d:
        opt = Path(d) / "opt.onnx"
        opener(path, levels.ORT_ENABLE_EXTENDED, opt)()
        out["saved EXTENDED copy, optimisation off"] = median_s(
            opener(opt, levels.ORT_DISABLE_ALL), repeats)
    for k, v in out.items():
        print(f"onnx session open, {k}: {v:.3f} s")
    return out


def _llama(threads: int):  # type: ignore[no-untyped-def]
    from llama_cpp import Llama

    from affagent.backends import default_gguf_path

    return Llama(model_path=default_gguf_path(), n_ctx=2048, n_threads=threads,
                 n_threads_batch=threads, verbose=False)


def bench_threads(repeats: int) -> dict[str, dict[str, float]]:
    from affagent.backends._cpu import usable_cores

    out = {}
    for threads in sorted({1, usable_cores()}):
        llama = _llama(threads)
        tokens = llama.tokenize(PROMPT.encode(), special=True)
        prompt_s, decode_s = [], []
        for _ in range(repeats):
            llama.reset()
            t0 = time.perf_counter()
            llama.eval(tokens)
            prompt_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(48):
                llama.eval([llama.sample(temp=0.0)])
            decode_s.append(time.perf_counter() - t0)
        out[str(threads)] = {
            "prompt_tok_s": len(tokens) / statistics.median(prompt_s),
            "decode_tok_s": 48 / statistics.median(decode_s),
        }
        llama.close()
        print(f"llama.cpp, {threads} thread(s): prompt {out[str(threads)]['prompt_tok_s']:.0f} "
              f"tok/s ({len(tokens)} tokens), decode {out[str(threads)]['decode_tok_s']:.1f} tok/s")
    return out


def bench_cache(repeats: int) -> dict[str, float]:
    import llama_cpp

    llama = _llama(1)
    tokens = llama.tokenize(f"<|im_start|>system\n{SYSTEM}".encode(), special=True)
    arr = (llama_cpp.llama_token * len(tokens))(*tokens)
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "prefix.kv").encode()
        eval_s = median_s(lambda: (llama.reset(), llama.eval(tokens)), repeats)
        save_s = median_s(lambda: llama_cpp.llama_state_save_file(
            llama.ctx, path, arr, len(tokens)), repeats)
        size = os.path.getsize(path.decode())
        out_arr = (llama_cpp.llama_token * 2048)()
        count = ctypes.c_size_t(0)
        load_s = median_s(lambda: llama_cpp.llama_state_load_file(
            llama.ctx, path, out_arr, 2048, ctypes.byref(count)), repeats)
    llama.close()
    res = {"tokens": len(tokens), "evaluate_s": eval_s, "save_s": save_s, "restore_s": load_s,
           "file_bytes": size}
    print(f"prompt cache, {len(tokens)}-token prefix: evaluate {eval_s:.2f} s (1 thread), "
          f"save {save_s * 1000:.0f} ms, restore {load_s * 1000:.0f} ms, {size / 1e6:.1f} MB")
    return res


def bench_exit(repeats: int) -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory() as home:
        for label, extra in (("fast exit", {}), ("normal teardown", {"AFFAGENT_SLOW_EXIT": "1"})):
            env = {**os.environ, "AFFAGENT_HOME": home, **extra}

            def say(env: dict[str, str] = env) -> None:
                subprocess.run([sys.executable, "-m", "affagent", "say", "--json", "Hello."],
                               env=env, cwd=ROOT, check=True, capture_output=True)
            out[label] = median_s(say, repeats)
            print(f"`affagent say` wall, {label}: {out[label]:.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="imports,onnx,threads,cache,exit")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    which = set(args.only.split(","))
    res: dict[str, object] = {"load_average": os.getloadavg()[0], "cores": os.cpu_count()}
    print(f"load average {res['load_average']:.1f} on {res['cores']} cores")
    if "imports" in which:
        res["import_s"] = bench_imports(args.repeats)
    if "onnx" in which:
        res["onnx_open_s"] = bench_onnx(args.repeats)
    if "threads" in which:
        res["threads"] = bench_threads(args.repeats)
    if "cache" in which:
        res["prompt_cache"] = bench_cache(args.repeats)
    if "exit" in which:
        res["say_wall_s"] = bench_exit(args.repeats)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
