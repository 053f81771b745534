"""The turn: validate → safety → perceive → appraise → feel → choose → prompt → generate →
reflect → persist, owned by :class:`Agent` for every interface.

>>> from affagent.agent import Agent, AgentConfig
>>> agent = Agent(AgentConfig(backend="scripted"))            # doctest: +SKIP
>>> r = await agent.respond("I had an awful day")              # doctest: +SKIP
>>> async for ev in agent.stream("thanks", r.session_id): ...  # doctest: +SKIP

Also: ``respond_sync``/``stream_sync``, ``as_runnable()`` (langchain-core), ``new_session``,
and ``agent.store`` (:class:`affagent.store.SessionStore`).
"""

from __future__ import annotations

from affagent.agent._agent import Agent
from affagent.agent._config import AgentConfig, StreamEvent, TurnResult
from affagent.agent._input import clean_text
from affagent.agent._keywords import KeywordEstimator
from affagent.agent._reply import approx_tokens, join_reply
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
    RoleAppraiser,
    SelectorChooser,
    Stimulus,
)

__all__ = [
    "Agent",
    "AgentConfig",
    "Appraiser",
    "Chooser",
    "DynamicsFeeler",
    "EstimatorReflector",
    "Feeler",
    "KeywordEstimator",
    "ModelPerceiver",
    "Perceiver",
    "Perception",
    "Reflector",
    "RoleAppraiser",
    "SelectorChooser",
    "Stimulus",
    "StreamEvent",
    "TurnResult",
    "approx_tokens",
    "clean_text",
    "join_reply",
]
