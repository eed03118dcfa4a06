"""`aicrm clv evaluate` on the CDNOW files (whitespace-separated, with and without a header) and on bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aicrm.cli import app
from tests.conftest import dataset_path

runner = CliRunner()
PERIODS = ["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"]


def _run(*args: str):
    result = runner.invoke(app, ["clv", "evaluate", *args])
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    return result, text


def _json(*args: str) -> dict:
    result, text = _run(*args, "--json")
    assert result.exit_code == 0, text
    def strict(constant: str):  # NaN / Infinity are not JSON
        raise AssertionError(f"non-JSON constant {constant} in the output")

    return json.loads(result.stdout, parse_constant=strict)


@pytest.mark.slow
def test_evaluate_clv_cli__cdnow_sample_json():
    path = str(dataset_path("cdnow", "CDNOW_sample.txt"))
    report = _json(path, "--columns", "master_id,customer_id,date,cds,amount", "--customer-col", "customer_id",
                   "--date-col", "date", "--amount-col", "amount", "--date-format", "%Y%m%d", *PERIODS,
                   "--model", "bgnbd")
    assert {"customers", "model", "params", "log_likelihood", "holdout", "spend_params"} <= set(report)
    assert report["customers"] == 2357 and report["model"] == "bgnbd"
    for k, v in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert report["params"][k] == pytest.approx(v, rel=0.01)
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert report["spend_params"][k] == pytest.approx(v, rel=0.01)
    hold = report["holdout"]
    assert set(hold) >= {"actual_repeat", "predicted_repeat", "error_pct"}
    assert hold["actual_repeat"] == 1882
    assert hold["error_pct"] == pytest.approx(100 * (hold["predicted_repeat"] - 1882) / 1882, abs=0.01)
    assert report["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)

    # the same file by column positions, header detected as absent, separator sniffed: same answer
    by_position = _json(path, "--customer-col", "2", "--date-col", "3", *PERIODS)
    assert by_position["params"] == report["params"] and "spend_params" not in by_position


@pytest.mark.slow
def test_evaluate_clv_cli__csv_with_header_and_auto_model(tmp_path):
    src = dataset_path("cdnow", "CDNOW_sample.txt")
    rows = [line.split() for line in src.read_text().splitlines() if line.strip()]
    csv_path = tmp_path / "tx.csv"  # a throw-away CSV rendering of the sample, ISO dates, ';' separated
    csv_path.write_text("cust;day;value\n" + "\n".join(
        f"{r[1]};{r[2][:4]}-{r[2][4:6]}-{r[2][6:]};{r[4]}" for r in rows) + "\n")
    report = _json(str(csv_path), "--customer-col", "cust", "--date-col", "day", "--amount-col", "value",
                   *PERIODS, "--model", "auto")
    assert report["customers"] == 2357
    assert report["model"] in {"bgnbd", "pareto_nbd", "mbgnbd"}
    assert set(report["selection"]["scores"]) == {"bgnbd", "pareto_nbd", "mbgnbd"}
    assert report["spend_params"]["p"] == pytest.approx(6.25, rel=0.01)

    result, text = _run(str(csv_path), "--customer-col", "cust", "--date-col", "day", *PERIODS)
    assert result.exit_code == 0, text
    assert "Holdout" in text and "alpha" in text and "1,882" in text


@pytest.mark.parametrize("content, args, expected", [
    ("cust,day,amt\nA,2020-01-01,10\nA,2020-02-01,12\nB,2020-13-01,5\n", ["--amount-col", "amt"],
     ["line 4", "column 'day'", "2020-13-01"]),
    ("cust,day,amt\nA,2020-01-01,10\nA,2020-02-01,1x2\n", ["--amount-col", "amt"], ["line 3", "column 'amt'"]),
    ("cust,day,amt\nA,2020-01-01,10\nA,2020-02-01,12,4\n", [], ["line 3", "expected 3 fields, found 4"]),
    ("cust,day,amt\nA,2020-01-01,10\n", ["--amount-col", "price"], ["--amount-col 'price'", "cust, day, amt"]),
    ("cust,day,amt\n,2020-01-01,10\n", [], ["line 2", "column 'cust'", "empty customer id"]),
])
def test_evaluate_clv_cli__bad_input_names_file_line_and_column(tmp_path, content, args, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result, text = _run(str(path), "--customer-col", "cust", "--date-col", "day", *args,
                        "--calibration-end", "2020-03-01", "--holdout-end", "2020-06-01")
    assert result.exit_code == 1
    assert "Traceback" not in text and "bad.csv" in text
    for piece in expected:
        assert piece in text


def test_evaluate_clv_cli__refuses_bad_options(tmp_path):
    path = tmp_path / "tx.txt"
    path.write_text("1 20200101 3\n1 20200301 4\n2 20200102 5\n")
    result, text = _run(str(path), "--customer-col", "c", "--date-col", "d", "--calibration-end", "2020-02-01",
                        "--holdout-end", "2020-06-01")
    assert result.exit_code == 1 and "line 1: no column named 'd'" in text and "--columns" in text
    result, text = _run(str(path), "--columns", "c,d,n", "--customer-col", "c", "--date-col", "d",
                        "--calibration-end", "2020-02-01", "--holdout-end", "2020-01-01")
    assert result.exit_code == 1 and "not after" in text
    result, text = _run(str(path), "--columns", "c,d,n", "--customer-col", "c", "--date-col", "d",
                        "--calibration-end", "2020-02-01", "--holdout-end", "2020-06-01", "--model", "lifetimes")
    assert result.exit_code == 1 and "--model 'lifetimes'" in text


def test_evaluate_clv_cli__too_little_data_is_reported_not_crashed(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("c,d,a\nA,2020-01-01,5\nA,2020-01-20,6\nB,2020-01-03,4\nB,2020-04-01,3\nC,2020-01-05,2\n")
    report = _json(str(path), "--customer-col", "c", "--date-col", "d", "--amount-col", "a",
                   "--calibration-end", "2020-02-28", "--holdout-end", "2020-05-01")
    assert report["customers"] == 3 and report["calibration_repeat"] == 1
    assert report["holdout"]["actual_repeat"] == 1
    assert report["spend_params"] is None and "repeat purchases" in report["spend_note"]
    if not report["converged"]:
        result, text = _run(str(path), "--customer-col", "c", "--date-col", "d",
                            "--calibration-end", "2020-02-28", "--holdout-end", "2020-05-01")
        assert result.exit_code == 0 and "did not converge" in text
