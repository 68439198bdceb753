"""The checkable facts of a text: numbers, amounts, percentages, dates and proper names.

Both sides are normalised the same way, so "34%" matches "34 percent", "$24 billion"
matches "24 billion dollars" and "24,000,000,000 dollars", "Oct. 17" matches
"October 17" and "17 October", and "five" matches "5". A generated sentence passes
when each of its facts is among the facts of the passages it cites (`FactSet.supports`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["number", "date", "name"]

_MONTH_NUMBERS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7,
                  "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH = (r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
          r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?![,.]?\d)")
_DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?!\w)")
_MONTH_ALONE = re.compile(r"\b(?P<month>January|February|March|April|June|July|August|"
                          r"September|October|November|December|"
                          r"(?<=\b(?:in|on|of|by) )May|(?<=\bsince )May|(?<=\buntil )May)\b")
_MONTH_WORDS = frozenset("january february march april june july august september october "
                         "november december jan feb mar apr jun jul aug sep sept oct nov "
                         "dec".split())
_ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_WORD_VALUES = {w: float(i) for i, w in enumerate(_SMALL)} | {k: float(v) for k, v in
                                                             _TENS.items()} | {"dozen": 12.0}
_NUMBER_WORD = (r"(?:(?:" + "|".join(_TENS) + r")(?:-(?:" + "|".join(_SMALL[1:10]) + r"))?|"
                + "|".join(sorted(_SMALL + ["dozen"], key=len, reverse=True)) + ")")
_SCALES = {"thousand": 1e3, "million": 1e6, "mln": 1e6, "billion": 1e9, "bn": 1e9,
           "trillion": 1e12, "tn": 1e12}
_UNITS = (("percentage point", "point"), ("per cent", "percent"), ("percent", "percent"),
          ("pct", "percent"), ("%", "percent"), ("dollar", "dollar"), ("usd", "dollar"),
          ("$", "dollar"), ("euro", "euro"), ("eur", "euro"), ("€", "euro"), ("pound", "pound"),
          ("gbp", "pound"), ("£", "pound"), ("yuan", "yuan"), ("renminbi", "yuan"),
          ("¥", "yuan"), ("tenge", "tenge"), ("rouble", "rouble"), ("ruble", "rouble"),
          ("yen", "yen"))
_AMOUNT = re.compile(
    r"(?P<cur>US\$|\$|€|£|¥|\b(?:USD|EUR|GBP)\s?)?"
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|" + _NUMBER_WORD + r"\b)"
    r"(?:\s*-?\s*(?P<scale>thousand|million|mln|billion|bn|trillion|tn)\b)?"
    r"(?:\s*(?P<unit>%|per\s?cent\b|percent\b|pct\b|percentage points?\b|(?:US\s)?dollars?\b|"
    r"euros?\b|pounds?\b|yuan\b|renminbi\b|tenge\b|roubles?\b|rubles?\b|yen\b))?",
    re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
# Capitalised words that are not names: sentence starters, pronouns, function words.
_NOT_NAMES = frozenset("""
a about above according after again against all also although an and another any are as at
be because been before being both but by can could did do does during each either even every
few for from further had has have he her here hers him his how however i if in indeed into is
it its just last later many may meanwhile might more moreover most much my neither no nor not
now of on once one only or other our over overall per since so some such than that the their
them then there these they this those though through thus to today too under until up us very
was we were what when where whether which while who whom whose why will with within without
would yes yet you your additionally furthermore finally first second third next lastly also
besides hence instead otherwise still therefore consequently currently recently usd eur gbp
""".split())


@dataclass(frozen=True, slots=True)
class Fact:
    """One checkable fact: `key` is normalised, `surface` is how the text wrote it."""

    kind: Kind
    key: tuple[object, ...]
    surface: str


@dataclass(slots=True)
class FactSet:
    """The facts of one or more passages, to look generated facts up in."""

    numbers: dict[float, set[str]] = field(default_factory=dict)
    dates: set[tuple[int, int]] = field(default_factory=set)
    words: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, *texts: str) -> FactSet:
        out = cls()
        for text in texts:
            for fact in extract(text, passage=True):
                out.add(fact)
            out.words.update(_word_keys(text))
        return out

    def add(self, fact: Fact) -> None:
        if fact.kind == "number":
            value, unit = fact.key
            self.numbers.setdefault(float(value), set()).add(str(unit))  # type: ignore[arg-type]
        elif fact.kind == "date":
            month, day = fact.key
            self.dates.update({(int(month), int(day)), (int(month), 0)})  # type: ignore[call-overload]

    def update(self, other: FactSet) -> None:
        for value, units in other.numbers.items():
            self.numbers.setdefault(value, set()).update(units)
        self.dates |= other.dates
        self.words |= other.words

    def supports(self, fact: Fact) -> bool:
        """Whether the fact is here: same value (and unit, when the fact has one), same
        month and day, or the same word."""
        if fact.kind == "number":
            value, unit = fact.key
            units = self.numbers.get(float(value))  # type: ignore[arg-type]
            return units is not None and (not unit or unit in units)
        if fact.kind == "date":
            return (int(fact.key[0]), int(fact.key[1])) in self.dates  # type: ignore[call-overload]
        word = str(fact.key[0])
        return word in self.words or ("-" in word and all(p in self.words
                                                          for p in word.split("-") if p))


def _unit(cur: str | None, unit: str | None) -> str:
    for text in (unit, cur):
        low = (text or "").lower().replace(" ", "")
        for candidate in (low, low[2:] if low.startswith("us") else ""):
            for prefix, name in _UNITS:
                if candidate and candidate.startswith(prefix.replace(" ", "")):
                    return name
    return ""


def _value(num: str) -> float:
    low = num.lower()
    if low in _WORD_VALUES:
        return _WORD_VALUES[low]
    if "-" in low:
        tens, ones = low.split("-", 1)
        return _TENS[tens] + _WORD_VALUES[ones]
    return float(low.replace(",", ""))


def _numbers(text: str, passage: bool) -> list[Fact]:
    out = []
    for m in _AMOUNT.finditer(text):
        num = m.group("num")
        if not passage and num.lower() == "one":  # "one of the ..." is rarely a claimed number
            continue
        value = _value(num) * _SCALES.get((m.group("scale") or "").lower(), 1.0)
        out.append(Fact("number", (round(value, 6), _unit(m.group("cur"), m.group("unit"))),
                        m.group().strip()))
    return out


def _month(name: str) -> int:
    return _MONTH_NUMBERS[name[:3].lower()]


def _dates(text: str) -> list[Fact]:
    out = []
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        for m in pattern.finditer(text):
            day = int(m.group("day"))
            if 1 <= day <= 31:
                out.append(Fact("date", (_month(m.group("month")), day), m.group()))
    for m in _MONTH_ALONE.finditer(text):
        out.append(Fact("date", (_month(m.group("month")), 0), m.group()))
    for m in _ISO_DATE.finditer(text):
        month, day = int(m.group("month")), int(m.group("day"))
        if 1 <= month <= 12 and 1 <= day <= 31:
            out.append(Fact("date", (month, day), m.group()))
            out += [Fact("number", (float(m.group("year")), ""), m.group("year")),
                    Fact("number", (float(day), ""), str(day))]
    return out


def _word_key(word: str) -> str:
    word = word.lower().replace("’", "'").rstrip(".'-")
    return word[:-2] if word.endswith("'s") else word


def _word_keys(text: str) -> set[str]:
    keys = set()
    for m in _WORD.finditer(text):
        key = _word_key(m.group())
        keys.add(key)
        keys.update(part for part in key.split("-") if part)
    return keys


def _names(text: str) -> list[Fact]:
    out = []
    for m in _WORD.finditer(text):
        word = m.group()
        key = _word_key(word)
        if not word[0].isupper() or key in _NOT_NAMES or key in _MONTH_WORDS or len(key) < 2:
            continue
        out.append(Fact("name", (key,), word.rstrip(".'’")))
    return out


def extract(text: str, *, passage: bool = False) -> list[Fact]:
    """The numbers (with scale and unit), dates and capitalised names in `text`.

    With `passage`, "one" counts as the number 1 too (so that a sentence's "1" can match a
    passage's "one"); in a generated sentence it is too often not a number to check.
    """
    text = text.replace("\u00a0", " ").replace("’", "'")
    dates = _dates(text)
    iso_free = _ISO_DATE.sub(" ", text)
    return dates + _numbers(iso_free, passage) + ([] if passage else _names(text))
