"""rfm_summary follows the calibration/holdout protocol of Fader, Hardie & Lee (2005) on a hand-computed log."""

from __future__ import annotations

import pandas as pd
import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.ml.clv import rfm_summary

TX = pd.DataFrame(
    [
        ("A", "2020-01-01 09:00", 10.0),
        ("A", "2020-01-01 23:59", 5.0),   # same day as the first purchase: one transaction worth 15
        ("A", "2020-01-15 12:00", 20.0),
        ("A", "2020-02-05", 30.0),
        ("A", "2020-03-10", 7.0),          # holdout, twice on one day: one holdout transaction
        ("A", "2020-03-10", 3.0),
        ("A", "2020-04-30 18:00", 1.0),    # last holdout day, inclusive
        ("A", "2020-05-01", 99.0),         # after the holdout: ignored
        ("B", "2020-02-29 20:00", 8.0),    # first purchase on the calibration end: enters with T = 0
        ("C", "2020-03-01", 4.0),          # first purchase after the calibration end: not in the summary
        ("D", "2020-01-29", 12.0),
        ("D", "2020-01-29", 1.0),
    ],
    columns=["cust", "when", "value"],
)


def _summary(**kw) -> pd.DataFrame:
    tx = TX.assign(when=pd.to_datetime(TX["when"], format="ISO8601"))
    args = dict(customer_col="cust", date_col="when", amount_col="value", calibration_end="2020-02-29",
                holdout_end="2020-04-30")
    args.update(kw)
    return rfm_summary(tx, **args).set_index("cust")


def test_summarise_clv_transactions__hand_computed_weeks():
    s = _summary()
    assert list(s.index) == ["A", "B", "D"]
    a = s.loc["A"]
    assert a["frequency"] == 2                      # 01-15 and 02-05; the first purchase is not a repeat
    assert a["recency"] == pytest.approx(35 / 7)    # 01-01 -> 02-05
    assert a["T"] == pytest.approx(59 / 7)          # 01-01 -> 02-29 (leap year)
    assert a["monetary_value"] == pytest.approx(25.0)  # mean of the repeat purchases 20 and 30
    assert a["holdout_frequency"] == 2 and a["holdout_duration"] == pytest.approx(61 / 7)
    b = s.loc["B"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"], b["holdout_frequency"]) == (0, 0, 0, 0, 0)
    d = s.loc["D"]
    assert (d["frequency"], d["recency"], d["monetary_value"]) == (0, 0, 0)
    assert d["T"] == pytest.approx(31 / 7)
    assert s.attrs["time_unit_days"] == 7.0


def test_summarise_clv_transactions__days_and_no_holdout():
    s = _summary(time_unit="D", holdout_end=None, amount_col=None)
    assert "holdout_frequency" not in s.columns and "monetary_value" not in s.columns
    assert s.loc["A", "recency"] == 35 and s.loc["A", "T"] == 59


def test_summarise_clv_transactions__string_dates_are_read_as_iso():
    s = rfm_summary(TX, customer_col="cust", date_col="when", calibration_end="2020-02-29")
    assert s.set_index("cust").loc["A", "frequency"] == 2


@pytest.mark.parametrize("kw, message", [
    ({"holdout_end": "2020-02-01"}, "not after"),
    ({"customer_col": "customer"}, "no column"),
    ({"time_unit": "Y"}, "time_unit"),
    ({"calibration_end": "someday"}, "not a date"),
])
def test_summarise_clv_transactions__refuses_bad_arguments(kw, message):
    with pytest.raises(ValidationFailed, match=message):
        _summary(**kw)
