"""The scoring job: train each model family on the store, register the run, and write versioned scores for every
customer back to the store. ``aicrm train`` and ``aicrm score`` are thin over these functions.

Every run, training or re-scoring, is a new version in the registry; its scores carry that version, so re-running
adds a version instead of duplicating rows, and the dashboard reads the newest.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from aicrm.core.errors import ValidationFailed
from aicrm.features.store import load_orders
from aicrm.ml.registry import data_fingerprint, latest_run, load_model, register, write_scores

Progress = Callable[[str, int, int], None]
# text first: churn reads the feedback sentiment it stores
FAMILIES = ("text", "segments", "churn", "clv", "recommend")


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _as_of(orders: pd.DataFrame) -> pd.Timestamp:
    """The last day of data: scores are as of the store's own "today", so historical data scores sensibly."""
    return orders["ordered_at"].max().normalize()


def _orders(engine: Engine) -> pd.DataFrame:
    orders = load_orders(engine=engine)
    if orders.empty:
        raise ValidationFailed("the store has no orders of known customers to learn from",
                               hint="Import orders first (`aicrm import orders FILE`) or load the demo (`aicrm demo`).")
    return orders


def _rescore_run(engine: Engine, model_name: str):
    """Load the newest saved model and open a new version for its fresh scores."""
    model, run = load_model(engine=engine, model_name=model_name)
    new = register(engine=engine, model_name=model_name, algorithm=run.algorithm,
                   params={**(run.params or {}), "scored_with_version": run.version}, metrics=run.metrics or {},
                   fingerprint=run.fingerprint or "", model=model)
    return model, new


# ---------------------------------------------------------------- segments


def _segment_scores(engine: Engine, orders: pd.DataFrame, segmenter, seg_version: int, cl_version: int) -> int:
    from aicrm.analytics import rfm_scores, rfm_table

    net = orders.assign(net=orders["amount"] - orders["returned_amount"])
    rfm = rfm_scores(rfm_table(net, customer_col="customer_id", date_col="ordered_at", amount_col="net",
                               as_of=_as_of(orders)))
    explanation = [{"r": int(r.r_score), "f": int(r.f_score), "m": int(r.m_score), "recency_days": int(r.recency_days),
                    "frequency": int(r.frequency), "monetary": round(float(r.monetary), 2),
                    "tenure_days": int(r.tenure_days)} for r in rfm.itertuples()]
    write_scores(engine=engine, model_name="segment", version=seg_version, scores=pd.DataFrame({
        "customer_id": rfm["customer_id"], "value": rfm["rfm_cell"].astype(float), "label": rfm["segment"],
        "explanation": explanation}))
    clusters = segmenter.predict(rfm)
    profiles = segmenter.profiles_.set_index("cluster")
    return write_scores(engine=engine, model_name="cluster", version=cl_version, scores=pd.DataFrame({
        "customer_id": rfm["customer_id"], "value": clusters.astype(float),
        "label": pd.Series(clusters).map(profiles["label"]).str.slice(0, 64).to_numpy(),
        "explanation": [{"cluster": int(c), "profile": profiles.loc[c, "description"]} for c in clusters]}))


def train_segments(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """RFM scores with their named segment, and behavioural clusters with a plain-language profile."""
    from aicrm.analytics import BehaviouralSegmenter, rfm_scores, rfm_table, segment_summary

    progress("segments", 0, 3)
    orders = _orders(engine)
    net = orders.assign(net=orders["amount"] - orders["returned_amount"])
    rfm = rfm_scores(rfm_table(net, customer_col="customer_id", date_col="ordered_at", amount_col="net",
                               as_of=_as_of(orders)))
    progress("segments", 1, 3)
    segmenter = BehaviouralSegmenter(random_state=0).fit(rfm)
    profiles = segmenter.profiles_
    fingerprint = data_fingerprint(net[["customer_id", "ordered_at", "net"]])
    summary = segment_summary(rfm)
    seg = register(engine=engine, model_name="segment", algorithm="rfm_quintiles",
                   params={"scheme": "R x FM grid", "as_of": str(_as_of(orders).date())},
                   metrics={"sizes": dict(zip(summary["segment"], summary["customers"].astype(int)))},
                   fingerprint=fingerprint)
    cl = register(engine=engine, model_name="cluster", algorithm="kmeans",
                  params={"k": int(segmenter.n_clusters_), "criterion": "silhouette"},
                  metrics={"silhouette": segmenter.silhouette_scores_[segmenter.n_clusters_],
                           "silhouette_by_k": segmenter.silhouette_scores_,
                           "profiles": profiles[["cluster", "label", "customers", "description"]].to_dict("records")},
                  fingerprint=fingerprint, model=segmenter)
    progress("segments", 2, 3)
    n = _segment_scores(engine, orders, segmenter, seg.version, cl.version)
    progress("segments", 3, 3)
    return {"model": "segments", "version": cl.version, "scored": n, "clusters": int(segmenter.n_clusters_)}


def score_segments(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """Re-score segments and clusters on today's data with the saved clustering."""
    orders = _orders(engine)
    segmenter, cl = _rescore_run(engine, "cluster")
    seg = latest_run(engine=engine, model_name="segment")
    seg = register(engine=engine, model_name="segment", algorithm="rfm_quintiles", params=seg.params or {},
                   metrics=seg.metrics or {}, fingerprint=seg.fingerprint or "")
    n = _segment_scores(engine, orders, segmenter, seg.version, cl.version)
    return {"model": "segments", "version": cl.version, "scored": n}


# ---------------------------------------------------------------- lifetime value


def _purchases(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["amount"] > 0][["customer_id", "ordered_at", "amount"]]


def _clv_scores(engine: Engine, fit, buys: pd.DataFrame, as_of: pd.Timestamp, version: int) -> int:
    from aicrm.ml.clv import ClvFit, rfm_summary

    summary = rfm_summary(buys, customer_col="customer_id", date_col="ordered_at", amount_col="amount",
                          calibration_end=as_of)
    table = ClvFit(summary=summary, model=fit.model, spend_model=fit.spend_model, selection=None,
                   customer_col="customer_id").scores()
    spend = table["expected_spend_per_purchase"] if "expected_spend_per_purchase" in table else pd.Series(np.nan, index=table.index)
    explanation = [
        {"p_alive": round(float(r.p_alive), 4),
         "expected_purchases_30d": round(float(r.expected_purchases_30d), 3),
         "expected_purchases_90d": round(float(r.expected_purchases_90d), 3),
         "expected_purchases_365d": round(float(r.expected_purchases_365d), 3),
         "expected_spend_per_purchase": None if not np.isfinite(s) else round(float(s), 2)}
        for r, s in zip(table.itertuples(), spend.to_numpy())
    ]
    return write_scores(engine=engine, model_name="clv", version=version, scores=pd.DataFrame({
        "customer_id": table["customer_id"],
        "value": table["expected_value_12m"].fillna(0.0).round(2),
        "label": pd.cut(table["p_alive"], [-0.01, 0.3, 0.7, 1.01],
                        labels=["likely lost", "uncertain", "likely active"]).astype(str),
        "explanation": explanation}))


def train_clv(*, engine: Engine, model: str = "auto", progress: Progress = _quiet) -> dict:
    """Fit the purchase and spend models, backtest them on the last 26 weeks, and score every buyer."""
    from aicrm.ml.clv import fit_clv, holdout_check, rfm_summary

    progress("clv", 0, 3)
    orders = _orders(engine)
    buys = _purchases(orders)
    as_of = _as_of(orders)
    # Backtest first: fit on all but the last 26 weeks and compare predicted with actual repeat purchases.
    cal_end = as_of - pd.Timedelta(weeks=26)
    metrics: dict = {}
    if (buys["ordered_at"] <= cal_end).sum() > 100:
        back = fit_clv(buys[buys["ordered_at"] < cal_end + pd.Timedelta(days=1)], as_of=cal_end, model=model)
        check = holdout_check(back.model, rfm_summary(buys, customer_col="customer_id", date_col="ordered_at",
                                                      calibration_end=cal_end, holdout_end=as_of))
        metrics = {"backtest_calibration_end": str(cal_end.date()), "backtest_model": back.model.name,
                   **{f"backtest_{k}": v for k, v in check.items()}}
    progress("clv", 1, 3)
    fit = fit_clv(buys, as_of=as_of, model=model)
    params = {"model": fit.model.name, **{k: float(v) for k, v in fit.model.params_.items()}}
    if fit.spend_model is not None:
        params["spend"] = {k: float(v) for k, v in fit.spend_model.params_.items()}
    if fit.selection is not None:
        metrics["selection"] = fit.selection.scores
    metrics["log_likelihood"] = float(fit.model.log_likelihood_)
    run = register(engine=engine, model_name="clv", algorithm=fit.model.name, params=params, metrics=metrics,
                   fingerprint=data_fingerprint(buys), model=fit)
    progress("clv", 2, 3)
    n = _clv_scores(engine, fit, buys, as_of, run.version)
    progress("clv", 3, 3)
    return {"model": "clv", "version": run.version, "algorithm": fit.model.name, "scored": n, "metrics": metrics}


def score_clv(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """Re-score lifetime value on today's data with the saved models."""
    orders = _orders(engine)
    fit, run = _rescore_run(engine, "clv")
    n = _clv_scores(engine, fit, _purchases(orders), _as_of(orders), run.version)
    return {"model": "clv", "version": run.version, "scored": n}


# ---------------------------------------------------------------- churn


def _churn_inputs(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Order lines (with categories), feedback sentiment and support contacts, as the churn features read them."""
    from aicrm.features.store import load_feedback, load_lines, load_tickets

    lines = load_lines(engine=engine)
    feedback = load_feedback(engine=engine)
    # Until text analytics has run, a review's rating stands in for its sentiment (1 star = -1, 5 stars = +1).
    score = feedback["sentiment_score"].astype("float64")
    feedback["sentiment_score"] = score.fillna((feedback["rating"].astype("float64") - 3.0) / 2.0)
    feedback = feedback.dropna(subset=["customer_id"])
    return lines, feedback, load_tickets(engine=engine)


FEATURES = dict(customer_col="customer_id", date_col="ordered_at", amount_col="amount", order_col="order_id",
                quantity_col="quantity", category_col="category")


def _churn_scores(engine: Engine, model, lines, feedback, contacts, as_of, version: int) -> int:
    from aicrm.ml.churn_features import score_transactional_churn

    scored = score_transactional_churn(model, lines, as_of=as_of, feedback=feedback, contacts=contacts)
    explanation = [{"reasons": [{"text": r["text"], "feature": r.get("feature"),
                                 "contribution": round(float(r.get("contribution", 0.0)), 4)} for r in reasons],
                    "as_of": str(as_of.date())} for reasons in scored["reasons"]]
    return write_scores(engine=engine, model_name="churn", version=version, scores=pd.DataFrame({
        "customer_id": scored.index.to_numpy(), "value": scored["churn_probability"].round(4).to_numpy(),
        "label": scored["risk_band"].astype(str).to_numpy(), "explanation": explanation}))


def _churn_backtest(lines, feedback, contacts, as_of: pd.Timestamp, horizon_days: int) -> dict:
    """Train on cutoffs whose label windows end by ``as_of - horizon``; test on that cutoff (no overlap)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    from aicrm.ml.churn import lift_at
    from aicrm.ml.churn_features import train_transactional_churn, transactional_churn_frame

    test_cut = as_of - pd.Timedelta(days=horizon_days)
    try:
        model = train_transactional_churn(lines, as_of=test_cut, horizon_days=horizon_days, feedback=feedback,
                                          contacts=contacts, **FEATURES)
    except ValidationFailed as exc:
        return {"backtest": f"not enough history for a backtest ({exc.message})"}
    X, y = transactional_churn_frame(lines, cutoff=test_cut, horizon_days=horizon_days, feedback=feedback,
                                     contacts=contacts, **FEATURES)
    if y.nunique() < 2:
        return {"backtest": "the test cutoff has a single class"}
    p = model.predict_churn_proba(X)
    return {"backtest_cutoff": str(test_cut.date()), "backtest_customers": int(len(y)),
            "positive_rate": round(float(y.mean()), 4), "roc_auc": round(float(roc_auc_score(y, p)), 4),
            "pr_auc": round(float(average_precision_score(y, p)), 4), "brier": round(float(brier_score_loss(y, p)), 4),
            "lift_at_10pct": round(float(lift_at(y.to_numpy(), p, fraction=0.1)), 3)}


def train_churn(*, engine: Engine, horizon_days: int = 90, progress: Progress = _quiet) -> dict:
    """Train the transactional churn model on several past cutoffs, then score every customer with reasons."""
    from aicrm.ml.churn_features import train_transactional_churn

    progress("churn", 0, 3)
    lines, feedback, contacts = _churn_inputs(engine)
    if lines.empty:
        _orders(engine)
    as_of = lines["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    # Backtest: train on cutoffs that end a horizon before the newest one, test on the newest cutoff.
    metrics = _churn_backtest(lines, feedback, contacts, as_of, horizon_days)
    progress("churn", 1, 3)
    model = train_transactional_churn(lines, as_of=as_of, horizon_days=horizon_days, feedback=feedback,
                                      contacts=contacts, **FEATURES)
    importance = getattr(model, "global_importance_", None)
    if importance is not None:
        metrics["global_importance"] = {str(k): round(float(v), 4) for k, v in dict(importance).items()}
    run = register(engine=engine, model_name="churn", algorithm="lightgbm",
                   params={"horizon_days": horizon_days, "cutoffs": model.training_cutoffs_,
                           "band_thresholds": list(model.band_thresholds)},
                   metrics=metrics, fingerprint=data_fingerprint(lines[["customer_id", "ordered_at", "amount"]]),
                   model=model)
    progress("churn", 2, 3)
    n = _churn_scores(engine, model, lines, feedback, contacts, as_of, run.version)
    progress("churn", 3, 3)
    return {"model": "churn", "version": run.version, "scored": n, "metrics": {k: v for k, v in metrics.items()
                                                                                  if k != "global_importance"}}


def score_churn(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """Re-score churn risk on today's data with the saved model."""
    lines, feedback, contacts = _churn_inputs(engine)
    model, run = _rescore_run(engine, "churn")
    as_of = lines["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    return {"model": "churn", "version": run.version,
            "scored": _churn_scores(engine, model, lines, feedback, contacts, as_of, run.version)}


# ---------------------------------------------------------------- recommendations


def _recommend_data(engine: Engine):
    from aicrm.features.store import load_lines, load_products
    from aicrm.ml.recommend.service import interactions_from_order_lines

    lines = load_lines(engine=engine).dropna(subset=["product_id"])
    if lines.empty:
        _orders(engine)
    products = load_products(engine=engine)
    return interactions_from_order_lines(lines, customer_col="customer_id", product_col="product_id",
                                         quantity_col="quantity", date_col="ordered_at", products=products,
                                         product_id_col="product_id"), lines


def _write_recommendations(engine: Engine, model, data, version: int) -> int:
    from aicrm.core.config import get_settings
    from aicrm.ingest.bulk import bulk_insert
    from aicrm.ml.models import ProductAssociation, Recommendation
    from aicrm.ml.recommend.service import also_bought_table, recommendations_table

    settings = get_settings()
    recs = recommendations_table(model, data, n=10, rebuy_categories=settings.rebuy_categories or None,
                                 max_per_category=settings.max_recommendations_per_category)
    also = also_bought_table(model, data, n=10)
    with engine.begin() as conn:
        n = bulk_insert(conn, Recommendation.__table__, pd.DataFrame({
            "customer_id": recs["customer_id"].astype("int64").to_numpy(),
            "product_id": recs["product_id"].astype("int64").to_numpy(),
            "model_version": version, "rank": recs["rank"].to_numpy(),
            "score": recs["score"].astype("float64").round(6).to_numpy(),
            "reason": recs["reason"].astype(str).str.slice(0, 500).to_numpy()}))
        bulk_insert(conn, ProductAssociation.__table__, pd.DataFrame({
            "product_id": also["product_id"].astype("int64").to_numpy(),
            "similar_product_id": also["similar_product_id"].astype("int64").to_numpy(),
            "model_version": version, "rank": also["rank"].to_numpy(),
            "score": also["score"].astype("float64").round(6).to_numpy()}))
    return int(recs["customer_id"].nunique()) if n else 0


def train_recommend(*, engine: Engine, algorithm: str = "auto", progress: Progress = _quiet) -> dict:
    """Choose and fit a recommender on purchase history, then store every customer's top 10 with reasons."""
    from aicrm.ml.recommend.service import fit_recommender

    progress("recommend", 0, 3)
    data, lines = _recommend_data(engine)
    progress("recommend", 1, 3)
    model, info = fit_recommender(data, algorithm=algorithm, seed=0)
    run = register(engine=engine, model_name="recommend", algorithm=str(info["algorithm"]),
                   params={"params": info.get("params", {})}, metrics={"validation": info.get("validation")},
                   fingerprint=data_fingerprint(lines[["customer_id", "product_id", "ordered_at"]]), model=model)
    progress("recommend", 2, 3)
    n = _write_recommendations(engine, model, data, run.version)
    progress("recommend", 3, 3)
    return {"model": "recommend", "version": run.version, "algorithm": str(info["algorithm"]), "scored": n}


def score_recommend(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """Store fresh top-10 lists with the saved recommender (customers' newest purchases are excluded)."""
    data, _ = _recommend_data(engine)
    model, run = _rescore_run(engine, "recommend")
    return {"model": "recommend", "version": run.version,
            "scored": _write_recommendations(engine, model, data, run.version)}


# ---------------------------------------------------------------- text analytics


def train_text(*, engine: Engine, progress: Progress = _quiet) -> dict:
    """Language, sentiment, topics and personal data of every feedback item, stored on the item; drivers of
    dissatisfaction and NPS/CSAT in the run's metrics."""
    from aicrm.features.store import load_feedback
    from aicrm.feedback.models import Feedback
    from aicrm.ingest.bulk import bulk_update
    from aicrm.nlp.analyse import analyse_feedback
    from aicrm.nlp.service import summarise_analysis

    progress("text", 0, 3)
    feedback = load_feedback(engine=engine)
    if feedback.empty:
        raise ValidationFailed("the store has no feedback to analyse",
                               hint="Import feedback first (`aicrm import feedback FILE`) or load the demo.")
    from aicrm.nlp.language import detect_languages

    lang = feedback["language"].where(feedback["language"].notna(),
                                      pd.Series(detect_languages(feedback["text"].tolist()), index=feedback.index))
    # Topics are found per language: English and Chinese reviews share no vocabulary, and one model over both
    # would hand Chinese reviews an English topic.
    analysed = pd.concat([analyse_feedback(part, text_col="text", rating_col="rating")
                          for _, part in feedback.groupby(lang, sort=True)]).loc[feedback.index]
    progress("text", 1, 3)
    summary = summarise_analysis(analysed, rating_col="rating")
    run = register(engine=engine, model_name="text", algorithm="lexicon+nmf", params={},
                   metrics=summary, fingerprint=data_fingerprint(feedback[["feedback_id", "text"]]))
    progress("text", 2, 3)
    update = pd.DataFrame({
        "id": analysed["feedback_id"].astype("int64").to_numpy(),
        # the stored language is what the customer or source said; detection only fills the gaps
        "language": feedback["language"].where(feedback["language"].notna(), analysed["language"]).to_numpy(),
        "sentiment_label": analysed["sentiment_label"].to_numpy(),
        "sentiment_score": analysed["sentiment_score"].astype("float64").to_numpy(),
        "topic": analysed["topic"].astype(object).where(analysed["topic"].notna(), None).str.slice(0, 128).to_numpy(),
        "analysis": [{**a, "model_version": run.version} for a in analysed["analysis"]],
    })
    with engine.begin() as conn:
        n = bulk_update(conn, Feedback.__table__, update)
    progress("text", 3, 3)
    return {"model": "text", "version": run.version, "scored": n,
            "metrics": {k: summary[k] for k in ("sentiment", "languages") if k in summary}}


# ---------------------------------------------------------------- all


TRAIN = {"segments": train_segments, "churn": train_churn, "clv": train_clv, "recommend": train_recommend,
         "text": train_text}
SCORE = {"segments": score_segments, "churn": score_churn, "clv": score_clv, "recommend": score_recommend,
         "text": train_text}


def train_all(*, engine: Engine, progress: Progress = _quiet, families: tuple[str, ...] = FAMILIES) -> list[dict]:
    """Train and score every model family in turn; returns one summary per family."""
    return _run(TRAIN, engine, progress, families)


def score_all(*, engine: Engine, progress: Progress = _quiet, families: tuple[str, ...] = FAMILIES) -> list[dict]:
    """Re-score every customer with each family's newest saved model."""
    return _run(SCORE, engine, progress, families)


def _run(jobs: dict, engine: Engine, progress: Progress, families: tuple[str, ...]) -> list[dict]:
    out = []
    for name in families:
        if name not in jobs:
            continue
        started = time.perf_counter()
        result = jobs[name](engine=engine, progress=progress)
        result["seconds"] = round(time.perf_counter() - started, 2)
        out.append(result)
    return out
