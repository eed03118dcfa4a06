"""Entities in customer messages: order numbers, e-mails, catalogue products and dates (relative and absolute)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicrm.assistant.entities import ProductMatcher, extract_entities, find_dates

TODAY = dt.date(2024, 3, 13)  # a Wednesday
CATALOGUE = ["Wireless Headphones", "Yoga Mat", "iPhone 15 Case", "Pen", "Coffee Grinder Deluxe", "Desk Lamp"]


def _found(text: str, **kw) -> list[tuple[str, str]]:
    return [(e.type, e.value) for e in extract_entities(text, today=TODAY, **kw)]


@pytest.mark.parametrize("text, value, span", [
    ("Where is ORD-12345?", "ORD-12345", "ORD-12345"),
    ("my order ord12345 is late", "ORD12345", "ord12345"),
    ("Order #98765 never came", "98765", "#98765"),
    ("I placed order 55321 on the website", "55321", "55321"),
    ("my order number is 4410023", "4410023", "4410023"),
    ("order no. A-20931 please", "A-20931", "A-20931"),
    ("ORDER-2024-0042 is late", "ORDER-2024-0042", "ORDER-2024-0042"),
])
def test_extract_entities__order_numbers(text, value, span):
    found = [e for e in extract_entities(text, today=TODAY) if e.type == "order_number"]
    assert [(e.value, e.text) for e in found] == [(value, span)]
    assert text[found[0].start:found[0].end] == span


@pytest.mark.parametrize("text", ["I need 2 pens", "#1 priority for me", "order 12 items", "call 911",
                                  "my order arrived"])
def test_extract_entities__no_order_number_in_small_numbers(text):
    assert not [e for e in extract_entities(text, today=TODAY) if e.type == "order_number"]


def test_extract_entities__email_lowercased_and_not_an_order_number():
    found = _found("Write to John.Doe+shop@Example.co.uk about order 77120, or anna_99@mail-server.org")
    assert found == [("email", "john.doe+shop@example.co.uk"), ("order_number", "77120"),
                     ("email", "anna_99@mail-server.org")]
    assert _found("my address is user12345@example.com") == [("email", "user12345@example.com")]


@pytest.mark.parametrize("text, expected", [
    ("it arrived yesterday", "2024-03-12"),
    ("I ordered it today", "2024-03-13"),
    ("the day before yesterday", "2024-03-11"),
    ("it should come tomorrow", "2024-03-14"),
    ("I ordered last Monday", "2024-03-11"),
    ("I ordered last Wednesday", "2024-03-06"),  # "last <today's weekday>" is a week ago, not today
    ("bought it on Friday", "2024-03-08"),
    ("deliver next Friday please", "2024-03-15"),
    ("next wednesday", "2024-03-20"),
    ("3 days ago", "2024-03-10"),
    ("two weeks ago", "2024-02-28"),
    ("in 5 days", "2024-03-18"),
    ("on 2024-02-29", "2024-02-29"),
    ("placed on 05/03/2024", "2024-03-05"),  # day first by default
    ("placed on 12/25/2023", "2023-12-25"),  # 25 cannot be a month
    ("on 5 March 2023", "2023-03-05"),
    ("on the 5th of March", "2024-03-05"),
    ("March 3rd", "2024-03-03"),
    ("Dec 20", "2023-12-20"),  # no year: the nearest one to today
    ("Feb 2, 2022", "2022-02-02"),
])
def test_extract_entities__dates(text, expected):
    assert [v for t, v in _found(text) if t == "date"] == [expected]


def test_extract_entities__month_first_convention_and_invalid_dates():
    assert [e.value for e in find_dates("on 05/03/2024", today=TODAY, day_first=False)] == ["2024-05-03"]
    assert find_dates("on 31/02/2024 or 2023-13-01", today=TODAY) == []
    assert find_dates("the sun is out and I wed in May", today=TODAY) == []


def test_extract_entities__products_from_a_catalogue():
    matcher = ProductMatcher(CATALOGUE)
    assert _found("the yoga mats are torn", products=matcher) == [("product", "Yoga Mat")]
    assert _found("my IPHONE 15 case cracked", products=matcher) == [("product", "iPhone 15 Case")]
    assert _found("coffe grinder delux doesn't grind", products=matcher) == [("product", "Coffee Grinder Deluxe")]
    assert _found("two pens and the wireless headphone", products=CATALOGUE) == [
        ("product", "Pen"), ("product", "Wireless Headphones")]
    assert _found("I like my desk and a lamp", products=matcher) == []  # words apart are not the product
    assert _found("where is my parcel", products=matcher) == []


def test_extract_entities__all_kinds_in_one_message_left_to_right():
    text = "Hi, order ORD-20931 (the Desk Lamp) was due last Friday; reach me at me@x.io"
    found = extract_entities(text, products=CATALOGUE, today=TODAY)
    assert [(e.type, e.value) for e in found] == [
        ("order_number", "ORD-20931"), ("product", "Desk Lamp"), ("date", "2024-03-08"), ("email", "me@x.io")]
    assert all(text[e.start:e.end] == e.text for e in found)
    assert found[0].to_dict()["type"] == "order_number"


@settings(max_examples=60, deadline=None)
@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
       style=st.sampled_from(["iso", "dmy", "long", "us_long"]),
       number=st.integers(min_value=100, max_value=99_999_999))
def test_extract_entities__known_dates_and_order_numbers_round_trip(day, style, number):
    written = {"iso": day.isoformat(), "dmy": day.strftime("%d/%m/%Y"), "long": f"{day.day} {day:%B %Y}",
               "us_long": f"{day:%B} {day.day}, {day.year}"}[style]
    found = _found(f"Order #{number} was placed on {written}, any news?")
    assert found == [("order_number", str(number)), ("date", day.isoformat())]
