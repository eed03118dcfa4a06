"""Intent classification on simulated messages with a known answer (TF-IDF fallback: no encoder needed).

Each intent owns a vocabulary of made-up keywords; a message mixes 2-3 of its keywords with 3-6 filler words shared
by all intents. Out-of-scope messages use the keywords of an intent the model never saw, so the Bayes-optimal
classifier is perfect in scope and every out-of-scope message is recognisable.
"""

from __future__ import annotations

import numpy as np
import pytest

from aicrm.assistant.nlu import IntentClassifier, Understanding, evaluate_intents
from aicrm.core.errors import ModelNotTrained, ValidationFailed


def _words(rng, n: int) -> list[str]:
    return ["".join(rng.choice(list("bcdfghklmnprstvz")) + rng.choice(list("aeiou")) for _ in range(3))
            for _ in range(n)]


class Simulator:
    def __init__(self, seed: int, n_intents: int = 6, merge_last_two: bool = False):
        self.rng = np.random.default_rng(seed)
        self.filler = _words(self.rng, 25)
        self.vocab = [_words(self.rng, 8) for _ in range(n_intents + 1)]  # the last one is out of scope
        if merge_last_two:
            self.vocab[n_intents - 1] = self.vocab[n_intents - 2]
        self.n_intents = n_intents

    def message(self, intent: int) -> str:
        words = list(self.rng.choice(self.filler, self.rng.integers(3, 7)))
        words += list(self.rng.choice(self.vocab[intent], self.rng.integers(2, 4), replace=False))
        return " ".join(self.rng.permutation(words))

    def labelled(self, per_intent: int) -> tuple[list[str], list[str]]:
        pairs = [(self.message(c), f"intent_{c}") for c in range(self.n_intents) for _ in range(per_intent)]
        return [t for t, _ in pairs], [lab for _, lab in pairs]

    def out_of_scope(self, n: int) -> list[str]:
        return [self.message(self.n_intents) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_classify_intents__recovers_simulated_intents_and_rejects_unseen_one(seed):
    sim = Simulator(seed)
    texts, labels = sim.labelled(40)
    model = IntentClassifier(embeddings=False, in_scope_target=0.95, random_state=seed)
    assert model.fit(texts, labels) is model
    assert model.model_name_ == "tfidf-svm" and not model.use_embeddings_
    assert list(model.classes_) == [f"intent_{c}" for c in range(6)]
    assert 0 < model.threshold_ <= 0.999 and 0 < model.similarity_threshold_ < 1
    assert model.cv_in_scope_kept_ >= 0.95 and model.n_train_ == 240

    test_texts, test_labels = sim.labelled(50)
    oos = sim.out_of_scope(50)
    report = evaluate_intents(model, test_texts + oos, test_labels + ["oos"] * 50)
    assert report["accuracy"] >= 0.95
    assert report["in_scope_rejected"] <= 0.05 + 0.03  # the target's 5%, plus sampling slack
    assert report["oos_recall"] >= 0.6  # 0.74-0.96 over seeds 0-3; TF-IDF sees less than embeddings do
    assert report["macro_f1"] >= 0.95 and report["n_oos"] == 50


def test_classify_intents__confusable_intents_get_small_margins():
    sim = Simulator(3, merge_last_two=True)  # intent_4 and intent_5 share one vocabulary
    model = IntentClassifier(embeddings=False).fit(*sim.labelled(40))
    clear = model.parse_many([sim.message(c) for c in range(4) for _ in range(20)])
    confused = model.parse_many([sim.message(c) for c in (4, 5) for _ in range(20)])
    assert np.median([u.margin for u in confused]) < np.median([u.margin for u in clear]) - 0.2
    # the dialogue layer can offer both: the pair fills the top two places
    assert np.mean([{r[0] for r in u.ranking[:2]} == {"intent_4", "intent_5"} for u in confused]) >= 0.9
    assert all(u.margin == pytest.approx(u.ranking[0][1] - u.ranking[1][1]) for u in clear + confused)


def test_parse__understanding_shape():
    sim = Simulator(4)
    model = IntentClassifier(embeddings=False, top_k=3).fit(*sim.labelled(30))
    u = model.parse(f"{sim.message(2)} order #48213")
    assert isinstance(u, Understanding) and u.intent == "intent_2" and not u.out_of_scope
    assert len(u.ranking) == 3 and u.ranking[0] == ("intent_2", u.confidence)
    assert model.predict_proba([u.text]).sum() == pytest.approx(1.0)
    assert [(e.type, e.value) for e in u.entities] == [("order_number", "48213")]
    assert u.candidates(within=0.0) == ["intent_2"] and u.entities_of("email") == []
    assert u.to_dict()["ranking"][0] == ["intent_2", u.confidence]
    rejected = [u for u in model.parse_many(sim.out_of_scope(20)) if u.out_of_scope]
    assert rejected and all(u.intent is None and len(u.ranking) == 3 for u in rejected)  # best guesses stay visible
    assert all(u.out_of_scope is True for u in rejected)
    empty = model.parse("   ")
    assert empty.out_of_scope and empty.intent is None and empty.ranking == [] and empty.confidence == 0.0


def test_classify_intents__refuses_bad_training_data():
    with pytest.raises(ValidationFailed, match="two intents"):
        IntentClassifier(embeddings=False).fit(["hi", "hello"], ["greeting", "greeting"])
    with pytest.raises(ValidationFailed, match="single example: bye"):
        IntentClassifier(embeddings=False).fit(["hi", "hello", "bye"], ["greeting", "greeting", "bye"])
    with pytest.raises(ValidationFailed, match="empty text or label"):
        IntentClassifier(embeddings=False).fit(["hi", " ", "bye", "ciao"], ["g", "g", "b", "b"])
    with pytest.raises(ValidationFailed, match="labels"):
        IntentClassifier(embeddings=False).fit(["hi", "bye"], ["g"])
    with pytest.raises(ModelNotTrained):
        IntentClassifier().parse("hello")
