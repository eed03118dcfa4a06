"""Interaction tables turned into the coded events and the users x items matrix the recommenders learn from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aicrm.core.errors import ValidationFailed


@dataclass
class InteractionData:
    """Coded interactions: ``events`` has integer ``user`` and ``item`` codes, a ``weight`` and (optionally) a ``time``.

    ``user_ids[code]`` / ``item_ids[code]`` give back the original identifiers; ``item_features`` has one row
    per item code (columns as ``Recommender.fit`` expects) or is None.
    """

    events: pd.DataFrame
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_features: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def has_time(self) -> bool:
        return "time" in self.events

    def matrix(self, events: pd.DataFrame | None = None) -> sp.csr_matrix:
        """The users x items matrix of summed weights of ``events`` (default: all events)."""
        ev = self.events if events is None else events
        matrix = sp.csr_matrix((ev["weight"].to_numpy(np.float32), (ev["user"].to_numpy(), ev["item"].to_numpy())),
                               shape=(self.n_users, self.n_items), dtype=np.float32)
        matrix.sum_duplicates()
        return matrix


def item_features_from_rows(table: pd.DataFrame, *, item_col: str, text_col: str | None = None,
                            category_col: str | None = None) -> pd.DataFrame:
    """Per-item features taken from interaction rows (e.g. a description on every order line): the most common value."""
    out = pd.DataFrame(index=pd.Index(pd.unique(table[item_col]), name=item_col))
    for source, target in ((text_col, "description"), (category_col, "category")):
        if source is None:
            continue
        pairs = table[[item_col, source]].copy()
        pairs[source] = pairs[source].astype("string").str.strip()
        pairs = pairs[pairs[source].notna() & (pairs[source] != "")]
        common = (pairs.groupby([item_col, source], sort=False).size().rename("n").reset_index()
                  .sort_values([item_col, "n"], ascending=[True, False], kind="stable")
                  .drop_duplicates(item_col))
        out[target] = common.set_index(item_col)[source].reindex(out.index)
    return out


def encode_interactions(
    table: pd.DataFrame,
    *,
    user_col: str = "user",
    item_col: str = "item",
    weight_col: str | None = None,
    time_col: str | None = None,
    item_features: pd.DataFrame | None = None,
) -> InteractionData:
    """Code users and items as 0..n-1 and keep weight (default 1 per row) and time; rows with a blank user or item go.

    ``item_features`` is indexed by item id; catalogue items nobody interacted with still become item codes
    (new products the content and hybrid models can recommend).
    """
    for col in (user_col, item_col, weight_col, time_col):
        if col is not None and col not in table:
            raise ValidationFailed(f"no column {col!r} in the interactions",
                                   hint=f"Columns are: {', '.join(map(str, table.columns))}.")
    users = table[user_col].astype("string").str.strip()
    items = table[item_col].astype("string").str.strip()
    keep = users.notna() & (users != "") & items.notna() & (items != "")
    notes = []
    if (~keep).any():
        notes.append(f"dropped {int((~keep).sum()):,} row(s) with a blank user or item")
    users, items = users[keep], items[keep]
    user_codes, user_ids = pd.factorize(users, sort=True)
    catalogue = pd.Index(pd.unique(items)).sort_values()
    if item_features is not None:
        extra = pd.Index(item_features.index.astype("string")).difference(catalogue)
        catalogue = catalogue.append(extra.sort_values())
    item_codes = catalogue.get_indexer(items)
    events = pd.DataFrame({"user": user_codes.astype(np.int64), "item": item_codes.astype(np.int64)})
    if weight_col is not None:
        weight = pd.to_numeric(table.loc[keep, weight_col], errors="coerce").to_numpy(np.float32)
        if np.isnan(weight).any() or (weight < 0).any():
            raise ValidationFailed(f"column {weight_col!r} holds blank, non-numeric or negative weights",
                                   hint="Filter such rows first, or leave the weight out (each row counts 1).")
        events["weight"] = weight
    else:
        events["weight"] = np.float32(1.0)
    if time_col is not None:
        events["time"] = _as_sortable_time(table.loc[keep, time_col], time_col)
    features = None
    if item_features is not None:
        feats = item_features.copy()
        feats.index = pd.Index(feats.index.astype("string"))
        features = feats[~feats.index.duplicated()].reindex(catalogue).reset_index(drop=True)
    return InteractionData(events=events.reset_index(drop=True), user_ids=np.asarray(user_ids, dtype=object),
                           item_ids=np.asarray(catalogue, dtype=object), item_features=features, notes=notes)


def _as_sortable_time(values: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        out = values.to_numpy(np.float64)
    else:
        parsed = pd.to_datetime(values, errors="coerce")
        if parsed.isna().any():
            raise ValidationFailed(f"column {name!r} holds blank or unreadable times",
                                   hint="Use ISO dates (2024-01-31 12:00:00) or unix seconds.")
        out = parsed.astype("int64").to_numpy().astype(np.float64)
    if np.isnan(out).any():
        raise ValidationFailed(f"column {name!r} holds blank times",
                               hint="Every interaction needs a time for a time split.")
    return out
