"""The shared sentence encoder: loaded offline, once; similar sentences are closer."""

import os

import numpy as np
import pytest

from aicrm.nlp.embeddings import encode_sentences, get_sentence_encoder


def test_get_sentence_encoder_offline_and_cached():
    pytest.importorskip("sentence_transformers")
    encoder = get_sentence_encoder()
    assert encoder is not None and get_sentence_encoder() is encoder
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    vectors = encode_sentences(["my parcel is late", "the delivery has not arrived yet", "I love the colour", "my parcel is late"])
    assert vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[3])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert encode_sentences([]).shape == (0, 384)
