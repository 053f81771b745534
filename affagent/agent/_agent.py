"""The agent: one turn = perceive → feel → choose → prompt → generate → reflect → persist."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from affagent.affect.dynamics import DynamicsSpec, parse_dynamics
from affagent.affect.state import AffectState
from affagent.agent._config import AgentConfig, StreamEvent, TurnResult
from affagent.agent._input import clean_text
from affagent.agent._portal import Portal
from affagent.agent._stages import (
    Chooser,
    DynamicsFeeler,
    EstimatorReflector,
    Feeler,
    ModelPerceiver,
    Perceiver,
    Perception,
    Reflector,
    SelectorChooser,
)
from affagent.errors import AffagentError, BackendError
from affagent.persona import Persona, load_persona
from affagent.prompting import Prompt, PromptBuilder, PromptInputs, default_injection
from affagent.store import DEFAULT_TENANT, HistoryItem, SessionRecord, SessionStore
from affagent.types import (
    Backend,
    ChatMessage,
    DialogueTurn,
    EmotionClassifier,
    GenerationParams,
    StrategyChoice,
    StrategyContext,
    StrategySelector,
    TurnTrace,
    VADEstimator,
)

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

log = logging.getLogger("affagent.agent")

#: Generation defaults for the embedded backend, applied unless the config sets them.
EMBEDDED_DEFAULTS: dict[str, Any] = {"stop": ["\n\n"], "extra_body": {"repeat_penalty": 1.15}}

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def approx_tokens(messages: list[ChatMessage]) -> int:
    """Word-and-punctuation count plus 4 per message: close to a BPE count for English; used
    when the backend offers no ``count_tokens``."""
    return sum(len(_TOKEN_RE.findall(m.content)) + 4 for m in messages)


def join_reply(prefill: str, continuation: str) -> str:
    """The stored reply: the prefilled opener, then what the model wrote after it. Backends
    return the prefill at the start of the reply (the contract of :mod:`affagent.backends`);
    for one that returns only the continuation, the opener is put in front."""
    if not prefill:
        return continuation.strip()
    if continuation.startswith(prefill):  # a backend that echoes the prefill
        return continuation.strip()
    if continuation and not continuation[0].isspace() and continuation[0] not in ",.;:!?…":
        return (prefill + " " + continuation).strip()
    return (prefill + continuation).rstrip()


class _PrefillStream:
    """Makes a stream start with the prefill exactly once: passes through a backend that
    yields the prefill first (the contract), puts it in front for one that does not."""

    def __init__(self, prefill: str) -> None:
        self.prefill = prefill
        self.buf = ""
        self.decided = not prefill

    def feed(self, delta: str) -> str:
        if self.decided:
            return delta
        self.buf += delta
        if self.buf.startswith(self.prefill):
            self.decided = True
        elif not self.prefill.startswith(self.buf):
            self.decided = True
            self.buf = join_reply(self.prefill, self.buf)
        else:
            return ""  # still a prefix of the prefill: wait for more
        out, self.buf = self.buf, ""
        return out

    def flush(self) -> str:
        if self.decided:
            return ""
        self.decided = True
        out, self.buf = (self.buf if self.buf.startswith(self.prefill) else self.prefill), ""
        return out


@dataclass
class _Turn:
    """A turn in flight, between preparation and commit."""

    session: SessionRecord
    tenant: str
    user_text: str
    persona: Persona
    dynamics: DynamicsSpec
    perception: Perception
    state_before: AffectState
    state_after: AffectState
    choice: StrategyChoice | None
    prompt: Prompt
    prompt_tokens: int
    now: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.session.turns + 1


async def _deadline(agen: AsyncIterator[str], timeout: float | None) -> AsyncIterator[str]:
    """Iterate ``agen`` with an overall deadline that counts only the time spent waiting on
    the backend (a timer around the consumer's code would cancel the consumer instead)."""
    try:
        if timeout is None:
            async for x in agen:
                yield x
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                async with asyncio.timeout(remaining):  # same task; not around the yield
                    x = await agen.__anext__()
            except StopAsyncIteration:
                return
            yield x
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)


class Agent:
    """A stateful affective dialogue agent over a session store.

    >>> agent = Agent(AgentConfig(backend="scripted"))
    >>> r = agent.respond_sync("I failed my exam and I feel awful.")
    >>> r.session_id, r.turn, r.state["V"]            # doctest: +SKIP
    ('3f2a9c1d0b7e', 1, 0.21)
    >>> r = agent.respond_sync("Thanks, that helps.", r.session_id)   # the same session

    Components named in ``config`` load lazily on the first turn (or :meth:`warm_up`);
    objects passed as keyword arguments replace them. The stages (``perceiver``, ``feeler``,
    ``chooser``, ``prompt_builder``, ``reflector``) are attributes and may be swapped too.

    Guarantees: a turn is committed atomically or not at all; on any failure (bad input,
    backend down or timing out, a broken or cancelled stream, a concurrent writer) nothing is
    stored and the session's state is unchanged. Errors raised by a turn carry the cleaned
    user text (``exc.user_text``) and the session id (``exc.session_id``) so the caller can
    retry.
    """

    def __init__(
        self,
        config: AgentConfig | None = None,
        *,
        backend: Backend | None = None,
        estimator: VADEstimator | None = None,
        classifier: EmotionClassifier | None = None,
        selector: StrategySelector | None = None,
        store: SessionStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or AgentConfig()
        self.store = store if store is not None else SessionStore(self.config.database_url)
        self.clock = clock
        self.components: dict[str, str] = {}
        self._backend = backend
        self._estimator = estimator
        self._classifier = classifier
        self._selector = selector
        self._classifier_given = classifier is not None
        self._selector_given = selector is not None
        self.injection = self.config.injection or default_injection(self.config.backend)
        self.prompt_builder = PromptBuilder(
            injection=self.injection,
            history_turns=self.config.history_turns,
            history_chars=self.config.history_chars,
        )
        self.feeler: Feeler = DynamicsFeeler()
        self.perceiver: Perceiver | None = None
        self.chooser: Chooser | None = None
        self.reflector: Reflector | None = None
        self.strategies: dict[str, Any] = {}
        self._ready = False
        self._models_loaded = False
        self._ready_lock = threading.Lock()
        self._portal = Portal()
        self._locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # validate the default persona and dynamics now: a typo is a one-line error at once
        self._persona(self.config.persona)
        if self.config.dynamics:
            parse_dynamics(self.config.dynamics)

    # ------------------------------------------------------------------ components
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from affagent.agent._components import load_backend

            c = self.config
            kw: dict[str, Any] = dict(c.backend_options)
            if c.backend == "embedded":
                kw.setdefault("model_path", c.model_path)
            elif c.backend in ("openai", "vllm"):
                kw.update(base_url=c.base_url, model=c.model, api_key=c.api_key)
            self._backend = load_backend(c.backend, **kw)
            self.components["backend"] = getattr(self._backend, "name", c.backend)
        return self._backend

    def _loaded(self) -> None:
        with self._ready_lock:
            if not self._ready:
                self._load_components()
                self._ready = True

    @property
    def estimator(self) -> VADEstimator:
        """The VAD estimator (loaded on first access); share it with other agents by passing
        it to their constructor."""
        self._loaded()
        assert self._estimator is not None
        return self._estimator

    @property
    def classifier(self) -> EmotionClassifier | None:
        self._loaded()
        return self._classifier

    @property
    def selector(self) -> StrategySelector | None:
        self._loaded()
        return self._selector

    def _load_components(self) -> None:
        from affagent.agent import _components as comp

        notes = self.components
        if self._estimator is None:
            self._estimator = comp.load_estimator(
                self.config.estimator, notes, self.config.strict_components
            )
        else:
            notes["estimator"] = getattr(self._estimator, "name", type(self._estimator).__name__)
        if not self._classifier_given:
            self._classifier = comp.load_classifier(
                self.config.classifier, notes, self.config.strict_components
            )
        else:
            notes["classifier"] = getattr(self._classifier, "name", "custom")
        if not self._selector_given:
            needs = self.config.selector == "llm"
            self._selector = comp.load_selector(
                self.config.selector,
                notes,
                self.backend if needs else None,
                self.config.strict_components,
            )
        else:
            notes["selector"] = getattr(self._selector, "name", "custom")
        self.strategies = comp.load_strategies() if self._selector is not None else {}
        if self.perceiver is None:
            self.perceiver = ModelPerceiver(
                self._estimator, self._classifier, comp.load_hints_formatter()
            )
        if self.chooser is None:
            self.chooser = SelectorChooser(self._selector)
        if self.reflector is None:
            self.reflector = EstimatorReflector(self._estimator)
        notes["injection"] = self.injection
        self.backend  # noqa: B018 - load (and validate) the backend now

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await asyncio.to_thread(self._loaded)

    async def warm_up(self) -> dict[str, str]:
        """Load every component now, models included, instead of on the first turn; returns
        what was loaded (see :attr:`components`). The perceiver reads one short text so its
        models load; the rest load as on a first turn (:meth:`_load_models`)."""
        await self._ensure_ready()
        if not self._models_loaded:
            assert self.perceiver is not None
            await asyncio.gather(
                asyncio.to_thread(self.perceiver.perceive, "Hello."), *self._load_models())
            self._models_loaded = True
        return dict(self.components)

    def _load_models(self) -> list[Awaitable[Any]]:
        """What a first turn loads besides perception, to run in parallel with it: the
        backend's model (a backend with ``aload``, e.g. the embedded one), the strategy
        selector's encoder and the prompt builder's imports (parts with ``warm_up``)."""
        loads: list[Awaitable[Any]] = []
        aload = getattr(self.backend, "aload", None)
        if callable(aload):
            loads.append(aload())
        for part in (self.chooser, self.prompt_builder):
            warm = getattr(part, "warm_up", None)
            if callable(warm):
                loads.append(asyncio.to_thread(warm))
        return loads

    # ------------------------------------------------------------------ sessions
    @staticmethod
    def _persona(name: str) -> Persona:
        return load_persona(name)

    def new_session(
        self,
        *,
        persona: str | None = None,
        dynamics: str | None = None,
        tenant: str = DEFAULT_TENANT,
        session_id: str | None = None,
    ) -> str:
        """Create a session at the persona's resting mood; returns its id. Unknown personas
        and bad dynamics strings are :class:`~affagent.errors.ConfigError`."""
        name = persona or self.config.persona
        p = self._persona(name)
        if Path(name).suffix in (".yaml", ".yml"):
            name = str(Path(name).resolve())
        spec = parse_dynamics(dynamics or self.config.dynamics or p.dynamics)
        rec = self.store.create_session(
            persona=name,
            dynamics=str(spec),
            state=AffectState.at_rest(p.traits.resting()),
            tenant=tenant,
            session_id=session_id,
        )
        return rec.id

    # ------------------------------------------------------------------ the turn
    def _lock(self, session_id: str) -> asyncio.Lock:
        key = (id(asyncio.get_running_loop()), session_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def _prepare(self, text: str, session_id: str, tenant: str, t_start: float) -> _Turn:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cfg = self.config
        session, history = await asyncio.to_thread(
            self.store.load_for_turn, session_id, tenant, cfg.history_turns
        )
        timings["load"] = _ms(t0)
        persona = self._persona(session.persona)
        spec = parse_dynamics(session.dynamics)
        assert self.perceiver is not None and self.chooser is not None

        t0 = time.perf_counter()
        perception = await self._perceive_while_loading(text)
        timings["perceive"] = _ms(t0)

        t0 = time.perf_counter()
        now = self.clock()
        state_after = self.feeler.feel(session.state, perception, persona.traits, spec, now)
        timings["feel"] = _ms(t0)

        t0 = time.perf_counter()
        context = self._strategy_context(history, text, perception, state_after)
        choice = await asyncio.to_thread(self.chooser.choose, context)
        timings["choose"] = _ms(t0)

        t0 = time.perf_counter()
        prompt = self.prompt_builder.build(
            PromptInputs(
                persona=persona,
                state=state_after,
                user_text=text,
                history=[(h.user_text, h.reply) for h in history],
                strategy=choice,
                strategy_info=self.strategies.get(choice.strategy) if choice else None,
                hints=perception.hints,
                key=f"{session.id}:{session.turns + 1}",
            )
        )
        tokens = await self._count_tokens(prompt.messages)
        timings["prompt"] = _ms(t0)
        timings["prepare_total"] = _ms(t_start)
        return _Turn(
            session=session,
            tenant=tenant,
            user_text=text,
            persona=persona,
            dynamics=spec,
            perception=perception,
            state_before=session.state,
            state_after=state_after,
            choice=choice,
            prompt=prompt,
            prompt_tokens=int(tokens),
            now=now,
            timings=timings,
        )

    async def _perceive_while_loading(self, text: str) -> Perception:
        """Perceive; on the first turn, with the other loads (:meth:`_load_models`) at the
        same time, so a cold start pays for them in parallel."""
        assert self.perceiver is not None
        work = asyncio.to_thread(self.perceiver.perceive, text)
        if self._models_loaded:
            return await work
        perception, *_ = await asyncio.gather(work, *self._load_models())
        self._models_loaded = True
        return perception

    async def _count_tokens(self, messages: list[ChatMessage]) -> int:
        """The backend's own count (``count_tokens``, sync or async) when it has one, else
        :func:`approx_tokens`."""
        counter = getattr(self.backend, "count_tokens", None)
        if callable(counter):
            try:
                n = counter(messages)
                if inspect.isawaitable(n):
                    n = await n
                return int(n)
            except Exception as exc:  # a count is not worth failing a turn for
                log.debug("count_tokens failed (%s); approximating", exc)
        return approx_tokens(messages)

    @staticmethod
    def _strategy_context(
        history: list[HistoryItem], text: str, perception: Perception, state: AffectState
    ) -> StrategyContext:
        dialogue: list[DialogueTurn] = []
        for h in history:
            dialogue.append(DialogueTurn(speaker="usr", text=h.user_text))
            dialogue.append(DialogueTurn(speaker="sys", text=h.reply, strategy=h.strategy))
        dialogue.append(DialogueTurn(speaker="usr", text=text))
        return StrategyContext(
            dialogue=dialogue,
            user_vad=[h.user_estimate for h in history] + [perception.estimate],
            emotions=perception.emotions,
            agent_state=state.to_dict(),
        )

    def _params(self, turn: _Turn) -> GenerationParams:
        gen = self.config.generation
        update: dict[str, Any] = {"prefill": turn.prompt.prefill}
        if self.config.backend == "embedded":
            # small local models ramble and loop: unless set explicitly, a reply ends at its
            # first blank line and repetition is penalised (EMBEDDED_DEFAULTS)
            if "stop" not in gen.model_fields_set:
                update["stop"] = list(EMBEDDED_DEFAULTS["stop"])
            extra = dict(gen.extra_body)
            for k, v in EMBEDDED_DEFAULTS["extra_body"].items():
                if k not in extra and "repetition_penalty" not in extra:
                    extra[k] = v
            update["extra_body"] = extra
        return gen.model_copy(update=update)

    async def _finish(self, turn: _Turn, continuation: str, t_gen: float) -> TurnResult:
        reply = join_reply(turn.prompt.prefill, continuation)
        if not reply:
            raise BackendError("the backend returned an empty reply; nothing was stored")
        assert self.reflector is not None
        turn.timings["generate"] = t_gen
        t0 = time.perf_counter()
        reply_estimate = await asyncio.to_thread(self.reflector.reflect, reply)
        turn.timings["reflect"] = _ms(t0)
        est = turn.perception.estimate
        trace = TurnTrace(
            session_id=turn.session.id,
            turn=turn.number,
            created_at=turn.now,
            persona=turn.session.persona,
            dynamics=str(turn.dynamics),
            user_text=turn.user_text,
            reply=reply,
            user_estimate=est,
            emotions=turn.perception.emotions,
            state_before=turn.state_before.to_dict(),
            state_after=turn.state_after.to_dict(),
            strategy=turn.choice,
            prompt_sections=turn.prompt.sections,
            prompt_messages=turn.prompt.messages,
            prompt_tokens=turn.prompt_tokens,
            injection=turn.prompt.injection,
            reply_estimate=reply_estimate,
            timings_ms=turn.timings,
        )
        t0 = time.perf_counter()
        await asyncio.to_thread(
            self.store.commit_turn,
            turn.session.id,
            turn.session.version,
            trace,
            turn.state_after,
            tenant=turn.tenant,
        )
        # the stored trace cannot time its own commit: persist and total are in the returned one
        trace.timings_ms["persist"] = _ms(t0)
        user_estimate: dict[str, Any] = {
            "V": est.V,
            "A": est.A,
            "D": est.D,
            "confidence": est.confidence,
        }
        if turn.perception.emotions is not None:
            user_estimate["emotions"] = dict(turn.perception.emotions.top(3))
        return TurnResult(
            session_id=turn.session.id,
            turn=turn.number,
            reply=reply,
            state=turn.state_after.vad.to_dict(),
            strategy=turn.choice.strategy if turn.choice else None,
            user_estimate=user_estimate,
            trace=trace,
        )

    async def _begin(self, text: str, session_id: str | None, tenant: str) -> tuple[str, str]:
        """Check the input and load the components before creating a session, so a bad
        message or a missing backend leaves nothing behind."""
        clean = clean_text(text, self.config.max_message_chars)
        await self._ensure_ready()
        if session_id is None:
            session_id = await asyncio.to_thread(self.new_session, tenant=tenant)
        return clean, session_id

    async def _failed(
        self,
        exc: AffagentError | None,
        text: str,
        session_id: str | None,
        tenant: str,
        created: bool,
    ) -> None:
        """A turn failed: a session this call created (still empty) is removed again, so a
        failed first turn leaves nothing behind; the error carries the text and session id
        (None then) so the caller can retry."""
        if created and session_id is not None:
            try:
                rec = await asyncio.to_thread(self.store.get_session, session_id, tenant)
                if rec.turns == 0:
                    await asyncio.to_thread(self.store.delete_session, session_id, tenant)
                    session_id = None
            except Exception as cleanup:  # never mask the real error
                log.debug("could not remove the empty session %s: %s", session_id, cleanup)
        if exc is not None:
            exc.user_text = text  # type: ignore[attr-defined]
            exc.session_id = session_id  # type: ignore[attr-defined]

    def _backend_error(self, exc: BaseException) -> BackendError:
        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, TimeoutError):
            return BackendError(
                f"the backend did not answer within {self.config.turn_timeout_s:g} s "
                "(AgentConfig.turn_timeout_s); nothing was stored"
            )
        name = getattr(self._backend, "name", self.config.backend)
        return BackendError(f"backend {name!r} failed: {type(exc).__name__}: {exc}")

    async def respond(
        self, text: str, session_id: str | None = None, *, tenant: str = DEFAULT_TENANT
    ) -> TurnResult:
        """Run one turn and return its result (a new session when ``session_id`` is None)."""
        t_start = time.perf_counter()
        clean = text
        created = session_id is None
        try:
            clean, session_id = await self._begin(text, session_id, tenant)
            async with self._lock(session_id):
                turn = await self._prepare(clean, session_id, tenant, t_start)
                t0 = time.perf_counter()
                try:
                    async with asyncio.timeout(self.config.turn_timeout_s):
                        cont = await self.backend.generate(turn.prompt.messages, self._params(turn))
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    raise self._backend_error(exc) from exc
                result = await self._finish(turn, cont, _ms(t0))
                result.trace.timings_ms["total"] = _ms(t_start)
                return result
        except AffagentError as exc:
            await self._failed(exc, clean, session_id, tenant, created)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await self._failed(None, clean, session_id, tenant, created)
            raise

    async def stream(
        self, text: str, session_id: str | None = None, *, tenant: str = DEFAULT_TENANT
    ) -> AsyncIterator[StreamEvent]:
        """Run one turn, yielding ``token`` events as the reply is generated and a final
        ``done`` event with the committed result. Stopping the iteration early (or
        cancelling the task) stores nothing."""
        t_start = time.perf_counter()
        clean = text
        created = session_id is None
        try:
            clean, session_id = await self._begin(text, session_id, tenant)
            async with self._lock(session_id):
                turn = await self._prepare(clean, session_id, tenant, t_start)
                t0 = time.perf_counter()
                fixer = _PrefillStream(turn.prompt.prefill)
                parts: list[str] = []
                try:
                    agen = self.backend.stream(turn.prompt.messages, self._params(turn))
                    deadline = _deadline(agen, self.config.turn_timeout_s)
                    async with aclosing(deadline) as deltas:  # type: ignore[type-var]
                        async for delta in deltas:
                            out = fixer.feed(delta)
                            if out:
                                parts.append(out)
                                yield StreamEvent(kind="token", text=out)
                        out = fixer.flush()
                        if out:
                            parts.append(out)
                            yield StreamEvent(kind="token", text=out)
                except (asyncio.CancelledError, KeyboardInterrupt, GeneratorExit):
                    raise
                except Exception as exc:
                    raise self._backend_error(exc) from exc
                result = await self._finish(turn, "".join(parts), _ms(t0))
                result.trace.timings_ms["total"] = _ms(t_start)
            yield StreamEvent(kind="done", result=result)
        except AffagentError as exc:
            await self._failed(exc, clean, session_id, tenant, created)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await self._failed(None, clean, session_id, tenant, created)
            raise

    # ------------------------------------------------------------------ sync + langchain
    def respond_sync(
        self, text: str, session_id: str | None = None, *, tenant: str = DEFAULT_TENANT
    ) -> TurnResult:
        """:meth:`respond` from synchronous code (runs on the agent's private loop)."""
        return self._portal.call(self.respond(text, session_id, tenant=tenant))

    def stream_sync(
        self, text: str, session_id: str | None = None, *, tenant: str = DEFAULT_TENANT
    ) -> Iterator[StreamEvent]:
        """:meth:`stream` from synchronous code; breaking out of the loop stores nothing."""
        return self._portal.iterate(self.stream(text, session_id, tenant=tenant))

    def warm_up_sync(self) -> dict[str, str]:
        return self._portal.call(self.warm_up())

    def as_runnable(self) -> Runnable[Any, Any]:
        """This agent as a langchain-core ``Runnable`` (see :class:`AgentRunnable`)."""
        from affagent.agent._runnable import AgentRunnable

        return AgentRunnable(self)

    async def aclose(self) -> None:
        """Close the backend and the store's connections."""
        if self._backend is not None:
            await self._backend.aclose()
        self.store.close()

    def close(self) -> None:
        """:meth:`aclose` from synchronous code; also stops the private loop."""
        try:
            self._portal.call(self.aclose())
        finally:
            self._portal.close()
