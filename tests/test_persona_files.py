from __future__ import annotations

from pathlib import Path

import pytest

from affagent.errors import ConfigError
from affagent.persona import list_personas, load_persona


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


def test_unknown_role_names_field_and_allowed_values(tmp_path: Path) -> None:
    f = _write(tmp_path, "name: X\nstyle: s\ntraits: {}\nrole: therapist\n")
    with pytest.raises(ConfigError) as e:
        load_persona(str(f))
    msg = str(e.value)
    assert str(f) in msg and "role: must be one of" in msg
    assert "empathic_concern, contagion, composed" in msg and "'therapist'" in msg


@pytest.mark.parametrize("stem", list_personas())
def test_every_shipped_persona_declares_its_role(stem: str) -> None:
    from affagent._yaml import read_yaml_mapping
    from affagent.affect.appraisal import ROLES
    from affagent.persona import persona_dir

    raw = read_yaml_mapping(persona_dir() / f"{stem}.yaml", "persona")
    assert raw.get("role") in ROLES, f"{stem}.yaml must declare role: one of {ROLES}"
    assert load_persona(stem).role == raw["role"]


def test_roles_of_the_shipped_personas() -> None:
    """The neutral persona mirrors (so the paper replication is unchanged by appraisal); the
    listener and the professionals do not."""
    assert load_persona("neutral").role == "contagion"
    assert load_persona("calm-counsellor").role == "empathic_concern"
    assert load_persona("support-agent").role == "composed"
