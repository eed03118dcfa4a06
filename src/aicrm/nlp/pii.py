"""Personal data in customer text: find it, and mask it before text is stored, shown or embedded.

Entities: EMAIL, PHONE (international numbers and Chinese mobiles), CARD (Luhn-checked), IBAN
(mod-97-checked), ORDER (configurable pattern; default ``ORD-12345``, ``#12345``, ``订单号 123456``) and
PERSON (cue-based, see below).

Engine: presidio-analyzer (extra ``aicrm[nlp]``) when installed, else the same patterns in plain Python.
Presidio's default NLP engine loads ``en_core_web_lg`` and downloads it when missing, which fails
offline, so we hand it an explicitly configured *blank* spaCy pipeline (tokeniser only). Without a
trained NER model presidio's own PERSON recognizer finds nothing, so PERSON comes from our cue
patterns: "my name is X", "this is X", "Mr/Mrs/Ms/Dr X", "regards, X"; Chinese 我叫/我是/本人/联系人 X and
王先生 / 李女士 (common surname + title). Presidio's EmailRecognizer is not used: it validates domains
with tldextract, which tries to fetch the public-suffix list over the network.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ENTITY_TYPES = ("EMAIL", "PHONE", "CARD", "IBAN", "ORDER", "PERSON")
DEFAULT_ORDER_PATTERN = r"\b(?:ORD|ORDER)[-_ ]?\d{4,}\b|(?<![\w#])#\d{4,}\b|(?<=订单号)[:：\s]*\d{6,}|(?<=订单)[:：\s]*\d{8,}"

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭"
    "陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_EN_PART = r"(?:[A-Z]'[A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
_EN_NAME = _EN_PART + r"(?: " + _EN_PART + r")?"


def luhn_valid(digits: str) -> bool:
    """True when the digits of ``digits`` pass the Luhn checksum of payment card numbers."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 12:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """True when ``text`` is an IBAN with a correct ISO 13616 mod-97 check."""
    s = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


@dataclass(frozen=True)
class _Rule:
    entity: str
    pattern: re.Pattern
    score: float
    group: int = 0
    validate: Callable[[str], bool] | None = None


def _rules(order_pattern: str) -> list[_Rule]:
    """The pattern rules; presidio replaces EMAIL/PHONE/CARD/IBAN ones with its own where it has them."""
    return [
        _Rule("EMAIL", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}\b"), 1.0),
        _Rule("PHONE", re.compile(r"(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"), 0.8),  # Chinese mobile
        _Rule("PHONE", re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}(?!\d)"), 0.7),
        _Rule("PHONE", re.compile(r"(?<![\w-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"), 0.5),
        _Rule("CARD", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)"), 1.0, validate=luhn_valid),
        _Rule("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), 1.0, validate=iban_valid),
        _Rule("ORDER", re.compile(order_pattern, re.IGNORECASE), 0.9),
        _Rule(
            "PERSON",
            re.compile(
                r"(?i:\bmy name is|\bthis is|\bname:|\bregards,|\bthanks,|\bsincerely,|\bcheers,)\s+(" + _EN_NAME + r")"
            ),
            0.6,
            group=1,
        ),
        _Rule("PERSON", re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+(" + _EN_NAME + r")"), 0.7, group=1),
        _Rule("PERSON", re.compile(r"(?:我叫|我是|本人|联系人[:：]?|姓名[:：]?)\s*([" + _SURNAMES + r"][\u4e00-\u9fff]{1,2}?)(?=[，,。.！!\s、]|$|，|的|在|想|要|刚|昨|今|订|买|来|是)"), 0.6, group=1),
        _Rule("PERSON", re.compile(r"([" + _SURNAMES + r"])(?:先生|女士|小姐|经理|老师)"), 0.5, group=0),
    ]


_LEADING_JUNK = set(":：# \t") - {"#"}


def _validated(rule: _Rule, text: str, start: int, end: int) -> bool:
    return rule.validate is None or rule.validate(text[start:end])


def _regex_entities(text: str, rules: Iterable[_Rule]) -> list[dict]:
    found = []
    for rule in rules:
        for m in rule.pattern.finditer(text):
            start, end = m.span(rule.group)
            while start < end and text[start] in _LEADING_JUNK:  # "订单号：123456" keeps only the number
                start += 1
            if start < end and _validated(rule, text, start, end):
                found.append({"type": rule.entity, "start": start, "end": end, "score": rule.score})
    return found


_PRESIDIO_TYPES = {"PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN"}


@functools.lru_cache(maxsize=8)
def _presidio_analyzer(phone_regions: tuple[str, ...]):
    """A presidio AnalyzerEngine over a blank spaCy pipeline, or None when presidio/spaCy are missing."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer, PhoneRecognizer
    except ImportError:
        return None

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        """Tokeniser-only pipeline: nothing to download, no NER (PERSON comes from our cue rules)."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank_en"}])
    engine.load()
    registry = RecognizerRegistry(
        recognizers=[
            PhoneRecognizer(supported_regions=phone_regions, leniency=1),
            CreditCardRecognizer(),
            IbanRecognizer(),
        ],
        supported_languages=["en"],
    )
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _resolve_overlaps(entities: list[dict]) -> list[dict]:
    # Highest score first, then the longer span: a Luhn-valid card beats a phone-like run of its digits.
    kept: list[dict] = []
    for ent in sorted(entities, key=lambda e: (-e["score"], -(e["end"] - e["start"]), e["start"])):
        if all(ent["end"] <= k["start"] or ent["start"] >= k["end"] for k in kept):
            kept.append(ent)
    return sorted(kept, key=lambda e: e["start"])


class PiiDetector:
    """Finds personal data in text. ``engine``: "auto" (presidio when installed), "presidio" or "regex"."""

    def __init__(
        self,
        *,
        order_pattern: str = DEFAULT_ORDER_PATTERN,
        phone_regions: Iterable[str] = ("US", "GB", "DE", "FR", "CN", "HK", "TW", "SG", "IN", "CA", "AU"),
        engine: str = "auto",
        entities: Iterable[str] = ENTITY_TYPES,
    ):
        self.order_pattern = order_pattern
        self.phone_regions = tuple(phone_regions)
        self.engine = engine
        self.entities = tuple(entities)
        try:
            rules = _rules(order_pattern)
        except re.error as exc:
            from aicrm.core.errors import ValidationFailed

            raise ValidationFailed(
                f"the order-number pattern {order_pattern!r} is not a valid regular expression: {exc}",
                hint=r"Give a Python regular expression, e.g. 'ORD-\d{5}'.",
            ) from exc
        self._analyzer = None if engine == "regex" else _presidio_analyzer(self.phone_regions)
        if engine == "presidio" and self._analyzer is None:
            from aicrm.core.errors import ValidationFailed

            raise ValidationFailed(
                "presidio-analyzer is not installed", hint="Install the extra: pip install 'aicrm[nlp]'."
            )
        if self._analyzer is not None:
            # Presidio's phone (libphonenumber), card and IBAN recognizers replace our generic ones; the
            # Chinese mobile rule stays because libphonenumber needs a separator-free CN context to match it.
            rules = [r for r in rules if r.entity not in ("CARD", "IBAN") and not (r.entity == "PHONE" and r.score < 0.8)]
        self._rules = [r for r in rules if r.entity in self.entities]

    @property
    def engine_(self) -> str:
        """The engine in use: "presidio" or "regex"."""
        return "presidio" if self._analyzer is not None else "regex"

    def find(self, text: str | None) -> list[dict]:
        """Entities in ``text``: dicts with type, start, end, text and score, in reading order."""
        if not text:
            return []
        found = _regex_entities(text, self._rules)
        if self._analyzer is not None:
            wanted = [k for k, v in _PRESIDIO_TYPES.items() if v in self.entities]
            if wanted:
                for r in self._analyzer.analyze(text=text, language="en", entities=wanted):
                    found.append({"type": _PRESIDIO_TYPES[r.entity_type], "start": r.start, "end": r.end, "score": round(float(r.score), 2)})
        entities = _resolve_overlaps(found)
        for ent in entities:
            ent["text"] = text[ent["start"] : ent["end"]]
        return entities

    def mask(self, text: str | None) -> tuple[str, list[dict]]:
        """(``text`` with each entity replaced by ``<TYPE>``, the entities found)."""
        entities = self.find(text)
        if not entities:
            return text or "", entities
        out, last = [], 0
        for ent in entities:
            out.append(text[last : ent["start"]])
            out.append(f"<{ent['type']}>")
            last = ent["end"]
        out.append(text[last:])
        return "".join(out), entities


@functools.lru_cache(maxsize=1)
def _default_detector() -> PiiDetector:
    return PiiDetector()


def find_pii(text: str | None) -> list[dict]:
    """Personal data in ``text`` with the default detector (see ``PiiDetector.find``)."""
    return _default_detector().find(text)


def mask_pii(text: str | None) -> tuple[str, list[dict]]:
    """(masked text, entities) with the default detector (see ``PiiDetector.mask``)."""
    return _default_detector().mask(text)
