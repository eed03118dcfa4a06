"""Tables read from the store for feature building and scoring (one SQL text for SQLite and PostgreSQL)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from aicrm.ingest.bulk import fetch_frame

ORDERS_SQL = """
SELECT o.id AS order_id, o.customer_id, o.ordered_at, o.status, o.channel, o.delivered_at, o.promised_at,
       COALESCE(SUM(CASE WHEN l.amount > 0 THEN l.amount ELSE 0 END), 0) AS amount,
       COALESCE(-SUM(CASE WHEN l.amount < 0 THEN l.amount ELSE 0 END), 0) AS returned_amount,
       COUNT(l.id) AS n_lines,
       COALESCE(SUM(CASE WHEN l.quantity > 0 THEN l.quantity ELSE 0 END), 0) AS n_items
FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
WHERE o.customer_id IS NOT NULL
GROUP BY o.id, o.customer_id, o.ordered_at, o.status, o.channel, o.delivered_at, o.promised_at
"""

LINES_SQL = """
SELECT o.customer_id, l.order_id, o.ordered_at, l.product_id, p.category, l.quantity, l.amount
FROM order_lines l JOIN orders o ON o.id = l.order_id LEFT JOIN products p ON p.id = l.product_id
WHERE o.customer_id IS NOT NULL
"""


def _dates(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        if c in frame:
            frame[c] = pd.to_datetime(frame[c], format="mixed")
    return frame


def load_orders(*, engine: Engine) -> pd.DataFrame:
    """One row per order of a known customer: amount (purchases), returned amount, lines, items, delivery times."""
    with engine.connect() as conn:
        frame = fetch_frame(conn, ORDERS_SQL)
    frame = _dates(frame, "ordered_at", "delivered_at", "promised_at")
    for c in ("amount", "returned_amount", "n_items"):
        frame[c] = frame[c].astype("float64")
    return frame


def load_lines(*, engine: Engine) -> pd.DataFrame:
    """One row per order line of a known customer, with the product's category."""
    with engine.connect() as conn:
        frame = fetch_frame(conn, LINES_SQL)
    return _dates(frame, "ordered_at")


def load_table(*, engine: Engine, sql: str, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """Any SELECT as a table, with the named columns parsed as timestamps."""
    with engine.connect() as conn:
        frame = fetch_frame(conn, sql)
    return _dates(frame, *dates)


def load_customers(*, engine: Engine) -> pd.DataFrame:
    return load_table(engine=engine, sql="SELECT id AS customer_id, external_id, name, country, signup_date "
                                         "FROM customers", dates=("signup_date",))


def load_products(*, engine: Engine) -> pd.DataFrame:
    return load_table(engine=engine, sql="SELECT id AS product_id, external_id, name, description, category, "
                                         "unit_price, available FROM products")


def load_feedback(*, engine: Engine) -> pd.DataFrame:
    return load_table(engine=engine, sql="SELECT id AS feedback_id, customer_id, order_id, text, rating, language, "
                                         "created_at, sentiment_label, sentiment_score, topic FROM feedback",
                      dates=("created_at",))


def load_tickets(*, engine: Engine) -> pd.DataFrame:
    return load_table(engine=engine, sql="SELECT id AS ticket_id, customer_id, category, status, created_at "
                                         "FROM tickets WHERE customer_id IS NOT NULL", dates=("created_at",))
