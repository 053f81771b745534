"""affagent: a stateful affective dialogue agent.

The emotional state lives outside the language model, in :mod:`affagent.affect`, and moves by
explicit dynamics; every turn injects it into the prompt. Heavy dependencies (torch,
llama.cpp, sentence-transformers) load on first use, never at ``import affagent``.
"""

from __future__ import annotations

from affagent.affect.dynamics import DynamicsSpec, parse_dynamics, step
from affagent.affect.personality import Personality
from affagent.affect.state import AffectState
from affagent.affect.vad import VAD
from affagent.errors import AffagentError

__version__ = "0.1.0"

__all__ = [
    "VAD",
    "AffagentError",
    "AffectState",
    "DynamicsSpec",
    "Personality",
    "__version__",
    "parse_dynamics",
    "step",
]
