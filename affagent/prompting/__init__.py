"""Prompt assembly: persona, the state in numbers and words, strategy guidance, emotion hints
and a bounded history window, with the state injected by a named method.

>>> from affagent.prompting import PromptBuilder, PromptInputs
>>> builder = PromptBuilder(injection="prefill", history_turns=6)

See :mod:`affagent.prompting._injection` for the methods and :mod:`affagent.prompting.openers`
for the tone bank.
"""

from __future__ import annotations

from affagent.prompting._builder import Prompt, PromptBuilder, PromptInputs
from affagent.prompting._injection import (
    INJECTIONS,
    Injection,
    InjectionPlan,
    parse_injection,
    register_injection,
)
from affagent.prompting._sections import (
    default_hints,
    hints_section,
    persona_section,
    state_section,
    state_words,
    strategy_section,
)

__all__ = [
    "INJECTIONS",
    "Injection",
    "InjectionPlan",
    "Prompt",
    "PromptBuilder",
    "PromptInputs",
    "default_hints",
    "hints_section",
    "parse_injection",
    "persona_section",
    "register_injection",
    "state_section",
    "state_words",
    "strategy_section",
]
