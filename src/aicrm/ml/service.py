"""Read the model registry, per-customer scores and stored recommendations written by the ML jobs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, Subquery, bindparam, func, select
from sqlalchemy.orm import Session

from aicrm.core.errors import NotFoundError
from aicrm.ml.models import CustomerScore, ModelRun, Recommendation
from aicrm.ml.schemas import (
    ModelRunPage, ModelRunRead, RecommendationRead, RfmCell, ScoreRead, SegmentList, SegmentRead,
)
from aicrm.products.models import Product

# SQLite allows 32,766 bound parameters per statement; stay far below it.
ID_CHUNK = 900


def latest_version(model_name: str):
    """Scalar subquery: the newest ``model_version`` of ``model_name`` among stored scores."""
    return (select(func.max(CustomerScore.model_version))
            .where(CustomerScore.model_name == model_name).scalar_subquery())


def current_scores(model_name: str) -> Subquery:
    """Subquery ``(customer_id, value, label)`` of the newest version of ``model_name``'s scores."""
    return (select(CustomerScore.customer_id, CustomerScore.value, CustomerScore.label)
            .where(CustomerScore.model_name == model_name,
                   CustomerScore.model_version == latest_version(model_name))
            .subquery(f"{model_name}_scores"))


SCORE_COLUMNS = (CustomerScore.id, CustomerScore.customer_id, CustomerScore.model_name, CustomerScore.model_version,
                 CustomerScore.value, CustomerScore.label, CustomerScore.scored_at)


def latest_scores(*, session: Session, customer_ids: Sequence[int], model_names: Iterable[str] | None = None,
                  explanations: bool = True) -> dict[int, dict[str, CustomerScore]]:
    """For each customer, its newest score of each model (by version, then by time).

    With ``explanations=False`` the rows are light (no ``explanation`` JSON to parse): lists only show values.
    """
    out: dict[int, dict[str, CustomerScore]] = defaultdict(dict)
    names = list(model_names) if model_names is not None else None
    ids = list(customer_ids)
    if len(ids) == 1 and names is None and explanations:  # the 360-degree view: one prebuilt statement
        for score in session.execute(_ONE_CUSTOMER_SCORES, {"cid": ids[0]}):
            _keep_newest(out, score)
        return out
    for start in range(0, len(ids), ID_CHUNK):
        stmt = (select(CustomerScore) if explanations else select(*SCORE_COLUMNS)).where(
            CustomerScore.customer_id.in_(ids[start:start + ID_CHUNK]))
        if names is not None:
            stmt = stmt.where(CustomerScore.model_name.in_(names))
        rows = session.scalars(stmt) if explanations else session.execute(stmt)
        for score in rows:
            _keep_newest(out, score)
    return out


def _keep_newest(out: dict, score) -> None:
    have = out[score.customer_id].get(score.model_name)
    if have is None or (score.model_version, score.scored_at, score.id) > (have.model_version, have.scored_at, have.id):
        out[score.customer_id][score.model_name] = score


def scores_for(*, session: Session, customer_id: int) -> list[ScoreRead]:
    """The newest score of every model for one customer."""
    latest = latest_scores(session=session, customer_ids=[customer_id]).get(customer_id, {})
    return [ScoreRead.model_validate(s) for _, s in sorted(latest.items())]


_RECOMMENDATIONS = (
    select(Recommendation.product_id, Product.name.label("product_name"), Product.category, Recommendation.rank,
           Recommendation.score, Recommendation.reason, Recommendation.model_version)
    .join(Product, Product.id == Recommendation.product_id)
    .where(Recommendation.customer_id == bindparam("cid"),
           Recommendation.model_version == select(func.max(Recommendation.model_version))
           .where(Recommendation.customer_id == bindparam("cid")).scalar_subquery())
    .order_by(Recommendation.rank).limit(bindparam("lim")))
_ONE_CUSTOMER_SCORES = select(*CustomerScore.__table__.c).where(CustomerScore.customer_id == bindparam("cid"))


def recommendations_for(*, session: Session, customer_id: int, limit: int = 10) -> list[RecommendationRead]:
    """The customer's recommendations from the newest model version that produced any for them, best first."""
    rows = session.execute(_RECOMMENDATIONS, {"cid": customer_id, "lim": limit})
    return [RecommendationRead.model_validate(r, from_attributes=True) for r in rows]


def list_runs(*, session: Session, model_name: str | None = None, limit: int = 50, offset: int = 0) -> ModelRunPage:
    """Model runs, newest first."""
    stmt: Select = select(ModelRun)
    if model_name:
        stmt = stmt.where(ModelRun.model_name == model_name)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    runs = session.scalars(stmt.order_by(ModelRun.trained_at.desc(), ModelRun.id.desc()).limit(limit).offset(offset))
    return ModelRunPage(items=[ModelRunRead.model_validate(r) for r in runs], total=total)


def get_run(*, session: Session, run_id: int) -> ModelRun | None:
    """The model run ``run_id``, or None."""
    return session.get(ModelRun, run_id)


def get_run_or_raise(*, session: Session, run_id: int) -> ModelRunRead:
    """The model run ``run_id``; raises ``NotFoundError``."""
    run = session.get(ModelRun, run_id)
    if run is None:
        raise NotFoundError(f"No model run with id {run_id}.", hint="List runs with GET /api/models.")
    return ModelRunRead.model_validate(run)


def latest_runs(*, session: Session) -> list[ModelRunRead]:
    """The newest run of each model name."""
    newest = (select(ModelRun.model_name, func.max(ModelRun.version).label("version"))
              .group_by(ModelRun.model_name).subquery())
    runs = session.scalars(select(ModelRun).join(newest, (newest.c.model_name == ModelRun.model_name)
                                                 & (newest.c.version == ModelRun.version))
                           .order_by(ModelRun.model_name))
    return [ModelRunRead.model_validate(r) for r in runs]


def has_scores(*, session: Session, model_name: str) -> bool:
    """Whether any customer has a ``model_name`` score."""
    return session.scalar(select(CustomerScore.id).where(CustomerScore.model_name == model_name).limit(1)) is not None


def score_values(*, session: Session, model_name: str) -> list[float]:
    """Every current ``model_name`` score value (for distributions)."""
    sq = current_scores(model_name)
    return [v for (v,) in session.execute(select(sq.c.value).where(sq.c.value.is_not(None)))]


def label_counts(*, session: Session, model_name: str) -> dict[str, int]:
    """How many customers carry each current ``model_name`` label (risk bands, segment names...)."""
    sq = current_scores(model_name)
    rows = session.execute(select(sq.c.label, func.count()).where(sq.c.label.is_not(None))
                           .group_by(sq.c.label).order_by(func.count().desc()))
    return {label: n for label, n in rows}


def list_segments(*, session: Session, model_name: str = "segment") -> SegmentList:
    """Segments of the newest segmentation with their size, share, mean churn probability and mean CLV
    (``model_name="cluster"``: the behavioural clusters instead of the named RFM segments)."""
    seg, churn, clv = current_scores(model_name), current_scores("churn"), current_scores("clv")
    rows = session.execute(
        select(seg.c.label, func.count(), func.avg(churn.c.value), func.avg(clv.c.value))
        .select_from(seg)
        .outerjoin(churn, churn.c.customer_id == seg.c.customer_id)
        .outerjoin(clv, clv.c.customer_id == seg.c.customer_id)
        .where(seg.c.label.is_not(None))
        .group_by(seg.c.label).order_by(func.count().desc(), seg.c.label)).all()
    total = sum(n for _, n, _, _ in rows)
    version = session.scalar(select(latest_version(model_name)))
    return SegmentList(items=[SegmentRead(name=name, size=n, share=n / total if total else 0.0,
                                          avg_churn=float(ch) if ch is not None else None,
                                          avg_clv=float(cv) if cv is not None else None)
                              for name, n, ch, cv in rows], total=total, model_version=version)


def _rfm_cell_value():
    """The newest ``segment`` scores with their monetary value (the RFM cell is the score's value, e.g. 545)."""
    return (select(CustomerScore.customer_id, CustomerScore.value,
                   CustomerScore.explanation["monetary"].as_float().label("monetary"))
            .where(CustomerScore.model_name == "segment",
                   CustomerScore.model_version == latest_version("segment"),
                   CustomerScore.value.is_not(None)))


def rfm_cells(*, session: Session) -> list[RfmCell]:
    """Customers and mean spend per (recency, frequency) score pair of the newest stored RFM segmentation."""
    sq = _rfm_cell_value().subquery()
    rows = session.execute(select(sq.c.value, func.count(), func.avg(sq.c.monetary)).group_by(sq.c.value))
    cells: dict[tuple[int, int], list[float]] = {}
    for value, n, mean in rows:
        r, f = int(value) // 100, int(value) // 10 % 10
        if not (1 <= r <= 5 and 1 <= f <= 5):
            continue  # not an R-F-M cell code; nothing to place on the grid
        n_sum, spend = cells.get((r, f), [0, 0.0])
        cells[(r, f)] = [n_sum + n, spend + float(mean or 0.0) * n]
    return [RfmCell(r=r, f=f, customers=int(n), mean_monetary=spend / n if n else None)
            for (r, f), (n, spend) in sorted(cells.items())]


def has_rfm_cells(*, session: Session) -> bool:
    """Whether the newest stored segmentation carries RFM cells (older or imported ones may hold labels only)."""
    sq = _rfm_cell_value().subquery()
    return session.scalar(select(sq.c.customer_id).limit(1)) is not None


def rfm_cell_members(*, session: Session, r: int, f: int, limit: int = 50) -> tuple[list[int], int]:
    """Ids of the biggest spenders in one (recency, frequency) cell of the stored RFM segmentation, and its size."""
    sq = _rfm_cell_value().subquery()
    low = r * 100 + f * 10  # cells r f 1..5 are the values low+1 .. low+5
    in_cell = sq.c.value.between(low + 1, low + 9)
    total = session.scalar(select(func.count()).select_from(sq).where(in_cell)) or 0
    ids = session.scalars(select(sq.c.customer_id).where(in_cell)
                          .order_by(sq.c.monetary.desc().nulls_last(), sq.c.customer_id).limit(limit))
    return list(ids), total
