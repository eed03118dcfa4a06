"""Simulated customer feedback with planted themes and known rating effects (tests, demos, benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# theme -> (sentence templates, mean rating on 1-5). Each template names the theme's key words so that a
# topic model should recover it; ratings let the drivers analysis find the themes that hurt.
EN_THEMES: dict[str, tuple[list[str], float]] = {
    "late delivery": (
        [
            "The delivery was late, it took {n} days to arrive.",
            "Delivery was {n} days late and nobody told me.",
            "Very late delivery, waited {n} days for the parcel.",
            "Courier delivery arrived {n} days late again.",
            "Package delivery late by {n} days, tracking never updated.",
        ],
        1.8,
    ),
    "defective product": (
        [
            "The screen was broken and the charger defective.",
            "Arrived broken, the device is defective and stopped working.",
            "Defective unit, the button broken after one day.",
            "It stopped working, clearly defective and cracked.",
            "Broken on arrival, defective battery, need a replacement.",
        ],
        1.6,
    ),
    "great quality": (
        [
            "Great quality, the material feels solid and well made.",
            "Excellent quality and solid build, love it.",
            "Great quality fabric, well made and comfortable.",
            "Superb quality, solid and sturdy, great design.",
            "Quality is great, well made, looks beautiful.",
        ],
        4.7,
    ),
    "price": (
        [
            "The price is too expensive for what you get.",
            "Overpriced, the price went up and it is expensive now.",
            "Too expensive, found a cheaper price elsewhere.",
            "Price is high, expensive compared with other shops.",
            "Expensive price, not worth the money.",
        ],
        2.9,
    ),
}

ZH_THEMES: dict[str, tuple[list[str], float]] = {
    "物流慢": (["快递太慢了，等了{n}天才到货。", "物流很慢，快递{n}天还没到。", "发货慢，快递物流一直不更新。", "等了{n}天快递，物流太慢。"], 1.8),
    "质量问题": (["质量很差，收到就坏了，屏幕破损。", "用了一天就坏了，质量问题严重。", "屏幕有划痕，质量太差，要求换货。", "质量不行，按键坏了。"], 1.6),
    "服务好": (["客服态度很好，回复及时，服务周到。", "服务很好，客服耐心解答问题。", "客服热情，服务专业，很满意。", "售后服务好，客服处理很快。"], 4.7),
    "价格贵": (["价格太贵了，性价比不高。", "比别家价格贵，不划算。", "价格偏贵，不值这个价格。", "太贵了，价格还涨了。"], 2.9),
}


def simulate_feedback(
    n: int = 400,
    *,
    lang: str = "en",
    n_customers: int = 60,
    start: str = "2024-01-01",
    months: int = 6,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Feedback rows with columns feedback_id, customer_id, created_at, text, rating (1-5), theme (the truth)."""
    rng = np.random.default_rng(random_state)
    themes = EN_THEMES if lang == "en" else ZH_THEMES
    names = list(themes)
    theme = rng.choice(len(names), size=n)
    texts, ratings = [], []
    for k in theme:
        templates, mean = themes[names[k]]
        texts.append(templates[rng.integers(len(templates))].format(n=int(rng.integers(3, 15))))
        ratings.append(int(np.clip(np.rint(rng.normal(mean, 0.6)), 1, 5)))
    created = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, months * 30, size=n), unit="D")
    return pd.DataFrame(
        {
            "feedback_id": np.arange(1, n + 1),
            "customer_id": rng.integers(1, n_customers + 1, size=n),
            "created_at": created,
            "text": texts,
            "rating": ratings,
            "theme": [names[k] for k in theme],
        }
    )
