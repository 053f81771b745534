"""The agent: one turn, one path, owned here for every interface.

validate → safety → perceive → appraise → feel → choose → prompt → generate → reflect → persist
(→ webhook). :meth:`Agent.respond`, :meth:`Agent.stream`, their sync twins, the Runnable, the
CLI, the TUI, the HTTP service, the protocol runner and the evaluations all run
:meth:`Agent._turn`; none re-implements a piece of it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from affagent.affect.dynamics import DynamicsSpec, parse_dynamics
from affagent.affect.state import AffectState
from affagent.agent._config import AgentConfig, StreamEvent, TurnResult
from affagent.agent._input import clean_text
from affagent.agent._portal import Portal
from affagent.agent._reply import approx_tokens, deadline, join_reply, with_prefill, words
from affagent.agent._stages import (
    Appraiser,
    Chooser,
    DynamicsFeeler,
    EstimatorReflector,
    Feeler,
    ModelPerceiver,
    Perceiver,
    Perception,
    Reflector,
    SelectorChooser,
    Stimulus,
)
from affagent.errors import AffagentError, BackendError, ConfigError
from affagent.persona import Persona, load_persona
from affagent.prompting import Prompt, PromptBuilder, PromptInputs, parse_injection
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

    from affagent.safety import SafetyCheck, SafetyDecision, SafetyWebhook

_T = TypeVar("_T")

log = logging.getLogger("affagent.agent")

#: How many of the user's previous messages the safety check reads with the new one.
SAFETY_CONTEXT_TURNS = 3


@dataclass
class _Turn:
    """A turn in flight, between the first stages and the commit."""

    session: SessionRecord
    tenant: str
    user_text: str
    persona: Persona
    dynamics: DynamicsSpec
    decision: SafetyDecision | None
    perception: Perception
    appraisal: Stimulus
    state_before: AffectState
    state_after: AffectState
    feeling: list[str]
    now: float
    choice: StrategyChoice | None = None
    prompt: Prompt | None = None
    prompt_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.session.turns + 1

    @property
    def safety_reply(self) -> str | None:
        """The safety layer's reply, when it replaces the model's for this turn."""
        return self.decision.reply if self.decision is not None else None


async def _uncancellable(work: Awaitable[_T]) -> _T:
    """Await ``work`` to its end even when the caller is cancelled meanwhile, then let the
    cancellation go on. The commit runs in a thread, which a cancel cannot stop: without this
    the caller would be told "cancelled, nothing stored" about a turn that was stored."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    result = task.result()
    if cancelled:
        raise asyncio.CancelledError
    return result


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)


def _feeling(state: AffectState, persona: Persona, appraisal: Stimulus) -> list[str]:
    """The words the prompt tells the model it feels: the state's nearest named emotions
    among those the persona's role allows, facing the user as perceived."""
    from affagent.affect import feeling_words

    return feeling_words(state.vad, role=persona.role, user=appraisal.perceived)


class Agent:
    """A stateful affective dialogue agent over a session store.

    >>> agent = Agent(AgentConfig(backend="scripted"))
    >>> r = agent.respond_sync("I failed my exam and I feel awful.")
    >>> r.session_id, r.turn, r.safety                       # doctest: +SKIP
    ('3f2a9c1d0b7e', 1, 'pass')
    >>> r = agent.respond_sync("Thanks, that helps.", r.session_id)   # the same session
    >>> agent.respond_sync("I want to end my life tonight.").safety   # doctest: +SKIP
    'crisis'

    Every turn runs the crisis/boundary check first (``AgentConfig.safety``; ``False`` is the
    only way to skip it): a crisis or boundary message gets the safety reply instead of the
    model's, and is stored like any turn with its decision in ``trace.safety``.

    Components named in ``config`` load lazily on the first turn (or :meth:`warm_up`), off the
    event loop; objects passed as keyword arguments replace them. The stages (``perceiver``,
    ``appraiser``, ``feeler``, ``chooser``, ``prompt_builder``, ``reflector``, ``guard``) are
    attributes and may be swapped too.

    Guarantees: a turn is committed atomically or not at all; on any failure (bad input,
    backend down or timing out, a broken or cancelled stream, a concurrent writer) nothing is
    stored and the session's state is unchanged. The commit point is the end of the reply: a
    cancel that arrives while the finished turn is being written waits for the write (the turn
    is stored) and is then raised. Errors raised by a turn carry the cleaned
    user text (``exc.user_text``) and the session id (``exc.session_id``; None when the turn
    would have created the session) so the caller can retry.
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
        guard: SafetyCheck | None = None,
        webhook: SafetyWebhook | None = None,
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
        self.guard: SafetyCheck | None = guard
        self._guard_given = guard is not None
        self.webhook: SafetyWebhook | None = webhook
        self.prompt_builder: PromptBuilder | None = None
        self.perceiver: Perceiver | None = None
        self.appraiser: Appraiser | None = None
        self.feeler: Feeler = DynamicsFeeler()
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
        load_persona(self.config.persona)
        if self.config.dynamics is not None:
            parse_dynamics(self.config.dynamics)
        if self.config.injection is not None:
            parse_injection(self.config.injection)

    # ------------------------------------------------------------------ components
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from affagent.agent._components import load_backend

            c = self.config
            self._backend = load_backend(
                c.backend,
                c.backend_options,
                model_path=c.model_path,
                base_url=c.base_url,
                model=c.model,
                api_key=c.api_key,
            )
            self.components["backend"] = getattr(self._backend, "name", c.backend)
        return self._backend

    @property
    def injection(self) -> str:
        """How the state reaches the model: ``AgentConfig.injection``, else the method the
        backend declares best for itself (``backend.capabilities.injection``)."""
        return self.config.injection or self.backend.capabilities.injection

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

        cfg, notes = self.config, self.components
        backend = self.backend  # first: a bad backend name fails before any model loads
        if self._estimator is None:
            self._estimator = comp.load_estimator(cfg.estimator, notes, cfg.strict_components)
        else:
            notes["estimator"] = getattr(self._estimator, "name", type(self._estimator).__name__)
        if not self._classifier_given:
            self._classifier = comp.load_classifier(
                cfg.classifier, notes, cfg.strict_components
            )
        else:
            notes["classifier"] = getattr(self._classifier, "name", "custom")
        if not self._selector_given:
            self._selector = comp.load_selector(
                cfg.selector,
                notes,
                backend if cfg.selector == "llm" else None,
                cfg.strict_components,
            )
        else:
            notes["selector"] = getattr(self._selector, "name", "custom")
        self.strategies = comp.load_strategies() if self._selector is not None else {}
        if self.perceiver is None:
            self.perceiver = ModelPerceiver(
                self._estimator, self._classifier, comp.load_hints_formatter()
            )
        if self.appraiser is None:
            self.appraiser = comp.load_appraiser(notes)
        if self.chooser is None:
            self.chooser = SelectorChooser(self._selector)
        if self.reflector is None:
            self.reflector = EstimatorReflector(self._estimator)
        if self.prompt_builder is None:
            self.prompt_builder = PromptBuilder(
                injection=self.injection,
                history_turns=cfg.history_turns,
                history_chars=cfg.history_chars,
                strategy_example=cfg.strategy_example,
            )
        notes["injection"] = self.prompt_builder.injection
        if any(m.name == "steer" for m in self.prompt_builder.methods):
            can = set(self.backend.capabilities.steering)
            if not {"V", "A", "D"} <= can:
                name = getattr(self.backend, "name", type(self.backend).__name__)
                raise ConfigError(
                    f"injection {self.prompt_builder.injection!r} needs activation steering "
                    f"(directions V, A, D); the {name} backend here has "
                    f"{', '.join(sorted(can)) or 'none'}: pick another method (system, "
                    "prefill, fewshot) or a model with steering vectors")
        if cfg.safety and not self._guard_given:
            self.guard = comp.load_guard(cfg, notes)
        elif self.guard is None:
            notes["safety"] = "off"
        else:
            notes["safety"] = getattr(self.guard, "name", "custom")
        if self.webhook is None and cfg.webhook_url:
            from affagent.safety import SafetyWebhook

            self.webhook = SafetyWebhook(
                cfg.webhook_url, timeout=cfg.webhook_timeout_s, secret=cfg.webhook_secret
            )

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
                asyncio.to_thread(self.perceiver.perceive, "Hello."), *self._load_models()
            )
            self._models_loaded = True
        return dict(self.components)

    def _load_models(self) -> list[Awaitable[Any]]:
        """What a first turn loads besides perception, to run in parallel with it: the
        backend's model (a backend with ``aload``, e.g. the embedded one), and the parts with
        a ``warm_up`` (the strategy selector's encoder, the prompt builder's imports, the
        safety detector's encoder), each on a worker thread."""
        loads: list[Awaitable[Any]] = []
        aload = getattr(self.backend, "aload", None)
        if callable(aload):
            loads.append(aload())
        detector = getattr(self.guard, "detector", None)
        for part in (self.chooser, self.prompt_builder, detector):
            warm = getattr(part, "warm_up", None)
            if callable(warm):
                loads.append(asyncio.to_thread(warm))
        return loads

    # ------------------------------------------------------------------ sessions
    def new_session(
        self,
        *,
        persona: str | None = None,
        dynamics: str | None = None,
        tenant: str = DEFAULT_TENANT,
        session_id: str | None = None,
    ) -> str:
        """Create a session at the persona's resting mood; returns its id. The one way a
        session is created (a turn without a session calls it too). Unknown personas and bad
        dynamics strings are :class:`~affagent.errors.ConfigError`."""
        name = persona or self.config.persona
        p = load_persona(name)
        if Path(name).suffix in (".yaml", ".yml"):
            name = str(Path(name).resolve())
        chosen = next((d for d in (dynamics, self.config.dynamics) if d is not None), p.dynamics)
        spec = parse_dynamics(chosen)
        rec = self.store.create_session(
            persona=name,
            dynamics=str(spec),
            state=AffectState.at_rest(p.traits.resting()),
            tenant=tenant,
            session_id=session_id,
        )
        return rec.id

    def _exists(self, session_id: str, tenant: str) -> bool:
        from affagent.errors import SessionNotFound

        try:
            self.store.get_session(session_id, tenant)
        except SessionNotFound:
            return False
        return True

    # ------------------------------------------------------------------ the turn
    def _lock(self, session_id: str) -> asyncio.Lock:
        key = (id(asyncio.get_running_loop()), session_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def _turn(
        self,
        text: str,
        session_id: str | None,
        *,
        tenant: str,
        locale: str | None,
        persona: str | None,
        dynamics: str | None,
        create: bool,
    ) -> AsyncGenerator[StreamEvent, None]:
        """The whole turn, as events: ``token`` deltas of the reply, then ``done`` with the
        committed result. Every public entry point runs this."""
        t_start = time.perf_counter()
        clean, created = text, False
        try:
            clean = clean_text(text, self.config.max_message_chars)  # validate
            await self._ensure_ready()
            if session_id is None or (
                create and not await asyncio.to_thread(self._exists, session_id, tenant)
            ):
                session_id = await asyncio.to_thread(
                    self.new_session,
                    persona=persona,
                    dynamics=dynamics,
                    tenant=tenant,
                    session_id=session_id,
                )
                created = True
            async with self._lock(session_id):
                turn = await self._prepare(clean, session_id, tenant, locale)
                t0 = time.perf_counter()
                parts: list[str] = []
                if turn.safety_reply is not None:
                    parts.append(turn.safety_reply)
                else:
                    async for delta in self._generate(turn):
                        parts.append(delta)
                        yield StreamEvent(kind="token", text=delta)
                result = await self._finish(turn, "".join(parts), _ms(t0))
                result.trace.timings_ms["total"] = _ms(t_start)
            if turn.safety_reply is not None:  # committed first, then shown
                for piece in words(result.reply):
                    yield StreamEvent(kind="token", text=piece)
            self._notify(result, turn)
            yield StreamEvent(kind="done", result=result)
        except AffagentError as exc:
            await self._failed(exc, clean, session_id, tenant, created)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await self._failed(None, clean, session_id, tenant, created)
            raise

    async def _prepare(
        self, text: str, session_id: str, tenant: str, locale: str | None
    ) -> _Turn:
        """load → safety → perceive → appraise → feel → (unless the safety layer answers)
        choose → prompt."""
        cfg, timings = self.config, {}
        t0 = time.perf_counter()
        session, history = await asyncio.to_thread(
            self.store.load_for_turn,
            session_id,
            tenant,
            max(cfg.history_turns, SAFETY_CONTEXT_TURNS if self.guard else 0),
        )
        timings["load"] = _ms(t0)
        persona = load_persona(session.persona)
        spec = parse_dynamics(session.dynamics)
        assert self.perceiver is not None and self.appraiser is not None

        decision: SafetyDecision | None = None
        if self.guard is not None:
            t0 = time.perf_counter()
            prior = [h.user_text for h in history[-SAFETY_CONTEXT_TURNS:]]
            decision = await asyncio.to_thread(
                self.guard.check,
                text,
                persona=persona,
                locale=locale or cfg.locale,
                history=prior,
            )
            timings["safety"] = _ms(t0)

        t0 = time.perf_counter()
        perception = await self._perceive_while_loading(text)
        timings["perceive"] = _ms(t0)

        t0 = time.perf_counter()
        appraisal = self.appraiser.appraise(perception, persona)
        timings["appraise"] = _ms(t0)

        t0 = time.perf_counter()
        now = self.clock()
        state_after = self.feeler.feel(
            session.state, appraisal.stimulus, persona.traits, spec, now)
        feeling = _feeling(state_after, persona, appraisal)
        timings["feel"] = _ms(t0)

        turn = _Turn(
            session=session,
            tenant=tenant,
            user_text=text,
            persona=persona,
            dynamics=spec,
            decision=decision,
            perception=perception,
            appraisal=appraisal,
            state_before=session.state,
            state_after=state_after,
            feeling=feeling,
            now=now,
            timings=timings,
        )
        if turn.safety_reply is None:
            window = history[-cfg.history_turns :] if cfg.history_turns else []
            await self._choose_and_prompt(turn, window)
        return turn

    async def _choose_and_prompt(self, turn: _Turn, history: list[HistoryItem]) -> None:
        assert self.chooser is not None and self.prompt_builder is not None
        t0 = time.perf_counter()
        context = self._strategy_context(history, turn.user_text, turn.perception, turn.state_after)
        turn.choice = await asyncio.to_thread(self.chooser.choose, context)
        turn.timings["choose"] = _ms(t0)

        t0 = time.perf_counter()
        choice = turn.choice
        turn.prompt = self.prompt_builder.build(
            PromptInputs(
                persona=turn.persona,
                state=turn.state_after,
                user_text=turn.user_text,
                history=[(h.user_text, h.reply) for h in history],
                strategy=choice,
                strategy_info=self.strategies.get(choice.strategy) if choice else None,
                hints=turn.perception.hints,
                key=f"{turn.session.id}:{turn.number}",
                feeling=tuple(turn.feeling),
            )
        )
        turn.prompt_tokens = await self._count_tokens(turn.prompt.messages)
        turn.timings["prompt"] = _ms(t0)

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

    def _params(self, prompt: Prompt) -> GenerationParams:
        """The caller's options completed with what the backend declares it wants
        (:func:`affagent.backends.params_for`)."""
        from affagent.backends import params_for

        return params_for(
            self.config.generation, self.backend.capabilities, prefill=prompt.prefill,
            steering=prompt.steering,
        )

    async def _generate(self, turn: _Turn) -> AsyncGenerator[str, None]:
        """The backend's stream under the turn's deadline, with the prefill contract kept,
        through the reply filter (whole sentences, no unfinished tail, no echo loop, the
        strategy's sentence limit): what the user reads is what the benchmark scores."""
        from affagent.backends import filter_stream

        prompt = turn.prompt
        assert prompt is not None
        try:
            agen = self.backend.stream(prompt.messages, self._params(prompt))
            async with aclosing(deadline(agen, self.config.turn_timeout_s)) as deltas:
                texts = with_prefill(deltas, prompt.prefill)
                if self.config.reply_filter:  # it closes the stream (the backend stops) once done
                    texts = filter_stream(texts, max_sentences=prompt.max_sentences,
                                          prefill=prompt.prefill)
                async with aclosing(texts):
                    async for text in texts:
                        yield text
        except (asyncio.CancelledError, KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:
            raise self._backend_error(exc) from exc

    async def _finish(self, turn: _Turn, text: str, t_gen: float) -> TurnResult:
        """reflect → persist, and the result."""
        if turn.prompt is not None:
            reply = join_reply(turn.prompt.prefill, text)
            turn.timings["generate"] = t_gen
        else:
            reply = text
        if not reply:
            raise BackendError("the backend returned an empty reply; nothing was stored")
        assert self.reflector is not None
        t0 = time.perf_counter()
        reply_estimate = await asyncio.to_thread(self.reflector.reflect, reply)
        turn.timings["reflect"] = _ms(t0)
        est = turn.perception.estimate
        stim = turn.appraisal.stimulus.to_dict()
        decision = turn.decision
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
            appraisal=turn.appraisal.to_dict(),
            state_before=turn.state_before.to_dict(),
            state_after=turn.state_after.to_dict(),
            feeling=turn.feeling,
            strategy=turn.choice,
            prompt_sections=turn.prompt.sections if turn.prompt else {},
            prompt_messages=turn.prompt.messages if turn.prompt else [],
            prompt_tokens=turn.prompt_tokens,
            injection=turn.prompt.injection if turn.prompt else "",
            reply_estimate=reply_estimate,
            safety=decision.trace() if decision is not None and decision.overrides else None,
            timings_ms=turn.timings,
        )
        t0 = time.perf_counter()
        await _uncancellable(
            asyncio.to_thread(
                self.store.commit_turn,
                turn.session.id,
                turn.session.version,
                trace,
                turn.state_after,
                tenant=turn.tenant,
            )
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
            safety=decision.action if decision is not None else None,
            feeling=turn.feeling,
            stimulus=stim,
            trace=trace,
        )

    def _notify(self, result: TurnResult, turn: _Turn) -> None:
        """The webhook, for a flagged (crisis) turn, after it is stored; fire-and-forget."""
        decision = turn.decision
        if self.webhook is None or decision is None or not decision.flagged:
            return
        self.webhook.fire(
            {
                "event": "safety.flagged",
                "tenant": turn.tenant,
                "session_id": result.session_id,
                "turn": result.turn,
                "user_text": turn.user_text,
                **decision.trace(),
            }
        )

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
        elif created:
            session_id = None
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

    # ------------------------------------------------------------------ public entry points
    async def respond(
        self,
        text: str,
        session_id: str | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        locale: str | None = None,
        persona: str | None = None,
        dynamics: str | None = None,
        create: bool = False,
    ) -> TurnResult:
        """Run one turn and return its result.

        ``session_id=None`` starts a new session (``persona`` / ``dynamics``, else the
        config's); ``create=True`` starts one *with that id* when it does not exist yet
        (``persona`` and ``dynamics`` are ignored for a session that exists). A session a
        turn creates is removed again if the turn fails. ``locale`` picks the crisis lines
        for this turn (else ``AgentConfig.locale``, then the persona's)."""
        result: TurnResult | None = None
        turn = self.stream(text, session_id, tenant=tenant, locale=locale, persona=persona,
                           dynamics=dynamics, create=create)
        async with aclosing(turn) as events:
            async for ev in events:
                if ev.kind == "done":
                    result = ev.result
        assert result is not None, "a turn always ends with its done event"
        return result

    async def stream(
        self,
        text: str,
        session_id: str | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        locale: str | None = None,
        persona: str | None = None,
        dynamics: str | None = None,
        create: bool = False,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Run one turn, yielding ``token`` events as the reply is generated and a final
        ``done`` event with the committed result (arguments as :meth:`respond`). Stopping
        the iteration early (or cancelling the task) stores nothing. A safety reply is
        stored first, then streamed word by word."""
        turn = self._turn(
            text,
            session_id,
            tenant=tenant,
            locale=locale,
            persona=persona,
            dynamics=dynamics,
            create=create,
        )
        async with aclosing(turn) as events:
            async for ev in events:
                yield ev

    def respond_sync(
        self, text: str, session_id: str | None = None, **kw: Any
    ) -> TurnResult:
        """:meth:`respond` from synchronous code (runs on the agent's private loop)."""
        return self._portal.call(self.respond(text, session_id, **kw))

    def stream_sync(
        self, text: str, session_id: str | None = None, **kw: Any
    ) -> Iterator[StreamEvent]:
        """:meth:`stream` from synchronous code; breaking out of the loop stores nothing."""
        return self._portal.iterate(self.stream(text, session_id, **kw))

    def warm_up_sync(self) -> dict[str, str]:
        return self._portal.call(self.warm_up())

    def as_runnable(self) -> Runnable[Any, Any]:
        """This agent as a langchain-core ``Runnable`` (see :class:`AgentRunnable`)."""
        from affagent.agent._runnable import AgentRunnable

        return AgentRunnable(self)

    async def aclose(self) -> None:
        """Close the backend and the store's connections; wait (bounded) for webhook calls
        still in flight."""
        if self.webhook is not None:
            await self.webhook.drain()
        if self._backend is not None:
            await self._backend.aclose()
        self.store.close()

    def close(self) -> None:
        """:meth:`aclose` from synchronous code; also stops the private loop."""
        try:
            self._portal.call(self.aclose())
        finally:
            self._portal.close()
