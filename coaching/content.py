"""Notification copy: deterministic, tone-aware templates for the seven plan notification types.

This module is pure (stdlib + pydantic only): the workflow sandbox and the activities both import it, and
the templates are the fallback whenever AI copy is off, slow or invalid, so they must always yield a
sendable push.

Three rules shape everything here:

* **Determinism.** The variant is picked from a SHA-256 of the notification id (never the salted built-in
  ``hash``), so a retry, a replay or a second worker renders the very same text, while consecutive
  notifications still vary.
* **Graceful degradation.** Every fact may be missing or garbage. Templates use optional ``[...]`` clauses
  that are only rendered when all their placeholders have a value, and ordered candidates whose last entry
  needs no fact at all, so no ``{placeholder}``, ``None`` or dangling "at ." ever reaches an athlete.
* **Hard limits.** Titles are at most :data:`TITLE_MAX` and bodies at most :data:`BODY_MAX` characters (what
  the AI prompt promises too). When a rendering is too long, optional clauses are dropped, then the other
  variants are tried, and only as a last resort the text is cut at a word boundary with an ellipsis.

Facts (all strings, all optional): ``session_focus``, ``session_date``, ``weekday``, ``start_time`` ('HH:MM'
local), ``planned_week``, ``distance_km``, ``duration_minutes``, ``weight_kg``, ``missed_state`` (missed
follow-ups), ``planned``/``completed``/``adherence_pct`` (digest), ``milestone``/``milestone_label``,
``plan_name``, ``start_date`` (kickoff) and ``source`` (celebration), as the schedule sends them, plus the
adaptive ones:

* ``start_time`` from 04:00 to before 07:00 -> *early_start*: the evening brief says to lay out gear tonight and
  sleep early (a session in the small hours is not a sunrise start).
* ``recent_misses`` >= 1, or ``missed_state`` 'repeated_miss'/'plan_at_risk' on a non-missed push, unless
  ``sessions_done`` says the athlete has done none yet -> *comeback* (brief, hype, celebration).
* ``planned_week`` == ``plan_weeks`` > 1 -> *last_week*; ``planned_week`` == 1 -> *first_week* (brief, hype;
  last week also celebration).
* ``streak`` >= 3 (consecutive sessions done) -> *streak* (brief, hype, celebration).
* ``weekday`` (or ``session_date``) on Saturday/Sunday -> *weekend* (brief, hype).
* ``weather`` (a short phrase such as '14°C, light rain likely', at most 40 characters) and
  ``week_completed``/``week_planned`` (this week so far) add optional closing lines to briefs and hypes.

When several situations apply, the first in that order wins; its copy is the tone's situational title and
note after a short lead naming the session.

Template syntax: ``{name}`` is a placeholder (see :data:`_PLACEHOLDERS`); ``[ ... ]`` is an optional clause
(no nesting). A candidate is usable when every placeholder outside optional clauses has a value.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import combinations

from pydantic import BaseModel, ConfigDict

from coaching.models import MissedState, NotificationType
from coaching.payload import BODY_MAX_CHARS, TITLE_MAX_CHARS

#: The push contract's limits (coaching.payload), which every rendering must meet.
TITLE_MAX = TITLE_MAX_CHARS
BODY_MAX = BODY_MAX_CHARS

_ELLIPSIS = "…"
_KM_PER_MILE = 1.609344
_LB_PER_KG = 2.2046226218


# --- tones --------------------------------------------------------------------------------------------------


class Tone(StrEnum):
    """Every coaching voice with its own template set (the backend's canonical snake_case ids).

    Nine are the personalities the Flutter client offers; ``minimalist`` is the backend's own terse voice.
    ``DATA_NERD`` is kept as an enum alias of :attr:`SESSION_ANALYST` (the old id of the analytical voice).
    """

    DRILL_SERGEANT = "drill_sergeant"
    SUPPORTIVE_FRIEND = "supportive_friend"
    SOUTHERN_REDNECK = "southern_redneck"
    YOGA_INSTRUCTOR = "yoga_instructor"
    BRITISH_BUTLER = "british_butler"
    SPORTS_COMMENTATOR = "sports_commentator"
    COWBOY_COWGIRL = "cowboy_cowgirl"
    NATURE_LOVER = "nature_lover"
    SESSION_ANALYST = "session_analyst"
    MINIMALIST = "minimalist"
    DATA_NERD = "session_analyst"  # alias: same member as SESSION_ANALYST


DEFAULT_TONE = Tone.SUPPORTIVE_FRIEND

#: Every name a tone arrives under: the snake_case ids and the nine display names the Flutter client stores
#: in ``user_coaching_plans.coaching_personality`` (its personality ``id`` *is* the display name). Lookup
#: ignores case, spaces and punctuation, so 'DRILL SERGEANT', 'drill-sergeant' and 'drill_sergeant' are one
#: key (ElevenLabs voice keys such as 'southern_redneck' resolve through the same normalization). 'data_nerd'
#: is the old id of the session analyst and still appears in stored preferences.
TONE_ALIASES: dict[str, Tone] = {
    **{tone.value: tone for tone in Tone},
    "data_nerd": Tone.SESSION_ANALYST,
    "Drill Sergeant": Tone.DRILL_SERGEANT,
    "Supportive Friend": Tone.SUPPORTIVE_FRIEND,
    "Southern Redneck": Tone.SOUTHERN_REDNECK,
    "Yoga Instructor": Tone.YOGA_INSTRUCTOR,
    "British Butler": Tone.BRITISH_BUTLER,
    "Sports Commentator": Tone.SPORTS_COMMENTATOR,
    "Cowboy/Cowgirl": Tone.COWBOY_COWGIRL,
    "Nature Lover": Tone.NATURE_LOVER,
    "Session Analyst": Tone.SESSION_ANALYST,
    "Minimalist": Tone.MINIMALIST,
}


#: The client's display name of each tone, as RuckTracker stores it (``user_coaching_plans.coaching_personality`` has a
#: CHECK accepting only these nine); ``minimalist`` is the backend's own voice and has none.
DISPLAY_NAMES: dict[Tone, str] = {
    Tone.DRILL_SERGEANT: "Drill Sergeant",
    Tone.SUPPORTIVE_FRIEND: "Supportive Friend",
    Tone.SOUTHERN_REDNECK: "Southern Redneck",
    Tone.YOGA_INSTRUCTOR: "Yoga Instructor",
    Tone.BRITISH_BUTLER: "British Butler",
    Tone.SPORTS_COMMENTATOR: "Sports Commentator",
    Tone.COWBOY_COWGIRL: "Cowboy/Cowgirl",
    Tone.NATURE_LOVER: "Nature Lover",
    Tone.SESSION_ANALYST: "Session Analyst",
}


def display_name(tone: str) -> str:
    """How RuckTracker stores a tone: its client display name, or the id itself for a tone the client does not offer
    (``minimalist``; RuckTracker's CHECK on the plan row refuses it, the athlete's row takes it)."""
    resolved = resolve_tone(tone)
    return DISPLAY_NAMES.get(resolved, resolved.value)


def _tone_key(name: str) -> str:
    """Case, space and punctuation-insensitive lookup key ('Cowboy/Cowgirl' -> 'cowboycowgirl')."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _build_lookup() -> dict[str, Tone]:
    lookup: dict[str, Tone] = {}
    for alias, tone in TONE_ALIASES.items():
        key = _tone_key(alias)
        if lookup.setdefault(key, tone) is not tone:  # two aliases normalizing alike must agree
            raise ValueError(f"conflicting tone aliases for {key!r}")
    return lookup


_TONE_LOOKUP = _build_lookup()


def tone_is_known(name: str | None) -> bool:
    """Whether ``name`` is a tone id or a client display name (callers log the unknown ones)."""
    return bool(name) and _tone_key(name or "") in _TONE_LOOKUP


def resolve_tone(name: str | None) -> Tone:
    """The template tone for a tone id or client display name; unknown or empty -> supportive friend."""
    if not name:
        return DEFAULT_TONE
    return _TONE_LOOKUP.get(_tone_key(name), DEFAULT_TONE)


# --- result -------------------------------------------------------------------------------------------------


class Content(BaseModel):
    """The title and body of one push, and where they came from."""

    model_config = ConfigDict(frozen=True)

    title: str
    body: str
    template_key: str
    source: str = "template"


# --- template machinery -------------------------------------------------------------------------------------

#: Every placeholder a template may use; a typo in a template fails at import rather than in a push.
_PLACEHOLDERS = frozenset(
    {
        # session facts (brief, hype, missed, celebration)
        "focus",  # session type for mid-sentence use; always set ('ruck' by default)
        "Focus",  # the same, capitalized for the start of a sentence or a title ('Ruck' by default)
        "the_session",  # "Tuesday's Tempo Ruck" or "your Tempo Ruck"; always set
        "The_session",
        "weekday",
        "start_time",
        "week",
        "distance",
        "duration",
        "load",
        "spec",  # "8 km, 90 min, 20 kg": whatever of the three is known
        "pace",  # "11:15/km", derived from distance and duration when plausible
        # kickoff
        "plan_name",
        "start_day",
        # weekly digest
        "completed",
        "planned",
        "adherence",
        "verdict",  # a tone-specific one-liner on the week's adherence
        # milestone
        "m_label",
        "M_label",
        "m_title",
        # adaptive (see the module docstring)
        "streak",
        "weather",
        "week_done",  # "2/4"
    }
)
_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
_OPTIONAL_RE = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class _Segment:
    text: str
    names: frozenset[str]
    optional: bool


@dataclass(frozen=True)
class _Template:
    """One compiled candidate line: required and optional segments in order."""

    source: str
    segments: tuple[_Segment, ...]

    @property
    def optional_count(self) -> int:
        return sum(1 for s in self.segments if s.optional)


def _segment(text: str, optional: bool, source: str) -> _Segment:
    if any(ch in text for ch in "[]"):
        raise ValueError(f"unbalanced or nested [ ] in template {source!r}")
    names = frozenset(_PLACEHOLDER_RE.findall(text))
    unknown = names - _PLACEHOLDERS
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in template {source!r}")
    if any(ch in _PLACEHOLDER_RE.sub("", text) for ch in "{}"):
        raise ValueError(f"stray brace in template {source!r}")
    return _Segment(text, names, optional)


def _compile(source: str) -> _Template:
    segments: list[_Segment] = []
    pos = 0
    for match in _OPTIONAL_RE.finditer(source):
        if match.start() > pos:
            segments.append(_segment(source[pos : match.start()], False, source))
        segments.append(_segment(match.group(1), True, source))
        pos = match.end()
    if pos < len(source):
        segments.append(_segment(source[pos:], False, source))
    return _Template(source, tuple(segments))


@dataclass(frozen=True)
class _Variant:
    """One variant: ordered title candidates and ordered body candidates (first usable and fitting wins)."""

    titles: tuple[_Template, ...]
    bodies: tuple[_Template, ...]


def _v(titles: str | tuple[str, ...], bodies: str | tuple[str, ...]) -> _Variant:
    title_list = (titles,) if isinstance(titles, str) else titles
    body_list = (bodies,) if isinstance(bodies, str) else bodies
    return _Variant(tuple(_compile(t) for t in title_list), tuple(_compile(b) for b in body_list))


_DOUBLED_STOP_RE = re.compile(r"([!?…])\.(?=\s|$)")


def _tidy(text: str) -> str:
    """Collapse whitespace, and drop a template's full stop after a value that ends its own sentence.

    Joined clauses must never leave a double space or a stray newline, and a session named "Stairs!" must not
    read "Stairs!." where the template closes the sentence.
    """
    return _DOUBLED_STOP_RE.sub(r"\1", " ".join(text.split()))


def _render_template(template: _Template, values: Mapping[str, str], dropped: Container[int] = ()) -> str | None:
    """The text without the optional segments in ``dropped``, or None when a required value is missing."""
    parts: list[str] = []
    for index, seg in enumerate(template.segments):
        available = all(values.get(name) for name in seg.names)
        if not seg.optional:
            if not available:
                return None
        elif index in dropped or not available:
            continue
        parts.append(_PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], seg.text))
    return _ONE_PLURAL_RE.sub(r"1 \1", _tidy("".join(parts)))


def _fit(templates: Iterable[_Template], values: Mapping[str, str], limit: int) -> str | None:
    """The first usable candidate that fits ``limit``, keeping as many optional clauses as possible.

    Every subset of droppable clauses is tried (templates have at most a handful), so a single over-long value
    costs only its own clause: the fitting rendering with the most clauses wins, then the longest (the most
    information), then the earliest subset, which keeps the choice deterministic.
    """
    for template in templates:
        if _render_template(template, values) is None:
            continue
        optional = [i for i, s in enumerate(template.segments) if s.optional]
        best: tuple[int, int, str] | None = None
        for drop_count in range(len(optional) + 1):
            for dropped in combinations(optional, drop_count):
                text = _render_template(template, values, dropped)
                if text is None or len(text) > limit:
                    continue
                kept = len(optional) - drop_count
                if best is None or (kept, len(text)) > (best[0], best[1]):
                    best = (kept, len(text), text)
            if best is not None:
                # More dropped clauses can never beat a fitting rendering with more kept clauses.
                return best[2]
    return None


def _truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters at a word boundary, ending with an ellipsis (the last resort)."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    space = window.rfind(" ")
    # Cut at the last space unless that throws away most of the line (one enormous word): then cut mid-word.
    cut = text[:space] if space >= limit // 3 else text[: limit - 1]
    cut = cut.rstrip(" ,;:-–—([/&'\"")
    if not cut:
        cut = text[: limit - 1].rstrip() or text[: limit - 1]
    return cut[: limit - 1] + _ELLIPSIS


def _first_usable(templates: Iterable[_Template], values: Mapping[str, str]) -> str:
    """The first usable candidate with every optional clause dropped (the shortest form), for truncation."""
    for template in templates:
        every_optional = [i for i, s in enumerate(template.segments) if s.optional]
        text = _render_template(template, values, every_optional)
        if text:
            return text
    raise AssertionError("template set without a fact-free candidate")  # guarded by the tests


# --- facts -> values ----------------------------------------------------------------------------------------

# Control, zero-width and bidi-override characters render invisibly or reorder the line on a lock screen.
_INVISIBLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_MISSING = frozenset({"", "none", "null", "nil", "nan", "undefined"})
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
#: Sessions starting from _EARLY_FROM_HOUR to before _EARLY_HOUR get the early-start brief (gear out tonight, sleep
#: early); one in the small hours (a 01:30 session) is a night session, not a sunrise start.
_EARLY_HOUR = 7
_EARLY_FROM_HOUR = 4
#: A count of one before a plural noun ("1 sessions done"): the copy says "1 session".
_ONE_PLURAL_RE = re.compile(r"(?<![\d/.,:])\b1 (session|ride|engagement|ruck)s\b")
#: A streak shorter than this is not worth mentioning.
_STREAK_MIN = 3
#: A longer weather phrase is dropped rather than crowding out the session.
_WEATHER_MAX = 40
#: Larger distances (km), durations (min) or loads (kg) are corrupt facts, not training.
_NUMBER_CAP = 1_000_000.0


def _text(facts: Mapping[str, str], key: str) -> str:
    """A cleaned free-text fact, or '' when absent or a stringified null (upstream ``str()``-ed context)."""
    raw = facts.get(key)
    if raw is None:
        return ""
    value = raw if isinstance(raw, str) else str(raw)
    value = _INVISIBLE_RE.sub(" ", value.replace("{", "").replace("}", ""))
    # Trailing sentence punctuation would double up with the template's own ("Foundations..").
    value = _tidy(value).rstrip(".,;: ")
    return "" if value.casefold() in _MISSING else value


def _number(facts: Mapping[str, str], key: str) -> float | None:
    """A positive, plausible number fact, else None.

    Zero distances or loads say nothing worth printing, and values beyond :data:`_NUMBER_CAP` are corrupt
    facts (they would also overflow unit conversions to infinity).
    """
    text = _text(facts, key)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= _NUMBER_CAP else None


def _count(facts: Mapping[str, str], key: str) -> int | None:
    """A non-negative integer fact of at most nine digits, else None."""
    text = _text(facts, key)
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


def _weekday(facts: Mapping[str, str], key_weekday: str, key_date: str) -> str:
    name = _text(facts, key_weekday).casefold()
    for day in _WEEKDAYS:
        if name == day.casefold():
            return day
    parsed = _iso_date(facts, key_date)
    return _WEEKDAYS[parsed.weekday()] if parsed else ""


def _iso_date(facts: Mapping[str, str], key: str) -> date | None:
    try:
        return date.fromisoformat(_text(facts, key))
    except ValueError:
        return None


def _milestone_title(key: str) -> str:
    if key == "first":
        return "First Session Done"
    if key == "pct100":
        return "Plan Complete"
    if match := re.fullmatch(r"pct(\d{1,2})", key):
        return f"{int(match.group(1))}% Complete"
    if match := re.fullmatch(r"streak(\d{1,3})", key):
        return f"{int(match.group(1))} in a Row"
    return ""


def _milestone_label(key: str) -> str:
    """The schedule's label for a milestone key, for when only the key arrived."""
    if key == "first":
        return "first session done"
    if key == "pct100":
        return "plan complete"
    if match := re.fullmatch(r"pct(\d{1,2})", key):
        return f"{int(match.group(1))}% of the plan done"
    if match := re.fullmatch(r"streak(\d{1,3})", key):
        return f"{int(match.group(1))} sessions in a row"
    return ""


def _clock(facts: Mapping[str, str]) -> tuple[int, int] | None:
    """The session's local start as (hour, minute) from an 'HH:MM' fact, else None."""
    text = _text(facts, "start_time")
    if not _TIME_RE.match(text):
        return None
    hour, minute = text.split(":")
    return int(hour), int(minute)


def _time_label(hour: int, minute: int, clock_24h: bool) -> str:
    """'05:10' on a 24-hour clock, '5:10 AM' on a 12-hour one."""
    if clock_24h:
        return f"{hour:02d}:{minute:02d}"
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def _values(facts: Mapping[str, str], tone: Tone, prefer_metric: bool, clock_24h: bool = True) -> dict[str, str]:
    """Every placeholder's display value ('' when unknown), with units and times in the athlete's format."""
    values: dict[str, str] = dict.fromkeys(_PLACEHOLDERS, "")

    focus = _text(facts, "session_focus")
    values["focus"] = focus or "ruck"
    values["Focus"] = _capitalize(focus) if focus else "Ruck"
    weekday = _weekday(facts, "weekday", "session_date")
    values["weekday"] = weekday
    values["the_session"] = f"{weekday}'s {values['focus']}" if weekday else f"your {values['focus']}"
    values["The_session"] = _capitalize(values["the_session"])
    clock = _clock(facts)
    values["start_time"] = _time_label(*clock, clock_24h) if clock else ""
    week = _count(facts, "planned_week")
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

    values["plan_name"] = _text(facts, "plan_name")
    start = _iso_date(facts, "start_date")
    if start is not None:
        values["start_day"] = f"{_WEEKDAYS[start.weekday()]}, {_MONTHS[start.month - 1]} {start.day}"

    planned = _count(facts, "planned")
    completed = _count(facts, "completed")
    adherence = _count(facts, "adherence_pct")
    if planned:  # a week with nothing planned has no meaningful ratio
        values["planned"] = str(planned)
        if completed is not None:
            values["completed"] = str(completed)
            if adherence is None:
                adherence = round(100 * completed / planned)
    if adherence is not None:
        values["adherence"] = str(adherence)
        bucket = "high" if adherence >= 80 else "mid" if adherence >= 50 else "low"
        values["verdict"] = _VERDICTS[tone][bucket]

    key = _text(facts, "milestone").casefold()
    label = _text(facts, "milestone_label") or _milestone_label(key)
    values["m_label"] = label
    values["M_label"] = _capitalize(label)
    values["m_title"] = _milestone_title(key)

    streak = _count(facts, "streak")
    values["streak"] = str(streak) if streak is not None and streak >= _STREAK_MIN else ""
    weather = _text(facts, "weather")
    values["weather"] = weather if len(weather) <= _WEATHER_MAX else ""
    week_planned = _count(facts, "week_planned")
    week_completed = _count(facts, "week_completed")
    if week_planned and week_completed is not None and week_completed <= week_planned:
        values["week_done"] = f"{week_completed}/{week_planned}"
    return values


# --- the copy -----------------------------------------------------------------------------------------------

#: The digest's closing line per tone by adherence bucket: climbing (>= 80 %), holding, rebuilding (< 50 %).
_VERDICTS: dict[Tone, dict[str, str]] = {
    Tone.DRILL_SERGEANT: {
        "high": "Outstanding. Hold that standard.",
        "mid": "Solid, not finished. Tighten it up.",
        "low": "Next week we rebuild, one session at a time.",
    },
    Tone.SUPPORTIVE_FRIEND: {
        "high": "You're on a roll!",
        "mid": "Solid week. Let's keep building.",
        "low": "Every week is a fresh start, and next week is yours.",
    },
    Tone.SESSION_ANALYST: {
        "high": "Trend: climbing.",
        "mid": "Trend: holding. Target is 80%+.",
        "low": "Trend: rebuilding. Short sessions count.",
    },
    Tone.MINIMALIST: {"high": "Strong.", "mid": "Steady.", "low": "Rebuild."},
    Tone.SOUTHERN_REDNECK: {
        "high": "Y'all are on fire!",
        "mid": "Not bad, keep on truckin'.",
        "low": "Shake it off, next week's a new rodeo.",
    },
    Tone.YOGA_INSTRUCTOR: {
        "high": "Beautifully balanced.",
        "mid": "Steady progress. Breathe and continue.",
        "low": "Be gentle; next week is a fresh breath.",
    },
    Tone.BRITISH_BUTLER: {
        "high": "Exemplary, if I may.",
        "mid": "Respectable. Room for polish.",
        "low": "A quieter week. We shall rally.",
    },
    Tone.SPORTS_COMMENTATOR: {
        "high": "A dominant performance!",
        "mid": "Solid showing, more in the tank!",
        "low": "Comeback season starts now!",
    },
    Tone.COWBOY_COWGIRL: {
        "high": "True grit, partner.",
        "mid": "Steady ride. Keep the reins tight.",
        "low": "Saddle up, new trail next week.",
    },
    Tone.NATURE_LOVER: {
        "high": "You're in full bloom.",
        "mid": "Growing steadily, like spring.",
        "low": "Every season has a thaw. Next week is yours.",
    },
}

# Slots: one per type, and one per escalation state for the missed follow-up.
_KICKOFF = "kickoff"
_BRIEF = "brief"
_HYPE = "hype"
_CELEBRATION = "celebration"
_DIGEST = "digest"
_MILESTONE = "milestone"
_MISSED = {state: f"missed.{state.value}" for state in MissedState}

_DS, _SF, _DN, _MIN = Tone.DRILL_SERGEANT, Tone.SUPPORTIVE_FRIEND, Tone.SESSION_ANALYST, Tone.MINIMALIST
_SR, _YI, _BB = Tone.SOUTHERN_REDNECK, Tone.YOGA_INSTRUCTOR, Tone.BRITISH_BUTLER
_SC, _CC, _NL = Tone.SPORTS_COMMENTATOR, Tone.COWBOY_COWGIRL, Tone.NATURE_LOVER

_TEMPLATES: dict[tuple[Tone, str], tuple[_Variant, ...]] = {
    # ---- drill sergeant: direct, firm, short sentences; pushes without shaming ----
    (_DS, _KICKOFF): (
        _v(
            "Orders Received",
            (
                "[{plan_name} is locked in. ]Day one is {start_day}. Show up ready.",
                "Your plan is locked in. Show up ready for day one.",
            ),
        ),
        _v(
            "Plan Locked In",
            "You signed up, now you execute.[ First ruck: {start_day}.] Have your pack ready.",
        ),
        _v(
            "Mission Starts Soon",
            ("[{plan_name}: ]{start_day} is day one. No excuses.", "Day one is coming. Be ready to move."),
        ),
    ),
    (_DS, _BRIEF): (
        _v(
            ("Prep for Tomorrow's Ruck", "Prep for Tomorrow"),
            "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Pack it tonight and be ready to move.",
        ),
        _v(
            "Gear Check Tonight",
            "{Focus} tomorrow[ at {start_time}][ with {load} on your back]. Lay out your gear tonight. No scrambling.",
        ),
        _v(
            ("{weekday}'s Orders", "Tomorrow's Orders"),
            "Orders for tomorrow: {focus}[ at {start_time}][, {spec}]. Lights out on time.",
        ),
    ),
    (_DS, _HYPE): (
        _v("Move Out", "{Focus} is on[ at {start_time}]. Boots on, pack on, out the door."),
        _v("Time to Move", "It's go time: {focus}[, {spec}]. No negotiating with yourself."),
        _v("On Your Feet", "Pack up.[ {Focus} steps off at {start_time}.] Own every step."),
    ),
    (_DS, _CELEBRATION): (
        _v("Session Secure", "{Focus} complete[: {spec}]. Outstanding. Refuel, stretch, recover."),
        _v(
            "Mission Complete",
            "[{distance} in the bag. ]That is what discipline looks like. Refuel and recover.",
        ),
        _v(
            "Outstanding Work",
            "You said you'd do it and you did it.[ {spec} logged.] Be ready for the next one.",
        ),
    ),
    (_DS, _MISSED[MissedState.FIRST_MISS]): (
        _v(
            "Session Missed",
            "{The_session} didn't happen. One miss is not a pattern. Slide it to today or log a short recovery walk.",
        ),
        _v(
            "Regroup",
            "Missed {the_session}. Happens. Next move: make it up today or take a short recovery walk.",
        ),
        _v(
            "Back in Formation",
            "{The_session} slipped. Reset now: get it done today. Shorter is fine, zero is not.",
        ),
    ),
    (_DS, _MISSED[MissedState.REPEATED_MISS]): (
        _v(
            "Two Missed",
            "That's two sessions in a row. Break the streak today: even 20 minutes under the pack counts.",
        ),
        _v(
            "Time to Reset",
            "Two misses in a row[, the last on {weekday}]. Today you fix it. Short ruck, full effort.",
        ),
        _v("No Third Miss", "Two down. Don't let it become a habit. Get out today, even if it's a short one."),
    ),
    (_DS, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Plan at Risk",
            "Several sessions missed in a row. One short ruck today gets you back in the fight.",
        ),
        _v(
            "Mission Check",
            "Your plan is at risk after a run of missed sessions. Reset today: a short, easy ruck.",
        ),
        _v(
            "Back to Basics",
            "Three or more missed. No lecture: lace up today, go short, rebuild. If the schedule is wrong, fix it.",
        ),
    ),
    (_DS, _DIGEST): (
        _v(
            "Weekly Report",
            (
                "{completed} of {planned} sessions done, {adherence}% adherence.[ {verdict}]",
                "Week's over. Check your plan and get ready for the next one.",
            ),
        ),
        _v(
            "Week in Review",
            (
                "This week: {completed}/{planned} sessions[ ({adherence}%)].[ {verdict}]",
                "Week in review is in. Get ready for the next one.",
            ),
        ),
        _v(
            "Status Report",
            (
                "Adherence: {adherence}%[ ({completed} of {planned} sessions)].[ {verdict}]",
                "Weekly status is in. Review your plan and get ready to move.",
            ),
        ),
    ),
    (_DS, _MILESTONE): (
        _v(
            ("Milestone: {m_title}", "Milestone Secured"),
            (
                "Milestone: {m_label}. Earned, not given. Keep moving.",
                "Milestone reached. Earned, not given.",
            ),
        ),
        _v(
            "Objective Taken",
            ("{M_label}. That's what consistency buys you. Stay on it.", "Milestone reached. Stay on it."),
        ),
        _v(
            "Earned It",
            (
                "Milestone hit: {m_label}. No shortcuts got you here. Keep the standard.",
                "Milestone hit. Keep the standard.",
            ),
        ),
    ),
    # ---- supportive friend: warm, encouraging, never shaming ----
    (_SF, _KICKOFF): (
        _v(
            "Your Plan Is Ready",
            (
                "[{plan_name} is all set. ]Your first session is {start_day}, and I'm cheering you on.",
                "Your plan is all set, and I'm cheering you on every step of the way.",
            ),
        ),
        _v(
            "Let's Do This",
            (
                "So glad you started[ {plan_name}]! First ruck is {start_day}. Small steps add up.",
                "So glad you're starting! Small steps add up, and I'll be here along the way.",
            ),
        ),
        _v(
            "Welcome Aboard",
            "You've got a plan[ and a start date: {start_day}]. We'll take it one session at a time.",
        ),
    ),
    (_SF, _BRIEF): (
        _v(
            "Pack Up for Tomorrow",
            "Tomorrow's {focus}[ at {start_time}] is all set[ ({spec})]. Lay out your gear tonight and rest easy.",
        ),
        _v(
            "Tomorrow's Ruck",
            "Quick heads-up: {focus} tomorrow[ at {start_time}]. A little prep tonight makes tomorrow easy.",
        ),
        _v(
            "Ready for Tomorrow?",
            "Your {focus} is tomorrow[ ({spec})]. Set out your pack, fill a bottle and get good sleep.",
        ),
    ),
    (_SF, _HYPE): (
        _v("You've Got This", "{Focus}[ at {start_time}] is coming up. Go at your own pace and enjoy it."),
        _v("Almost Time", "Your {focus} is up soon. Every step counts, and I'm cheering you on."),
        _v(
            "Let's Go",
            "Time to head out for your {focus}[ with {load}]. Start easy, settle in and enjoy the walk.",
        ),
    ),
    (_SF, _CELEBRATION): (
        _v("You Did It!", "{Focus} done[: {spec}]! So proud of you for showing up."),
        _v("Nice Work!", "That's another one in the books[ ({spec})]. Rest up, hydrate and enjoy the win."),
        _v(
            "So Proud of You",
            "You finished your {focus}[ ({spec})]. Consistency like this is how big goals happen.",
        ),
    ),
    (_SF, _MISSED[MissedState.FIRST_MISS]): (
        _v(
            "Let's Bounce Back",
            "No stress about {the_session}. Slide it to today or log a short recovery walk. You've got this.",
        ),
        _v(
            "Fresh Start Today",
            "Missed {the_session}? Life happens. A short walk today keeps the momentum going.",
        ),
        _v(
            "No Worries",
            "{The_session} didn't happen, and that's okay. Make it up today, or take an easy walk instead?",
        ),
    ),
    (_SF, _MISSED[MissedState.REPEATED_MISS]): (
        _v(
            "Checking In",
            "Two sessions slipped by, and that's okay. How about a short, easy ruck today to get back in the groove?",
        ),
        _v(
            "Still With You",
            "Busy stretch? Two missed sessions happen to everyone. Even 15 easy minutes today is a win.",
        ),
        _v("One Small Step", "Let's make today the restart. A short walk with a light pack is all it takes."),
    ),
    (_SF, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Let's Reset Together",
            "It's been a few sessions, and that's okay. One easy ruck today restarts everything. I'm here for it.",
        ),
        _v(
            "We Can Fix This",
            "Life got busy and the plan slipped. Start small today, or adjust the schedule so it fits your week.",
        ),
        _v(
            "Still in Your Corner",
            "A few missed sessions don't erase your progress. A short, easy walk today gets you back on track.",
        ),
    ),
    (_SF, _DIGEST): (
        _v(
            "Your Week in Review",
            (
                "You completed {completed} of {planned} sessions this week[ ({adherence}%)].[ {verdict}]",
                "Your week is wrapped up. Thanks for showing up for yourself!",
            ),
        ),
        _v(
            "Weekly Check-In",
            (
                "This week: {completed}/{planned} sessions[, {adherence}% of your plan].[ {verdict}]",
                "Another week of your plan is done. I'm proud of the effort!",
            ),
        ),
        _v(
            "How Your Week Went",
            (
                "{completed} sessions done out of {planned} planned.[ {verdict}]",
                "Your weekly recap is here. Every session this week mattered.",
            ),
        ),
    ),
    (_SF, _MILESTONE): (
        _v(
            ("{m_title}!", "Milestone Reached!"),
            (
                "You hit a milestone: {m_label}! Take a moment to enjoy it.",
                "You hit a milestone! Enjoy this one.",
            ),
        ),
        _v(
            "Look at You Go",
            ("{M_label}! All those sessions are adding up. So proud of you.", "Your sessions are adding up!"),
        ),
        _v(
            "Big Moment",
            (
                "Milestone unlocked: {m_label}. You earned this one, step by step.",
                "Milestone unlocked. You earned this one, step by step.",
            ),
        ),
    ),
    # ---- session analyst (formerly data nerd): analytical, numbers first, adherence and trends ----
    (_DN, _KICKOFF): (
        _v(
            "Plan Initialized",
            (
                "[{plan_name}: ]session 1 on {start_day}. Tracking adherence, distance and load from day one.",
                "Plan initialized. Adherence, distance and load tracking starts with session 1.",
            ),
        ),
        _v(
            "Baseline Starts Now",
            "Your first session[ ({start_day})] sets the baseline. Every ruck after it is measured against it.",
        ),
        _v(
            "Tracking Begins",
            (
                "[{plan_name} loaded. ]Session 1: {start_day}. Target adherence: 80% or better.",
                "Plan loaded. Target adherence: 80% or better.",
            ),
        ),
    ),
    (_DN, _BRIEF): (
        _v(
            "Tomorrow's Session Brief",
            "Tomorrow: {focus}[ at {start_time}][. Targets: {spec}]. Sleep tonight is the cheapest performance gain.",
        ),
        _v(
            ("Session Spec: Tomorrow", "Session Spec"),
            "[Week {week}: ]{Focus} tomorrow[ at {start_time}].[ Plan: {spec}.][ Target pace: {pace}.]",
        ),
        _v(
            "Tomorrow's Numbers",
            "{Focus}[, {spec}]. Gear packed tonight means a faster, more consistent start.",
        ),
    ),
    (_DN, _HYPE): (
        _v(
            "Session Window Open",
            "{Focus} is up[ at {start_time}].[ Target pace {pace}.] Even splits beat a fast start.",
        ),
        _v(
            "Go Time, By the Numbers",
            "Today: {focus}[, {spec}]. Start slightly easy; negative splits win under load.",
        ),
        _v(
            "Execute the Plan",
            "[Week {week}: ]{Focus}[ at {start_time}]. Log it fully: complete data makes better plans.",
        ),
    ),
    (_DN, _CELEBRATION): (
        _v(
            "Metrics Logged",
            "{Focus} recorded[: {spec}][, pace {pace}]. Another data point for your adherence.",
        ),
        _v(
            "Session Data In",
            "Logged[ {distance}][ in {duration}][ ({pace})]. Consistency is the variable that matters.",
        ),
        _v("Data Point Added", "Session complete[: {spec}]. Recovery now is what turns this into adaptation."),
    ),
    (_DN, _MISSED[MissedState.FIRST_MISS]): (
        _v(
            "Adherence Dip",
            "{The_session}: no data logged. One miss barely moves the trend; make it up today or log a recovery walk.",
        ),
        _v(
            "Missing Data Point",
            "Nothing logged for {the_session}. Slide it to today or log a short recovery walk.",
        ),
        _v(
            "Session Not Logged",
            "{The_session} shows no data. Single misses are noise; the next session is signal.",
        ),
    ),
    (_DN, _MISSED[MissedState.REPEATED_MISS]): (
        _v(
            "Adherence Trending Down",
            "Two consecutive sessions missed. Two is a blip, three is a trend. A short ruck today resets the line.",
        ),
        _v(
            "2 Missed in a Row",
            "Two sessions in a row without data. Even a 20-minute ruck today keeps the trend intact.",
        ),
        _v(
            "Trend Alert",
            "Two consecutive misses[, the latest on {weekday}]. Shorter sessions done beat longer sessions skipped.",
        ),
    ),
    (_DN, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Plan at Risk",
            "3+ consecutive sessions missed; adherence is dropping fast. A short session today stops the slide.",
        ),
        _v(
            "Adherence Alert",
            "Three or more misses in a row. Restarting small works best: 20 easy minutes today.",
        ),
        _v(
            "Course Correction",
            "The last few sessions have no data. Resume with a short ruck, or adjust the schedule to fit.",
        ),
    ),
    (_DN, _DIGEST): (
        _v(
            "Weekly Metrics",
            (
                "Adherence: {adherence}%[ ({completed}/{planned} sessions)].[ {verdict}]",
                "Sessions: {completed}/{planned}.",
                "Weekly metrics are in. Check your adherence trend.",
            ),
        ),
        _v(
            "Your Week in Numbers",
            (
                "{completed}/{planned} sessions completed[, {adherence}% adherence].[ {verdict}]",
                "Adherence this week: {adherence}%.[ {verdict}]",
                "Your weekly numbers are in. Check the adherence trend.",
            ),
        ),
        _v(
            "Weekly Data Digest",
            (
                "Sessions: {completed} done, {planned} planned.[ Adherence: {adherence}%.][ {verdict}]",
                "Adherence: {adherence}%.[ {verdict}]",
                "Weekly data digest ready. Consistency is the metric to watch.",
            ),
        ),
    ),
    (_DN, _MILESTONE): (
        _v(
            "Milestone Logged",
            ("New milestone: {m_label}. Your consistency curve is trending up.", "New milestone logged."),
        ),
        _v(
            ("{m_title}", "Threshold Crossed"),
            (
                "Data checkpoint: {m_label}. Keep the adherence line where it is.",
                "Threshold crossed. Keep it up.",
            ),
        ),
        _v(
            "Progress Checkpoint",
            (
                "{M_label}. Logged sessions are the stat that compounds.",
                "Checkpoint reached. Logged sessions compound.",
            ),
        ),
    ),
    # ---- minimalist: terse, no filler ----
    (_MIN, _KICKOFF): (
        _v("Plan Set", ("[{plan_name}. ]Starts {start_day}.", "Plan set. See you at session one.")),
        _v("Ready", ("First session: {start_day}.", "Your plan is ready.")),
        _v("Begin", ("Day one: {start_day}. Show up.", "Day one soon. Show up.")),
    ),
    (_MIN, _BRIEF): (
        _v("Prep Tonight", "Tomorrow: {focus}[ at {start_time}].[ {spec}.]"),
        _v("Tomorrow", "{Focus}[, {start_time}][, {distance}]. Pack tonight."),
        _v("Gear Up", "{Focus} tomorrow[ at {start_time}]. Pack ready."),
    ),
    (_MIN, _HYPE): (
        _v("It's Go Time", "{Focus}[ at {start_time}]. Go."),
        _v("Go", "{Focus}[, {spec}]. Time to move."),
        _v("Move", "Pack on. {Focus}[ at {start_time}]."),
    ),
    (_MIN, _CELEBRATION): (
        _v("Done + Dusted", "{Focus} done.[ {spec}.]"),
        _v("Logged", "[{spec}. ]Good work."),
        _v("Done", "{Focus} complete. Rest."),
    ),
    (_MIN, _MISSED[MissedState.FIRST_MISS]): (
        _v("Missed", "{The_session}: missed. Make it up today, or walk easy."),
        _v("Reset", "Missed one. Go today."),
        _v("Skipped", "{The_session} skipped. Next one counts."),
    ),
    (_MIN, _MISSED[MissedState.REPEATED_MISS]): (
        _v("Two Missed", "Two in a row. Short ruck today."),
        _v("Restart Today", "Two sessions missed. Go short, go today."),
        _v("Back to It", "Two skipped. Twenty minutes today."),
    ),
    (_MIN, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v("Plan at Risk", "Several missed. One easy ruck today."),
        _v("Reset Now", "Plan slipping. Short ruck today, or adjust it."),
        _v("Start Small", "Missed a few. Start small today."),
    ),
    (_MIN, _DIGEST): (
        _v(
            "Week",
            ("{completed}/{planned} sessions.[ {adherence}%.]", "Adherence: {adherence}%.", "Week done."),
        ),
        _v(
            "Weekly Digest",
            (
                "{completed} of {planned} done[ ({adherence}%)].[ {verdict}]",
                "{adherence}% this week.",
                "Week done.",
            ),
        ),
        _v("Tally", ("Done: {completed}. Planned: {planned}.[ {verdict}]", "Tally in.")),
    ),
    (_MIN, _MILESTONE): (
        _v(("{m_title}", "Milestone"), ("{M_label}.", "Milestone reached.")),
        _v("Milestone", ("{M_label}. Keep going.", "New milestone. Keep going.")),
        _v("Checkpoint", ("Checkpoint: {m_label}.", "Checkpoint.")),
    ),
    # ---- southern redneck: folksy humour, country charm, warm and never shaming ----
    (_SR, _KICKOFF): (
        _v(
            "Well Alright Now",
            (
                "[{plan_name} is all set. ]Y'all kick off {start_day}. Keep on truckin'!",
                "Your plan's all set, y'all. Keep on truckin'!",
            ),
        ),
        _v(
            "Fixin' to Start",
            (
                "We're fixin' to get rollin'[ {start_day}]. Dust off that pack, partner.",
                "We're fixin' to get rollin'. Dust off that pack.",
            ),
        ),
        _v(
            "Yeehaw, Plan's Ready",
            (
                "[{plan_name}: ]first ruck's {start_day}. Bless your boots, let's go.",
                "Plan's ready. Bless your boots, let's go.",
            ),
        ),
    ),
    (_SR, _BRIEF): (
        _v(
            "Tomorrow's Haul",
            "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Load that pack tonight and hit the hay early.",
        ),
        _v("Get Your Boots Ready", "{Focus} tomorrow[ at {start_time}][, {spec}]. Set your boots by the door, sugar."),
        _v(
            "Big Day Tomorrow, Y'all",
            "Y'all got {focus} tomorrow[ at {start_time}]. Pack tonight and rest up like a hound dog.",
        ),
    ),
    (_SR, _HYPE): (
        _v("Giddy Up", "{Focus} time[ at {start_time}]. Keep on truckin', y'all!"),
        _v("Rise and Shine, Y'all", "Grab your pack, {focus}'s a-waitin'[ ({spec})]. Let's git 'er done!"),
        _v("Time to Git 'Er Done", "Lace 'em up.[ {Focus} at {start_time}.] Ain't nothin' to it but to do it."),
    ),
    (_SR, _CELEBRATION): (
        _v("Well Butter My Biscuit", "{Focus} done[: {spec}]. Now that's some fine ruckin', y'all!"),
        _v("Hot Dang!", "[{distance} in the books! ]Proud as a peacock. Go grab you some sweet tea."),
        _v("You Done Good", "You showed up and got 'er done.[ {spec} logged.] Put your feet up a spell."),
    ),
    (_SR, _MISSED[MissedState.FIRST_MISS]): (
        _v("No Harm Done", "{The_session} slipped by. Happens to the best of us. Make it up today or take a stroll."),
        _v("Shake It Off", "Missed {the_session}? Shoot, no big deal. Get on out there today, y'all."),
        _v("Life Happens, Y'all", "{The_session} didn't happen. Dust yourself off and ruck it out today."),
    ),
    (_SR, _MISSED[MissedState.REPEATED_MISS]): (
        _v(
            "Pack's Gettin' Lonely", "Two sessions missed in a row. That pack's cryin' in the corner. Short ruck today?"
        ),
        _v(
            "Time to Get Back Up", "Two in a row slipped by, partner. A quick 20-minute ruck gets you back on the road."
        ),
        _v(
            "Don't Let It Ride",
            "Two misses back to back[, the last on {weekday}]. Shake off the dust and go easy today.",
        ),
    ),
    (_SR, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Plan's in a Pickle",
            "A few sessions slipped by. No judgin' here. One easy ruck today gets this wagon rollin'.",
        ),
        _v("Let's Get Back on the Road", "Missed a few now. Ain't nobody keepin' score, just go short and easy today."),
        _v("Wagon Needs a Push", "Plan's a little stuck in the mud. A short ruck today, or tweak the schedule, y'all."),
    ),
    (_SR, _DIGEST): (
        _v(
            "Week's Tally, Y'all",
            ("{completed} of {planned} sessions in the books.[ {verdict}]", "Your week's tally is in, y'all."),
        ),
        _v(
            "How'd the Week Go",
            (
                "Y'all hit {adherence}% this week[ ({completed}/{planned})].[ {verdict}]",
                "Week's done. Keep on truckin'.",
            ),
        ),
        _v(
            "Weekly Roundup",
            ("Roundup: {completed} done, {planned} planned.[ {verdict}]", "Weekly roundup's in. Proud of y'all."),
        ),
    ),
    (_SR, _MILESTONE): (
        _v(
            ("{m_title}, Y'all!", "Milestone, Y'all!"),
            ("{M_label}! Well I'll be. Proud as punch.", "New milestone! Well I'll be."),
        ),
        _v(
            "Hot Diggity!",
            (
                "You hit {m_label}. That's some serious boot leather.",
                "Milestone hit. That's some serious boot leather.",
            ),
        ),
        _v(
            "Ring the Dinner Bell",
            ("Milestone: {m_label}. Y'all earned a victory lap.", "Milestone reached. Y'all earned it."),
        ),
    ),
    # ---- yoga instructor: calm, breath-led, mindful; honours the body ----
    (_YI, _KICKOFF): (
        _v(
            "A New Practice Begins",
            (
                "[{plan_name} begins ]{start_day}. Set an intention and breathe.",
                "Your practice begins soon. Set an intention and breathe.",
            ),
        ),
        _v(
            "Set Your Intention",
            (
                "Your journey starts[ {start_day}]. Arrive as you are, step by mindful step.",
                "Your journey starts soon. Arrive as you are.",
            ),
        ),
        _v(
            "Welcome to Your Path",
            (
                "[{plan_name}: ]first session {start_day}. Every path begins with one breath.",
                "Every path begins with one breath. Namaste.",
            ),
        ),
    ),
    (_YI, _BRIEF): (
        _v(
            "Prepare with Intention",
            "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Prepare your pack, then let the body rest.",
        ),
        _v(
            "Tomorrow's Practice",
            "{Focus} tomorrow[ at {start_time}][, {spec}]. Breathe deeply tonight and sleep softly.",
        ),
        _v(
            "Rest Before Movement",
            "Your {focus} awaits tomorrow[ at {start_time}]. Lay out your gear mindfully and unwind.",
        ),
    ),
    (_YI, _HYPE): (
        _v("Breathe and Begin", "{Focus}[ at {start_time}]. Inhale strength, exhale doubt. Begin."),
        _v("Your Practice Awaits", "Today: {focus}[, {spec}]. Find your rhythm, one breath per step."),
        _v("Ground Yourself", "Feel your feet on the earth.[ {Focus} at {start_time}.] Move with presence."),
    ),
    (_YI, _CELEBRATION): (
        _v("Honor This Moment", "{Focus} complete[: {spec}]. Pause, breathe, and thank your body."),
        _v("Beautiful Practice", "[{distance} walked with presence. ]Stretch gently and let gratitude settle in."),
        _v("Namaste", "You showed up for yourself.[ {spec} logged.] Rest is part of the practice."),
    ),
    (_YI, _MISSED[MissedState.FIRST_MISS]): (
        _v(
            "Release and Return",
            "{The_session} passed by. Release it without judgment. Return today, or take a gentle walk.",
        ),
        _v(
            "Be Gentle with Yourself",
            "Missing {the_session} is okay. Breathe, reset, and move when you're ready today.",
        ),
        _v("A Mindful Reset", "{The_session} didn't happen. Each moment is a new beginning. Try a short walk today."),
    ),
    (_YI, _MISSED[MissedState.REPEATED_MISS]): (
        _v("Listen Inward", "Two sessions missed. Notice what your body needs. A short, gentle ruck today can help."),
        _v("Return to the Mat", "Two in a row have passed. No judgment, only return. Twenty quiet minutes today."),
        _v(
            "Soft Restart", "Two missed sessions[, the last on {weekday}]. Begin again softly, with a short walk today."
        ),
    ),
    (_YI, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Come Back to Center",
            "Several sessions have slipped. Breathe. One easy ruck today brings you back to center.",
        ),
        _v("Begin Again", "It's been a while. Every practice allows a fresh start: 20 gentle minutes today."),
        _v(
            "Realign Your Path", "The plan has drifted. Honor where you are: walk briefly today or adjust the schedule."
        ),
    ),
    (_YI, _DIGEST): (
        _v(
            "Weekly Reflection",
            ("You practiced {completed} of {planned} sessions.[ {verdict}]", "Take a moment to reflect on your week."),
        ),
        _v(
            "Pause and Reflect",
            (
                "This week: {adherence}% of your practice[ ({completed}/{planned})].[ {verdict}]",
                "Pause and reflect on this week's practice.",
            ),
        ),
        _v(
            "Your Week in Balance",
            ("{completed} sessions done, {planned} intended.[ {verdict}]", "Your week is complete. Breathe it in."),
        ),
    ),
    (_YI, _MILESTONE): (
        _v(
            ("{m_title}: Namaste", "A Mindful Milestone"),
            ("{M_label}. Breathe in this moment of growth.", "A milestone reached. Breathe it in."),
        ),
        _v(
            "Growth Unfolds",
            ("You reached {m_label}. Growth unfolds one step at a time.", "A milestone. Growth unfolds step by step."),
        ),
        _v(
            "Celebrate Your Journey",
            ("Milestone: {m_label}. Honor the effort it took.", "Milestone reached. Honor the effort it took."),
        ),
    ),
    # ---- british butler: impeccable manners, dry understatement ----
    (_BB, _KICKOFF): (
        _v(
            "Your Plan, As Requested",
            (
                "[{plan_name} is arranged. ]Proceedings commence {start_day}.",
                "Your plan is arranged. Proceedings commence shortly.",
            ),
        ),
        _v(
            "Most Splendid News",
            (
                "I have prepared everything. First outing: {start_day}.",
                "I have prepared everything for your first outing.",
            ),
        ),
        _v(
            "If I May",
            (
                "[{plan_name}: ]I shall expect you on {start_day}. Do bring the pack.",
                "I shall expect you at session one. Do bring the pack.",
            ),
        ),
    ),
    (_BB, _BRIEF): (
        _v(
            "Tomorrow's Engagement",
            "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Might I suggest packing this evening?",
        ),
        _v(
            "A Gentle Reminder",
            "{Focus} is scheduled for tomorrow[ at {start_time}][, {spec}]. An early night would be wise.",
        ),
        _v(
            "Preparations, If You Please",
            "I've noted {focus} tomorrow[ at {start_time}]. Your boots await by the door.",
        ),
    ),
    (_BB, _HYPE): (
        _v("Your Ruck Is Served", "{Focus}[ at {start_time}], if you please. Do mind the puddles."),
        _v("Shall We Proceed?", "Today's engagement: {focus}[, {spec}]. I shall have tea ready upon your return."),
        _v("The Hour Approaches", "Your pack is ready.[ {Focus} at {start_time}.] Off you go, with decorum."),
    ),
    (_BB, _CELEBRATION): (
        _v("Most Commendable", "{Focus} completed[: {spec}]. Rather well done, if I may say so."),
        _v("Splendid Effort", "[{distance} concluded. ]I've drawn a bath, figuratively speaking. Do rest."),
        _v("Jolly Good Show", "A fine outing.[ {spec} duly recorded.] One might even call it heroic."),
    ),
    (_BB, _MISSED[MissedState.FIRST_MISS]): (
        _v("A Minor Oversight", "{The_session} appears to have slipped by. Today would do nicely, or a brief walk."),
        _v("If I Might Mention", "{The_session} did not occur. Quite all right. Perhaps today instead?"),
        _v("The Session Awaits", "{The_session} was missed. No matter. Your pack remains ready today."),
    ),
    (_BB, _MISSED[MissedState.REPEATED_MISS]): (
        _v("A Delicate Matter", "Two sessions missed in a row. I'd not dream of fussing. A short ruck today, perhaps?"),
        _v(
            "Your Pack Is Gathering Dust",
            "Two consecutive absences. I've dusted the pack. Twenty minutes today would suffice.",
        ),
        _v(
            "Shall We Resume?",
            "Two sessions missed[, the latest on {weekday}]. A modest ruck today would set things right.",
        ),
    ),
    (_BB, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "The Plan Is Rather at Risk",
            "Several sessions have gone astray. One gentle ruck today would restore order.",
        ),
        _v("Might We Regroup?", "It has been a while. A short outing today, or I can rearrange the schedule."),
        _v("Order Must Be Restored", "The plan is slipping, I'm afraid. One easy ruck today, if you'd be so kind."),
    ),
    (_BB, _DIGEST): (
        _v(
            "Your Weekly Report",
            ("{completed} of {planned} engagements kept.[ {verdict}]", "Your weekly report is prepared."),
        ),
        _v(
            "The Week, Summarised",
            (
                "Attendance: {adherence}%[ ({completed}/{planned})].[ {verdict}]",
                "The week's summary awaits your review.",
            ),
        ),
        _v(
            "A Word on the Week",
            ("{completed} completed, {planned} scheduled.[ {verdict}]", "A summary of the week, at your leisure."),
        ),
    ),
    (_BB, _MILESTONE): (
        _v(
            ("{m_title}, Indeed", "A Milestone, Indeed"),
            ("{M_label}. Most distinguished, if I may.", "A milestone. Most distinguished, if I may."),
        ),
        _v(
            "Congratulations Are in Order",
            ("You have reached {m_label}. Champagne, perhaps?", "A milestone. Champagne, perhaps?"),
        ),
        _v(
            "A Distinguished Achievement",
            ("Milestone: {m_label}. The household is proud.", "Milestone reached. The household is proud."),
        ),
    ),
    # ---- sports commentator: live play-by-play, high energy ----
    (_SC, _KICKOFF): (
        _v(
            "The Season Starts Now!",
            (
                "[{plan_name} is LIVE! ]Opening day: {start_day}. What a time to be alive!",
                "The season is LIVE! Opening day is coming!",
            ),
        ),
        _v(
            "Welcome to the Big Show",
            (
                "The crowd is ready, first match {start_day}! Let's get it on!",
                "The crowd is ready for your first match!",
            ),
        ),
        _v(
            "And We're Underway!",
            (
                "[{plan_name}: ]kickoff {start_day}. The fans are on their feet!",
                "Kickoff is coming. The fans are on their feet!",
            ),
        ),
    ),
    (_SC, _BRIEF): (
        _v("Match Preview", "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Pack tonight, the fans expect a big show!"),
        _v(
            "Big Game Tomorrow", "{Focus} tomorrow[ at {start_time}][, {spec}]. Pre-game rule: gear ready, early night!"
        ),
        _v(
            "Tomorrow's Main Event",
            "Folks, it's {focus} tomorrow[ at {start_time}]. Gear up tonight, rest like a champion!",
        ),
    ),
    (_SC, _HYPE): (
        _v("And They're Off!", "{Focus}[ at {start_time}]! The crowd is roaring. Go, go, go!"),
        _v("It's Game Day!", "{Focus} is on[, {spec}]! Pack on, game face on. Let's see it!"),
        _v(
            "Here Comes the Champ", "Steps off[ at {start_time}] for {focus}. This could be one for the highlight reel!"
        ),
    ),
    (_SC, _CELEBRATION): (
        _v("What a Performance!", "{Focus} complete[: {spec}]! Absolutely sensational!"),
        _v("Crowd Goes Wild!", "[{distance} and across the line! ]A performance for the ages, folks!"),
        _v("Highlight Reel!", "Unbelievable scenes![ {spec} on the board.] Replay that one in slow motion!"),
    ),
    (_SC, _MISSED[MissedState.FIRST_MISS]): (
        _v("A Rare Stumble", "{The_session} didn't make the scoresheet. The great ones bounce back. Rematch today?"),
        _v("Timeout Called", "{The_session}: no play today. Back in the game today, or a recovery lap!"),
        _v("Off the Scoresheet", "{The_session} missed, folks! Champions answer with a comeback today."),
    ),
    (_SC, _MISSED[MissedState.REPEATED_MISS]): (
        _v(
            "Two Games Missed!",
            "Two sessions missed in a row, folks! A short ruck today and the comeback story begins.",
        ),
        _v("Comeback Watch", "Two straight off the field! Twenty minutes today puts the champ back on the board."),
        _v("The Bench Is Calling", "Two misses back to back[, the latest {weekday}]. Time to get off the bench today!"),
    ),
    (_SC, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v("Season on the Line!", "Several sessions missed! One easy ruck today and this season is still alive!"),
        _v(
            "Fourth Quarter Drama", "The plan is slipping, folks! A short ruck today could turn this whole game around."
        ),
        _v(
            "Can They Recover?",
            "Multiple misses on the record. A quick ruck or a schedule change today saves the season!",
        ),
    ),
    (_SC, _DIGEST): (
        _v(
            "Weekly Scoreboard",
            ("Final score: {completed} of {planned} sessions![ {verdict}]", "The weekly scoreboard is in, folks!"),
        ),
        _v(
            "Post-Game Analysis",
            ("{adherence}% this week[ ({completed}/{planned})]![ {verdict}]", "Post-game analysis is in. What a week!"),
        ),
        _v(
            "That's a Wrap, Folks!",
            ("{completed} played, {planned} on the schedule.[ {verdict}]", "That's a wrap on the week, folks!"),
        ),
    ),
    (_SC, _MILESTONE): (
        _v(
            ("{m_title}! Unreal!", "Record Broken!"),
            ("{M_label}! History in the making, folks!", "A new milestone! History in the making!"),
        ),
        _v(
            "For the Record Books!",
            ("{M_label}! Put it in the record books!", "Milestone! Put it in the record books!"),
        ),
        _v(
            "Milestone Alert!",
            ("Milestone: {m_label}! The crowd is on its feet!", "Milestone reached! The crowd is on its feet!"),
        ),
    ),
    # ---- cowboy/cowgirl: grit, plain-spoken Western resolve ----
    (_CC, _KICKOFF): (
        _v(
            "Saddle Up",
            (
                "[{plan_name} rides out ]{start_day}. Pack your grit, partner.",
                "The trail starts soon. Pack your grit, partner.",
            ),
        ),
        _v(
            "The Trail Awaits",
            (
                "First ride: {start_day}. Long trail ahead, and you've got the grit.",
                "Long trail ahead, and you've got the grit.",
            ),
        ),
        _v(
            "Round 'Em Up",
            ("[{plan_name}: ]we ride {start_day}. Boots on, hat tight.", "We ride soon. Boots on, hat tight."),
        ),
    ),
    (_CC, _BRIEF): (
        _v("Ride Out Tomorrow", "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Pack your saddlebag tonight, partner."),
        _v("Check Your Gear", "{Focus} tomorrow[ at {start_time}][, {spec}]. Boots by the door and turn in early."),
        _v("Trail Notes", "We ride {focus} tomorrow[ at {start_time}]. Ready your gear tonight and bed down early."),
    ),
    (_CC, _HYPE): (
        _v("Time to Ride", "{Focus}[ at {start_time}]. Cinch that pack and hit the trail."),
        _v("Boots On, Partner", "Trail's calling: {focus}[, {spec}]. Steady pace, steady grit."),
        _v("Head 'Em Out", "Pack on.[ {Focus} at {start_time}.] Ride hard, ride steady."),
    ),
    (_CC, _CELEBRATION): (
        _v("Fine Ridin'", "{Focus} done[: {spec}]. That's true grit, partner."),
        _v("Trail Conquered", "[{distance} of trail behind you. ]Rest them boots, you earned it."),
        _v("Well Done, Partner", "You rode it out.[ {spec} logged.] Water the horse and yourself."),
    ),
    (_CC, _MISSED[MissedState.FIRST_MISS]): (
        _v("Missed the Stage", "{The_session} rode on without you. Happens. Saddle up today or take an easy walk."),
        _v("Back in the Saddle", "Fell off the horse on {the_session}. Get back on today, partner."),
        _v("Trail's Still There", "{The_session} got away. Trail's still there; ride it today."),
    ),
    (_CC, _MISSED[MissedState.REPEATED_MISS]): (
        _v("Dust on the Saddle", "Two rides missed in a row. A short ruck today knocks that dust off."),
        _v(
            "Round Up the Grit",
            "Two sessions slipped, partner. Twenty minutes on the trail today keeps you in the herd.",
        ),
        _v(
            "Don't Let the Herd Scatter",
            "Two misses back to back[, last on {weekday}]. Saddle up short and easy today.",
        ),
    ),
    (_CC, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v("Trail Gone Cold", "Several rides missed. One easy ruck today warms the trail back up."),
        _v("Time to Ride Back In", "It's been a spell. Cowboys get back up: 20 easy minutes today."),
        _v("Fork in the Trail", "The plan's drifting. Ride short today, or redraw the map with a new schedule."),
    ),
    (_CC, _DIGEST): (
        _v(
            "Week on the Trail",
            ("{completed} of {planned} rides done.[ {verdict}]", "Your week on the trail is tallied."),
        ),
        _v(
            "Tally Book",
            (
                "{adherence}% of the trail ridden[ ({completed}/{planned})].[ {verdict}]",
                "The tally book's updated, partner.",
            ),
        ),
        _v(
            "Campfire Recap",
            ("{completed} rides done, {planned} on the map.[ {verdict}]", "Campfire recap: the week is done."),
        ),
    ),
    (_CC, _MILESTONE): (
        _v(
            ("{m_title}, Partner", "Notch on the Belt"),
            ("{M_label}. Another notch on the belt.", "Another notch on the belt, partner."),
        ),
        _v("Yeehaw!", ("You made it to {m_label}. That's grit.", "Milestone reached. That's grit.")),
        _v("Trail Marker Passed", ("Milestone: {m_label}. Keep riding.", "Trail marker passed. Keep riding.")),
    ),
    # ---- nature lover: gentle, outdoors, sensory ----
    (_NL, _KICKOFF): (
        _v(
            "The Trail Is Calling",
            (
                "[{plan_name} begins ]{start_day}. Fresh air and open paths await.",
                "Fresh air and open paths await you.",
            ),
        ),
        _v(
            "A New Season Begins",
            (
                "Your first walk outdoors: {start_day}. Let the seasons guide you.",
                "A new season of rucking begins soon.",
            ),
        ),
        _v(
            "Into the Wild",
            (
                "[{plan_name}: ]we set out {start_day}. Feel the earth beneath your feet.",
                "Soon you set out. Feel the earth beneath your feet.",
            ),
        ),
    ),
    (_NL, _BRIEF): (
        _v(
            "Tomorrow Outdoors", "Tomorrow[ at {start_time}]: {focus}[, {spec}]. Pack tonight and rest like the forest."
        ),
        _v("The Path Awaits", "{Focus} tomorrow[ at {start_time}][, {spec}]. Sleep early; the birds start before you."),
        _v(
            "Ready for the Trail", "The trail hosts your {focus} tomorrow[ at {start_time}]. Lay out your gear tonight."
        ),
    ),
    (_NL, _HYPE): (
        _v("Step into the Fresh Air", "{Focus}[ at {start_time}]. Breathe the fresh air and go."),
        _v("The Trail Is Calling", "Today: {focus}[, {spec}]. Listen for the birds along the way."),
        _v("Feel the Earth", "Pack on, boots on the earth.[ {Focus} at {start_time}.] Enjoy the view."),
    ),
    (_NL, _CELEBRATION): (
        _v("What a Journey", "{Focus} done[: {spec}]. The outdoors thanks you for the visit."),
        _v("Back from the Trail", "[{distance} under open sky. ]Drink some water and soak in the calm."),
        _v("Rooted and Strong", "You grew a little stronger today.[ {spec} logged.] Rest like a resting field."),
    ),
    (_NL, _MISSED[MissedState.FIRST_MISS]): (
        _v("The Trail Will Wait", "{The_session} slipped by. The trail is patient. Step outside today, even briefly."),
        _v("Seasons Change", "{The_session} didn't happen, and that's natural. A walk in the fresh air today?"),
        _v("Fresh Air Awaits", "Missed {the_session}? The path is still there today."),
    ),
    (_NL, _MISSED[MissedState.REPEATED_MISS]): (
        _v("The Trail Misses You", "Two sessions missed in a row. A short ruck outdoors today can clear the mind."),
        _v("Return to the Path", "Two in a row have drifted by like clouds. Twenty minutes outside today is enough."),
        _v(
            "Nature Is Patient",
            "Two missed sessions[, the last on {weekday}]. Step outside for a short, easy ruck today.",
        ),
    ),
    (_NL, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v(
            "Let's Find the Path Again",
            "Several sessions slipped away. One easy ruck outdoors today helps you find the path.",
        ),
        _v("New Growth", "Even forests regrow. Begin again with 20 gentle minutes outside today."),
        _v(
            "Back to the Trailhead",
            "The plan has wandered. Walk briefly today, or adjust the schedule to fit your season.",
        ),
    ),
    (_NL, _DIGEST): (
        _v(
            "Your Week Outdoors",
            ("{completed} of {planned} sessions under open sky.[ {verdict}]", "Your week outdoors is complete."),
        ),
        _v(
            "Seasonal Notes",
            (
                "{adherence}% of your trail walked[ ({completed}/{planned})].[ {verdict}]",
                "Seasonal notes on your week are ready.",
            ),
        ),
        _v(
            "Trail Journal",
            ("{completed} sessions done, {planned} planned.[ {verdict}]", "Your trail journal for the week is ready."),
        ),
    ),
    (_NL, _MILESTONE): (
        _v(
            ("{m_title} on the Trail", "A Summit Reached"),
            ("{M_label}. Like a summit after a long climb.", "A summit reached. Enjoy the view."),
        ),
        _v("Deep Roots", ("You reached {m_label}. Your roots run deeper.", "A milestone. Your roots run deeper.")),
        _v(
            "Peak View",
            ("Milestone: {m_label}. Pause and take in the view.", "Milestone reached. Pause and take in the view."),
        ),
    ),
}

#: Last fallbacks before truncation, for slots that print the session's name: when a very long session type
#: makes every variant overflow, a short line that still names the session beats a sentence cut mid-way.
_COMPACT: dict[tuple[Tone, str], tuple[_Template, ...]] = {
    key: tuple(_compile(line) for line in lines)
    for key, lines in {
        (_DS, _BRIEF): ("Tomorrow: {focus}. Pack tonight.",),
        (_DS, _HYPE): ("{Focus}. Move out.",),
        (_DS, _CELEBRATION): ("{Focus} complete. Outstanding.",),
        (_DS, _MISSED[MissedState.FIRST_MISS]): ("{The_session} missed. Make it up today.",),
        (_SF, _BRIEF): ("Tomorrow: {focus}. You've got this!",),
        (_SF, _HYPE): ("{Focus} is up soon. Enjoy it!",),
        (_SF, _CELEBRATION): ("{Focus} done! So proud of you.",),
        (_SF, _MISSED[MissedState.FIRST_MISS]): ("No stress about {the_session}. Try again today.",),
        (_DN, _BRIEF): ("Tomorrow: {focus}. Sleep well.",),
        (_DN, _HYPE): ("{Focus} now. Even splits.",),
        (_DN, _CELEBRATION): ("{Focus} logged.",),
        (_DN, _MISSED[MissedState.FIRST_MISS]): ("{The_session}: no data. Make it up today.",),
        (_MIN, _BRIEF): ("Tomorrow: {focus}.",),
        (_MIN, _HYPE): ("{Focus}. Go.",),
        (_MIN, _CELEBRATION): ("{Focus} done.",),
        (_MIN, _MISSED[MissedState.FIRST_MISS]): ("Missed: {the_session}.",),
        (_SR, _BRIEF): ("Tomorrow: {focus}. Pack tonight, y'all.",),
        (_SR, _HYPE): ("{Focus}. Giddy up!",),
        (_SR, _CELEBRATION): ("{Focus} done. Hot dang!",),
        (_SR, _MISSED[MissedState.FIRST_MISS]): ("{The_session} slipped by. Today, y'all.",),
        (_YI, _BRIEF): ("Tomorrow: {focus}. Rest deeply.",),
        (_YI, _HYPE): ("{Focus}. Breathe and begin.",),
        (_YI, _CELEBRATION): ("{Focus} complete. Namaste.",),
        (_YI, _MISSED[MissedState.FIRST_MISS]): ("{The_session} passed. Return today.",),
        (_BB, _BRIEF): ("Tomorrow: {focus}. Pack, if you please.",),
        (_BB, _HYPE): ("{Focus}, if you please.",),
        (_BB, _CELEBRATION): ("{Focus} completed. Splendid.",),
        (_BB, _MISSED[MissedState.FIRST_MISS]): ("{The_session} missed. Today, perhaps?",),
        (_SC, _BRIEF): ("Tomorrow: {focus}. Big game!",),
        (_SC, _HYPE): ("{Focus}. And they're off!",),
        (_SC, _CELEBRATION): ("{Focus} complete! Sensational!",),
        (_SC, _MISSED[MissedState.FIRST_MISS]): ("{The_session} missed. Rematch today!",),
        (_CC, _BRIEF): ("Tomorrow: {focus}. Saddle up.",),
        (_CC, _HYPE): ("{Focus}. Ride out.",),
        (_CC, _CELEBRATION): ("{Focus} done. Fine ridin'.",),
        (_CC, _MISSED[MissedState.FIRST_MISS]): ("{The_session} missed. Ride today.",),
        (_NL, _BRIEF): ("Tomorrow: {focus}. Rest well.",),
        (_NL, _HYPE): ("{Focus}. Fresh air awaits.",),
        (_NL, _CELEBRATION): ("{Focus} done. Breathe it in.",),
        (_NL, _MISSED[MissedState.FIRST_MISS]): ("{The_session} slipped by. Step out today.",),
    }.items()
}

_TYPE_SLOTS: dict[NotificationType, str] = {
    NotificationType.KICKOFF_PRIMER: _KICKOFF,
    NotificationType.EVENING_BRIEF: _BRIEF,
    NotificationType.MORNING_HYPE: _HYPE,
    NotificationType.COMPLETION_CELEBRATION: _CELEBRATION,
    NotificationType.WEEKLY_DIGEST: _DIGEST,
    NotificationType.MILESTONE_ALERT: _MILESTONE,
}


#: Adaptive lines per tone and situation: (title, note). The note closes an adaptive body after a short lead
#: naming the session; it must read well in every slot its situation applies to (see :data:`_SITUATION_SLOTS`).
_SITUATION_COPY: dict[Tone, dict[str, tuple[str, str]]] = {
    Tone.DRILL_SERGEANT: {
        "early_start": ("Early Start: Prep Now", "Gear laid out tonight. In bed early. No excuses."),
        "comeback": ("Back in Formation", "You're back in formation. Earn it, one step at a time."),
        "last_week": ("Final Week, Soldier", "Final week of the plan. Finish like you mean it."),
        "first_week": ("Week One. Lock In", "Week one. Build the habit, not the ego."),
        "streak": ("{streak} in a Row. Hold the Line", "{streak} sessions straight. Do not break the chain."),
        "weekend": ("Weekend Duty", "Weekend is no excuse. Get it done early."),
    },
    Tone.SUPPORTIVE_FRIEND: {
        "early_start": ("Early Start Tomorrow", "Early one! Lay out your gear tonight and get to bed early."),
        "comeback": ("Welcome Back!", "So good to have you back. Go easy and enjoy it!"),
        "last_week": ("The Final Week!", "It's the final week of your plan. You've come so far!"),
        "first_week": ("Week One, Here We Go!", "Week one is about the habit. Easy effort is perfect."),
        "streak": ("{streak} in a Row!", "That's {streak} sessions in a row. You're on a roll!"),
        "weekend": ("Weekend Ruck!", "Weekend ruck! Maybe bring a friend along?"),
    },
    Tone.SOUTHERN_REDNECK: {
        "early_start": (
            "Early Bird Gets the Ruck",
            "Early one, y'all. Gear by the door tonight and off to bed early.",
        ),
        "comeback": ("Well Look Who's Back", "Well look who's back! Easy does it, partner."),
        "last_week": ("Home Stretch, Y'all", "Last week of the plan, y'all. Bring it on home!"),
        "first_week": ("Week One, Y'all", "Week one, y'all. Slow and steady wins the rodeo."),
        "streak": ("{streak} in a Row, Y'all!", "{streak} in a row! Hotter than a July sidewalk."),
        "weekend": ("Weekend Ruckin'", "Weekend ruckin'! Take the long way past the fishin' hole."),
    },
    Tone.YOGA_INSTRUCTOR: {
        "early_start": ("An Early Practice", "An early practice: set out your gear tonight and sleep early."),
        "comeback": ("Welcome Back to Practice", "Welcome back. Move gently and honor where you are."),
        "last_week": ("The Final Week", "The final week of your plan. Finish with presence."),
        "first_week": ("Beginner's Mind", "Week one. Keep a beginner's mind and an easy breath."),
        "streak": ("{streak} Sessions of Flow", "{streak} sessions in a row. Notice the flow you've built."),
        "weekend": ("A Weekend Practice", "A weekend practice. Take your time and savor it."),
    },
    Tone.BRITISH_BUTLER: {
        "early_start": ("An Early Engagement", "An early start. I'd lay out the gear tonight and retire to bed early."),
        "comeback": ("Welcome Back", "Welcome back. The pack has been kept in fine order."),
        "last_week": ("The Final Week", "The final week, if you please. Do finish with style."),
        "first_week": ("Week One, If You Please", "Week one. A measured pace is perfectly proper."),
        "streak": ("{streak} in Succession", "{streak} sessions in succession. Most distinguished."),
        "weekend": ("A Weekend Outing", "A weekend outing. Do take the scenic route."),
    },
    Tone.SPORTS_COMMENTATOR: {
        "early_start": ("Early Kickoff!", "Early kickoff! Gear ready tonight, early to bed, champ!"),
        "comeback": ("The Comeback Is On!", "The comeback is ON! The crowd loves a return!"),
        "last_week": ("Championship Week!", "Final week of the plan! Leave it all out there!"),
        "first_week": ("Rookie Season!", "Week one of the rookie season! Build that form!"),
        "streak": ("{streak} Straight!", "{streak} in a row! Can anyone stop this streak?"),
        "weekend": ("Weekend Showdown!", "Weekend showdown! Prime-time performance!"),
    },
    Tone.COWBOY_COWGIRL: {
        "early_start": ("Ride at Dawn", "Riding at dawn. Gear by the door tonight and bed down early."),
        "comeback": ("Back in the Saddle", "Back in the saddle, partner. Easy on the reins."),
        "last_week": ("End of the Trail", "Last week of the plan. Ride it home strong."),
        "first_week": ("First Week on the Trail", "Week one on the trail. Find your stride."),
        "streak": ("{streak} Rides Straight", "{streak} rides straight. That's true grit."),
        "weekend": ("Weekend Ride", "Weekend ride. Open range, take it in."),
    },
    Tone.NATURE_LOVER: {
        "early_start": ("Sunrise Start", "A sunrise start: set out your gear tonight and sleep early."),
        "comeback": ("The Trail Welcomes You Back", "Welcome back to the trail. Go gently, breathe deep."),
        "last_week": ("The Final Stretch", "The final week of your plan. Enjoy every view."),
        "first_week": ("First Steps Outdoors", "Week one. Easy steps, like new spring growth."),
        "streak": ("{streak} Days on the Trail", "{streak} sessions in a row. Your roots are growing."),
        "weekend": ("Weekend Wander", "Weekend ruck: try a new trail or a longer view."),
    },
    Tone.SESSION_ANALYST: {
        "early_start": (
            "Early Session: Prep Tonight",
            "Pre-dawn start: lay out gear tonight and sleep early for recovery.",
        ),
        "comeback": ("Back in the Dataset", "Back in the dataset. Keep the intensity low to rebuild."),
        "last_week": ("Final Week of the Plan", "Final plan week. Finish with complete data."),
        "first_week": ("Week 1: Baseline", "Week 1: set a baseline, easy effort, full logging."),
        "streak": ("Streak: {streak}", "Streak: {streak} consecutive sessions. Consistency compounds."),
        "weekend": ("Weekend Session", "Weekend session: more time, same target effort."),
    },
    Tone.MINIMALIST: {
        "early_start": ("Early Start", "Early start. Gear out tonight. Sleep early."),
        "comeback": ("Welcome Back", "Welcome back. Go easy."),
        "last_week": ("Final Week", "Final week. Finish."),
        "first_week": ("Week One", "Week one. Easy."),
        "streak": ("{streak} Straight", "{streak} straight. Keep it."),
        "weekend": ("Weekend", "Weekend ruck. Enjoy."),
    },
}

#: Per tone: the optional weather and week-so-far lines briefs and hypes close with, when the facts are there.
_EXTRA_LINES: dict[Tone, tuple[str, str]] = {
    Tone.DRILL_SERGEANT: ("Conditions: {weather}.", "Week so far: {week_done}."),
    Tone.SUPPORTIVE_FRIEND: ("Forecast: {weather}.", "This week: {week_done} done!"),
    Tone.SOUTHERN_REDNECK: ("Weather: {weather}.", "{week_done} done this week, y'all."),
    Tone.YOGA_INSTRUCTOR: ("Sky: {weather}.", "This week: {week_done} practiced."),
    Tone.BRITISH_BUTLER: ("The forecast: {weather}.", "This week: {week_done} kept."),
    Tone.SPORTS_COMMENTATOR: ("Field conditions: {weather}!", "Week so far: {week_done}!"),
    Tone.COWBOY_COWGIRL: ("Sky says: {weather}.", "Week's tally: {week_done}."),
    Tone.NATURE_LOVER: ("Outside: {weather}.", "This week: {week_done} outdoors."),
    Tone.SESSION_ANALYST: ("Forecast: {weather}.", "Week: {week_done} sessions."),
    Tone.MINIMALIST: ("{weather}.", "Week: {week_done}."),
}

#: The adaptive situations in priority order, and the slots each one applies to.
_SITUATION_SLOTS: dict[str, frozenset[str]] = {
    "early_start": frozenset({_BRIEF}),
    "comeback": frozenset({_BRIEF, _HYPE, _CELEBRATION}),
    "last_week": frozenset({_BRIEF, _HYPE, _CELEBRATION}),
    "first_week": frozenset({_BRIEF, _HYPE}),
    "streak": frozenset({_BRIEF, _HYPE, _CELEBRATION}),
    "weekend": frozenset({_BRIEF, _HYPE}),
}

#: The short lead naming the session that an adaptive note follows, per slot: the first usable one that fits
#: wins, so the start time outranks the spec (it matters most for an early start); the last needs no fact.
_ADAPTIVE_LEADS: dict[str, tuple[_Template, ...]] = {
    slot: tuple(_compile(line) for line in lines)
    for slot, lines in {
        _BRIEF: (
            "{Focus} tomorrow at {start_time}[, {spec}].",
            "{Focus} tomorrow[, {spec}].",
            "Tomorrow at {start_time}.",
            "Session tomorrow.",
        ),
        _HYPE: (
            "{Focus} today at {start_time}[, {spec}].",
            "{Focus} today[, {spec}].",
            "Today at {start_time}.",
            "Session today.",
        ),
        _CELEBRATION: ("{Focus} done[: {spec}].", "Session done."),
    }.items()
}

_SITUATION_TEMPLATES: dict[tuple[Tone, str], tuple[_Template, _Template]] = {
    (tone, situation): (_compile(title), _compile(note))
    for tone, lines in _SITUATION_COPY.items()
    for situation, (title, note) in lines.items()
}
_EXTRA_TEMPLATES: dict[Tone, tuple[_Template, ...]] = {
    tone: tuple(_compile(line) for line in lines) for tone, lines in _EXTRA_LINES.items()
}
_COMEBACK_STATES = frozenset({MissedState.REPEATED_MISS.value, MissedState.PLAN_AT_RISK.value})


def _situation(slot: str, facts: Mapping[str, str]) -> str | None:
    """The highest-priority adaptive situation the facts show for this slot, if any."""
    week = _count(facts, "planned_week")
    plan_weeks = _count(facts, "plan_weeks")
    clock = _clock(facts)
    misses = _count(facts, "recent_misses")
    streak = _count(facts, "streak")
    done_before = _count(facts, "sessions_done")
    active = {
        "early_start": clock is not None and _EARLY_FROM_HOUR <= clock[0] < _EARLY_HOUR,
        # Only for an athlete who has rucked before (``sessions_done``, when the schedule says): no "welcome back"
        # to one who never came.
        "comeback": (bool(misses) or _text(facts, "missed_state").casefold() in _COMEBACK_STATES)
        and (done_before is None or done_before > 0),
        # A one-week plan's only week is its first, not a "final week" on day one.
        "last_week": week is not None and week > 1 and week == plan_weeks,
        "first_week": week == 1,
        "streak": streak is not None and streak >= _STREAK_MIN,
        "weekend": _weekday(facts, "weekday", "session_date") in ("Saturday", "Sunday"),
    }
    return next((name for name, slots in _SITUATION_SLOTS.items() if slot in slots and active[name]), None)


def _render_adaptive(tone: Tone, slot: str, situation: str, values: Mapping[str, str]) -> tuple[str, str] | None:
    """(title, body) for an adaptive situation: the tone's situational title, a lead and the tone's note."""
    title_template, note_template = _SITUATION_TEMPLATES[(tone, situation)]
    title = _fit((title_template,), values, TITLE_MAX)
    note = _render_template(note_template, values)
    if title is None or not note:
        return None
    lead = _fit(_ADAPTIVE_LEADS[slot], values, BODY_MAX - len(note) - 1)
    return None if lead is None else (title, f"{lead} {note}")


def _with_extras(body: str, tone: Tone, slot: str, values: Mapping[str, str]) -> str:
    """Briefs and hypes close with the tone's weather and week-so-far lines, each only when it fits."""
    if slot not in (_BRIEF, _HYPE):
        return body
    for template in _EXTRA_TEMPLATES[tone]:
        line = _render_template(template, values)
        if line and len(body) + 1 + len(line) <= BODY_MAX:
            body = f"{body} {line}"
    return body


# --- public rendering API -----------------------------------------------------------------------------------


def _missed_state(value: str | None) -> MissedState:
    """The escalation state from the facts; unknown or absent reads as the gentlest, a first miss."""
    try:
        return MissedState((value or "").strip().casefold())
    except ValueError:
        return MissedState.FIRST_MISS


def _slot(ntype: NotificationType, missed_state: str | None) -> str:
    if ntype is NotificationType.MISSED_FOLLOWUP:
        return _MISSED[_missed_state(missed_state)]
    return _TYPE_SLOTS[ntype]


def _template_key(ntype: NotificationType, tone: Tone, slot: str, variant: str) -> str:
    """E.g. 'plan_evening_brief:data_nerd:v2' or 'plan_missed_followup:first_miss:drill_sergeant:v1'."""
    state = slot.split(".", 1)[1] + ":" if "." in slot else ""
    return f"{ntype.value}:{state}{tone.value}:{variant}"


def variant_count(ntype: NotificationType, tone: str | Tone, missed_state: str | None = None) -> int:
    """How many variants the (type, tone[, escalation state]) slot has."""
    return len(_TEMPLATES[(resolve_tone(tone), _slot(NotificationType(ntype), missed_state))])


def variant_index(notification_id: str, count: int) -> int:
    """A stable index in ``range(count)`` from the notification id (SHA-256, identical across processes)."""
    if count < 1:
        raise ValueError("count must be positive")
    digest = hashlib.sha256(notification_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def render_variant(
    ntype: NotificationType,
    tone: str | Tone,
    facts: Mapping[str, str],
    *,
    variant: int,
    prefer_metric: bool = True,
    clock_24h: bool = True,
) -> Content:
    """Render one specific variant: what :func:`render` does once it has picked one (tests reach each).

    When the facts show an adaptive situation for the slot (see the module docstring), the tone's situational
    copy is used instead of the variant (``template_key`` ends in the situation's name, e.g. ':early_start'),
    unless even its shortest form cannot fit. Otherwise the title and body each keep the most optional clauses
    that fit their limit. If the variant cannot fit at all (huge facts), the slot's other variants are tried in
    order, then a compact line (slots that name the session), and as a last resort the variant's shortest
    form is cut at a word boundary. ``template_key`` names the variant the body came from ('v2', 'compact').
    Briefs and hypes then close with the weather and week-so-far lines when present and room allows.
    """
    ntype = NotificationType(ntype)
    resolved = resolve_tone(tone)
    slot = _slot(ntype, facts.get("missed_state"))
    variants = _TEMPLATES[(resolved, slot)]
    if not 0 <= variant < len(variants):
        raise ValueError(f"variant {variant} out of range for {slot}/{resolved.value} ({len(variants)} variants)")
    values = _values(facts, resolved, prefer_metric, clock_24h)

    situation = _situation(slot, facts)
    adaptive = _render_adaptive(resolved, slot, situation, values) if situation else None
    if adaptive is not None and situation is not None:
        return Content(
            title=adaptive[0],
            body=_with_extras(adaptive[1], resolved, slot, values),
            template_key=_template_key(ntype, resolved, slot, situation),
        )

    order = [variants[(variant + step) % len(variants)] for step in range(len(variants))]
    title_or_none = next((t for v in order if (t := _fit(v.titles, values, TITLE_MAX)) is not None), None)
    title = title_or_none or _truncate(_first_usable(variants[variant].titles, values), TITLE_MAX)

    body: str | None = None
    used = f"v{variant + 1}"
    for step, candidate in enumerate(order):
        body = _fit(candidate.bodies, values, BODY_MAX)
        if body is not None:
            used = f"v{(variant + step) % len(variants) + 1}"
            break
    if body is None:
        body, used = _fit(_COMPACT.get((resolved, slot), ()), values, BODY_MAX), "compact"
    if body is None:
        body = _truncate(_first_usable(variants[variant].bodies, values), BODY_MAX)
        used = f"v{variant + 1}"
    return Content(
        title=title,
        body=_with_extras(body, resolved, slot, values),
        template_key=_template_key(ntype, resolved, slot, used),
    )


def render(
    ntype: NotificationType,
    tone: str | Tone,
    facts: Mapping[str, str],
    *,
    notification_id: str,
    prefer_metric: bool = True,
    clock_24h: bool = True,
) -> Content:
    """The template copy for one notification: same id and facts, same text (retries and replays agree).

    ``tone`` may be a tone id or any client display name (see :data:`TONE_ALIASES`); ``facts`` are the
    schedule's string facts, any of which may be missing. Distances and loads arrive metric and are shown in
    miles and pounds when ``prefer_metric`` is false; start times print as '17:10', or '5:10 PM' when
    ``clock_24h`` is false. The result always satisfies :data:`TITLE_MAX` and :data:`BODY_MAX`.
    """
    count = variant_count(ntype, tone, facts.get("missed_state"))
    return render_variant(
        ntype,
        tone,
        facts,
        variant=variant_index(notification_id, count),
        prefer_metric=prefer_metric,
        clock_24h=clock_24h,
    )


class PlanContentFactory:
    """The template copy for one athlete: their coach's tone, their units and their clock.

    ``tone`` may be any id or client display name (unknown -> supportive friend). :meth:`compose` delegates to
    :func:`render`, so it is deterministic per notification id and always within the length limits.
    """

    def __init__(self, tone: str | Tone | None, *, prefer_metric: bool = True, clock_24h: bool = True) -> None:
        self.tone = resolve_tone(tone)
        self.prefer_metric = prefer_metric
        self.clock_24h = clock_24h

    def compose(self, ntype: NotificationType, facts: Mapping[str, str], *, notification_id: str) -> Content:
        return render(
            ntype,
            self.tone,
            facts,
            notification_id=notification_id,
            prefer_metric=self.prefer_metric,
            clock_24h=self.clock_24h,
        )


__all__ = [
    "BODY_MAX",
    "DEFAULT_TONE",
    "TITLE_MAX",
    "TONE_ALIASES",
    "DISPLAY_NAMES",
    "display_name",
    "Content",
    "PlanContentFactory",
    "Tone",
    "render",
    "render_variant",
    "resolve_tone",
    "tone_is_known",
    "variant_count",
    "variant_index",
]
