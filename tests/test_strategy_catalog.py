from __future__ import annotations

import json
from pathlib import Path

import pytest

from affagent.errors import ConfigError
from affagent.strategy import STRATEGY_NAMES, load_strategies, load_strategy_file


def test_shipped_catalogue_has_the_eight_esconv_strategies_in_order() -> None:
    strategies = load_strategies()
    assert [s.name for s in strategies] == list(STRATEGY_NAMES)
    stages = {s.name: s.stage for s in strategies}
    assert stages["Question"] == "exploration"
    assert stages["Providing Suggestions"] == "action"
    assert stages["Reflection of feelings"] == "comforting"


def test_definitions_are_the_papers(shared_data: Path) -> None:
    paper = json.loads((shared_data / "esconv" / "strat_definition.json").read_text())
    paper = {k.casefold(): v.split(": ", 1)[1].replace("’", "'") for k, v in paper.items()}
    for s in load_strategies():
        # the paper's "sup-port" is a hyphenation typo
        assert s.definition == paper[s.name.casefold()].replace("sup-port", "support")


def _write(tmp_path: Path, body: str, name: str = "09-broken.yaml") -> Path:
    f = tmp_path / name
    f.write_text(body)
    return f


GOOD = "name: Hug\ndefinition: d\nstage: comforting\nguidance: g\nexample: e\n"


@pytest.mark.parametrize(
    "body,needle",
    [
        (GOOD.replace("stage: comforting", "stage: soothing"), "stage: must be one of"),
        (GOOD + "colour: red\n", "colour: unknown field"),
        (GOOD.replace("guidance: g\n", ""), "guidance: Field required"),
        (GOOD.replace("example: e", "example: '   '"), "example"),
        ("- a\n- list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, body: str, needle: str) -> None:
    f = _write(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        load_strategy_file(f)
    assert str(f) in str(e.value) and needle in str(e.value)


def test_user_folder_can_add_strategies_and_duplicates_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "01-hug.yaml")
    _write(tmp_path, GOOD.replace("Hug", "Wave"), "02-wave.yaml")
    assert [s.name for s in load_strategies(tmp_path)] == ["Hug", "Wave"]
    _write(tmp_path, GOOD.replace("Hug", "hug"), "03-dup.yaml")
    with pytest.raises(ConfigError, match="duplicate strategy"):
        load_strategies(tmp_path)


def test_env_override_and_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFAGENT_STRATEGIES_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="no strategy files"):
        load_strategies()
