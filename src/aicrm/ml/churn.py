"""Churn risk: a calibrated LightGBM model over any customer table, with per-customer reasons.

The model reads a plain customer table (one row per customer), works out on its own which columns are
numbers, yes/no flags, categories, dates or identifiers, and learns P(churn) with shallow, strongly
regularised gradient-boosted trees. Reasons come from LightGBM's exact TreeSHAP (``pred_contrib=True``):
each customer's log-odds is split into one additive contribution per column, and the largest are turned
into plain words with the customer's own values ("month-to-month contract", "tenure of 2 months").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from aicrm.core.errors import ModelNotTrained, ValidationFailed

__all__ = [
    "ChurnModel",
    "REASON_TEMPLATES",
    "churn_labels",
    "risk_band",
    "score_customers",
]

# Spellings of "this customer churned" / "this customer stayed" accepted without --positive.
POSITIVE_TOKENS = frozenset({
    "yes", "y", "true", "t", "1", "1.0", "churn", "churned", "churner", "lost", "left", "gone", "inactive",
    "cancelled", "canceled", "exited", "attrited", "attrited customer", "lapsed", "closed", "terminated",
})
NEGATIVE_TOKENS = frozenset({
    "no", "n", "false", "f", "0", "0.0", "active", "retained", "stayed", "current", "existing",
    "existing customer", "not churned", "open", "loyal", "kept",
})
BLANKS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"})
BOOLEAN_PAIRS = (("yes", "no"), ("true", "false"), ("t", "f"), ("y", "n"))
OTHER = "(other)"

# Tokens of a column name that suggest it identifies or contacts a person rather than describes them.
_ID_TOKENS = {"id", "uuid", "guid", "key", "number", "no", "nr", "code", "ref", "reference"}
_CONTACT_TOKENS = {"email", "mail", "e-mail", "phone", "telephone", "tel", "mobile", "cell", "fax",
                   "name", "firstname", "lastname", "surname", "fullname", "address", "street"}
_ROW_NAMES = {"row", "rownumber", "rownum", "index", "unnamed0", "unnamed", "idx", "rowid", "serial", "sno"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
_DATE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{4}/\d{1,2}/\d{1,2})([ T]\d{1,2}:\d{2}.*)?$")

# Plain-word phrases for features the product knows. Keys are lower-case names without separators, so
# "MonthlyCharges", "monthly_charges" and "monthly charges" share one phrase. ``{value}`` is the
# customer's own value; any other ``{name}`` is another column of the same row (e.g. the usual gap).
REASON_TEMPLATES: dict[str, str] = {
    # tabular (IBM Telco and similar subscription tables)
    "tenure": "tenure of {value:g} months",
    "tenure#0": "new customer (tenure under a month)",
    "tenure#1": "tenure of 1 month",
    "tenuremonths": "tenure of {value:g} months",
    "contract": "{value_lower} contract",
    "monthlycharges": "monthly charges of {value:,.2f}",
    "totalcharges": "total charges of {value:,.2f}",
    "paymentmethod": "pays by {value_lower}",
    "internetservice": "internet service: {value}",
    "paperlessbilling": "paperless billing: {value_lower}",
    "seniorcitizen": "senior citizen: {value_yesno}",
    # transactional (churn_features.transactional_churn_features)
    "dayssincelastpurchase": "no purchase for {value:.0f} days (usual gap {median_gap_days:.0f})",
    "dayssincelastpurchase~": "no purchase for {value:.0f} days",
    "recencyovergap": "{value:.1f}x the usual gap since the last purchase",
    "recencyovergap#missing": "only one purchase day so far",
    "dayssincefirstpurchase": "customer for {value:.0f} days",
    "ordercount": "{value:.0f} orders so far",
    "ordercount#1": "only 1 order so far",
    "purchasedays": "bought on {value:.0f} different days",
    "purchasedays#1": "bought on 1 day only",
    "activemonths12m": "bought in {value:.0f} of the last 12 months",
    "activemonths12m#1": "bought in 1 of the last 12 months",
    "orders30d": "{value:.0f} orders in the last 30 days",
    "orders30d#0": "no order in the last 30 days",
    "orders30d#1": "1 order in the last 30 days",
    "orders90d": "{value:.0f} orders in the last 90 days",
    "orders90d#0": "no order in the last 90 days",
    "orders90d#1": "1 order in the last 90 days",
    "orders90dprev": "{value:.0f} orders in the 90 days before that",
    "orders90dprev#0": "no order 90-180 days ago",
    "orders90dprev#1": "1 order 90-180 days ago",
    "ordertrend": "order rate {value:+.0%} (last 90 days against the 90 before)",
    "mediangapdays": "usually orders every {value:.0f} days",
    "mediangapdays#missing": "only one purchase day so far",
    "meangapdays": "orders every {value:.0f} days on average",
    "meangapdays#missing": "only one purchase day so far",
    "lastgapdays": "last gap between orders was {value:.0f} days",
    "lastgapdays#missing": "only one purchase day so far",
    "gaptrend": "latest gap between orders {value:.1f}x the earlier ones",
    "gaptrend#missing": "too few orders to see a trend in the gaps",
    "netspend": "net spend {value:,.2f}",
    "spend90d": "spent {value:,.2f} in the last 90 days",
    "spend90d#0": "nothing spent in the last 90 days",
    "avgordervalue": "average order {value:,.2f}",
    "avgbasketlines": "{value:.1f} lines per order on average",
    "avgbasketitems": "{value:.1f} items per order on average",
    "returnsshare": "returns are {value:.0%} of spend",
    "returnsshare#0": "no returns",
    "returnorders": "{value:.0f} orders with returns",
    "returnorders#0": "no returns",
    "returnorders#1": "1 order with returns",
    "categorycount": "buys from {value:.0f} categories",
    "categorycount#1": "buys from 1 category only",
    "topcategoryshare": "{value:.0%} of spend in one category",
    "feedbackcount": "{value:.0f} pieces of feedback",
    "feedbackcount#0": "no feedback given",
    "feedbackmean": "average feedback score {value:.2f}",
    "feedbackmean#missing": "no feedback given",
    "feedbacklast": "last feedback score {value:.2f}",
    "feedbacklast#missing": "no feedback given",
    "feedbacknegative": "{value:.0f} negative feedback",
    "feedbacknegative#0": "no negative feedback",
    "contacts": "{value:.0f} support contacts",
    "contacts#0": "no support contacts",
    "contacts#1": "1 support contact",
    "contacts90d": "{value:.0f} support contacts in the last 90 days",
    "contacts90d#0": "no support contact in the last 90 days",
    "contacts90d#1": "1 support contact in the last 90 days",
    "dayssincelastcontact": "last support contact {value:.0f} days ago",
    "dayssincelastcontact#missing": "never contacted support",
}

# Features that say the same thing in other words; a customer's reasons name each group once (its
# strongest member), so "no purchase for 94 days" is not followed by "no order in the last 30 days".
REASON_GROUPS: dict[str, str] = {
    **dict.fromkeys(["dayssincelastpurchase", "recencyovergap", "orders30d", "orders90d", "spend90d"], "recency"),
    **dict.fromkeys(["mediangapdays", "meangapdays", "lastgapdays", "gaptrend"], "gaps"),
    **dict.fromkeys(["ordercount", "purchasedays", "activemonths12m"], "frequency"),
    **dict.fromkeys(["returnsshare", "returnorders"], "returns"),
    **dict.fromkeys(["feedbackcount", "feedbackmean", "feedbacklast", "feedbacknegative"], "feedback"),
    **dict.fromkeys(["contacts", "contacts90d", "dayssincelastcontact"], "contacts"),
    **dict.fromkeys(["tenure", "tenuremonths", "totalcharges"], "tenure"),
}


@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@lru_cache(maxsize=4096)
def _tokens(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return tuple(t for t in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if t)


@lru_cache(maxsize=4096)
def _label(name: str) -> str:
    """'PaymentMethod' / 'payment_method' -> 'payment method'."""
    return " ".join(_tokens(name)) or str(name)


# --------------------------------------------------------------------------------------------- labels


def churn_labels(y: pd.Series | np.ndarray | list, *, positive: Any = None, name: str = "target") -> np.ndarray:
    """0/1 churn labels from Yes/No, True/False, T/F, 1/0, churned/active...; ``positive`` names the churn value."""
    arr = np.asarray(y)
    if positive is None and arr.dtype.kind in "biuf" and arr.size and np.isin(arr, (0, 1)).all() \
            and 0 < arr.sum() < arr.size:
        return arr.astype(np.int8)  # already 0/1 (e.g. stacked transactional labels): skip the text path
    s = pd.Series(y).reset_index(drop=True)
    text = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    low = text.str.lower()
    blank = low.isin(BLANKS)
    if blank.any():
        rows = (np.flatnonzero(blank.to_numpy()) + 1).tolist()
        raise ValidationFailed(
            f"column '{name}': {len(rows)} row(s) have no value (data rows {rows[:5]}{' ...' if len(rows) > 5 else ''})",
            hint="Fill in the churn value for every customer, or remove those rows.")
    values = sorted(low.unique())
    if len(values) < 2:
        raise ValidationFailed(
            f"column '{name}' has only one value ({text.iloc[0]!r}); a churn model needs both churned and staying customers",
            hint="Check that the right column was given as the target and that the file holds both kinds of customers.")
    if positive is not None:
        pos = str(positive).strip().lower()
        if pos not in values:
            shown = sorted(text.unique())[:10]
            raise ValidationFailed(f"column '{name}' has no value {positive!r}; its values are {shown}",
                                   hint="Pass --positive with one of those values (the one that means 'churned').")
        return (low == pos).to_numpy(dtype=np.int8)
    if len(values) > 2:
        shown = sorted(text.unique())[:10]
        raise ValidationFailed(f"column '{name}' has {len(values)} different values {shown}; churn needs two",
                               hint="Pick a yes/no column as the target, or map its values to two first.")
    pos = [v for v in values if v in POSITIVE_TOKENS]
    neg = [v for v in values if v in NEGATIVE_TOKENS]
    if len(pos) == 1 and len(neg) == 1:
        return (low == pos[0]).to_numpy(dtype=np.int8)
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    if numeric.notna().all():
        return (low == values[int(np.argmax(numeric.to_numpy()))]).to_numpy(dtype=np.int8)
    raise ValidationFailed(f"column '{name}': cannot tell which of {sorted(text.unique())} means 'churned'",
                           hint="Pass --positive VALUE (positive= in Python) with the value that means churned.")


def risk_band(p: np.ndarray | pd.Series | float, *, thresholds: tuple[float, float] = (0.3, 0.6)):
    """'low' below thresholds[0], 'high' at or above thresholds[1], 'medium' between (churn probability)."""
    lo, hi = thresholds
    arr = np.asarray(p, dtype=float)
    out = np.where(arr >= hi, "high", np.where(arr >= lo, "medium", "low"))
    return out.item() if out.ndim == 0 else out


# ------------------------------------------------------------------------------------ column handling


@dataclass
class _Column:
    name: str
    kind: str  # numeric | boolean | categorical | date
    true_value: str | None = None
    categories: list[str] = field(default_factory=list)


def _as_text(s: pd.Series) -> pd.Series:
    """Trimmed text with every spelling of 'blank' turned into NA."""
    text = s.astype("string").str.strip()
    return text.mask(text.str.lower().isin(BLANKS))


def _parse_numbers(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text, errors="coerce")


def _exclusion_reason(name: str, s: pd.Series, text: pd.Series | None, numbers: pd.Series | None) -> str | None:
    """Why a column should not be a feature (identifier, contact detail, row number, constant), or None."""
    nonnull = s.notna() if text is None else text.notna()
    n = int(nonnull.sum())
    if n == 0:
        return "empty: no values"
    values = (text if text is not None else s)[nonnull]
    nunique = int(values.nunique())
    if nunique == 1:
        return "constant: one value for every row"
    ratio = nunique / n
    toks = set(_tokens(name))
    key = _key(name)
    if key in _ROW_NAMES and ratio > 0.95:
        return "row number"
    if numbers is not None and numbers.notna().sum() >= 0.95 * n:
        num = numbers.dropna()
        integer = bool(np.all(np.mod(num, 1) == 0))
        if integer and ratio == 1.0 and n > 20:
            diffs = np.diff(np.sort(num.to_numpy()))
            if diffs.size and np.all(diffs == 1):
                return "row number: consecutive integers, one per row"
        if integer and ratio > 0.9 and (toks & _ID_TOKENS or key.endswith("id")):
            return "identifier: a distinct number per row"
        if integer and ratio > 0.5 and toks & _CONTACT_TOKENS and num.abs().min() >= 1e6:
            return "contact detail: phone numbers"
        return None
    if text is None:
        return None
    sample = values.sample(min(n, 500), random_state=0) if n > 500 else values
    if sample.str.match(_EMAIL).mean() > 0.8:
        return "contact detail: e-mail addresses"
    if ratio > 0.5 and sample.str.match(_PHONE).mean() > 0.8 and sample.str.count(r"\d").mean() >= 7:
        return "contact detail: phone numbers"
    if ratio > 0.5 and n > 20 and toks & (_CONTACT_TOKENS | _ID_TOKENS | {"customer", "client", "user"}):
        return "identifier: names or ids, nearly one per row"
    if ratio > 0.9 and n > 20:
        return "identifier or free text: distinct text in nearly every row"
    return None


def _infer_column(name: str, s: pd.Series, *, max_categories: int, min_category_count: int) -> tuple[_Column | None, str | None]:
    """How to turn one raw column into a model feature, or why to leave it out."""
    if pd.api.types.is_bool_dtype(s):
        col = _Column(name, "boolean", true_value="true")
        return (col, None) if s.nunique(dropna=True) > 1 else (None, "constant: one value for every row")
    if pd.api.types.is_datetime64_any_dtype(s):
        return (_Column(name, "date"), None) if s.nunique(dropna=True) > 1 else (None, "constant: one value for every row")
    if pd.api.types.is_numeric_dtype(s):
        reason = _exclusion_reason(name, s, None, pd.to_numeric(s, errors="coerce").astype(float))
        return (None, reason) if reason else (_Column(name, "numeric"), None)
    text = _as_text(s)
    numbers = _parse_numbers(text)
    reason = _exclusion_reason(name, s, text, numbers)
    if reason:
        return None, reason
    nonnull = text.dropna()
    low = set(nonnull.str.lower().unique())
    for t, f in BOOLEAN_PAIRS:
        if low == {t, f}:
            return _Column(name, "boolean", true_value=t), None
    if numbers.notna().sum() >= 0.95 * len(nonnull):
        return _Column(name, "numeric"), None
    sample = nonnull.sample(min(len(nonnull), 500), random_state=0)
    if sample.str.match(_DATE).mean() > 0.9:
        return _Column(name, "date"), None
    counts = nonnull.value_counts()
    keep = counts[counts >= min_category_count].index[:max_categories].tolist()
    cats = sorted(keep) + ([OTHER] if len(keep) < len(counts) else [])
    if len(keep) == 0:
        return None, "identifier: every value is rare"
    return _Column(name, "categorical", categories=cats), None


def _to_dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        out = pd.to_datetime(_as_text(s), errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out


class _TableEncoder:
    """Learns once (on training rows only) how each raw column becomes a LightGBM feature."""

    def __init__(self, *, max_categories: int = 50, min_category_count: int = 10):
        self.max_categories = max_categories
        self.min_category_count = min_category_count

    def fit(self, X: pd.DataFrame) -> _TableEncoder:
        self.columns_: list[_Column] = []
        self.excluded_: dict[str, str] = {}
        for name in X.columns:
            col, reason = _infer_column(str(name), X[name], max_categories=self.max_categories,
                                        min_category_count=self.min_category_count)
            if col is None:
                self.excluded_[str(name)] = reason or "not usable"
            else:
                col.name = name
                self.columns_.append(col)
        if not self.columns_:
            raise ValidationFailed("no usable feature columns: every column is an identifier, constant or empty",
                                   hint="Give the model a table with customer attributes (plan, tenure, spend...), "
                                        "not only ids.", details=[f"{k}: {v}" for k, v in self.excluded_.items()])
        # Dates become "days before the newest date seen in training", a fixed reference, so the same
        # customer gets the same value whenever it is scored with this model.
        latest = [_to_dates(X[c.name]).max() for c in self.columns_ if c.kind == "date"]
        self.reference_date_ = max((d for d in latest if pd.notna(d)), default=None)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c.name for c in self.columns_ if c.name not in X.columns]
        if missing:
            raise ValidationFailed(f"the table lacks column(s) the model was trained on: {missing}",
                                   hint="Score a table with the same columns as the training table.")
        out = {}
        for c in self.columns_:
            s = X[c.name]
            if c.kind == "numeric":
                out[c.name] = (pd.to_numeric(s, errors="coerce") if pd.api.types.is_numeric_dtype(s)
                               else _parse_numbers(_as_text(s))).astype(float)
            elif c.kind == "boolean":
                low = _as_text(s.astype(str) if pd.api.types.is_bool_dtype(s) else s).str.lower()
                out[c.name] = np.where(low.isna(), np.nan, (low == c.true_value).astype(float))
            elif c.kind == "date":
                if self.reference_date_ is None:
                    out[c.name] = np.full(len(s), np.nan)
                else:
                    out[c.name] = (self.reference_date_ - _to_dates(s)).dt.total_seconds().to_numpy() / 86400.0
            else:
                text = _as_text(s)
                if OTHER in c.categories:
                    text = text.where(text.isna() | text.isin(c.categories), OTHER)
                out[c.name] = pd.Categorical(text, categories=c.categories)
        return pd.DataFrame(out, index=X.index)

    def display_values(self, X: pd.DataFrame, Z: pd.DataFrame) -> pd.DataFrame:
        """The customer's own values as people read them: numbers parsed, text and dates as written."""
        out = {}
        for c in self.columns_:
            if c.kind == "numeric":
                out[c.name] = Z[c.name].astype(object).where(Z[c.name].notna(), None)
            else:
                out[c.name] = _as_text(X[c.name].astype(str) if c.kind == "boolean" and pd.api.types.is_bool_dtype(X[c.name])
                                       else X[c.name]).astype(object).where(lambda v: v.notna(), None)
        return pd.DataFrame(out, index=X.index)


# ----------------------------------------------------------------------------------- calibration


class _Platt:
    """P(y=1) = sigmoid(a*margin + b), fitted by maximum likelihood (Platt 1999)."""

    def fit(self, margin: np.ndarray, y: np.ndarray) -> _Platt:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a_ * margin + self.b_)))


class _Isotonic:
    def fit(self, margin: np.ndarray, y: np.ndarray) -> _Isotonic:
        from sklearn.isotonic import IsotonicRegression

        self.iso_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        return self.iso_.predict(margin)


# ---------------------------------------------------------------------------------------- the model


class ChurnModel:
    """Calibrated churn probability with per-customer reasons (LightGBM + exact TreeSHAP).

    Hyper-parameters are fixed small-data defaults, not tuned on any test set: churn tables are mostly
    additive (contract, tenure, spend), so depth-2 trees (pairwise interactions at most), at least 50
    customers per leaf, L2 shrinkage, row/column subsampling and a small learning rate with early
    stopping trade a little bias for much less variance (LightGBM's defaults, 31 leaves at rate 0.1,
    overfit a 7,000-row table within ~30 rounds). Training uses ``inner_folds`` folds of the training
    rows (default 3 up to 50,000 rows, else 1): one booster per fold, early-stopped on its held-out
    fold; the held-out margins fit the calibrator ('sigmoid' = Platt, which keeps the ranking, or
    'isotonic'); predictions average the boosters' calibrated probabilities, a small bagging ensemble
    that also uses every training row. ``inner_folds=1`` is a single ``validation_fraction`` split.
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.05,
        num_leaves: int = 3,
        max_depth: int = 2,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.6,
        reg_lambda: float = 5.0,
        n_estimators: int = 5000,
        early_stopping_rounds: int = 100,
        inner_folds: int | None = None,
        validation_fraction: float = 0.2,
        calibration: str = "sigmoid",
        positive: Any = None,
        band_thresholds: tuple[float, float] = (0.3, 0.6),
        reason_templates: dict[str, str] | None = None,
        reason_groups: dict[str, str] | None = None,
        max_categories: int = 50,
        min_category_count: int = 10,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ):
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.inner_folds = inner_folds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.positive = positive
        self.band_thresholds = band_thresholds
        self.reason_templates = reason_templates
        self.reason_groups = reason_groups
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- parameters (scikit-learn style, so the model can be cloned and logged)
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def set_params(self, **params: Any) -> ChurnModel:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"ChurnModel has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def _lgb_params(self) -> dict[str, Any]:
        seed = 0 if self.random_state is None else int(self.random_state)
        return {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "max_depth": self.max_depth, "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree, "lambda_l2": self.reg_lambda,
            "min_data_per_group": self.min_child_samples, "cat_smooth": 10.0,
            "seed": seed, "deterministic": True, "force_col_wise": True, "verbose": -1,
        }

    def _threads(self, rows: int) -> int:
        # OpenMP start-up and spin-waiting cost more than they save on small tables, and on a busy
        # 2-core machine two threads made a 5,600-row fit 5x slower than one.
        if self.n_jobs is not None:
            return self.n_jobs
        return 1 if rows < 200_000 else 0

    def _folds(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import StratifiedKFold, train_test_split

        k = self.inner_folds if self.inner_folds is not None else (3 if len(y) <= 50_000 else 1)
        minority = int(min(np.bincount(y, minlength=2)))
        if minority < 2:
            raise ValidationFailed("the target has fewer than 2 churned (or 2 staying) customers",
                                   hint="A churn model needs several customers of each kind.")
        if k <= 1:
            idx = np.arange(len(y))
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=y,
                                      random_state=self.random_state)
            return [(tr, va)]
        k = min(k, minority)
        return list(StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(np.zeros(len(y)), y))

    def fit(self, X: pd.DataFrame, y: Any) -> ChurnModel:
        """Learn column handling, boosters (early-stopped on held-out folds) and the calibrator."""
        import lightgbm as lgb

        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        target_name = getattr(y, "name", None) or "target"
        yv = churn_labels(y, positive=self.positive, name=str(target_name))
        if len(yv) != len(X):
            raise ValidationFailed(f"X has {len(X)} rows but y has {len(yv)}", hint="Pass one label per customer row.")
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ValueError("calibration must be 'sigmoid' or 'isotonic'")
        self.encoder_ = _TableEncoder(max_categories=self.max_categories,
                                      min_category_count=self.min_category_count).fit(X)
        Z = self.encoder_.transform(X)
        params = {**self._lgb_params(), "num_threads": self._threads(len(Z))}
        self.boosters_ = []
        oof = np.full(len(yv), np.nan)
        for tr, va in self._folds(yv):
            dtr = lgb.Dataset(Z.iloc[tr], yv[tr], free_raw_data=True)
            dva = lgb.Dataset(Z.iloc[va], yv[va], reference=dtr)
            booster = lgb.train(params, dtr, num_boost_round=self.n_estimators, valid_sets=[dva],
                                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
            self.boosters_.append(booster)
            oof[va] = booster.predict(Z.iloc[va], raw_score=True, num_iteration=booster.best_iteration)
        held = ~np.isnan(oof)
        self.calibrator_ = (_Platt() if self.calibration == "sigmoid" else _Isotonic()).fit(oof[held], yv[held])
        self.best_iterations_ = [int(b.best_iteration) for b in self.boosters_]
        self.feature_names_ = list(Z.columns)
        self.excluded_columns_ = dict(self.encoder_.excluded_)
        self.classes_ = np.array([0, 1])
        self.positive_rate_ = float(yv.mean())
        self.n_features_in_ = X.shape[1]
        sample = Z if len(Z) <= 20_000 else Z.sample(20_000, random_state=self.random_state)
        contrib = self._contributions(sample)
        self.global_importance_ = (pd.Series(np.abs(contrib[:, :-1]).mean(axis=0), index=self.feature_names_,
                                             name="mean_abs_contribution").sort_values(ascending=False))
        return self

    def _check(self) -> None:
        if not hasattr(self, "boosters_"):
            raise ModelNotTrained("the churn model has not been trained yet", hint="Call fit(X, y) first.")

    def _contributions(self, Z: pd.DataFrame) -> np.ndarray:
        """Mean over boosters of the exact TreeSHAP log-odds contributions; last column is the bias."""
        parts = [b.predict(Z, pred_contrib=True, num_iteration=b.best_iteration) for b in self.boosters_]
        return np.mean(parts, axis=0)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Mean booster log-odds (before calibration); ``explain`` splits exactly this number."""
        self._check()
        Z = self.encoder_.transform(X)
        return np.mean([b.predict(Z, raw_score=True, num_iteration=b.best_iteration) for b in self.boosters_], axis=0)

    def predict_churn_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn) for each row of X."""
        self._check()
        Z = self.encoder_.transform(X)
        probs = [self.calibrator_.predict(b.predict(Z, raw_score=True, num_iteration=b.best_iteration))
                 for b in self.boosters_]
        return np.clip(np.mean(probs, axis=0), 0.0, 1.0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.predict_churn_proba(X)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_churn_proba(X) >= 0.5).astype(int)

    def risk_band(self, X: pd.DataFrame) -> np.ndarray:
        """'low' / 'medium' / 'high' churn risk by ``band_thresholds`` on the calibrated probability."""
        return risk_band(self.predict_churn_proba(X), thresholds=self.band_thresholds)

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """Each row's ``top`` features pushing its churn risk up most: feature, own value, log-odds contribution, text.

        When fewer than ``top`` features raise the risk (a safe customer), the list is completed with the
        features lowering it most, marked ``direction='lowers risk'`` (features with no effect at all are
        never listed, so the list can be shorter). Features of one ``REASON_GROUPS``
        group (e.g. the several ways of saying "has not bought for long") appear once, by their
        strongest member. Contributions are exact TreeSHAP values in log-odds; over all features, with
        the bias, they sum to ``decision_function(X)``.
        """
        self._check()
        Z = self.encoder_.transform(X)
        contrib = self._contributions(Z)[:, :-1]
        names = self.feature_names_
        k = min(top, len(names))
        if k == 0 or len(Z) == 0:
            return [[] for _ in range(len(Z))]
        templates = {**REASON_TEMPLATES, **{_template_key(t): v for t, v in (self.reason_templates or {}).items()}}
        phrase = _Phraser(templates) if self.reason_templates else _DEFAULT_PHRASER
        shown = self.encoder_.display_values(X, Z)
        shown_cols = [shown[c].to_numpy(dtype=object) for c in names]
        numeric = {c: Z[c].to_numpy(dtype=float) for c in names if pd.api.types.is_numeric_dtype(Z[c])}
        wanted = _context_fields(templates)
        context_cols = {f: numeric[c] for c in numeric for f in (_key(c), _snake(c)) if f in wanted}
        groups_map = {**REASON_GROUPS, **{_key(f): g for f, g in (self.reason_groups or {}).items()}}
        groups = [groups_map.get(_key(c), f"feature:{c}") for c in names]
        # Largest contributions first; ties keep column order so the output is reproducible. Looking at
        # 3*k candidates leaves room for skipping members of a group already named.
        order = np.argsort(-contrib, axis=1, kind="stable")[:, : min(len(names), 3 * k + 3)]
        result: list[list[dict[str, Any]]] = []
        for i in range(len(Z)):
            row = contrib[i]
            picks, seen = [], set()
            for j in order[i]:
                if row[j] <= 0 or len(picks) == k:
                    break
                if groups[j] not in seen:
                    picks.append(j)
                    seen.add(groups[j])
            if len(picks) < k:
                for j in np.argsort(row, kind="stable"):
                    if len(picks) == k:
                        break
                    if row[j] < 0 and groups[j] not in seen:
                        picks.append(j)
                        seen.add(groups[j])
            context = {f: col[i] for f, col in context_cols.items()}
            items = []
            for j in picks:
                value = _plain(shown_cols[j][i])
                items.append({
                    "feature": names[j],
                    "value": value,
                    "contribution": float(row[j]),
                    "direction": "raises risk" if row[j] > 0 else "lowers risk",
                    "text": phrase(names[j], value, context),
                })
            result.append(items)
        return result


def _snake(name: str) -> str:
    return "_".join(_tokens(name))


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        f = float(value)
        if np.isnan(f):
            return None
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    if isinstance(value, np.integer):
        return int(value)
    return value if isinstance(value, (str, int, bool)) else str(value)


@lru_cache(maxsize=4096)
def _fields(template: str) -> tuple[str, ...]:
    import string

    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


def _context_fields(templates: dict[str, str]) -> set[str]:
    return {f for t in templates.values() for f in _fields(t)} - {"value", "value_lower", "value_yesno", "label"}


def _value_key(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value).strip().lower()


def _template_key(name: str) -> str:
    """'Orders_90d#0' -> 'orders90d#0': the feature part normalised, an exact-value or '~' suffix kept."""
    m = re.match(r"^(.*?)([#~].*)?$", str(name))
    return _key(m.group(1)) + (m.group(2) or "")


_YESNO = {"1": "yes", "0": "no", "1.0": "yes", "0.0": "no", "true": "yes", "false": "no"}


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


class _Phraser:
    """Turns (feature, value, other columns of the row) into words; plans are cached per feature."""

    def __init__(self, templates: dict[str, str]):
        self.templates = templates
        self.exact = {k.split("#", 1)[0] for k in templates if "#" in k}
        self.plans: dict[str, tuple] = {}

    def _plan(self, feature: str) -> tuple:
        plan = self.plans.get(feature)
        if plan is None:
            key = _key(feature)
            plain = [(t, _fields(t)) for t in (self.templates.get(key), self.templates.get(key + "~")) if t]
            plan = self.plans[feature] = (key, _label(feature), _snake(feature), key in self.exact, plain)
        return plan

    def __call__(self, feature: str, value: Any, context: dict[str, Any] | None = None) -> str:
        key, label, snake, has_exact, plain = self._plan(feature)
        candidates = plain
        if has_exact:
            t = self.templates.get(f"{key}#{_value_key(value)}")
            if t:
                candidates = [(t, _fields(t)), *plain]
        for template, names in candidates:
            fields: dict[str, Any] = {}
            for f in names:
                if f == "value":
                    v = value
                elif f == "value_lower":
                    v = None if value is None else str(value).lower()
                elif f == "value_yesno":
                    v = None if value is None else _YESNO.get(str(value).lower(), str(value).lower())
                elif f == "label":
                    v = label
                else:
                    v = (context or {}).get(f)
                if _missing(v):
                    break  # this wording needs a value the customer does not have; try the next one
                fields[f] = v
            else:
                try:
                    return template.format(**fields)
                except (KeyError, ValueError, TypeError, IndexError):
                    continue
        if _missing(value):
            return f"{label} not recorded"
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        if numeric and snake.startswith("category_share_"):
            return f"{float(value):.0%} of spend on {snake[len('category_share_'):].replace('_', ' ')}"
        if numeric:
            f = float(value)
            return f"{label} {f:,.0f}" if f.is_integer() else f"{label} {f:,.2f}"
        low = str(value).lower()
        if low in ("no", "false"):
            return f"no {label}"
        if low in ("yes", "true"):
            return f"has {label}"
        return f"{label}: {value}"


_DEFAULT_PHRASER = _Phraser(REASON_TEMPLATES)


def reason_text(feature: str, value: Any, context: dict[str, Any] | None = None, *,
                templates: dict[str, str] | None = None) -> str:
    """A plain-words phrase for one feature and the customer's value, e.g. 'tenure of 2 months'.

    Looks up, in order: ``name#value`` (an exact value such as ``orders_90d#0`` or ``median_gap_days#missing``),
    ``name`` and ``name~`` (a second wording without the other columns, used when they are missing),
    then falls back to 'label: value'. Names are compared lower-case without separators.
    """
    phraser = _DEFAULT_PHRASER if templates is None else _Phraser(templates)
    return phraser(feature, value, context)


def score_customers(model: ChurnModel, X: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """One row per customer (X's index): churn_probability, risk_band and its top reasons (list of dicts)."""
    p = model.predict_churn_proba(X)
    reasons = model.explain(X, top=top)
    return pd.DataFrame({
        "churn_probability": p,
        "risk_band": risk_band(p, thresholds=model.band_thresholds),
        "reasons": reasons,
    }, index=X.index)


# ------------------------------------------------------------------------------------- evaluation


def lift_at(y: np.ndarray, p: np.ndarray, *, fraction: float = 0.1) -> float:
    """Churn rate among the ``fraction`` highest-risk customers divided by the overall churn rate."""
    n = max(1, int(np.ceil(fraction * len(y))))
    order = np.argsort(-np.asarray(p), kind="stable")[:n]
    base = float(np.mean(y))
    return float(np.mean(np.asarray(y)[order]) / base) if base > 0 else float("nan")


def evaluate_churn(X: pd.DataFrame, y: Any, *, folds: int = 5, seed: int = 0, positive: Any = None,
                   target_name: str = "target", progress=None, **params: Any) -> dict[str, Any]:
    """Stratified k-fold metrics of ``ChurnModel``; every preprocessing step is re-learnt inside each fold."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    yv = churn_labels(pd.Series(np.asarray(y), name=target_name), positive=positive, name=target_name)
    minority = int(min(np.bincount(yv, minlength=2)))
    if folds < 2:
        raise ValidationFailed(f"--folds must be at least 2 (got {folds})", hint="Use --folds 5 (the default).")
    if minority < folds:
        raise ValidationFailed(f"column '{target_name}' has only {minority} customer(s) of its rarer class, "
                               f"fewer than the {folds} folds",
                               hint="Use fewer --folds or a table with more churned customers.")
    X = X.reset_index(drop=True)
    rows = []
    excluded: dict[str, str] = {}
    iterations: list[list[int]] = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for i, (tr, te) in enumerate(splitter.split(np.zeros(len(yv)), yv)):
        model = ChurnModel(random_state=seed, **params).fit(X.iloc[tr], yv[tr])
        p = model.predict_churn_proba(X.iloc[te])
        rows.append({
            "roc_auc": roc_auc_score(yv[te], p),
            "pr_auc": average_precision_score(yv[te], p),
            "brier": brier_score_loss(yv[te], p),
            "lift_at_10pct": lift_at(yv[te], p, fraction=0.1),
        })
        excluded.update(model.excluded_columns_)
        iterations.append(model.best_iterations_)
        if progress:
            progress("folds", i + 1, folds)
    per_fold = pd.DataFrame(rows)
    model_params = ChurnModel(random_state=seed, **params).get_params()
    model_params["band_thresholds"] = list(model_params["band_thresholds"])
    return {
        "rows": int(len(yv)),
        "positive_rate": float(yv.mean()),
        "roc_auc": float(per_fold["roc_auc"].mean()),
        "pr_auc": float(per_fold["pr_auc"].mean()),
        "brier": float(per_fold["brier"].mean()),
        "lift_at_10pct": float(per_fold["lift_at_10pct"].mean()),
        "excluded_columns": excluded,
        "model": {
            "algorithm": "lightgbm",
            "lightgbm_version": _lgb_version(),
            "calibration": model_params["calibration"],
            "folds": folds,
            "seed": seed,
            "roc_auc_per_fold": [round(float(v), 4) for v in per_fold["roc_auc"]],
            "best_iterations": iterations,
            "params": {k: v for k, v in model_params.items() if k not in ("reason_templates",)},
        },
    }


def _lgb_version() -> str:
    import lightgbm

    return lightgbm.__version__
