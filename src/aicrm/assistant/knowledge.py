"""The assistant's help-article base: answers general questions (returns policy, delivery times, payment, ...).

Semantic search: a message is compared with every article's example questions and title, and an article scores the
best of those cosine similarities. With the ``nlp`` extra the vectors are MiniLM sentence embeddings (the encoder
the intent classifier already loaded); without it, word 1-2-gram plus character 2-4-gram TF-IDF. The two backends
score on different scales, so each has its own default acceptance threshold (measured on paraphrases of the
shipped articles versus unrelated and transactional messages; see ``tests/assistant``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import yaml
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from aicrm.assistant.encoder import embeddings_available, get_encoder
from aicrm.core.errors import ModelNotTrained, ValidationFailed

DEFAULT_ARTICLES = Path(__file__).with_name("data") / "help_articles.yaml"
# Below these scores a message is not taken to ask what an article answers.
MIN_SCORE = {"minilm": 0.55, "tfidf": 0.42}


@dataclass(frozen=True)
class HelpArticle:
    """One help article: what it answers (``questions``) and the answer itself."""

    id: str
    title: str
    answer: str
    questions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KnowledgeHit:
    """An article found for a message, with its similarity score and the example question it matched best."""

    article: HelpArticle
    score: float
    matched: str


def load_articles(path: str | Path = DEFAULT_ARTICLES) -> list[HelpArticle]:
    """The articles of a help-article YAML file; refuses missing fields, naming the file and the article's line."""
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"{path}: no such file", hint="Check the path of the help-articles file.")
    text = path.read_text(encoding="utf-8")
    try:
        doc = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationFailed(f"{path}{where}: not valid YAML",
                               hint="Fix the YAML syntax; see src/aicrm/assistant/data/help_articles.yaml.") from None
    items = data.get("articles") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValidationFailed(f"{path}: no 'articles' list found",
                               hint="Write `articles:` followed by items with id, title, answer and questions.")
    # Line numbers of each list item, for messages that point at the bad article.
    lines = []
    for key, value in doc.value:
        if key.value == "articles":
            lines = [node.start_mark.line + 1 for node in value.value]
    articles, problems, seen = [], [], set()
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else "?"
        if not isinstance(item, dict):
            problems.append(f"{path} line {line}: an article must be a mapping")
            continue
        missing = [k for k in ("id", "title", "answer") if not str(item.get(k) or "").strip()]
        questions = item.get("questions") or []
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            problems.append(f"{path} line {line}: 'questions' must be a list of non-empty strings")
            continue
        if missing:
            problems.append(f"{path} line {line}: missing {', '.join(missing)}")
            continue
        if item["id"] in seen:
            problems.append(f"{path} line {line}: duplicate id {item['id']!r}")
            continue
        seen.add(item["id"])
        articles.append(HelpArticle(id=str(item["id"]), title=str(item["title"]).strip(),
                                    answer=" ".join(str(item["answer"]).split()),
                                    questions=[q.strip() for q in questions]))
    if problems:
        raise ValidationFailed(f"{path}: {len(problems)} bad article(s)", details=problems,
                               hint="Give every article an id, a title, an answer and a list of questions.")
    return articles


class KnowledgeBase(BaseEstimator):
    """Semantic search over help articles.

    Parameters
    ----------
    embeddings : use MiniLM sentence embeddings; None uses them when the ``nlp`` extra is installed.
    min_score : the score an article needs to answer a message; None takes the backend's default (``MIN_SCORE``).
    """

    def __init__(self, *, embeddings: bool | None = None, min_score: float | None = None):
        self.embeddings = embeddings
        self.min_score = min_score

    def fit(self, articles: Sequence[HelpArticle]) -> KnowledgeBase:
        """Index the articles' questions and titles."""
        articles = list(articles)
        if not articles:
            raise ValidationFailed("a knowledge base needs at least one article", hint="Load help_articles.yaml.")
        self.articles_ = articles
        self.backend_ = "minilm" if (self.embeddings is not False and embeddings_available()) else "tfidf"
        self.min_score_ = float(self.min_score if self.min_score is not None else MIN_SCORE[self.backend_])
        texts, owners = [], []
        for i, article in enumerate(articles):
            for text in [article.title, *article.questions]:
                texts.append(text)
                owners.append(i)
        self.texts_ = texts
        self.owners_ = np.asarray(owners)
        if self.backend_ == "minilm":
            self.vectors_ = get_encoder().encode(texts)
        else:
            self.words_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
            self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(texts)
            self.vectors_ = self._tfidf(texts)
        return self

    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        # Both blocks are unit length, so the scaled sum keeps cosine similarity in [0, 1].
        return sp.hstack([self.words_.transform(texts), self.chars_.transform(texts)], format="csr") * np.sqrt(0.5)

    def _vectors(self, texts: list[str]):
        return get_encoder().encode(texts) if self.backend_ == "minilm" else self._tfidf(texts)

    def search(self, text: str, *, k: int = 3) -> list[KnowledgeHit]:
        """The ``k`` best articles for ``text``, best first, whatever their score."""
        if not hasattr(self, "vectors_"):
            raise ModelNotTrained("This knowledge base is not fitted", hint="Call fit(load_articles()) first.")
        text = (text or "").strip()
        if not text:
            return []
        sims = self._vectors([text]) @ self.vectors_.T
        sims = np.asarray(sims.toarray() if sp.issparse(sims) else sims, dtype=np.float64).ravel()
        best: dict[int, tuple[float, int]] = {}
        for j in np.argsort(-sims):
            owner = int(self.owners_[j])
            if owner not in best:
                best[owner] = (float(sims[j]), int(j))
            if len(best) >= k:
                break
        return [KnowledgeHit(self.articles_[i], score, self.texts_[j]) for i, (score, j) in best.items()]

    def answer(self, text: str) -> KnowledgeHit | None:
        """The best article when it scores at least ``min_score_``, else None."""
        hits = self.search(text, k=1)
        return hits[0] if hits and hits[0].score >= self.min_score_ else None


def load_default_knowledge(*, embeddings: bool | None = None) -> KnowledgeBase:
    """The knowledge base of the shipped help articles (built once per process and backend)."""
    return _default_knowledge(embeddings if embeddings is not None else embeddings_available())


@lru_cache(maxsize=2)
def _default_knowledge(embeddings: bool) -> KnowledgeBase:
    return KnowledgeBase(embeddings=embeddings).fit(load_articles())
