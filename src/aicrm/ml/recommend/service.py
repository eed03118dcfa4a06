"""Train on order lines and produce the tables a scoring job stores: top-N per customer with reasons, and also-bought.

Pure functions over tables (the job loads order lines and products from the store and writes the results).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend.algorithms import make_recommender
from aicrm.ml.recommend.base import Recommender
from aicrm.ml.recommend.data import InteractionData, encode_interactions
from aicrm.ml.recommend.evaluation import select_recommender


def interactions_from_order_lines(
    lines: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    product_col: str = "product_id",
    quantity_col: str | None = "quantity",
    date_col: str | None = "ordered_at",
    products: pd.DataFrame | None = None,
    product_id_col: str = "id",
    category_col: str | None = "category",
    name_col: str | None = "name",
    description_col: str | None = "description",
    available_col: str | None = "available",
) -> InteractionData:
    """Purchases as interactions: one per order line with a customer, a product and a positive quantity.

    Anonymous lines (no customer) and lines without a product are dropped; returns and cancellations
    (quantity <= 0) are dropped too rather than netted off, because a returned product was still chosen
    and should not be pushed again. ``products`` (one row per product) supplies category, name,
    description and availability, and makes never-sold products recommendable by content.
    """
    for col in (customer_col, product_col, quantity_col, date_col):
        if col is not None and col not in lines:
            raise ValidationFailed(f"no column {col!r} in the order lines",
                                   hint=f"Columns are: {', '.join(map(str, lines.columns))}.")
    table = lines[lines[customer_col].notna() & lines[product_col].notna()]
    if quantity_col is not None:
        table = table[pd.to_numeric(table[quantity_col], errors="coerce") > 0]
    features = None
    if products is not None:
        if product_id_col not in products:
            raise ValidationFailed(f"no column {product_id_col!r} in the products",
                                   hint=f"Columns are: {', '.join(map(str, products.columns))}.")
        rename = {c: target for c, target in ((category_col, "category"), (name_col, "name"),
                                              (description_col, "description"), (available_col, "available"))
                  if c is not None and c in products}
        features = products.set_index(_as_id(products[product_id_col]))[list(rename)].rename(columns=rename)
    ids = table.assign(**{customer_col: _as_id(table[customer_col]), product_col: _as_id(table[product_col])})
    data = encode_interactions(ids, user_col=customer_col, item_col=product_col, time_col=date_col,
                               item_features=features)
    dropped = len(lines) - len(table)
    if dropped:
        data.notes.insert(0, f"dropped {dropped:,} order line(s): anonymous, without product, or returns/cancellations")
    return data


def _as_id(values: pd.Series) -> pd.Series:
    # integer keys read through pandas often arrive as floats (17850.0); identifiers compare as text
    if pd.api.types.is_float_dtype(values) and values.dropna().eq(values.dropna().round()).all():
        return values.astype("Int64").astype("string")
    return values.astype("string")


def fit_recommender(
    data: InteractionData,
    *,
    algorithm: str = "auto",
    params: dict | None = None,
    seed: int = 0,
    k: int = 10,
    validation_fraction: float = 0.25,
) -> tuple[Recommender, dict]:
    """A model fitted on all of ``data``; ``auto`` first picks algorithm and parameters on a held-out part.

    The held-out part is each customer's latest purchases when times are known, else a random share.
    Returns the model and ``{"algorithm", "params", "validation"}`` for the model registry.
    """
    validation = None
    if algorithm == "auto":
        split = "time" if data.has_time else "random"
        algorithm, params, validation = select_recommender(data, data.events, split=split,
                                                           test_fraction=validation_fraction, k=k, seed=seed)
    model = make_recommender(algorithm, random_state=seed, **(params or {})).fit(data.matrix(), data.item_features)
    return model, {"algorithm": algorithm, "params": params or {}, "validation": validation}


def recommendations_table(
    model: Recommender,
    data: InteractionData,
    *,
    n: int = 10,
    customers=None,
    exclude_bought: bool = True,
    rebuy_categories=None,
    max_per_category: int | None = None,
    category=None,
    available=None,
    with_reasons: bool = True,
    batch_size: int = 20_000,
) -> pd.DataFrame:
    """Top-n products per customer: columns customer_id, product_id, rank (1 = best), score, reason, because_product_id.

    ``customers`` are customer ids (default: every customer in ``data``); ids the model has never seen get
    popular products ("popular in <category>"). Products already bought are skipped unless
    ``exclude_bought`` is False or their category is in ``rebuy_categories``.
    """
    index = pd.Index(data.user_ids)
    if customers is None:
        ids = np.asarray(data.user_ids, dtype=object)
        users = np.arange(data.n_users)
    else:
        ids = np.asarray(pd.Series(list(customers), dtype="string"), dtype=object)
        users = index.get_indexer(ids).astype(np.int64)
        unknown = users < 0
        users[unknown] = model.n_users_ + np.arange(int(unknown.sum()))
    frames = []
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        history = model.history_for(batch)
        items, scores = model.recommend(batch, n, exclude=history if exclude_bought else None, history=history,
                                        rebuy_categories=rebuy_categories, max_per_category=max_per_category,
                                        category=category, available=available)
        frame = pd.DataFrame({
            "customer_id": np.repeat(ids[start:start + batch_size], n),
            "item": items.ravel(),
            "rank": np.tile(np.arange(1, n + 1), len(batch)),
            "score": scores.ravel(),
        })
        if with_reasons:
            texts, because = model.reasons(batch, items, history=history)
            frame["reason"] = texts.ravel()
            frame["because"] = because.ravel()
        frames.append(frame[frame["item"] >= 0])
    if not frames:
        columns = ["customer_id", "product_id", "rank", "score"] + (["reason", "because_product_id"] if with_reasons else [])
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "product_id", np.asarray(data.item_ids, dtype=object)[out["item"].to_numpy()])
    if with_reasons:
        because = out["because"].to_numpy()
        item_ids = np.asarray(data.item_ids, dtype=object)
        out["because_product_id"] = np.where(because >= 0, item_ids[np.maximum(because, 0)], None)
        out = out.drop(columns="because")
    return out.drop(columns="item")


def also_bought_table(model: Recommender, data: InteractionData, *, n: int = 10, products=None,
                      only_available: bool = True) -> pd.DataFrame:
    """"Customers who bought this also bought": columns product_id, similar_product_id, rank, score."""
    index = pd.Index(data.item_ids)
    if products is None:
        items = np.arange(data.n_items)
    else:
        wanted = np.asarray(pd.Series(list(products), dtype="string"), dtype=object)
        items = index.get_indexer(wanted)
        if (items < 0).any():
            missing = wanted[items < 0][0]
            raise ValidationFailed(f"unknown product {missing!r}", hint="Give product ids that occur in the data.")
    similar, scores = model.similar_items(items, n, available=None if only_available else np.ones(data.n_items, bool))
    out = pd.DataFrame({
        "product_id": np.repeat(np.asarray(data.item_ids, dtype=object)[items], n),
        "similar": similar.ravel(),
        "rank": np.tile(np.arange(1, n + 1), len(items)),
        "score": scores.ravel(),
    })
    out = out[out["similar"] >= 0]
    out.insert(1, "similar_product_id", np.asarray(data.item_ids, dtype=object)[out["similar"].to_numpy()])
    return out.drop(columns="similar").reset_index(drop=True)
