"""Language detection for customer text: English, Chinese, or "other".

Deliberately small and offline: script shares decide Chinese (Han characters with no kana or Hangul),
and for Latin-script text a short list of function words decides English against the common European
languages. Customer feedback is short, so a character n-gram model would add weight without much gain
for the two languages this product analyses; everything else is reported as "other" and left to the
language-agnostic parts of the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LANGUAGES = ("en", "zh", "other")

_WORD = re.compile(r"[a-zà-öø-ÿ']+")
# Function words that are frequent in any English sentence and rare in other Latin-script languages.
_EN = frozenset(
    "the a an and or but is are was were be been am i you he she it we they my your our their this that "
    "these those to of in on at for with from by not no very so too it's i'm don't didn't can't won't "
    "have has had do does did will would could should what when where why how all any some there here "
    "me him her us them just only good bad great love like ok okay thanks thank please".split()
)
# Equally frequent function words of French, German, Spanish, Portuguese, Italian and Dutch.
_OTHER_LATIN = frozenset(
    "le la les des et est une du au pas pour avec sur très je vous nous mais ce cette "
    "der die das und ist nicht ein eine ich sie wir mit auf für sehr zu den dem "
    "el los las y es un una por con muy pero que del al lo mi "
    "os não uma com muito para em eu "
    "il di che non sono gli della per è "
    "de het een en niet ik zijn van met op voor maar".split()
)


def _script_counts(text: str) -> dict[str, int]:
    counts = {"han": 0, "kana": 0, "hangul": 0, "latin": 0, "other": 0}
    for ch in text:
        code = ord(ch)
        if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
            counts["han"] += 1
        elif 0x3040 <= code <= 0x30FF:
            counts["kana"] += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
            counts["hangul"] += 1
        elif ch.isalpha():
            counts["latin" if code < 0x250 else "other"] += 1
    return counts


def detect_language(text: str | None) -> str:
    """The language of ``text``: "en", "zh" or "other" (also for empty text)."""
    if not text or not isinstance(text, str):
        return "other"
    counts = _script_counts(text)
    letters = sum(counts.values())
    if letters == 0:
        return "other"
    # Japanese mixes Han with kana; any kana or Hangul means it is not Chinese.
    if counts["han"] and not counts["kana"] and not counts["hangul"] and counts["han"] / letters >= 0.3:
        return "zh"
    if counts["latin"] / letters < 0.5:
        return "other"
    words = _WORD.findall(text.lower())
    en = sum(w in _EN for w in words)
    other = sum(w in _OTHER_LATIN for w in words)
    if en > other:
        return "en"
    if en == other == 0 and text.isascii():
        # "Great!", "Courier delivery arrived late again.": no function words either way; plain ASCII
        # (no accents) is most likely English.
        return "en"
    return "other"


def detect_languages(texts: Iterable[str | None]) -> list[str]:
    """The language of each text (see ``detect_language``)."""
    return [detect_language(t) for t in texts]


def dominant_language(texts: Iterable[str | None]) -> str:
    """The most frequent of "en" and "zh" among ``texts``; "en" when neither occurs."""
    langs = detect_languages(texts)
    return "zh" if langs.count("zh") > langs.count("en") else "en"
