from __future__ import annotations

from pathlib import Path

import pytest

from affagent.errors import ConfigError
from affagent.persona import load_persona


def _write(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "broken.yaml"
    f.write_text(body)
    return f


def test_out_of_range_trait_names_file_field_and_range(tmp_path: Path) -> None:
    f = _write(tmp_path, "name: X\nstyle: s\ntraits: {neuroticism: 1.5}\n")
    with pytest.raises(ConfigError) as e:
        load_persona(str(f))
    msg = str(e.value)
    assert str(f) in msg and "traits.neuroticism" in msg and "between 0 and 1" in msg


@pytest.mark.parametrize(
    "body,needle",
    [
        ("name: X\nstyle: s\ntraits: {}\ncolour: red\n", "colour: unknown field"),
        ("name: X\ntraits: {}\n", "style"),
        ("name: X\nstyle: s\ntraits: {}\ndynamics: wobbly\n", "dynamics"),
        ("- just\n- a list\n", "mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_malformed_persona_files(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_persona(str(_write(tmp_path, body)))


def test_unknown_persona_lists_available() -> None:
    with pytest.raises(ConfigError, match="calm-counsellor"):
        load_persona("no-such-persona")
