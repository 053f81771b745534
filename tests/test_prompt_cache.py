"""The embedded backend's on-disk prompt cache, on the real SmolLM2 model: it learns the stable
prefix of a system prompt, restores it in a fresh model context with the same greedy reply,
survives a corrupt file, and stays out of seeded (reproducible) calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from affagent.backends._embedded import EmbeddedBackend, clear_cache
from affagent.backends._prompt_cache import PromptCache, common_prefix
from affagent.types import ChatMessage, GenerationParams

pytestmark = pytest.mark.embedded

PERSONA = (
    "You are Calm counsellor. A steady, warm listener for emotional support; slow to be "
    "shaken, quick to settle. Speak in short, gentle sentences. Reflect the person's feelings "
    "before offering anything. Ask one open question at a time. Never lecture."
)
GREEDY = GenerationParams(max_tokens=8, temperature=0.0)
SEEDED = GenerationParams(max_tokens=4, temperature=0.0, seed=5)


def msgs(valence: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=f"{PERSONA}\n\nYour current feeling: V={valence}."),
        ChatMessage(role="user", content="I had a rough day at work."),
    ]


def fresh(tmp: Path, **kw: object) -> EmbeddedBackend:
    """A backend on a new llama.cpp context (the process-wide model cache cleared)."""
    clear_cache()
    b = EmbeddedBackend(n_ctx=1024, prompt_cache_dir=tmp, **kw)  # type: ignore[arg-type]
    b.load()
    return b


def entries(b: EmbeddedBackend) -> list[list[int]]:
    cache = b.prompt_cache()
    assert cache is not None
    cache._entries = None  # re-read the folder
    return sorted((e.tokens for e in cache.entries()), key=len)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([7, 8], [7, 8]) == 2


async def test_learns_the_stable_prefix_and_writes_it_once(tmp_path: Path) -> None:
    b = fresh(tmp_path)
    await b.generate(msgs("+0.10"), GREEDY)
    first = entries(b)
    assert len(first) == 1  # the whole system message, on a miss
    loaded = b.load()
    s1 = loaded.llama.tokenize(b.render(msgs("+0.10")).encode(), special=True)
    assert first[0] == s1[: len(first[0])] and len(first[0]) > 40

    await b.generate(msgs("-0.40"), GREEDY)
    second = entries(b)
    assert len(second) == 1  # replaced by the part the two prompts share
    assert len(second[0]) < len(first[0])
    assert second[0] == first[0][: len(second[0])]

    kv = next(tmp_path.rglob("*.kv"))
    before = kv.stat().st_mtime_ns
    await b.generate(msgs("+0.70"), GREEDY)
    assert entries(b) == second  # reused in full: nothing new written
    assert kv.exists() and kv.stat().st_mtime_ns >= before


async def test_restored_prefix_gives_the_same_greedy_reply(tmp_path: Path) -> None:
    warm = fresh(tmp_path)
    await warm.generate(msgs("+0.10"), GREEDY)
    await warm.generate(msgs("-0.40"), GREEDY)  # leaves the shared persona prefix on disk
    (saved,) = entries(warm)

    b = fresh(tmp_path)  # a new context, as in a new process
    llama = b.load().llama
    tokens = llama.tokenize(b.render(msgs("+0.25")).encode(), special=True)
    cache = b.prompt_cache()
    assert cache is not None
    found = cache.restore(llama, tokens)
    assert found.entry is not None and found.shared == len(saved)
    assert llama.n_tokens == len(saved)
    with_cache = await b.generate(msgs("+0.25"), GREEDY)

    plain = fresh(tmp_path / "unused", prompt_cache=False)
    without = await plain.generate(msgs("+0.25"), GREEDY)
    assert with_cache == without
    assert not (tmp_path / "unused").exists()


async def test_a_corrupt_entry_is_dropped_and_the_call_still_works(tmp_path: Path) -> None:
    b = fresh(tmp_path)
    await b.generate(msgs("+0.10"), GREEDY)
    kv = next(tmp_path.rglob("*.kv"))
    kv.write_bytes(b"not a llama.cpp state file")

    b = fresh(tmp_path)
    reply = await b.generate(msgs("+0.10"), GREEDY)
    assert reply.strip()
    # the bad file went; the miss that followed saved a good entry again
    good = next(tmp_path.rglob("*.kv"))
    assert good.read_bytes() != b"not a llama.cpp state file"


async def test_seeded_calls_and_switched_off_caches_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = fresh(tmp_path / "seeded")
    await b.generate(msgs("+0.10"), SEEDED)
    assert not list((tmp_path / "seeded").rglob("*.kv"))

    monkeypatch.setenv("AFFAGENT_PROMPT_CACHE", "0")
    clear_cache()
    off = EmbeddedBackend(n_ctx=1024)
    assert off.prompt_cache() is None
    await off.generate(msgs("+0.10"), GREEDY)

    monkeypatch.setenv("AFFAGENT_PROMPT_CACHE", str(tmp_path / "via-env"))
    assert EmbeddedBackend(n_ctx=1024).prompt_cache_dir == tmp_path / "via-env"


def test_entries_are_bounded(tmp_path: Path) -> None:
    b = fresh(tmp_path)
    llama = b.load().llama
    cache = PromptCache(tmp_path, b.model_path, max_entries=2, min_tokens=4)
    for word in ("alpha", "beta", "gamma"):
        tokens = llama.tokenize(f"{word} {PERSONA}".encode(), special=True)
        llama.reset()
        llama.eval(tokens)
        cache.remember(llama, tokens, len(tokens), cache.lookup(tokens))
    assert len(cache.entries()) == 2
    assert len(list(cache.directory.glob("*.kv"))) == 2


async def test_an_unwritable_cache_costs_only_the_speed_up(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    b = fresh(blocker)
    assert (await b.generate(msgs("+0.10"), GREEDY)).strip()
    assert (await b.generate(msgs("-0.40"), GREEDY)).strip()
    assert blocker.read_text().startswith("a file")


async def test_reply_scope_steering_still_fills_the_cache(tmp_path: Path) -> None:
    """The default (steered) turn reads its prompt unsteered, so its prefix is cached as for
    an unsteered call; a restored prefix then gives the same steered greedy reply."""
    steer = GenerationParams(max_tokens=8, temperature=0.0,
                             steering={"V": 0.5, "A": 0.1, "D": 0.0})
    b = fresh(tmp_path, steering_scope="reply")
    if not b.capabilities.steering:
        pytest.skip("no steering vectors for the default model")
    first = await b.generate(msgs("+0.10"), steer)
    assert len(entries(b)) == 1
    again = fresh(tmp_path, steering_scope="reply")
    assert await again.generate(msgs("+0.10"), steer) == first
    assert len(entries(again)) == 1
