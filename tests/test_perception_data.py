"""Data readers: the formats of shared/data, and one-line errors for anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from affagent.errors import DataFormatError
from affagent.perception.data import (
    EMPATHETIC_LABELS,
    GOEMOTIONS_LABELS,
    read_emobank,
    read_empathetic,
    read_goemotions,
    sniff_emotion_format,
)


def test_emobank_scale_and_split(tmp_path: Path) -> None:
    p = tmp_path / "eb.csv"
    p.write_text('id,split,V,A,D,text\na,train,5,3,1,"Great, really"\nb,dev,1,2,3,bad\n')
    rows = read_emobank(p)
    assert [r.id for r in rows] == ["a", "b"]
    assert rows[0].vad.as_tuple() == (1.0, 0.0, -1.0)
    assert rows[0].text == "Great, really"
    assert [r.id for r in read_emobank(p, "dev")] == ["b"]


@pytest.mark.parametrize(
    "content",
    ["text,label\nhello,1\n", "id,split,V,A,D,text\na,train,x,3,3,hi\n", "id,split,V,A,D,text\n"],
)
def test_emobank_bad_file_names_file_and_columns(tmp_path: Path, content: str) -> None:
    p = tmp_path / "wrong.csv"
    p.write_text(content)
    with pytest.raises(DataFormatError) as e:
        read_emobank(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "id,split,V,A,D,text" in msg


def test_goemotions(tmp_path: Path) -> None:
    p = tmp_path / "ge.tsv"
    p.write_text("I love it\t18,17\tx1\nmeh\t27\tx2\n")
    rows = read_goemotions(p)
    assert rows[0].labels == ("love", "joy") and rows[1].labels == ("neutral",)
    assert len(GOEMOTIONS_LABELS) == 28
    (tmp_path / "bad.tsv").write_text("just text\n")
    with pytest.raises(DataFormatError, match=r"bad\.tsv.*label ids"):
        read_goemotions(tmp_path / "bad.tsv")
    (tmp_path / "oob.tsv").write_text("t\t28\tx\n")
    with pytest.raises(DataFormatError, match="out of range"):
        read_goemotions(tmp_path / "oob.tsv")


def test_empathetic_context_and_text(tmp_path: Path) -> None:
    p = tmp_path / "ed.jsonl"
    rows = [{"context": ["I lost it.", "Oh no", "Yes."], "emotion": "sad"},
            {"context": ["I lost it."], "emotion": "sad"},
            {"text": "So proud of her", "emotion": "proud"}]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = read_empathetic(p)
    assert items[0].text == "I lost it. Oh no Yes." and items[0].labels == ("sad",)
    assert items[0].group == items[1].group != items[2].group
    assert len(EMPATHETIC_LABELS) == 32
    (tmp_path / "bad.jsonl").write_text('{"context": ["x"], "emotion": "hangry"}\n')
    with pytest.raises(DataFormatError, match="unknown emotion"):
        read_empathetic(tmp_path / "bad.jsonl")


def test_sniff(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("hi\t1\tx\n")
    (tmp_path / "b.jsonl").write_text('{"text": "hi", "emotion": "sad"}\n')
    (tmp_path / "c.csv").write_text("id,split,V,A,D,text\n")
    assert sniff_emotion_format(tmp_path / "a.tsv") == "goemotions"
    assert sniff_emotion_format(tmp_path / "b.jsonl") == "empathetic"
    with pytest.raises(DataFormatError, match=r"c\.csv.*GoEmotions TSV"):
        sniff_emotion_format(tmp_path / "c.csv")
    with pytest.raises(DataFormatError, match="no such file"):
        sniff_emotion_format(tmp_path / "missing.tsv")


def test_shared_files_parse(shared_data: Path) -> None:
    assert len(read_emobank(shared_data / "emobank" / "emobank.csv", "dev")) == 1000
    assert len(read_goemotions(shared_data / "goemotions" / "dev.tsv")) == 5426
    assert len(read_empathetic(shared_data / "empatheticdialogues" / "ed_dev.jsonl")) == 5734


def test_ed_split_is_by_conversation_and_fixed(tmp_path: Path) -> None:
    from affagent.perception.data import ED_PARTS, grouped_part

    p = tmp_path / "ed.jsonl"
    rows = [{"context": [f"story {i}", "oh no", "yes"][: 1 + (k % 3)], "emotion": "sad"}
            for i in range(400) for k in range(2)]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = read_empathetic(p)
    assert items[1].context == ("story 0", "oh no") and items[1].group == "story 0"
    parts: dict[str, set[str]] = {}
    for it in items:
        parts.setdefault(grouped_part(it.group), set()).add(it.group)
    assert set(parts) == {name for name, _ in ED_PARTS}
    assert not parts["fit"] & parts["heldout"] and not parts["select"] & parts["heldout"]
    assert 0.5 < len(parts["fit"]) / 400 < 0.7 and 0.12 < len(parts["heldout"]) / 400 < 0.28
    # the split is a function of the conversation and the seed alone
    assert grouped_part("story 7") == grouped_part("story 7")
    assert [grouped_part(f"story {i}", seed=1) for i in range(50)] != [
        grouped_part(f"story {i}") for i in range(50)]
