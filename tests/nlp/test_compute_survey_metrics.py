"""NPS, CSAT and drivers of dissatisfaction: known answers and planted effects."""

import numpy as np
import pandas as pd
import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.simulate import simulate_feedback
from aicrm.nlp.survey import csat, dissatisfaction_drivers, nps


def test_nps_known_answer():
    # 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (0-6): NPS = 50% - 20% = 30.
    table = pd.DataFrame({"score": [10, 9, 9, 10, 9, 7, 8, 8, 6, 0, None]})
    out = nps(table, rating_col="score")
    assert out.to_dict("records") == [{"responses": 10, "promoters": 50.0, "passives": 30.0, "detractors": 20.0, "nps": 30.0}]


def test_nps_by_group_and_range_check():
    table = pd.DataFrame({"rating": [10, 0, 9, 9], "region": ["n", "n", "s", "s"]})
    out = nps(table, by="region").set_index("region")
    assert out.loc["n", "nps"] == 0.0 and out.loc["s", "nps"] == 100.0
    with pytest.raises(ValidationFailed, match="outside 0-10"):
        nps(pd.DataFrame({"rating": [11, 5]}))


def test_csat_known_answer():
    table = pd.DataFrame({"rating": ["5", "4", "3", "1", "4"], "m": [1, 1, 1, 2, 2]})
    assert csat(table)["csat"].iloc[0] == 60.0
    by = csat(table, by="m").set_index("m")
    assert by.loc[1, "csat"] == pytest.approx(66.67) and by.loc[2, "mean_rating"] == 2.5
    with pytest.raises(ValidationFailed, match="no column 'stars'"):
        csat(table, rating_col="stars")


def test_dissatisfaction_drivers_rank_planted_themes():
    df = simulate_feedback(600, lang="en", random_state=4)
    out = dissatisfaction_drivers(df, topic_col="theme")
    # Simulated means: defective 1.6, late 1.8, price 2.9, quality 4.7.
    assert list(out["topic"]) == ["defective product", "late delivery", "price", "great quality"]
    top = out.iloc[0]
    assert top["lift"] > 1.5 and top["p_value"] < 1e-6 and top["rating_diff"] < -1
    assert out.iloc[-1]["low_share"] < 0.05


def test_dissatisfaction_drivers_small_topics_and_nps_scale():
    table = pd.DataFrame({"topic": ["a"] * 6 + ["b"] * 6 + ["c"], "rating": [2, 3, 1, 0, 4, 2] + [9, 10, 10, 9, 8, 10] + [0]})
    out = dissatisfaction_drivers(table)
    assert list(out["topic"]) == ["a", "b"]  # "c" has fewer than min_count answers
    assert out.iloc[0]["low_share"] == 1.0  # 0-10 scale: low means 0-6
    assert np.isnan(dissatisfaction_drivers(table.assign(rating=1))["p_value"]).all()
