"""The examples in the pure modules' docstrings are run: a manual that shows a wrong number
(as affagent.stats once did) fails here."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "affagent.stats",
    "affagent.backends._reply",
    "affagent.backends._common",
    "affagent.prompting.openers",
    "affagent.backends._continue",
    "affagent.perception.causes",
    "affagent.backends._steering",
    "affagent.evals.injection.scoring",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
