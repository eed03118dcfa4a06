"""The dashboard: server-rendered pages (Jinja2 + HTMX + Plotly) over the same services as the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from aicrm.auth import service as auth_service
from aicrm.auth.deps import (
    AnalyticsReader, CustomerReader, NoteWriter, SessionDep, SupportReader, SupportWriter, UserAdmin, check_csrf,
)
from aicrm.auth.policy import Principal
from aicrm.auth.schemas import UserCreate
from aicrm.auth.security import new_csrf_token
from aicrm.core.errors import AicrmError, AuthenticationFailed, RateLimited, ValidationFailed
from aicrm.customers import service as customers_service
from aicrm.customers.schemas import CustomerNoteCreate
from aicrm.feedback import service as feedback_service
from aicrm.ml import service as ml_service
from aicrm.orders import service as orders_service
from aicrm.support import service as support_service
from aicrm.support.schemas import TicketUpdate
from aicrm.web import charts

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
# The commands that fill what a page shows; empty states name them (a list: run them in turn). Every one must exist:
# tests/web/test_render_dashboard__browser.py runs each through ``aicrm ... --help``.
HINTS: dict[str, str | list[str]] = {
    "import": ["aicrm import customers FILE", "aicrm import orders FILE", "aicrm train all"],
    "demo": "aicrm demo",
    "orders": "aicrm import orders FILE",
    "feedback": "aicrm import feedback FILE",
    "scores": "aicrm train all",
    "rescore": "aicrm score",
    "recommend": "aicrm train recommend",
    "text": "aicrm train text",
}
NAV = [  # (label, path, permission)
    ("Overview", "/overview", "analytics:read"),
    ("Segments", "/segments", "analytics:read"),
    ("Customers", "/customers", "customers:read"),
    ("At risk", "/at-risk", "analytics:read"),
    ("Feedback", "/feedback", "analytics:read"),
    ("Tickets", "/tickets", "support:read"),
    ("Models", "/models", "analytics:read"),
    ("Users", "/users", "users:manage"),
]
# Pages other packages add to the dashboard once their router is mounted: (label, path, permission).
OPTIONAL_NAV = [("Assistant", "/assistant", "support:write")]
PageDep = Annotated[None, Depends(check_csrf)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


def page_context(request: Request, *, user: Principal | None = None, **extra) -> dict:
    """What every template needs: the user, their navigation, the CSRF token, the search box."""
    path = request.url.path
    nav = [(label, href, path == href or path.startswith(href + "/")) for label, href, perm in _nav(request.app)
           if user is not None and user.can(perm)]
    return {"request": request, "user": user, "nav": nav, "csrf_token": csrf_token(request),
            "q": request.query_params.get("q", ""), "hints": HINTS, **extra}


def _nav(app) -> list[tuple[str, str, str]]:
    """NAV plus the optional pages whose route the app serves (looked up once per app)."""
    nav = getattr(app.state, "nav", None)
    if nav is None:
        from aicrm.web.routes import iter_routes

        served = {path for path, methods, _ in iter_routes(app) if "GET" in methods}
        nav = app.state.nav = NAV + [item for item in OPTIONAL_NAV if item[1] in served]
    return nav


def render(request: Request, template: str, *, user: Principal | None, status_code: int = 200, **extra) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, template, page_context(request, user=user, **extra), status_code=status_code)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` or ``https://...`` would make the login an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _home_for(user: Principal) -> str:
    return "/overview" if user.can("analytics:read") else "/customers"


# ---------------------------------------------------------------- sign-in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", user=None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, email: Annotated[str, Form(max_length=320)] = "",
                password: Annotated[str, Form(max_length=256)] = "", next: Annotated[str, Form()] = "/") -> Response:
    from starlette.concurrency import run_in_threadpool

    target = _safe_next(next)
    try:
        await check_csrf(request)
    except AicrmError:
        return render(request, "login.html", user=None, next=target, email=email, status_code=400,
                      error="The sign-in form had expired. Please try again.")
    try:
        user = await run_in_threadpool(
            auth_service.authenticate_throttled, session=session, limiter=request.app.state.login_limiter,
            email=email, password=password, client=request.client.host if request.client else "unknown")
    except (AuthenticationFailed, RateLimited) as exc:
        return render(request, "login.html", user=None, next=target, email=email, status_code=exc.status_code,
                      error=exc.message + (f" {exc.hint}" if isinstance(exc, RateLimited) and exc.hint else ""))
    # A fresh session (and CSRF token) on sign-in, so a token planted before sign-in is worthless afterwards.
    request.session.clear()
    principal = Principal(id=user.id, email=user.email, role=user.role, via="session")
    request.session.update({"uid": user.id, "csrf": new_csrf_token(), "home": _home_for(principal)})
    return RedirectResponse(target if target != "/" else _home_for(principal), status_code=303)


@router.post("/logout")
async def logout(request: Request, _: PageDep) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    if "uid" not in request.session:
        return RedirectResponse("/login", status_code=303)
    home_page = _safe_next(request.session.get("home"))
    return RedirectResponse(home_page if home_page != "/" else "/overview", status_code=303)


# ---------------------------------------------------------------- overview


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, user: AnalyticsReader) -> Response:
    customers = customers_service.count(session=session)
    months = orders_service.revenue_by_month(session=session, months=24)
    as_of = orders_service.store_as_of(session=session)
    # A month the data stops in the middle of is drawn faded and labelled, and left out of the 12-month totals.
    partial = as_of is not None and months and months[-1].month == f"{as_of:%Y-%m}" and \
        (as_of + dt.timedelta(days=1)).month == as_of.month
    full = months[:-1] if partial else months
    last12 = full[-12:]
    churn_values = ml_service.score_values(session=session, model_name="churn")
    clv_values = ml_service.score_values(session=session, model_name="clv")
    segments = ml_service.list_segments(session=session)
    bands = ml_service.label_counts(session=session, model_name="churn")
    at_risk = sum(1 for v in churn_values if v >= 0.5)
    kpis = {
        "customers": customers,
        "active": orders_service.active_customers(session=session, days=90),
        "revenue_12m": sum(m.revenue for m in last12), "orders_12m": sum(m.orders for m in last12),
        "revenue_window": f"{charts.month_label(last12[0].month)} – {charts.month_label(last12[-1].month)}"
        if last12 else None,
        "at_risk": at_risk if churn_values else None,
        "at_risk_share": at_risk / len(churn_values) if churn_values else None,
        "mean_clv": (sum(clv_values) / len(clv_values)) if clv_values else None,
        "total_clv": sum(clv_values) if clv_values else None,
        "open_tickets": sum(n for s, n in support_service.status_counts(session=session).items()
                            if s not in support_service.CLOSED),
        "as_of": as_of,
    }
    figures = {
        "revenue": charts.to_json(charts.revenue_trend(
            months, partial_last=f"to {as_of.day} {as_of:%b}" if partial else None)) if months else None,
        "churn": charts.to_json(charts.churn_distribution(churn_values)) if churn_values else None,
        "bands": charts.to_json(charts.band_bars(bands)) if bands else None,
        "clv": charts.to_json(charts.clv_distribution(clv_values)) if clv_values else None,
        "segments": charts.to_json(charts.segment_sizes(segments.items)) if segments.items else None,
    }
    return render(request, "overview.html", user=user, kpis=kpis, figures=figures)


# ---------------------------------------------------------------- segments


@router.get("/segments", response_class=HTMLResponse)
def segments(request: Request, session: SessionDep, user: AnalyticsReader) -> Response:
    segs = ml_service.list_segments(session=session)
    clusters = ml_service.list_segments(session=session, model_name="cluster")
    # The stored RFM segmentation when there is one (the grid then matches the segment names); else quintiles
    # computed here from the orders, so a store without trained models still gets a grid.
    cells = ml_service.rfm_cells(session=session)
    if cells:
        rfm, rfm_customers, rfm_source = charts.rfm_cells_heatmap(cells), sum(c.customers for c in cells), "model"
    else:
        scores = charts.rfm_scores(orders_service.customer_rfm_stats(session=session))
        rfm_customers, rfm_source = len(scores["customer_id"]), "orders"
        rfm = charts.rfm_heatmap(scores) if rfm_customers else None
    figures = {
        "rfm": charts.to_json(rfm) if rfm else None,
        "bubbles": charts.to_json(charts.segment_bubbles(segs.items))
        if any(s.avg_churn is not None and s.avg_clv is not None for s in segs.items) else None,
        "clusters": charts.to_json(charts.segment_bubbles(clusters.items, link=None))
        if any(s.avg_churn is not None and s.avg_clv is not None for s in clusters.items) else None,
    }
    return render(request, "segments.html", user=user, segments=segs, clusters=clusters, figures=figures,
                  rfm_customers=rfm_customers, rfm_source=rfm_source,
                  colours={**charts.segment_colours(segs.items), **charts.segment_colours(clusters.items)})


@router.get("/segments/rfm-cell", response_class=HTMLResponse)
def rfm_cell(request: Request, session: SessionDep, user: AnalyticsReader, r: Annotated[int, Query(ge=1, le=5)],
             f: Annotated[int, Query(ge=1, le=5)], limit: Annotated[int, Query(ge=1, le=50)] = 10) -> Response:
    ids, total = ml_service.rfm_cell_members(session=session, r=r, f=f, limit=limit)
    if not total and not ml_service.has_rfm_cells(session=session):  # the grid came from orders too
        scores = charts.rfm_scores(orders_service.customer_rfm_stats(session=session))
        mask = (scores["r"] == r) & (scores["f"] == f)
        order = (-scores["monetary"][mask]).argsort()
        ids, total = [int(i) for i in scores["customer_id"][mask][order][:limit]], int(mask.sum())
    people = {c.id: c for c in (customers_service.get_or_raise(session=session, customer_id=i, viewer=user)
                                for i in ids)}
    return render(request, "_rfm_members.html", user=user, r=r, f=f, total=total,
                  members=[people[i] for i in ids])


# ---------------------------------------------------------------- customers


def _customer_query(request: Request, **overrides) -> str:
    params = {k: v for k, v in request.query_params.items() if v not in ("", None)}
    params.update({k: v for k, v in overrides.items()})
    return urlencode({k: v for k, v in params.items() if v not in ("", None)})


@router.get("/customers", response_class=HTMLResponse)
def customers(request: Request, session: SessionDep, user: CustomerReader,
              q: Annotated[str | None, Query(max_length=200)] = None,
              segment: Annotated[str | None, Query(max_length=128)] = None,
              sort: Annotated[str, Query(pattern=r"^-?(id|name|external_id|signup_date|churn|clv)$")] = "id",
              offset: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
    page = customers_service.list_customers(session=session, viewer=user, q=q, segment=segment, sort=sort,
                                            limit=PAGE_SIZE, offset=offset)
    context = dict(page=page, sort=sort, offset=offset, segment=segment, page_size=PAGE_SIZE,
                   query=lambda **kw: _customer_query(request, **kw), base="/customers")
    template = "_customer_table.html" if request.headers.get("hx-target") == "results" else "customers.html"
    return render(request, template, user=user, **context)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_360(request: Request, session: SessionDep, user: CustomerReader, customer_id: int) -> Response:
    detail = customers_service.get_detail_or_raise(session=session, customer_id=customer_id, viewer=user)
    history = orders_service.list_orders(session=session, customer_id=customer_id, sort="ordered_at", limit=500)
    events = _timeline(detail)
    figures = {
        "gauge": charts.to_json(charts.churn_gauge(detail.churn.probability, detail.churn.band))
        if detail.churn else None,
        "orders": charts.to_json(charts.order_timeline(history.items)) if history.items else None,
    }
    return render(request, "customer.html", user=user, c=detail, p=detail.profile, events=events, figures=figures,
                  reasons=_reason_rows(detail.churn), can_note=user.can("notes:write"))


def _reason_rows(churn) -> list[dict]:
    """The churn reasons as rows with a bar width (share of the largest effect) and a direction, for HTML bars:
    text a phone can read, where a chart's axis labels would be cut off."""
    if churn is None:
        return []
    biggest = max((abs(r.contribution) for r in churn.reasons if r.contribution is not None), default=0.0)
    return [{"text": r.text, "contribution": r.contribution,
             "width": round(100 * abs(r.contribution) / biggest) if biggest and r.contribution is not None else 0,
             "direction": "up" if (r.contribution or 0) > 0 else "down" if (r.contribution or 0) < 0 else "none"}
            for r in churn.reasons]


def _timeline(detail) -> list[dict]:
    """Orders, interactions, feedback, tickets and notes as one list, newest first."""
    events = []
    for o in detail.orders:
        events.append({"at": o.ordered_at, "kind": "order", "icon": "▣",
                       "title": f"Order {o.external_id}", "text": f"{o.status} · {o.total_amount or 0:,.2f}"
                                                                  f" {o.currency or ''}".strip()})
    for i in detail.interactions:
        events.append({"at": i.occurred_at, "kind": "interaction", "icon": "↗",
                       "title": i.type.replace("_", " ").capitalize(), "text": i.channel or ""})
    for f in detail.feedback:
        events.append({"at": f.created_at, "kind": "feedback", "icon": "★",
                       "title": "Feedback" + (f" · {f.rating:g}★" if f.rating is not None else ""),
                       "text": (f.text or "")[:240], "badge": f.sentiment_label})
    for t in detail.tickets:
        events.append({"at": t.created_at, "kind": "ticket", "icon": "✉",
                       "title": f"Ticket: {t.subject or t.category or t.external_id}", "text": t.status,
                       "badge": t.priority if t.priority in ("high", "urgent") else None})
    for n in detail.notes:
        events.append({"at": n.created_at, "kind": "note", "icon": "✎", "title": f"Note by {n.author or 'someone'}",
                       "text": n.text})
    events.sort(key=lambda e: e["at"] or dt.datetime.min, reverse=True)
    return events[:60]


@router.post("/customers/{customer_id}/notes", response_class=HTMLResponse)
def add_note(request: Request, session: SessionDep, user: NoteWriter, customer_id: int,
             text: Annotated[str, Form(max_length=5000)] = "") -> Response:
    error = None
    try:
        customers_service.add_note(session=session, customer_id=customer_id, data=CustomerNoteCreate(text=text),
                                   author=user)
    except ValidationError:
        error = "Write something first."
    if "hx-request" not in request.headers:  # a plain form post (no JavaScript): back to the page
        return RedirectResponse(f"/customers/{customer_id}#notes", status_code=303)
    notes = customers_service.list_notes(session=session, customer_id=customer_id)
    return render(request, "_notes.html", user=user, notes=notes, customer_id=customer_id, can_note=True,
                  note_error=error)


# ---------------------------------------------------------------- at risk


@router.get("/at-risk", response_class=HTMLResponse)
def at_risk(request: Request, session: SessionDep, user: AnalyticsReader,
            band: Annotated[str | None, Query(max_length=64)] = None,
            min_churn: Annotated[float | None, Query(ge=0, le=1)] = None,
            sort: Annotated[str, Query(pattern=r"^-?(id|name|churn|clv)$")] = "-clv",
            offset: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
    bands = ml_service.label_counts(session=session, model_name="churn")
    has_churn = ml_service.has_scores(session=session, model_name="churn")
    if band is None and min_churn is None:
        min_churn = 0.5
    page = (customers_service.list_customers(session=session, viewer=user, risk_band=band or None,
                                             min_churn=min_churn, sort=sort, limit=PAGE_SIZE, offset=offset)
            if has_churn else None)
    filters = {k: v for k, v in {"risk_band": band, "min_churn": min_churn, "sort": sort}.items() if v is not None}
    reasons = {}
    if page is not None and page.items:  # explanations of this page's 25 customers only
        scores = ml_service.latest_scores(session=session, customer_ids=[c.id for c in page.items],
                                          model_names=["churn"])
        for cid, by_model in scores.items():
            raw = ((by_model["churn"].explanation or {}).get("reasons") or []) if "churn" in by_model else []
            first = raw[0] if raw else None
            reasons[cid] = (first.get("text") if isinstance(first, dict) else str(first)) if first else None
    return render(request, "at_risk.html", user=user, page=page, bands=bands, band=band, min_churn=min_churn,
                  sort=sort, offset=offset, page_size=PAGE_SIZE, base="/at-risk", reasons=reasons,
                  query=lambda **kw: _customer_query(request, **kw),
                  csv_url="/api/customers?" + urlencode({**filters, "format": "csv"}))


# ---------------------------------------------------------------- feedback


@router.get("/feedback", response_class=HTMLResponse)
def feedback(request: Request, session: SessionDep, user: AnalyticsReader) -> Response:
    total, labelled = feedback_service.analysed_count(session=session)
    trend = feedback_service.sentiment_by_month(session=session) if labelled else []
    topics = feedback_service.topic_counts(session=session) if labelled else []
    # Star ratings need no text analysis: show them in any case.
    ratings = feedback_service.ratings_by_month(session=session) if total else []
    figures = {"trend": charts.to_json(charts.sentiment_trend(trend)) if trend else None,
               "topics": charts.to_json(charts.topic_bars(topics)) if topics else None,
               "ratings": charts.to_json(charts.rating_trend(ratings))
               if any(r.mean_rating is not None for r in ratings) else None}
    negative = feedback_service.list_feedback(session=session, sentiment="negative", limit=8) if labelled else None
    low = feedback_service.list_feedback(session=session, sort="rating", limit=8) if total and not labelled else None
    recent = feedback_service.list_feedback(session=session, limit=8)
    shown = [f for page in (negative, low, recent) if page for f in page.items]
    names = customers_service.names(session=session, customer_ids=[f.customer_id for f in shown if f.customer_id])
    return render(request, "feedback.html", user=user, total=total, labelled=labelled, figures=figures,
                  negative=negative, low=low, recent=recent, names=names,
                  ratings=feedback_service.rating_summary(session=session) if total else None)


# ---------------------------------------------------------------- models


HEADLINE = ("auc", "roc_auc", "test_auc", "backtest_error_pct", "precision_at_10", "ndcg", "accuracy", "macro_f1",
            "f1", "rmse", "mae", "silhouette")
# What a model is for, and which of its metrics a person should see first: (metric, label, format, what it means).
MODEL_INFO = {
    "churn": ("Who is likely to stop buying", [
        ("roc_auc", "ROC AUC", ".3f", "chance a leaver is ranked above a stayer (0.5 = guessing)"),
        ("auc", "ROC AUC", ".3f", "chance a leaver is ranked above a stayer (0.5 = guessing)"),
        ("pr_auc", "PR AUC", ".3f", None), ("lift_at_10pct", "Lift, top 10%", ".2f", "vs. picking at random"),
        ("brier", "Brier score", ".3f", "lower is better")]),
    "clv": ("Expected value of each customer over 12 months", [
        ("backtest_error_pct", "Backtest error", "+.1f%", "predicted vs. actual repeat purchases on held-out time"),
        ("backtest_mae_per_customer", "Error per customer", ".2f", "purchases")]),
    "segment": ("Named RFM segments (recency, frequency, money)", []),
    "cluster": ("Behavioural clusters (k-means)", [
        ("silhouette", "Silhouette", ".3f", "separation of the clusters, -1 to 1")]),
    "recommend": ("Next products to offer each customer", [
        ("precision_at_k", "Precision@10", ".3f", "share of the top 10 bought later (held-out purchases)"),
        ("precision_at_10", "Precision@10", ".3f", None), ("ndcg_at_k", "NDCG@10", ".3f", None),
        ("catalog_coverage", "Catalogue coverage", "ratio%", "products recommended to someone")]),
    "sentiment": ("Sentiment of feedback text", [("accuracy", "Accuracy", ".3f", None),
                                                   ("macro_f1", "Macro F1", ".3f", None)]),
}
METRIC_LABELS = {metric: label for _, metrics in MODEL_INFO.values() for metric, label, _, _ in metrics}


def _fmt(value: float, spec: str) -> str:
    if spec == "ratio%":
        return f"{value:.0%}"
    return f"{value:{spec[:-1]}}%" if spec.endswith("%") else f"{value:{spec}}"


def _flat_metrics(run) -> dict:
    """The run's metrics with the chosen candidate's validation scores lifted to the top (the recommender stores
    one validation row per candidate it tried; the one that won is the one in use)."""
    metrics = dict(run.metrics or {})
    rows = metrics.get("validation")
    if isinstance(rows, list):
        mine = [r for r in rows if isinstance(r, dict) and r.get("algorithm") == run.algorithm]
        chosen = next((r for r in mine if r.get("params") == (run.params or {}).get("params")), None) or \
            max(mine, key=lambda r: r.get("precision_at_k") or 0, default=None)
        if chosen:
            metrics.update({k: v for k, v in chosen.items() if _is_number(v) and k not in metrics})
        baseline = next((r for r in rows if isinstance(r, dict) and r.get("algorithm") == "popularity"), None)
        if baseline and _is_number(baseline.get("precision_at_k")):
            metrics["popularity_precision_at_k"] = baseline["precision_at_k"]
    return metrics


def _headline(run) -> tuple[str, float] | None:
    metrics = _flat_metrics(run)
    for metric, *_ in MODEL_INFO.get(run.model_name, ("", []))[1]:
        if _is_number(metrics.get(metric)):
            return metric, float(metrics[metric])
    for key in HEADLINE:
        if _is_number(metrics.get(key)):
            return key, float(metrics[key])
    for key, value in metrics.items():
        if _is_number(value):
            return key, float(value)
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _model_summary(run) -> dict:
    """What the Models page says about a run: purpose, labelled key metrics, and a plain fact or two."""
    purpose, wanted = MODEL_INFO.get(run.model_name, (None, []))
    metrics = _flat_metrics(run)
    shown = [{"label": label, "value": _fmt(float(metrics[m]), spec), "help": help_text}
             for m, label, spec, help_text in wanted if _is_number(metrics.get(m))]
    if not shown:
        head = _headline(run)
        if head:
            shown.append({"label": METRIC_LABELS.get(head[0], head[0].replace("_", " ")),
                          "value": _plain_number(head[1]), "help": None})
    facts = []
    if isinstance(metrics.get("sizes"), dict):
        facts.append(f"{len(metrics['sizes'])} segments")
    if isinstance(metrics.get("profiles"), list):
        facts.append(f"{len(metrics['profiles'])} clusters")
    if isinstance(metrics.get("global_importance"), dict):
        top = sorted(metrics["global_importance"].items(), key=lambda kv: -(kv[1] or 0))[:3]
        facts.append("strongest signals: " + ", ".join(k.replace("_", " ") for k, _ in top))
    if _is_number(metrics.get("backtest_customers")):
        facts.append(f"backtested on {int(metrics['backtest_customers']):,} customers")
    if isinstance(metrics.get("backtest_model"), str):
        facts.append(f"chosen model: {metrics['backtest_model']}")
    ours, base = metrics.get("precision_at_k"), metrics.get("popularity_precision_at_k")
    if _is_number(ours) and _is_number(base) and base > 0:
        facts.append(f"{ours / base:.1f}× the precision of recommending best-sellers")
    if isinstance(metrics.get("validation"), list):
        facts.append(f"chosen from {len(metrics['validation'])} candidates on held-out purchases")
    return {"purpose": purpose, "metrics": shown, "facts": facts}


def _metric_list(run, limit: int = 6) -> list[tuple[str, str]]:
    """The run's numeric metrics for the history table: known ones first with their labels, then the rest."""
    metrics = _flat_metrics(run)
    known = [(label, _fmt(float(metrics[m]), spec)) for m, label, spec, _ in MODEL_INFO.get(run.model_name, ("", []))[1]
             if _is_number(metrics.get(m))]
    listed = {m for m, *_ in MODEL_INFO.get(run.model_name, ("", []))[1]}
    rest = [(k.replace("_", " "), _plain_number(v)) for k, v in metrics.items() if _is_number(v) and k not in listed]
    if isinstance(metrics.get("sizes"), dict):
        rest.append(("segments", f"{len(metrics['sizes'])}"))
    return (known + rest)[:limit]


def _plain_number(value: float) -> str:
    """3 significant digits, but whole thousands as such (2,621 rather than 2.62e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, session: SessionDep, user: AnalyticsReader) -> Response:
    runs = ml_service.list_runs(session=session, limit=500)
    latest = ml_service.latest_runs(session=session)
    history = {name: charts.to_json(fig) for name, fig in
               charts.metric_history(runs.items, _headline, titles=METRIC_LABELS).items()}
    return render(request, "models.html", user=user, runs=runs, latest=latest, history=history,
                  summary=_model_summary, metric_list=_metric_list)


# ---------------------------------------------------------------- tickets


@router.get("/tickets", response_class=HTMLResponse)
def tickets(request: Request, session: SessionDep, user: SupportReader,
            status: Annotated[str | None, Query(max_length=32)] = None,
            q: Annotated[str | None, Query(max_length=200)] = None,
            offset: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
    page = support_service.list_tickets(session=session, status=status or None, q=q, limit=PAGE_SIZE, offset=offset)
    names = customers_service.names(session=session, customer_ids=[t.customer_id for t in page.items if t.customer_id])
    return render(request, "tickets.html", user=user, page=page, status=status, offset=offset, page_size=PAGE_SIZE,
                  names=names, counts=support_service.status_counts(session=session), base="/tickets",
                  query=lambda **kw: _customer_query(request, **kw), can_edit=user.can("support:write"),
                  ticket_q=q or "")


@router.post("/tickets/{ticket_id}/status", response_class=HTMLResponse)
def set_ticket_status(request: Request, session: SessionDep, user: SupportWriter, ticket_id: int,
                      status: Annotated[str, Form(max_length=32)]) -> Response:
    try:
        change = TicketUpdate(status=status)
    except ValidationError:
        raise ValidationFailed(f"Unknown ticket status {status!r}.",
                               details=[{"field": "status", "message": "use open, pending, resolved or closed"}],
                               hint="Pick a status from the list.") from None
    ticket = support_service.update(session=session, ticket_id=ticket_id, data=change)
    names = customers_service.names(session=session, customer_ids=[ticket.customer_id] if ticket.customer_id else [])
    return render(request, "_ticket_row.html", user=user, t=ticket, names=names, can_edit=True)


# ---------------------------------------------------------------- users (admin)


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, session: SessionDep, user: UserAdmin) -> Response:
    rows, total = auth_service.list_users(session=session, limit=500)
    state = request.app.state
    settings = auth_service.settings_view(settings=state.settings, engine=state.engine,
                                          cookie_secure=state.cookie_secure)
    return render(request, "users.html", user=user, users=rows, total=total, settings=settings, error=None)


@router.post("/users", response_class=HTMLResponse)
def create_user(request: Request, session: SessionDep, user: UserAdmin,
                email: Annotated[str, Form(max_length=320)] = "", password: Annotated[str, Form(max_length=256)] = "",
                role: Annotated[str, Form(max_length=32)] = "agent",
                full_name: Annotated[str, Form(max_length=256)] = "") -> Response:
    error = None
    try:
        auth_service.create(session=session, data=UserCreate(email=email, password=password, role=role,
                                                             full_name=full_name or None))
    except ValidationError as exc:
        error = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    except AicrmError as exc:
        error = exc.message
    if error is None:
        return RedirectResponse("/users", status_code=303)
    rows, total = auth_service.list_users(session=session, limit=500)
    state = request.app.state
    settings = auth_service.settings_view(settings=state.settings, engine=state.engine,
                                          cookie_secure=state.cookie_secure)
    return render(request, "users.html", user=user, users=rows, total=total, settings=settings, error=error,
                  status_code=422)
