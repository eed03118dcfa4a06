"""Topics on simulated feedback with planted themes: the labels must name the themes."""

import numpy as np
import pandas as pd
import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.simulate import simulate_feedback
from aicrm.nlp.topics import TopicModel

EN_KEYWORDS = {
    "late delivery": {"late", "delivery", "days"},
    "defective product": {"defective", "broken", "working"},
    "great quality": {"quality", "great", "solid", "made"},
    "price": {"price", "expensive", "cheaper"},
}
ZH_KEYWORDS = {
    "物流慢": {"快递", "物流", "太慢"},
    "质量问题": {"质量", "屏幕", "坏", "换货"},
    "服务好": {"客服", "服务"},
    "价格贵": {"价格", "太贵", "贵"},
}


def _check_recovery(df, model, keywords):
    assert model.n_topics_ == 4  # chosen by coherence ("auto"), equal to the number of planted themes
    predicted = pd.Series(model.predict_labels(df["text"]))
    for theme, words in keywords.items():
        mine = predicted[df["theme"].to_numpy() == theme]
        label = mine.mode().iloc[0]
        assert (mine == label).mean() >= 0.9, (theme, mine.value_counts())
        assert set(label.split(" / ")) & words, (theme, label)
    # Each planted theme gets its own topic.
    assert predicted.groupby(df["theme"].to_numpy()).agg(lambda s: s.mode().iloc[0]).nunique() == 4


def test_fit_topic_model_names_planted_english_themes():
    df = simulate_feedback(400, lang="en", random_state=0)
    model = TopicModel(random_state=0).fit(df["text"])
    _check_recovery(df, model, EN_KEYWORDS)
    assert max(model.coherence_by_k_.values()) - model.coherence_ <= 0.02
    table = model.topics_table(df["text"])
    assert list(table.columns) == ["topic", "label", "top_terms", "texts"]
    assert table["texts"].sum() == 400


def test_fit_topic_model_names_planted_chinese_themes():
    df = simulate_feedback(300, lang="zh", random_state=1)
    model = TopicModel(random_state=0).fit(df["text"])
    _check_recovery(df, model, ZH_KEYWORDS)


def test_topic_model_fixed_count_and_unknown_text():
    df = simulate_feedback(200, lang="en", random_state=2)
    model = TopicModel(n_topics=3, random_state=0).fit(df["text"])
    assert model.n_topics_ == 3 and len(model.topic_labels_) == 3
    weights = model.transform(["delivery late", "zzz qqq"])
    np.testing.assert_allclose(weights[0].sum(), 1.0)
    assert model.predict(["zzz qqq"])[0] == -1 and model.predict_labels(["zzz qqq"]) == [None]
    with pytest.raises(ValidationFailed, match="no topics"):
        TopicModel().fit(["one", "two"])
    with pytest.raises(ValidationFailed, match="n_topics"):
        TopicModel(n_topics="many").fit(df["text"])
