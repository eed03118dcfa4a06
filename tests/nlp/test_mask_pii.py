"""Personal data in realistic English and Chinese support text, with presidio and with plain patterns."""

import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.pii import PiiDetector, iban_valid, luhn_valid, mask_pii

ENGINES = ["regex", pytest.param("presidio", marks=pytest.mark.filterwarnings("ignore"))]


@pytest.fixture(scope="module", params=ENGINES)
def detector(request):
    if request.param == "presidio":
        pytest.importorskip("presidio_analyzer")
    return PiiDetector(engine=request.param)


def _found(entities):
    return [(e["type"], e["text"]) for e in entities]


def test_mask_pii_english(detector):
    text = (
        "Hi, my name is John Smith. Order ORD-12345 arrived broken. Call me on +44 20 7946 0958 or write to "
        "john.smith@example.co.uk. My card 4111 1111 1111 1111 was charged twice."
    )
    masked, entities = detector.mask(text)
    assert masked == (
        "Hi, my name is <PERSON>. Order <ORDER> arrived broken. Call me on <PHONE> or write to "
        "<EMAIL>. My card <CARD> was charged twice."
    )
    assert _found(entities) == [
        ("PERSON", "John Smith"),
        ("ORDER", "ORD-12345"),
        ("PHONE", "+44 20 7946 0958"),
        ("EMAIL", "john.smith@example.co.uk"),
        ("CARD", "4111 1111 1111 1111"),
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)


def test_mask_pii_english_iban_titles_and_invalid_card(detector):
    masked, entities = detector.mask(
        "Mr. Brown asks for a refund of order #98765 to GB82 WEST 1234 5698 7654 32. "
        "He read out card 4111 1111 1111 1112 (a typo). Regards, Mary O'Neil"
    )
    assert ("IBAN", "GB82 WEST 1234 5698 7654 32") in _found(entities)
    assert ("ORDER", "#98765") in _found(entities)
    assert ("PERSON", "Brown") in _found(entities) and ("PERSON", "Mary O'Neil") in _found(entities)
    assert "4111 1111 1111 1112" in masked  # fails the Luhn check: not a card
    assert not any(e["type"] == "CARD" for e in entities)


def test_mask_pii_chinese(detector):
    masked, entities = detector.mask("您好，我叫张伟，订单号：2023112200123 一直没发货，手机13812345678，邮箱zhangwei@qq.com。")
    assert masked == "您好，我叫<PERSON>，订单号：<ORDER> 一直没发货，手机<PHONE>，邮箱<EMAIL>。"
    masked, entities = detector.mask("王先生说房间很脏，联系电话 139-1234-5678。")
    assert masked == "<PERSON>说房间很脏，联系电话 <PHONE>。"


def test_mask_pii_nothing_to_mask(detector):
    text = "The hotel had 3 pools and we stayed 12 nights in 2023. 房间很大，价格299元。"
    assert detector.mask(text) == (text, [])
    assert detector.mask(None) == ("", [])


def test_custom_order_pattern_and_entity_choice():
    detector = PiiDetector(order_pattern=r"\bSO-\d{6}\b", entities=["ORDER", "EMAIL"], engine="regex")
    masked, _ = detector.mask("SO-123456 and ORD-12345, a@b.com, +1 415 555 2671")
    assert masked == "<ORDER> and ORD-12345, <EMAIL>, +1 415 555 2671"
    with pytest.raises(ValidationFailed, match="not a valid regular expression"):
        PiiDetector(order_pattern="(unclosed")


def test_checksums():
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE89 3704 0044 0532 0130 01")


def test_mask_pii_default_detector():
    masked, entities = mask_pii("mail me at ann@example.org")
    assert masked == "mail me at <EMAIL>" and entities[0]["type"] == "EMAIL"
