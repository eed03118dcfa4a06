"""A planted-structure store: customer groups that each buy only from their own block of products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

BLOCK_WORDS = ("garden", "kitchen", "toys", "books", "sport")


@dataclass
class Planted:
    matrix: sp.csr_matrix
    features: pd.DataFrame
    user_group: np.ndarray
    item_block: np.ndarray
    n_groups: int


def make_planted(*, n_groups: int = 5, users_per_group: int = 50, items_per_block: int = 40, buys: int = 12,
                 new_items_per_block: int = 0, seed: int = 0) -> Planted:
    """Group g buys ``buys`` distinct items of block g (Zipf-like within the block) plus one random item elsewhere.

    ``new_items_per_block`` extra items per block are in the catalogue (same words) but nobody bought them.
    """
    rng = np.random.default_rng(seed)
    sold = n_groups * items_per_block
    rows, cols = [], []
    user_group = np.repeat(np.arange(n_groups), users_per_group)
    weights = 1.0 / np.arange(1, items_per_block + 1) ** 0.7
    weights /= weights.sum()
    for u, g in enumerate(user_group):
        own = g * items_per_block + rng.choice(items_per_block, size=buys, replace=False, p=weights)
        noise = rng.integers(sold)
        rows += [u] * (buys + 1)
        cols += [*own, noise]
    n_items = sold + n_groups * new_items_per_block
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(user_group), n_items))
    matrix.sum_duplicates()
    item_block = np.concatenate([np.repeat(np.arange(n_groups), items_per_block),
                                 np.repeat(np.arange(n_groups), new_items_per_block)])
    features = pd.DataFrame({
        "category": [f"cat{b}" for b in item_block],
        "name": [f"{BLOCK_WORDS[b]} product {i}" for i, b in enumerate(item_block)],
        "description": [f"a {BLOCK_WORDS[b]} thing for {BLOCK_WORDS[b]} lovers" for b in item_block],
    })
    return Planted(matrix=matrix, features=features, user_group=user_group, item_block=item_block, n_groups=n_groups)


@pytest.fixture(scope="session")
def planted() -> Planted:
    return make_planted()
