"""The assistant's understanding layer: text -> intent, confidence, ranking, entities, out-of-scope flag.

The dialogue policy sits on top and only reads :class:`Understanding`; it never sees features or scores.

Model. One linear classifier (a linear SVM) over three feature blocks side by side: unit-length MiniLM sentence
embeddings (scaled by ``embedding_weight``), word 1-2-gram TF-IDF and character 2-5-gram TF-IDF. The embedding
carries paraphrase knowledge, the n-grams carry the exact domain words ("top-up", "PIN", "refund") that a small
frozen encoder blurs; on BANKING77 the mix beats either alone by 1-3 points of accuracy. Without the ``nlp`` extra
(or with ``embeddings=False``) the TF-IDF blocks work alone.

Confidence and out-of-scope. Training files have no out-of-scope rows, so rejection is learned from held-back
in-scope rows only. ``cv``-fold out-of-fold decision scores become probabilities by a softmax whose temperature
minimises their log-loss (temperature scaling, Guo et al. 2017). A message is out of scope when either
- its top probability is below ``threshold_``: the classifier cannot choose (near-domain messages), or
- its cosine similarity to the nearest training example of the chosen intent is below ``similarity_threshold_``:
  it resembles no example of that intent. A softmax alone cannot see this: "what's the weather in Paris?" lies far
  from every intent yet farther still from all but one, and gets a confident "product_question".
The similarity threshold is learned leave-one-out (each training example against the others of its intent), which
matches what the final model sees far better than k-fold on a small training file. Each threshold keeps
``1 - (1 - in_scope_target) / 2`` of the held-back in-scope rows, so together they keep at least ``in_scope_target``
of them (union bound).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

import aicrm
from aicrm.assistant.encoder import EmbeddingsUnavailable, embeddings_available, get_encoder
from aicrm.assistant.entities import Entity, ProductMatcher, extract_entities
from aicrm.core.errors import ModelNotTrained, ValidationFailed

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Understanding:
    """What the assistant understood of one message.

    ``intent`` is None when the message is out of scope; ``ranking`` still lists the best guesses (intent,
    probability), best first. ``margin`` is the probability gap between the first two: a small margin is the
    dialogue layer's cue to ask "did you mean A or B?" (see :meth:`candidates`).
    """

    text: str
    intent: str | None
    confidence: float
    ranking: list[tuple[str, float]]
    entities: list[Entity] = field(default_factory=list)
    out_of_scope: bool = False
    margin: float = 1.0
    similarity: float = 1.0

    def candidates(self, *, within: float = 0.15) -> list[str]:
        """The intents whose probability is within ``within`` of the best one (one name when it is clear)."""
        if not self.ranking:
            return []
        top = self.ranking[0][1]
        return [name for name, p in self.ranking if top - p <= within]

    def entities_of(self, kind: str) -> list[Entity]:
        """The entities of one type (``order_number``, ``email``, ``product`` or ``date``)."""
        return [e for e in self.entities if e.type == kind]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ranking"] = [[name, p] for name, p in self.ranking]
        return out


def training_fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """A SHA-256 over the labelled examples in order, naming the data a classifier was trained on."""
    h = hashlib.sha256()
    for text, label in zip(texts, labels):
        h.update(str(label).encode())
        h.update(b"\x1f")
        h.update(str(text).encode())
        h.update(b"\x1e")
    return h.hexdigest()


class IntentClassifier(BaseEstimator):
    """Intent classification with an out-of-scope threshold learned from held-back in-scope examples.

    Parameters
    ----------
    embeddings : use MiniLM sentence embeddings; None uses them when the ``nlp`` extra is installed, True requires
        them, False trains on TF-IDF n-grams only.
    in_scope_target : share of held-back in-scope examples the threshold must keep (the rest are the price paid
        for rejecting out-of-scope messages).
    C : inverse regularisation strength of the linear SVM.
    embedding_weight : length of the embedding block relative to each unit-length TF-IDF block.
    cv : folds used to hold back examples for the threshold and the temperature.
    top_k : length of ``Understanding.ranking``.
    """

    def __init__(self, *, embeddings: bool | None = None, in_scope_target: float = 0.99, C: float = 0.3,
                 embedding_weight: float = 2.0, cv: int = 3, top_k: int = 5, random_state: int | None = 0):
        self.embeddings = embeddings
        self.in_scope_target = in_scope_target
        self.C = C
        self.embedding_weight = embedding_weight
        self.cv = cv
        self.top_k = top_k
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------------ training
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        """Learn the intents of ``texts`` (one label each) and the out-of-scope threshold."""
        started = time.perf_counter()
        texts, labels = self._check_training_data(texts, labels)
        if not 0.5 <= self.in_scope_target < 1:
            raise ValidationFailed(f"in_scope_target must be in [0.5, 1), got {self.in_scope_target}",
                                   hint="0.97-0.99 suits most shops.")
        self.use_embeddings_ = self._resolve_embeddings()
        self.encoder_name_ = get_encoder().name if self.use_embeddings_ else None
        self.model_name_ = "minilm+tfidf-svm" if self.use_embeddings_ else "tfidf-svm"
        y = np.asarray(labels, dtype=object)
        emb = get_encoder().encode(texts) if self.use_embeddings_ else None

        counts = Counter(labels)
        folds = min(self.cv, min(counts.values()))
        oof = np.zeros((len(texts), len(counts)))
        classes = np.array(sorted(counts), dtype=object)
        for train_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(texts, y):
            train_texts, held_texts = [texts[i] for i in train_idx], [texts[i] for i in held_idx]
            blocks, train_parts = self._fit_blocks(train_texts)
            x_train = self._stack(train_parts, None if emb is None else emb[train_idx])
            x_held = self._stack(self._transform(blocks, held_texts), None if emb is None else emb[held_idx])
            svm = self._new_svm().fit(x_train, y[train_idx])
            oof[np.ix_(held_idx, np.searchsorted(classes, svm.classes_))] = _as_2d(svm.decision_function(x_held))
        truth = np.searchsorted(classes, y)
        self.temperature_ = _fit_temperature(oof, truth)
        oof_conf = _softmax(oof * self.temperature_).max(axis=1)
        self.blocks_, parts = self._fit_blocks(texts)
        self.memory_ = self._memory(parts, emb)
        self.memory_labels_ = truth
        loo_sim = self._similarity(self.memory_, truth, self.memory_, truth, leave_one_out=True)
        share = (1 - self.in_scope_target) / 2
        # Capped: on separable data the held-back probabilities saturate at 1.0, and a threshold there would reject
        # clear-cut messages on rounding noise.
        self.threshold_ = float(min(np.quantile(oof_conf, share), 0.999))
        self.similarity_threshold_ = float(np.quantile(loo_sim, share))
        kept = (oof_conf >= self.threshold_) & (loo_sim >= self.similarity_threshold_)
        self.cv_accuracy_ = float((oof.argmax(axis=1) == truth).mean())
        self.cv_in_scope_kept_ = float(kept.mean())
        self.cv_accepted_accuracy_ = float(((oof.argmax(axis=1) == truth) & kept).mean())

        self.svm_ = self._new_svm().fit(self._stack(parts, emb), y)
        self.classes_ = np.asarray(self.svm_.classes_, dtype=object)
        self.n_train_ = len(texts)
        self.class_counts_ = dict(sorted(counts.items()))
        self.fingerprint_ = training_fingerprint(texts, labels)
        self.train_seconds_ = time.perf_counter() - started
        return self

    def _check_training_data(self, texts, labels) -> tuple[list[str], list[str]]:
        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise ValidationFailed(f"{len(texts)} texts but {len(labels)} labels", hint="Give one label per text.")
        bad = [i for i, (t, lab) in enumerate(zip(texts, labels))
               if not isinstance(t, str) or not t.strip() or lab is None or not str(lab).strip()]
        if bad:
            raise ValidationFailed(f"{len(bad)} example(s) with an empty text or label (first at index {bad[0]})",
                                   hint="Remove or fill in the empty examples.")
        labels = [str(lab).strip() for lab in labels]
        counts = Counter(labels)
        if len(counts) < 2:
            raise ValidationFailed("intent training needs at least two intents",
                                   hint="Add examples of a second intent (greeting, goodbye, ...).")
        thin = sorted(k for k, n in counts.items() if n < 2)
        if thin:
            raise ValidationFailed(f"intent(s) with a single example: {', '.join(thin[:10])}",
                                   hint="Give every intent at least two examples (ten or more work far better).")
        return [t.strip() for t in texts], labels

    def _resolve_embeddings(self) -> bool:
        if self.embeddings is False:
            return False
        if embeddings_available():
            try:
                get_encoder()
                return True
            except EmbeddingsUnavailable:
                if self.embeddings:
                    raise
                return False  # installed but broken: "auto" means the TF-IDF fallback
        if self.embeddings:
            raise EmbeddingsUnavailable("embeddings=True but the nlp extra is not installed",
                                        hint="pip install 'aicrm[nlp]', or pass embeddings=False.")
        return False

    def _new_svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, random_state=self.random_state)

    @staticmethod
    def _fit_blocks(texts: list[str]) -> tuple[tuple[TfidfVectorizer, TfidfVectorizer], list[sp.csr_matrix]]:
        """The word and character TF-IDF vectorisers fitted on ``texts``, and ``texts`` transformed by them."""
        # sublinear tf and char_wb n-grams: typos and inflections still share most character n-grams.
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                min_df=2 if len(texts) >= 1000 else 1)
        return (words, chars), [words.fit_transform(texts), chars.fit_transform(texts)]

    @staticmethod
    def _transform(blocks, texts: list[str]) -> list[sp.csr_matrix]:
        return [block.transform(texts) for block in blocks]

    def _stack(self, parts: list[sp.csr_matrix], emb: np.ndarray | None) -> sp.csr_matrix:
        if emb is not None:
            parts = [sp.csr_matrix(emb * self.embedding_weight), *parts]
        return sp.hstack(parts, format="csr")

    @staticmethod
    def _memory(parts: list[sp.csr_matrix], emb: np.ndarray | None):
        """Unit-length rows for nearest-example similarity: the embedding, else the character n-gram TF-IDF.

        Character n-grams rather than words: on simulated data they separate unseen intents better (shared filler
        words dominate word overlap), and a typo does not make a known message look new.
        """
        return emb if emb is not None else parts[1]

    @staticmethod
    def _similarity(memory, memory_labels: np.ndarray, rows, row_labels: np.ndarray, *,
                    leave_one_out: bool = False, chunk: int = 1024) -> np.ndarray:
        """Cosine similarity of each row to the nearest memory row of the same label (chunked to bound memory)."""
        out = np.full(rows.shape[0], -1.0)
        for start in range(0, rows.shape[0], chunk):
            block = rows[start:start + chunk] @ memory.T
            block = np.asarray(block.toarray() if sp.issparse(block) else block, dtype=np.float64)
            block[row_labels[start:start + chunk, None] != memory_labels[None, :]] = -1.0
            if leave_one_out:
                local = np.arange(block.shape[0])
                block[local, start + local] = -1.0
            out[start:start + chunk] = block.max(axis=1)
        return out

    # ------------------------------------------------------------------------------------------------ scoring
    def _score(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        emb = get_encoder().encode(texts) if self.use_embeddings_ else None
        parts = self._transform(self.blocks_, texts)
        scores = _as_2d(self.svm_.decision_function(self._stack(parts, emb)))
        similarity = self._similarity(self.memory_, self.memory_labels_, self._memory(parts, emb),
                                      scores.argmax(axis=1))
        return _softmax(scores * self.temperature_), similarity

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated intent probabilities, one row per text, columns in ``classes_`` order."""
        self._check_fitted()
        return self._score([str(t).strip() for t in texts])[0]

    def predict(self, texts: Sequence[str]) -> list[str | None]:
        """The intent of each text, or None where it is out of scope."""
        self._check_fitted()
        proba, similarity = self._score([str(t).strip() for t in texts])
        best = proba.argmax(axis=1)
        return [None if self._rejects(proba[i, b], similarity[i]) else str(self.classes_[b])
                for i, b in enumerate(best)]

    def _rejects(self, confidence: float, similarity: float) -> bool:
        return confidence < self.threshold_ or similarity < self.similarity_threshold_

    def parse(self, text: str, *, products: Sequence[str] | ProductMatcher | None = None,
              today: dt.date | None = None) -> Understanding:
        """Intent, confidence, ranking, entities and the out-of-scope flag of one message."""
        return self.parse_many([text], products=products, today=today)[0]

    def parse_many(self, texts: Sequence[str], *, products: Sequence[str] | ProductMatcher | None = None,
                   today: dt.date | None = None) -> list[Understanding]:
        """:meth:`parse` for a batch of messages (one encoder pass, so much faster than a loop)."""
        self._check_fitted()
        texts = [("" if t is None else str(t)) for t in texts]
        if isinstance(products, (list, tuple)):
            products = ProductMatcher(products)
        out: list[Understanding | None] = [None] * len(texts)
        live = [i for i, t in enumerate(texts) if t.strip()]
        if live:
            proba, similarity = self._score([texts[i].strip() for i in live])
        for k, i in enumerate(live):
            row = proba[k]
            order = np.argsort(-row)[: max(self.top_k, 2)]
            ranking = [(str(self.classes_[j]), float(row[j])) for j in order]
            confidence = ranking[0][1]
            rejected = self._rejects(confidence, similarity[k])
            out[i] = Understanding(
                text=texts[i], intent=None if rejected else ranking[0][0], confidence=confidence,
                ranking=ranking[: self.top_k], entities=extract_entities(texts[i], products=products, today=today),
                out_of_scope=bool(rejected), margin=ranking[0][1] - ranking[1][1], similarity=float(similarity[k]))
        for i, t in enumerate(texts):
            if out[i] is None:  # nothing to understand in an empty message
                out[i] = Understanding(text=t, intent=None, confidence=0.0, ranking=[], entities=[],
                                       out_of_scope=True, margin=0.0, similarity=0.0)
        return out

    # ------------------------------------------------------------------------------------------------ persistence
    def _check_fitted(self) -> None:
        if not hasattr(self, "svm_"):
            raise ModelNotTrained("This intent classifier is not trained yet",
                                  hint="Call fit(texts, labels) first, or use load_default_nlu().")

    def metrics(self) -> dict[str, Any]:
        """What training measured on held-back examples (no test set involved)."""
        self._check_fitted()
        return {"cv_accuracy": self.cv_accuracy_, "cv_accepted_accuracy": self.cv_accepted_accuracy_,
                "cv_in_scope_kept": self.cv_in_scope_kept_, "threshold": self.threshold_,
                "similarity_threshold": self.similarity_threshold_, "temperature": self.temperature_,
                "n_train": self.n_train_,
                "n_intents": len(self.classes_), "train_seconds": self.train_seconds_, "model": self.model_name_}

    def save(self, path: str | Path) -> Path:
        """Write the fitted classifier with its parameters, training fingerprint, metrics and versions."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"kind": "aicrm.intent_classifier", "format": FORMAT_VERSION, "aicrm_version": aicrm.__version__,
                     "sklearn_version": sklearn.__version__, "params": self.get_params(),
                     "fingerprint": self.fingerprint_, "encoder": self.encoder_name_, "metrics": self.metrics(),
                     "model": self}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, fingerprint: str | None = None) -> IntentClassifier:
        """Read a saved classifier; refuses another format, aicrm or scikit-learn version, or another fingerprint."""
        path = Path(path)
        if not path.exists():
            raise ModelNotTrained(f"{path}: no saved intent classifier", hint="Train one and call save() first.")
        try:
            blob = joblib.load(path)
        except Exception as exc:  # a truncated or foreign file: say which file, not a pickle traceback
            raise ValidationFailed(f"{path}: not a readable intent classifier ({exc.__class__.__name__})",
                                   hint="Train again and save a new file.") from None
        if not isinstance(blob, dict) or blob.get("kind") != "aicrm.intent_classifier":
            raise ValidationFailed(f"{path}: not an aicrm intent classifier", hint="Train again and save a new file.")
        saved = (blob.get("format"), blob.get("aicrm_version"), blob.get("sklearn_version"))
        current = (FORMAT_VERSION, aicrm.__version__, sklearn.__version__)
        if saved != current:
            raise ValidationFailed(
                f"{path} was saved by format {saved[0]}, aicrm {saved[1]}, scikit-learn {saved[2]}; "
                f"this is format {current[0]}, aicrm {current[1]}, scikit-learn {current[2]}",
                hint="Retrain the intent classifier with this version.")
        if fingerprint is not None and blob.get("fingerprint") != fingerprint:
            saved_fingerprint = str(blob.get("fingerprint"))[:12]
            raise ValidationFailed(f"{path} was trained on other examples (fingerprint {saved_fingerprint})",
                                   hint="Retrain on the current examples.")
        model = blob["model"]
        if model.use_embeddings_:
            if not embeddings_available():
                raise EmbeddingsUnavailable(f"{path} needs sentence embeddings but the nlp extra is not installed",
                                            hint="pip install 'aicrm[nlp]', or retrain with embeddings=False.")
            if blob.get("encoder") != get_encoder().name:
                raise ValidationFailed(f"{path} was trained on {blob.get('encoder')} embeddings, "
                                       f"this installation has {get_encoder().name}",
                                       hint="Retrain the intent classifier with this version.")
        return model


# ---------------------------------------------------------------------------------------------------- evaluation
def evaluate_intents(model: IntentClassifier, texts: Sequence[str], labels: Sequence[str], *,
                     oos_label: str = "oos") -> dict[str, Any]:
    """Accuracy and macro-F1 on in-scope rows (a rejection counts as an error) and out-of-scope recall.

    ``oos_recall`` (the share of ``oos_label`` rows rejected) is present only when the labels hold such rows.
    """
    from sklearn.metrics import f1_score

    labels = [str(lab) for lab in labels]
    predicted = model.predict(texts)
    in_scope = [i for i, lab in enumerate(labels) if lab != oos_label]
    oos = [i for i, lab in enumerate(labels) if lab == oos_label]
    result: dict[str, Any] = {"n_test": len(labels), "n_in_scope": len(in_scope)}
    if in_scope:
        truth = [labels[i] for i in in_scope]
        guess = [predicted[i] if predicted[i] is not None else f"<{oos_label}>" for i in in_scope]
        result["accuracy"] = float(np.mean([t == g for t, g in zip(truth, guess)]))
        result["macro_f1"] = float(f1_score(truth, guess, labels=sorted(set(truth)), average="macro", zero_division=0))
        result["in_scope_rejected"] = float(np.mean([predicted[i] is None for i in in_scope]))
        unknown = sorted(set(truth) - set(map(str, model.classes_)))
        if unknown:
            result["unknown_test_intents"] = unknown
    if oos:
        result["n_oos"] = len(oos)
        result["oos_recall"] = float(np.mean([predicted[i] is None for i in oos]))
    result["threshold"] = model.threshold_
    result["similarity_threshold"] = model.similarity_threshold_
    result["model"] = model.model_name_
    result["train_seconds"] = model.train_seconds_
    return result


# ---------------------------------------------------------------------------------------------------- default NLU
def load_default_nlu(*, embeddings: bool | None = None, cache_dir: str | Path | None = None) -> IntentClassifier:
    """The classifier of the shipped e-commerce intents, trained on first use and kept on disk and in memory."""
    return _default_nlu(embeddings, str(cache_dir) if cache_dir else None)


@lru_cache(maxsize=4)
def _default_nlu(embeddings: bool | None, cache_dir: str | None) -> IntentClassifier:
    from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples

    texts, labels = load_examples(DEFAULT_INTENTS)
    fingerprint = training_fingerprint(texts, labels)
    use = embeddings if embeddings is not None else embeddings_available()
    if cache_dir is None:
        from aicrm.core.config import get_settings

        cache_dir = str(Path(get_settings().data_dir) / "models")
    path = Path(cache_dir) / f"default-intents-{'minilm' if use else 'tfidf'}-{fingerprint[:12]}.joblib"
    try:
        return IntentClassifier.load(path, fingerprint=fingerprint)
    except (ModelNotTrained, ValidationFailed):
        pass  # absent, stale or from another version: train afresh
    model = IntentClassifier(embeddings=use).fit(texts, labels)
    try:
        model.save(path)
    except OSError:
        pass  # a read-only data dir only costs the retraining next time
    return model


# ---------------------------------------------------------------------------------------------------- helpers
def _as_2d(scores: np.ndarray) -> np.ndarray:
    # LinearSVC returns one column for two classes (positive = classes_[1]); make it one column per class.
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The factor on decision scores that minimises the held-back log-loss of their softmax."""
    rows = np.arange(len(truth))

    def nll(log_t: float) -> float:
        p = _softmax(scores * np.exp(log_t))
        return float(-np.log(np.clip(p[rows, truth], 1e-12, None)).mean())

    best = minimize_scalar(nll, bounds=(np.log(0.1), np.log(200.0)), method="bounded")
    return float(np.exp(best.x))
