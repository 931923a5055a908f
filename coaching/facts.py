"""From the schedule's string facts to the display values the copy's placeholders print.

Every fact may be missing or garbage (a stringified ``None``, a corrupt number, invisible characters): a fact that
cannot be read is simply unknown (an empty value), so the copy's optional segments and fallback lines take over.
Units and times come out in the athlete's format (kilometres or miles, a 24- or 12-hour clock).

Facts (all strings, all optional) are listed in :mod:`coaching.content`; the placeholders in
:data:`coaching.templates.PLACEHOLDERS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from coaching.templates import PLACEHOLDERS, tidy

_KM_PER_MILE = 1.609344
_LB_PER_KG = 2.2046226218
# Control, zero-width and bidi-override characters render invisibly or reorder the line on a lock screen.
_INVISIBLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_MISSING = frozenset({"", "none", "null", "nil", "nan", "undefined"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
#: A streak shorter than this is not worth mentioning.
STREAK_MIN = 3
#: A longer weather phrase is dropped rather than crowding out the session.
_WEATHER_MAX = 40
#: Larger distances (km), durations (min) or loads (kg) are corrupt facts, not training.
_NUMBER_CAP = 1_000_000.0
#: The digest's verdict by adherence: climbing (>= 80 %), holding (>= 50 %), rebuilding.
VERDICT_BUCKETS = ("high", "mid", "low")


@dataclass(frozen=True)
class MilestoneNames:
    """How a milestone key reads when the schedule sent no label, as a title and as a label (from the copy).

    Each maps 'first', 'complete' (pct100), 'percent' (pctNN) and 'streak' (streakN) to a line in which ``{n}``
    stands for the number.
    """

    titles: Mapping[str, str]
    labels: Mapping[str, str]

    @staticmethod
    def _name(lines: Mapping[str, str], key: str) -> str:
        if key == "first":
            return lines["first"]
        if key == "pct100":
            return lines["complete"]
        if match := re.fullmatch(r"pct(\d{1,2})", key):
            return lines["percent"].replace("{n}", str(int(match.group(1))))
        if match := re.fullmatch(r"streak(\d{1,3})", key):
            return lines["streak"].replace("{n}", str(int(match.group(1))))
        return ""

    def title(self, key: str) -> str:
        return self._name(self.titles, key)

    def label(self, key: str) -> str:
        return self._name(self.labels, key)


def text_fact(facts: Mapping[str, str], key: str) -> str:
    """A cleaned free-text fact, or '' when absent or a stringified null (upstream ``str()``-ed context)."""
    raw = facts.get(key)
    if raw is None:
        return ""
    value = raw if isinstance(raw, str) else str(raw)
    value = _INVISIBLE_RE.sub(" ", value.replace("{", "").replace("}", ""))
    # Trailing sentence punctuation would double up with the template's own ("Foundations..").
    value = tidy(value).rstrip(".,;: ")
    return "" if value.casefold() in _MISSING else value


def _number(facts: Mapping[str, str], key: str) -> float | None:
    """A positive, plausible number fact, else None.

    Zero distances or loads say nothing worth printing, and values beyond :data:`_NUMBER_CAP` are corrupt
    facts (they would also overflow unit conversions to infinity).
    """
    text = text_fact(facts, key)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= _NUMBER_CAP else None


def count_fact(facts: Mapping[str, str], key: str) -> int | None:
    """A non-negative integer fact of at most nine digits, else None."""
    text = text_fact(facts, key)
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


def _decimal(value: float) -> str:
    """One decimal, dropping a trailing '.0' ('8', '6.5')."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _duration_label(minutes: float) -> str:
    whole = max(1, round(minutes))
    if whole < 120:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def weekday_fact(facts: Mapping[str, str], key_weekday: str, key_date: str) -> str:
    """The weekday's English name from the weekday fact, else from the ISO date fact, else ''."""
    name = text_fact(facts, key_weekday).casefold()
    for day in WEEKDAYS:
        if name == day.casefold():
            return day
    parsed = _iso_date(facts, key_date)
    return WEEKDAYS[parsed.weekday()] if parsed else ""


def _iso_date(facts: Mapping[str, str], key: str) -> date | None:
    try:
        return date.fromisoformat(text_fact(facts, key))
    except ValueError:
        return None


def clock_fact(facts: Mapping[str, str]) -> tuple[int, int] | None:
    """The session's local start as (hour, minute) from an 'HH:MM' fact, else None."""
    text = text_fact(facts, "start_time")
    if not _TIME_RE.match(text):
        return None
    hour, minute = text.split(":")
    return int(hour), int(minute)


def _time_label(hour: int, minute: int, clock_24h: bool) -> str:
    """'05:10' on a 24-hour clock, '5:10 AM' on a 12-hour one."""
    if clock_24h:
        return f"{hour:02d}:{minute:02d}"
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def display_values(
    facts: Mapping[str, str],
    *,
    verdicts: Mapping[str, str],
    milestones: MilestoneNames,
    prefer_metric: bool,
    clock_24h: bool = True,
) -> dict[str, str]:
    """Every placeholder's display value ('' when unknown), with units and times in the athlete's format.

    ``verdicts`` is the tone's digest verdict per :data:`VERDICT_BUCKETS` entry.
    """
    values: dict[str, str] = dict.fromkeys(PLACEHOLDERS, "")

    focus = text_fact(facts, "session_focus")
    values["focus"] = focus or "ruck"
    values["Focus"] = _capitalize(focus) if focus else "Ruck"
    weekday = weekday_fact(facts, "weekday", "session_date")
    values["weekday"] = weekday
    values["the_session"] = f"{weekday}'s {values['focus']}" if weekday else f"your {values['focus']}"
    values["The_session"] = _capitalize(values["the_session"])
    clock = clock_fact(facts)
    values["start_time"] = _time_label(*clock, clock_24h) if clock else ""
    week = count_fact(facts, "planned_week")
    values["week"] = str(week) if week else ""

    distance_km = _number(facts, "distance_km")
    minutes = _number(facts, "duration_minutes")
    weight_kg = _number(facts, "weight_kg")
    distance_unit = distance_km if prefer_metric or distance_km is None else distance_km / _KM_PER_MILE
    # A value that rounds to zero ("0.0 mi", "0 lb") says nothing, so it is left out like a missing one.
    if distance_unit is not None and round(distance_unit, 1) > 0:
        # Miles always keep their decimal (8 km -> "5.0 mi"), as runners and ruckers read them.
        values["distance"] = f"{_decimal(distance_unit)} km" if prefer_metric else f"{distance_unit:.1f} mi"
    if minutes is not None:
        values["duration"] = _duration_label(minutes)
    if weight_kg is not None:
        load = _decimal(weight_kg) if prefer_metric else str(round(weight_kg * _LB_PER_KG))
        if load != "0":
            values["load"] = f"{load} {'kg' if prefer_metric else 'lb'}"
    values["spec"] = ", ".join(v for v in (values["distance"], values["duration"], values["load"]) if v)
    if distance_unit is not None and minutes is not None:
        pace = minutes / distance_unit
        # Only a walking-to-jogging pace is shown; anything else means the facts are off, not the athlete.
        if 3 <= pace <= 60:
            whole, seconds = divmod(round(pace * 60), 60)
            values["pace"] = f"{whole}:{seconds:02d}/{'km' if prefer_metric else 'mi'}"

    values["plan_name"] = text_fact(facts, "plan_name")
    start = _iso_date(facts, "start_date")
    if start is not None:
        values["start_day"] = f"{WEEKDAYS[start.weekday()]}, {_MONTHS[start.month - 1]} {start.day}"

    planned = count_fact(facts, "planned")
    completed = count_fact(facts, "completed")
    adherence = count_fact(facts, "adherence_pct")
    if planned:  # a week with nothing planned has no meaningful ratio
        values["planned"] = str(planned)
        if completed is not None:
            values["completed"] = str(completed)
            if adherence is None:
                adherence = round(100 * completed / planned)
    if adherence is not None:
        values["adherence"] = str(adherence)
        bucket = "high" if adherence >= 80 else "mid" if adherence >= 50 else "low"
        values["verdict"] = verdicts[bucket]

    key = text_fact(facts, "milestone").casefold()
    label = text_fact(facts, "milestone_label") or milestones.label(key)
    values["m_label"] = label
    values["M_label"] = _capitalize(label)
    values["m_title"] = milestones.title(key)

    streak = count_fact(facts, "streak")
    values["streak"] = str(streak) if streak is not None and streak >= STREAK_MIN else ""
    weather = text_fact(facts, "weather")
    values["weather"] = weather if len(weather) <= _WEATHER_MAX else ""
    week_planned = count_fact(facts, "week_planned")
    week_completed = count_fact(facts, "week_completed")
    if week_planned and week_completed is not None and week_completed <= week_planned:
        values["week_done"] = f"{week_completed}/{week_planned}"
    return values
