"""Entities in a customer's message: order numbers, e-mail addresses, products from a catalogue, and dates.

Rule-based on purpose: these four kinds have regular surface forms, and a rule that fails is easy to see and fix,
whereas a statistical tagger would need labelled spans that a small shop does not have.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

ENTITY_TYPES = ("order_number", "email", "product", "date")


@dataclass(frozen=True)
class Entity:
    """One entity found in a message.

    ``value`` is normalised: an order number without ``#`` and upper-cased (``ORD-12345``, ``12345``), a lower-cased
    e-mail address, the catalogue's own spelling of a product, or an ISO date (``2024-03-05``). ``text`` is the span
    as written, ``start``/``end`` its character offsets.
    """

    type: str
    value: str
    text: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


# --- order numbers --------------------------------------------------------------------------------------------------
# An identifier must hold at least three digits so that "order 2 pairs" or "#1 priority" are not order numbers.
_ID = r"(?!\d{4}-\d{1,2}-\d{1,2}\b)(?=[A-Za-z0-9-]*\d{3})[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_ORDER_PATTERNS = [
    # ORD-12345, ORD12345, ORDER-2024-0042
    re.compile(r"\b(?P<id>(?:ORD|ORDER)-?\d[0-9-]*\d|(?:ORD|ORDER)-?\d)\b", re.IGNORECASE),
    # "order 12345", "order number: 12345", "order no. A-12345", "order id is 12345", "order #12345"
    re.compile(r"\border\s*(?:number|num|no\.?|nr\.?|id|ref(?:erence)?|code)?\s*(?:is|was|=)?\s*[:#]?\s*"
               rf"(?P<id>{_ID})", re.IGNORECASE),
    # "#12345" anywhere
    re.compile(r"(?<![\w#])#\s?(?P<id>\d{3,}[A-Za-z0-9-]*)\b"),
]

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b")


def find_order_numbers(text: str) -> list[Entity]:
    """Order numbers written as ``ORD-12345``, ``#12345`` or ``order 12345``."""
    found = []
    for pattern in _ORDER_PATTERNS:
        for m in pattern.finditer(text):
            # The span is the identifier itself (with its "#"), not the words that announced it.
            start = m.start() if text[m.start()] == "#" else m.start("id")
            found.append(Entity("order_number", m.group("id").upper(), text[start:m.end("id")], start, m.end("id")))
    return found


def find_emails(text: str) -> list[Entity]:
    """E-mail addresses (value lower-cased)."""
    return [Entity("email", m.group(0).lower(), m.group(0), m.start(), m.end()) for m in _EMAIL.finditer(text)]


# --- dates ----------------------------------------------------------------------------------------------------------
_WEEKDAYS = {name: i for i, names in enumerate([("monday", "mon"), ("tuesday", "tue", "tues"),
                                                   ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
                                                   ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")])
             for name in names}
_MONTHS = {name: i + 1 for i, names in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")]) for name in names}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3}

_WD = (r"(?P<wd>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?"
       r"|sun(?:day)?)")
_MON = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
        r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_N = r"(?P<n>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"

_DATE_PATTERNS: list[tuple[re.Pattern, str]] = [(re.compile(p, re.IGNORECASE), kind) for p, kind in [
    (r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b", "iso"),
    (r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<y>\d{4}|\d{2})\b", "numeric"),
    (rf"\b{_DAY}(?:\s+of)?\s+{_MON}(?:,?\s+{_YEAR})?\b", "day_month"),
    (rf"\b{_MON}\s+{_DAY}(?:,?\s+{_YEAR})?\b", "month_day"),
    (r"\b(?:the\s+)?day\s+before\s+yesterday\b", "before_yesterday"),
    (r"\b(?:the\s+)?day\s+after\s+tomorrow\b", "after_tomorrow"),
    (r"\b(?:today|tonight|this\s+morning|this\s+afternoon|this\s+evening)\b", "today"),
    (r"\b(?:yesterday|last\s+night)\b", "yesterday"),
    (r"\btomorrow\b", "tomorrow"),
    (rf"\b{_N}\s+(?P<unit>day|week)s?\s+ago\b", "ago"),
    (rf"\bin\s+{_N}\s+(?P<unit>day|week)s?\b", "in"),
    (rf"\b(?:last|past|previous)\s+{_WD}\b", "last_weekday"),
    (rf"\bnext\s+{_WD}\b", "next_weekday"),
    (rf"\bthis\s+(?:coming\s+)?{_WD}\b", "this_weekday"),
    (rf"\b(?:on\s+)?{_WD}\b", "weekday"),
]]


def _nearest_year(month: int, day: int, today: dt.date) -> dt.date | None:
    # A date written without a year is taken in whichever of last, this or next year lies closest to today:
    # "March 3" said in January means last March more often than March a year ahead.
    best = None
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - today).days) < abs((best - today).days):
            best = candidate
    return best


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _date_of(m: re.Match, kind: str, today: dt.date, day_first: bool) -> dt.date | None:
    g = m.groupdict()
    if kind == "iso":
        return _safe_date(int(g["y"]), int(g["m"]), int(g["d"]))
    if kind == "numeric":
        a, b, year = int(g["a"]), int(g["b"]), int(g["y"])
        year = year + 2000 if year < 100 else year
        # A part above 12 can only be the day; otherwise the caller's convention (day first or month first) decides.
        if a > 12 >= b:
            day, month = a, b
        elif b > 12 >= a:
            day, month = b, a
        else:
            day, month = (a, b) if day_first else (b, a)
        return _safe_date(year, month, day)
    if kind in ("day_month", "month_day"):
        month, day = _MONTHS[g["mon"].lower().rstrip(".")], int(g["day"])
        if g.get("year"):
            return _safe_date(int(g["year"]), month, day)
        return _nearest_year(month, day, today)
    if kind == "today":
        return today
    if kind == "yesterday":
        return today - dt.timedelta(days=1)
    if kind == "before_yesterday":
        return today - dt.timedelta(days=2)
    if kind == "tomorrow":
        return today + dt.timedelta(days=1)
    if kind == "after_tomorrow":
        return today + dt.timedelta(days=2)
    if kind in ("ago", "in"):
        n = g["n"].lower()
        count = _NUMBER_WORDS[n] if n in _NUMBER_WORDS else int(n)
        days = count * (7 if g["unit"].lower() == "week" else 1)
        return today - dt.timedelta(days=days) if kind == "ago" else today + dt.timedelta(days=days)
    weekday = _WEEKDAYS[g["wd"].lower()]
    if kind == "next_weekday":
        return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if kind == "this_weekday":
        return today + dt.timedelta(days=weekday - today.weekday())
    # "last Monday" and a bare "Monday" both mean the most recent one strictly before today: customers write
    # about what already happened (an order placed, a parcel that did not come).
    return today - dt.timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)


def find_dates(text: str, *, today: dt.date | None = None, day_first: bool = True) -> list[Entity]:
    """Relative ("yesterday", "last Monday", "3 days ago") and absolute ("2024-03-05", "5 March") dates."""
    today = today or dt.date.today()
    found = []
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if kind == "weekday" and m.group("wd").lower() in ("sat", "sun", "mon", "wed", "fri", "tue", "thu") \
                    and not m.group(0).lower().startswith("on"):
                continue  # a bare abbreviation ("sun", "wed") is too often an ordinary word
            value = _date_of(m, kind, today, day_first)
            if value is not None:
                found.append(Entity("date", value.isoformat(), m.group(0), m.start(), m.end()))
    return found


# --- products -------------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text.lower())]


class ProductMatcher:
    """Finds catalogue product names in a message, tolerating case, punctuation, plurals and small typos.

    Build it once per catalogue (it indexes the names) and reuse it for every message.
    """

    def __init__(self, names: Iterable[str], *, min_similarity: float = 0.85):
        self.min_similarity = min_similarity
        self.names_: dict[tuple[str, ...], str] = {}
        for name in names:
            if not isinstance(name, str):
                continue
            key = tuple(t for t, _, _ in _tokens(name))
            if key and len(" ".join(key)) >= 3:
                self.names_.setdefault(key, name.strip())
        self._by_first: dict[str, list[tuple[str, ...]]] = {}
        for key in self.names_:
            self._by_first.setdefault(_stem(key[0]), []).append(key)

    def find(self, text: str) -> list[Entity]:
        """Every product name in ``text`` (longest names win where two overlap)."""
        tokens = _tokens(text)
        stems = [_stem(t) for t, _, _ in tokens]
        found = []
        for i, first in enumerate(stems):
            for first_key in self._first_candidates(first):
                for key in self._by_first.get(first_key, ()):
                    n = len(key)
                    if i + n > len(stems):
                        continue
                    window = stems[i:i + n]
                    target = [_stem(t) for t in key]
                    if window == target or (sum(map(len, target)) >= 5 and difflib.SequenceMatcher(
                            None, " ".join(window), " ".join(target)).ratio() >= self.min_similarity):
                        start, end = tokens[i][1], tokens[i + n - 1][2]
                        found.append(Entity("product", self.names_[key], text[start:end], start, end))
        return _non_overlapping(found)

    def _first_candidates(self, stem: str) -> list[str]:
        if stem in self._by_first:
            return [stem]
        if len(stem) < 4:
            return []
        return difflib.get_close_matches(stem, self._by_first, n=3, cutoff=0.8)


def _stem(token: str) -> str:
    # Plural and possessive endings only: enough for "headphones" to find "Headphone" without a stemmer dependency.
    if len(token) > 4 and token.endswith(("'s", "’s")):
        token = token[:-2]
    if len(token) > 4 and token.endswith(("ches", "shes", "sses", "xes", "zes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


# --- everything together --------------------------------------------------------------------------------------------
_PRIORITY = {"email": 0, "order_number": 1, "date": 2, "product": 3}


def _non_overlapping(entities: list[Entity]) -> list[Entity]:
    # Greedy by priority then length: an e-mail's digits are not an order number, a product name's digits not a date.
    chosen: list[Entity] = []
    for e in sorted(entities, key=lambda e: (_PRIORITY[e.type], -(e.end - e.start), e.start)):
        if all(e.end <= c.start or e.start >= c.end for c in chosen):
            chosen.append(e)
    return sorted(chosen, key=lambda e: e.start)


def extract_entities(text: str, *, products: Sequence[str] | ProductMatcher | None = None,
                     today: dt.date | None = None, day_first: bool = True) -> list[Entity]:
    """All entities in ``text``, left to right, without overlaps (products only when a catalogue is given)."""
    found = find_emails(text) + find_order_numbers(text) + find_dates(text, today=today, day_first=day_first)
    if products is not None:
        matcher = products if isinstance(products, ProductMatcher) else ProductMatcher(products)
        found += matcher.find(text)
    return _non_overlapping(found)
