"""``aicrm recommend evaluate`` / ``top`` through the real CLI: JSON keys, tables, clear errors, no tracebacks."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from aicrm.cli import app

from .conftest import BLOCK_WORDS, make_planted

runner = CliRunner()
ORDER_COLS = ("--user-col", "Customer", "--item-col", "Sku")
KEYS = {"users", "items", "algorithm", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "catalog_coverage"}


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory):
    """A gzip CSV of order lines from the planted store, with anonymous rows and returns mixed in."""
    planted = make_planted(users_per_group=20, buys=10, seed=5)
    rows, cols = planted.matrix.nonzero()
    rng = np.random.default_rng(0)
    lines = ["Customer;Sku;Qty;When;Text"]
    for n, (u, i) in enumerate(zip(rows, cols)):
        lines.append(f"C{u};P{i};{rng.integers(1, 5)};2024-01-{1 + n % 28:02d} 10:00:00;"
                     f"{BLOCK_WORDS[planted.item_block[i]]} thing {i}")
    lines += [";P1;3;2024-02-01 10:00:00;anonymous", "C1;P2;-2;2024-02-01 10:00:00;a return"]
    path = tmp_path_factory.mktemp("orders") / "orders.csv.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    return path


def run(*args):
    result = runner.invoke(app, ["recommend", *map(str, args)])
    assert "Traceback" not in result.output
    return result


def test_evaluate_recommend_cli__json_keys_and_cleaning(orders_csv):
    result = run("evaluate", orders_csv, "--user-col", "Customer", "--item-col", "Sku", "--rating-col", "Qty",
                 "--min-rating", "1", "--time-col", "When", "--split", "time", "--algorithm", "hybrid",
                 "--item-text-col", "Text", "--k", "5", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert KEYS <= set(out)
    assert out["algorithm"] == "hybrid" and out["users"] == 100 and out["split"] == "time"
    assert 0 < out["precision_at_k"] <= 1 and 0 < out["ndcg_at_k"] <= 1
    assert any("anonymous" in n for n in out["notes"]) and any("Qty < 1" in n for n in out["notes"])


def test_evaluate_recommend_cli__headerless_file_and_rich_table(tmp_path):
    planted = make_planted(users_per_group=20, buys=10, seed=6)
    rows, cols = planted.matrix.nonzero()
    path = tmp_path / "u.data"
    path.write_text("".join(f"{u + 1}\t{i + 1}\t{3 + (u + i) % 3}\t{880000000 + k}\n"
                            for k, (u, i) in enumerate(zip(rows, cols))))
    result = run("evaluate", path, "--algorithm", "ease", "--sep", "\\t", "--columns", "user,item,rating,ts",
                 "--rating-col", "rating", "--min-rating", "4")
    assert result.exit_code == 0, result.output
    assert "precision@10" in result.output and "nDCG@10" in result.output
    plain = run("evaluate", path, "--algorithm", "popularity", "--json")  # u.data layout detected without options
    assert json.loads(plain.output)["users"] == 100


@pytest.mark.parametrize("args,expected", [
    (["evaluate", "{dir}/missing.csv"], "no such file"),
    (["evaluate", "{orders}", "--user-col", "Client", "--item-col", "Sku"], "no column 'Client'"),
    (["evaluate", "{bad_rating}", "--rating-col", "rating"], "line 3, column 'rating': 'five' is not a number"),
    (["evaluate", "{bad_time}", "--time-col", "ts", "--split", "time"], "line 2, column 'ts'"),
    (["evaluate", "{orders}", *ORDER_COLS, "--algorithm", "svd"], "unknown algorithm"),
    (["evaluate", "{orders}", *ORDER_COLS, "--algorithm", "content"], "needs item text"),
    (["evaluate", "{orders}", *ORDER_COLS, "--split", "time"], "needs interaction times"),
    (["evaluate", "{headerless}", "--columns", "a,b"], "line 1 has 3 fields but 2 column names"),
    (["top", "{orders}", "--user-col", "Customer", "--item-col", "Sku"], "nothing to show"),
])
def test_evaluate_recommend_cli__bad_input_is_explained(tmp_path, orders_csv, args, expected):
    (tmp_path / "bad_rating.csv").write_text("user,item,rating\n1,2,5\n1,3,five\n")
    (tmp_path / "bad_time.csv").write_text("user,item,ts\n1,2,yesterday-ish\n1,3,2024-01-01\n")
    (tmp_path / "headerless.csv").write_text("1,2,5\n1,3,4\n")
    names = {"dir": tmp_path, "orders": orders_csv, "bad_rating": tmp_path / "bad_rating.csv",
             "bad_time": tmp_path / "bad_time.csv", "headerless": tmp_path / "headerless.csv"}
    result = run(*[a.format(**names) for a in args])
    assert result.exit_code == 1
    assert expected in " ".join(result.output.split())


def test_evaluate_recommend_cli__top_with_reasons(orders_csv):
    result = run("top", orders_csv, "--user-col", "Customer", "--item-col", "Sku", "--customer", "C3",
                 "--customer", "NEW-1", "--also-bought", "P0", "--n", "3", "--item-text-col", "Text", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    c3 = [r for r in rows if r.get("customer_id") == "C3"]
    new = [r for r in rows if r.get("customer_id") == "NEW-1"]
    also = [r for r in rows if r.get("also_bought_with") == "P0"]
    assert len(c3) == len(new) == len(also) == 3
    assert all(r["reason"].startswith("because you bought") for r in c3)
    assert all(r["reason"] == "popular with customers" for r in new)
