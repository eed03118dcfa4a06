"""Language detection: English, Chinese and "other"."""

import pytest

from aicrm.nlp.language import detect_language, detect_languages, dominant_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The parcel arrived two days late and the box was damaged.", "en"),
        ("Great!", "en"),
        ("Fast delivery", "en"),
        ("房间很干净，服务也很好，下次还会再来。", "zh"),
        ("快递太慢了", "zh"),
        ("订单 ORD-12345 还没有发货，请尽快处理", "zh"),  # Chinese with an ASCII order number
        ("Le colis est arrivé en retard et la boîte était abîmée.", "other"),
        ("Das Paket ist nicht angekommen und ich bin sehr enttäuscht.", "other"),
        ("El pedido llegó tarde y la caja estaba rota.", "other"),
        ("荷物が届きませんでした。", "other"),  # Japanese: kana
        ("배송이 너무 늦었어요", "other"),  # Korean
        ("Посылка пришла поздно", "other"),  # Cyrillic
        ("", "other"),
        ("12345 !!!", "other"),
        (None, "other"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_detect_languages_and_dominant():
    texts = ["很好", "太慢了", "Nice one, thanks"]
    assert detect_languages(texts) == ["zh", "zh", "en"]
    assert dominant_language(texts) == "zh"
    assert dominant_language(["Bonjour à tous"]) == "en"  # neither: the English default
