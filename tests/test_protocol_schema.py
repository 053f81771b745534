"""Protocol files: the shipped ones validate; malformed ones fail with file, turn and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from affagent.errors import ConfigError
from affagent.evals.protocol import (
    DEFAULT_ROLES,
    PhaseRoles,
    list_protocols,
    load_protocol,
    load_protocol_file,
)

SHIPPED = ["adversarial-reconciliation", "emotional-support", "tone-swings"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_have_25_turns_and_all_three_roles(name: str) -> None:
    proto = load_protocol(name)
    assert len(proto.turns) == 25
    roles = proto.phase_roles()
    used = {roles.role(p) for p in proto.phases}
    assert {"adversarial", "reconciliation"} <= used
    # the arc goes negative first, then reconciles
    first_adv = next(i for i, p in enumerate(proto.phases) if roles.role(p) == "adversarial")
    first_rec = next(i for i, p in enumerate(proto.phases) if roles.role(p) == "reconciliation")
    assert first_adv < first_rec


def test_list_protocols_finds_the_shipped_files() -> None:
    assert set(SHIPPED) <= set(list_protocols())


def test_emotional_support_uses_esconv_stage_names() -> None:
    proto = load_protocol("emotional-support")
    order = list(dict.fromkeys(proto.phases))
    assert order == ["distress", "exploration", "comfort", "action"]


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def test_minimal_form_with_any_phase_names_and_extra_fields(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: mini\nauthor: me\nturns:\n"
        "  - {user: hello, phase: calm, note: extra ok}\n"
        "  - {user: go away, phase: stormy}\n",
    )
    proto = load_protocol_file(f)
    assert proto.phases == ["calm", "stormy"]
    assert proto.turns[0].model_extra == {"note": "extra ok"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "name: x\nturns:\n  - {user: a, phase: n}\n  - {phase: n}\n",
            "turn 2: field 'user' is missing",
        ),
        ("name: x\nturns: []\n", "'turns' is empty"),
        ("name: x\n", "'turns' is missing"),
        ("name: x\nturns:\n  - {user: '  ', phase: n}\n", "turn 1: field 'user'"),
        ("name: x\nturns:\n  - {user: a}\n", "turn 1: field 'phase' is missing"),
        ("name: x\nturns:\n  - just a string\n", "turn 1 must be a mapping"),
        ("name: x\nturns: [\n  {user: a, phase: [\n", "not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        (
            "name: x\nroles: {adversarial: [angry]}\nturns:\n  - {user: a, phase: calm}\n",
            "roles.adversarial names phase 'angry'",
        ),
    ],
)
def test_malformed_protocol_names_file_turn_and_problem(
    tmp_path: Path, text: str, needle: str
) -> None:
    f = _write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_protocol_file(f)
    msg = str(ei.value)
    assert str(f) in msg
    assert needle in msg
    assert "\n" not in msg


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_protocol_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"unknown protocol 'nope'; shipped: .*tone-swings"):
        load_protocol("nope")


def test_roles_file_overrides_defaults_and_cli_overrides_file(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "name: x\nroles: {adversarial: [stormy], reconciliation: [sunny]}\nturns:\n"
        "  - {user: a, phase: neutral}\n  - {user: b, phase: stormy}\n"
        "  - {user: c, phase: sunny}\n",
    )
    proto = load_protocol_file(f)
    roles = proto.phase_roles()
    assert roles.role("stormy") == "adversarial"
    assert roles.role("sunny") == "reconciliation"
    assert roles.role("neutral") == "neutral"  # left out → default names
    assert roles.role("adversarial") is None
    cli = PhaseRoles.of(["sunny"], ["neutral"], [])
    assert proto.phase_roles(cli).role("neutral") == "adversarial"
    assert DEFAULT_ROLES.role("Hostile") == "adversarial"


def test_digest_changes_with_content(tmp_path: Path) -> None:
    a = load_protocol_file(_write(tmp_path, "name: x\nturns:\n  - {user: a, phase: n}\n", "a.yaml"))
    b = load_protocol_file(_write(tmp_path, "name: x\nturns:\n  - {user: b, phase: n}\n", "b.yaml"))
    assert a.digest() != b.digest()
