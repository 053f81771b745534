"""An on-disk cache of evaluated prompt prefixes (llama.cpp KV state), so a fresh process does
not re-read the system prompt it read last time.

Why: on a small CPU box, evaluating the prompt is most of a one-shot turn, and the persona
part of a turn's system message is the same every turn. llama.cpp can save and restore its KV
state (``llama_state_save_file``), and restoring a prefix is two orders of magnitude faster
than evaluating it (``scripts/bench_coldstart_parts.py --only cache``; figures in
evals/RESULTS.md, "Runtime").

How it learns what is stable, without being told:

* after a turn, when no entry shares at least ``min_tokens`` with the prompt, the prompt's
  *first message* (the system prompt) is saved as a new entry;
* when an entry shares only part of itself with the prompt (its tail held that turn's state
  numbers), it is replaced by the shared part, which is the stable prefix;
* an entry the prompt shares in full is simply reused, so a persona's prefix is written twice
  and then only read.

A limit of that rule: system prompts that share a long preamble (≥ ``min_tokens``) but differ
after it converge on the preamble alone, so alternating between them reuses only the preamble.
affagent's personas differ from the first sentence, so each keeps its own entry.

Entries are keyed by the model file (path, size, mtime) and the llama.cpp build, bounded to
``max_entries`` per model (least recently used go first; each is ~23 KB per token for
SmolLM2-135M, ~4 MB for a persona prefix), written atomically (temp file + rename) so
concurrent processes only ever see whole files, and any file that fails to load is deleted
and ignored: the cache can only save time, never change a reply's prompt.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Lookup", "PromptCache", "common_prefix"]

_log = logging.getLogger(__name__)


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class _Entry:
    name: str
    tokens: list[int]


@dataclass
class Lookup:
    """What :meth:`PromptCache.restore` found for a prompt: the best entry (if any) and how
    many of its tokens the prompt shares."""

    entry: _Entry | None = None
    shared: int = 0


class PromptCache:
    """Saved KV prefixes for one model file (see the module doc)."""

    def __init__(
        self,
        root: Path,
        model_path: str,
        *,
        max_entries: int = 8,
        min_tokens: int = 32,
    ) -> None:
        import llama_cpp

        st = Path(model_path).stat()
        ident = "|".join(
            [str(Path(model_path).resolve()), str(st.st_size), str(st.st_mtime_ns),
             llama_cpp.__version__])
        self.directory = root / hashlib.sha256(ident.encode()).hexdigest()[:16]
        self.max_entries = max_entries
        self.min_tokens = min_tokens
        self._entries: list[_Entry] | None = None

    # ------------------------------------------------------------------ index
    def entries(self) -> list[_Entry]:
        """The saved entries (read once per process, then kept in step with our writes)."""
        if self._entries is None:
            found = []
            for meta in self.directory.glob("*.json"):
                try:
                    tokens = json.loads(meta.read_text())["tokens"]
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if meta.with_suffix(".kv").is_file() and isinstance(tokens, list):
                    found.append(_Entry(meta.stem, [int(t) for t in tokens]))
            self._entries = found
        return self._entries

    def lookup(self, tokens: list[int]) -> Lookup:
        best = Lookup()
        for e in self.entries():
            n = common_prefix(e.tokens, tokens)
            if n > best.shared:
                best = Lookup(e, n)
        return best if best.shared >= self.min_tokens else Lookup()

    # ------------------------------------------------------------------ read
    def restore(self, llama: Any, tokens: list[int]) -> Lookup:
        """Load the best entry into ``llama`` when it covers more of ``tokens`` than the
        context already holds; returns the lookup (for :meth:`remember`)."""
        import llama_cpp

        found = self.lookup(tokens)
        in_memory = common_prefix(list(llama.input_ids[: llama.n_tokens]), tokens)
        if found.entry is None or found.shared <= in_memory:
            return found
        path = self.directory / f"{found.entry.name}.kv"
        n_ctx = llama.n_ctx()
        out = (llama_cpp.llama_token * n_ctx)()
        count = ctypes.c_size_t(0)
        ok = False
        with contextlib.suppress(OSError):
            ok = bool(llama_cpp.llama_state_load_file(
                llama.ctx, str(path).encode(), out, n_ctx, ctypes.byref(count)))
        n = int(count.value)
        if not ok or list(out[:n]) != found.entry.tokens:
            _log.info("prompt cache: dropping unreadable entry %s", path.name)
            self._forget(found.entry)
            llama.reset()
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
            return Lookup()
        llama.input_ids[:n] = found.entry.tokens
        llama.n_tokens = n
        llama._requires_eval = True  # the restored logits belong to the entry, not the prompt
        with contextlib.suppress(OSError):
            os.utime(path)
        return found

    # ------------------------------------------------------------------ write
    def remember(self, llama: Any, tokens: list[int], stable: int, found: Lookup) -> None:
        """After a call that evaluated ``tokens``: save what the next process can reuse.
        ``stable`` is where the prompt's first message ends (the candidate for a new entry).
        Trims the context's KV to the saved length; later calls re-evaluate the rest."""
        if found.entry is not None:
            if found.shared >= len(found.entry.tokens):
                return  # reused in full: nothing new to learn
            keep = found.shared  # the entry's tail changed: keep only the stable part
            old: _Entry | None = found.entry
        else:
            keep, old = stable, None
        if keep < self.min_tokens or keep > llama.n_tokens:
            return
        if list(llama.input_ids[:keep]) != tokens[:keep]:
            return
        if not llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            return
        llama.n_tokens = keep
        llama._requires_eval = True
        self._save(llama, tokens[:keep])
        if old is not None:
            self._forget(old)

    def _save(self, llama: Any, tokens: list[int]) -> None:
        import llama_cpp

        name = hashlib.sha256(json.dumps(tokens).encode()).hexdigest()[:24]
        if any(e.name == name for e in self.entries()):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            kv = self.directory / f"{name}.kv"
            tmp = kv.with_name(f".{name}.{os.getpid()}.tmp")
            arr = (llama_cpp.llama_token * len(tokens))(*tokens)
            if not llama_cpp.llama_state_save_file(llama.ctx, str(tmp).encode(), arr, len(tokens)):
                tmp.unlink(missing_ok=True)
                return
            tmp.replace(kv)
            meta = kv.with_suffix(".json")
            tmp_meta = meta.with_name(f".{name}.{os.getpid()}.json.tmp")
            tmp_meta.write_text(json.dumps({"tokens": tokens}))
            tmp_meta.replace(meta)  # written last: an entry exists once both files do
        except OSError as exc:  # a full or read-only disk only costs the speed-up
            _log.info("prompt cache: cannot save (%s)", exc)
            return
        self.entries().append(_Entry(name, list(tokens)))
        self._evict()

    def _forget(self, entry: _Entry) -> None:
        for suffix in (".json", ".kv"):
            with contextlib.suppress(OSError):
                (self.directory / f"{entry.name}{suffix}").unlink()
        with contextlib.suppress(ValueError):
            self.entries().remove(entry)

    def _evict(self) -> None:
        def used(e: _Entry) -> float:
            try:
                return (self.directory / f"{e.name}.kv").stat().st_mtime
            except OSError:
                return 0.0

        for e in sorted(self.entries(), key=used, reverse=True)[self.max_entries :]:
            self._forget(e)
