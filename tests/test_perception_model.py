"""The real perception model (shipped weights, real encoder): estimator, classifiers, causes,
bad input, and the shared encoder pass. Loaded once per module (~10-20 s on a busy CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from affagent.perception import format_hints, load_classifier, load_estimator
from affagent.perception.classifiers import EncoderEmotionClassifier
from affagent.perception.encoder import group_words, merge_lora
from affagent.perception.model import PerceptionModel, load_model
from affagent.types import EmotionClassifier, VADEstimator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> PerceptionModel:
    return load_model()


def test_onnx_and_torch_runtimes_agree(model: PerceptionModel) -> None:
    texts = ["I am furious with you", "What a lovely surprise!", "ok"]
    torch_model = load_model(runtime="torch")
    assert torch_model is not model and torch_model.encoder.runtime == "torch"
    a = np.stack([e.pooled for e in model.encode(texts)])
    b = np.stack([e.pooled for e in torch_model.encode(texts)])
    assert np.abs(a - b).max() < 1e-3


def test_protocols_and_valence_order(model: PerceptionModel) -> None:
    est = load_estimator()
    assert isinstance(est, VADEstimator)
    happy, sad, calm = est.estimate(["I got the job, I am so happy and proud!",
                                     "My mother died last night and I feel empty.",
                                     "The meeting is on Tuesday at three."])
    assert happy.V > calm.V > sad.V
    assert happy.V > 0.2 and sad.V < -0.1
    for e in (happy, sad, calm):
        assert e.confidence == 1.0 and all(-1 <= x <= 1 for x in e.vad)


def test_bad_input_never_raises(model: PerceptionModel) -> None:
    est, clf = load_estimator(), load_classifier()
    texts = ["", "   \n\t", "😭😭😭", "Je suis tellement triste aujourd'hui", "狗死了",
             "word " * 2000]
    vads = est.estimate(texts)
    assert vads[0].confidence == vads[1].confidence == 0.0 and vads[0].vad.as_tuple() == (0, 0, 0)
    assert all(v.confidence == 1.0 for v in vads[2:])
    res = clf.classify(texts)
    assert res[0].labels == {} and res[1].causes == []
    for r in res[2:]:
        assert len(r.labels) == 28 and all(0 <= p <= 1 for p in r.labels.values())
    long = model.encode(["word " * 2000])[0]
    assert long.truncated and long.states.shape[0] == model.encoder.max_length
    assert not model.encode(["short text"])[0].truncated


def test_goemotions_classifier_and_causes(model: PerceptionModel) -> None:
    clf = load_classifier("goemotions")
    assert isinstance(clf, EmotionClassifier) and clf.label_set == "goemotions"
    text = "Thank you so much for helping me, I really appreciate it"
    r = clf.classify([text])[0]
    assert r.top(1)[0][0] == "gratitude"
    words = {w for w, _ in r.causes}
    assert words & {"thank", "appreciate"}, r.causes
    assert all(w.lower() in text.lower() for w in words) and len(r.causes) <= 3
    assert "gratitude" in format_hints(r)
    exact = EncoderEmotionClassifier("goemotions", model=model, cause_method="exact")
    assert {w for w, _ in exact.classify([text])[0].causes} & {"thank", "appreciate"}


def test_causes_name_content_words_not_grammar(model: PerceptionModel) -> None:
    """Occlusion scores "I" and "feel" high in a sentence about a feeling; the prompt tells
    the model to attend to these words, so grammar words are never named."""
    text = "My manager criticised my report in front of the whole team. I feel humiliated."
    for method in ("pooled", "exact"):
        clf = EncoderEmotionClassifier("goemotions", model=model, cause_method=method)
        words = [w for w, _ in clf.classify([text])[0].causes]
        assert "humiliated" in words, (method, words)
        assert not {"i", "my", "feel", "the", "in"} & set(words), (method, words)


def test_empathetic_classifier(model: PerceptionModel) -> None:
    clf = load_classifier("empathetic")
    r = clf.classify(["I was so scared when I heard someone break into my house at night"])[0]
    assert len(r.labels) == 32 and abs(sum(r.labels.values()) - 1) < 1e-3
    assert r.top(1)[0][0] in {"afraid", "terrified", "anxious", "apprehensive"}


def test_empathetic_head_reads_the_whole_dialogue(model: PerceptionModel,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    clf = EncoderEmotionClassifier("empathetic", model=model)
    assert clf.head.input == "dialogue"
    opening = "My best friend moved across the country last week."
    one = clf.probabilities_dialogues([[opening]])
    assert np.allclose(one, clf.probabilities([opening]), atol=1e-5)  # a text = a 1-turn dialogue
    dialogue = [opening, "Oh no, that must be hard. Do you talk often?",
                "Not really, I feel so alone in this city now."]
    p = clf.probabilities_dialogues([dialogue, ["", "  "], []])
    assert np.allclose(p[0].sum(), 1.0, atol=1e-4) and not p[1:].any()
    labels = list(clf.labels)
    assert p[0, labels.index("lonely")] > one[0, labels.index("lonely")]  # the later turns count
    calls: list[list[str]] = []
    real = model.encoder._forward
    monkeypatch.setattr(model.encoder, "_forward",
                        lambda texts: calls.append(list(texts)) or real(texts))
    clf.probabilities_dialogues([dialogue])
    assert calls == []  # every utterance and the joined context came from the cache
    r = clf.classify([dialogue[2]])[0]
    assert r.causes and all(w.lower() in dialogue[2].lower() for w, _ in r.causes)


def test_pooled_occlusion_is_the_mean_pool_without_the_word(model: PerceptionModel) -> None:
    enc = model.encode(["I am really angry at my brother"])[0]
    head = model.head("goemotions")
    k = head.labels.index("anger")
    scored = dict(model.pooled_occlusion(enc, head, k))
    rows = [i for w, idx in enc.words if w == "angry" for i in idx]
    keep = [i for i in range(enc.states.shape[0]) if i not in rows]
    direct = head.logits(enc.pooled)[k] - head.logits(enc.states[keep].mean(0))[k]
    assert scored["angry"] == pytest.approx(float(direct), rel=1e-4, abs=1e-5)
    assert scored["angry"] == max(scored.values())


def test_one_encoder_pass_serves_estimator_and_classifier(model: PerceptionModel,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = model.encoder._forward
    monkeypatch.setattr(model.encoder, "_forward",
                        lambda texts: calls.append(len(texts)) or real(texts))
    text = "a fresh sentence nobody encoded before 1234"
    load_estimator().estimate([text])
    load_classifier().classify([text])
    load_classifier("empathetic").classify([text])
    assert calls == [1]


def test_merge_lora_matches_the_adapter_path() -> None:
    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 4)
    a, b = torch.randn(2, 6), torch.randn(4, 2)
    merged = merge_lora({"m.weight": lin.weight.detach()}, {"m.lora_A": a, "m.lora_B": b}, 0.5)
    x = torch.randn(3, 6)
    expect = lin(x) + 0.5 * (x @ a.T @ b.T)
    got = x @ merged["m.weight"].T + lin.bias
    assert torch.allclose(got, expect.detach(), atol=1e-5)


def test_group_words() -> None:
    text = "Don't go, ok?! 😢"
    # offsets as a BERT tokenizer gives them: don ' t | go | , | ok | ? ! | 😢
    offs = [(0, 0), (0, 3), (3, 4), (4, 5), (6, 8), (8, 9), (10, 12), (12, 13), (13, 14),
            (15, 16), (0, 0)]
    words = group_words(text, offs)
    assert [w for w, _ in words] == ["Don't", "go", "ok", "😢"]
    assert words[0][1] == [1, 2, 3] and words[2][1] == [6, 7, 8]


def test_decide_falls_back_to_argmax(model: PerceptionModel) -> None:
    clf = EncoderEmotionClassifier("goemotions", model=model)
    p = np.zeros((1, 28), dtype=np.float32)
    p[0, 5] = 0.01
    assert clf.decide(p)[0].nonzero()[0].tolist() == [5]


def test_hf_plugin_on_a_local_model(tmp_path: Path) -> None:
    """Any local HF sequence classifier plugs in: a tiny random BERT with its own labels."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from affagent.perception.encoder import default_encoder_dir

    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=37,
                     id2label={0: "calm", 1: "upset", 2: "glad"},
                     label2id={"calm": 0, "upset": 1, "glad": 2})
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(str(default_encoder_dir())).save_pretrained(tmp_path)
    clf = load_classifier("hf", model_path=tmp_path, label_set="mood")
    assert isinstance(clf, EmotionClassifier)
    r, empty = clf.classify(["I am not sure how I feel today", " "])
    assert r.label_set == "mood" and set(r.labels) == {"calm", "upset", "glad"}
    assert abs(sum(r.labels.values()) - 1) < 1e-4  # single-label model: softmax
    assert all(w.lower() in "i am not sure how i feel today" for w, _ in r.causes)
    assert empty.labels == {}
