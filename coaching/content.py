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

TITLE_MAX = 50
BODY_MAX = 120

_ELLIPSIS = "…"
_KM_PER_MILE = 1.609344
_LB_PER_KG = 2.2046226218


# --- tones --------------------------------------------------------------------------------------------------


class Tone(StrEnum):
    """The four tones that have their own template set (the backend's canonical snake_case ids)."""

    DRILL_SERGEANT = "drill_sergeant"
    SUPPORTIVE_FRIEND = "supportive_friend"
    DATA_NERD = "data_nerd"
    MINIMALIST = "minimalist"


DEFAULT_TONE = Tone.SUPPORTIVE_FRIEND

#: Every name a tone arrives under: the snake_case ids and the nine display names the Flutter client stores
#: in ``user_coaching_plans.coaching_personality`` (its personality ``id`` *is* the display name). Lookup
#: ignores case, spaces and punctuation, so 'DRILL SERGEANT', 'drill-sergeant' and 'drill_sergeant' are one
#: key. The five personalities without a template set of their own map to the closest of the four until they
#: get theirs (ElevenLabs voice keys such as 'southern_redneck' resolve through the same normalization).
TONE_ALIASES: dict[str, Tone] = {
    "drill_sergeant": Tone.DRILL_SERGEANT,
    "Drill Sergeant": Tone.DRILL_SERGEANT,
    "supportive_friend": Tone.SUPPORTIVE_FRIEND,
    "Supportive Friend": Tone.SUPPORTIVE_FRIEND,
    "data_nerd": Tone.DATA_NERD,
    # The client's analytical personality ("Your pace improved 12% this week...") is the backend's data nerd.
    "Session Analyst": Tone.DATA_NERD,
    "minimalist": Tone.MINIMALIST,
    "Minimalist": Tone.MINIMALIST,
    # Folksy humour and country charm ("Keep on truckin'!") is encouragement, not orders: warm, no shame.
    "Southern Redneck": Tone.SUPPORTIVE_FRIEND,
    # Breath, mindfulness, gentleness: the warm, no-shame voice.
    "Yoga Instructor": Tone.SUPPORTIVE_FRIEND,
    # Gentle and inspiring ("Feel the earth beneath your feet"): the warm voice again.
    "Nature Lover": Tone.SUPPORTIVE_FRIEND,
    # Impeccable manners and dry understatement: short, composed lines suit him better than cheerleading.
    "British Butler": Tone.MINIMALIST,
    # Live, high-energy play-by-play: the drill sergeant's punch and urgency is the closest voice.
    "Sports Commentator": Tone.DRILL_SERGEANT,
    # Grit and plain-spoken Western resolve ("You've got the grit"): firm and direct, like the drill sergeant.
    "Cowboy/Cowgirl": Tone.DRILL_SERGEANT,
}


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
    return _tidy("".join(parts))


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


def _values(facts: Mapping[str, str], tone: Tone, prefer_metric: bool) -> dict[str, str]:
    """Every placeholder's display value ('' when unknown), with units converted for the athlete."""
    values: dict[str, str] = dict.fromkeys(_PLACEHOLDERS, "")

    focus = _text(facts, "session_focus")
    values["focus"] = focus or "ruck"
    values["Focus"] = _capitalize(focus) if focus else "Ruck"
    weekday = _weekday(facts, "weekday", "session_date")
    values["weekday"] = weekday
    values["the_session"] = f"{weekday}'s {values['focus']}" if weekday else f"your {values['focus']}"
    values["The_session"] = _capitalize(values["the_session"])
    start_time = _text(facts, "start_time")
    values["start_time"] = start_time if _TIME_RE.match(start_time) else ""
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
    Tone.DATA_NERD: {
        "high": "Trend: climbing.",
        "mid": "Trend: holding. Target is 80%+.",
        "low": "Trend: rebuilding. Short sessions count.",
    },
    Tone.MINIMALIST: {"high": "Strong.", "mid": "Steady.", "low": "Rebuild."},
}

# Slots: one per type, and one per escalation state for the missed follow-up.
_KICKOFF = "kickoff"
_BRIEF = "brief"
_HYPE = "hype"
_CELEBRATION = "celebration"
_DIGEST = "digest"
_MILESTONE = "milestone"
_MISSED = {state: f"missed.{state.value}" for state in MissedState}

_DS, _SF, _DN, _MIN = Tone.DRILL_SERGEANT, Tone.SUPPORTIVE_FRIEND, Tone.DATA_NERD, Tone.MINIMALIST

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
    # ---- data nerd: analytical, numbers first, adherence and trends ----
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
    ),
    (_MIN, _MISSED[MissedState.REPEATED_MISS]): (
        _v("Two Missed", "Two in a row. Short ruck today."),
        _v("Restart Today", "Two sessions missed. Go short, go today."),
    ),
    (_MIN, _MISSED[MissedState.PLAN_AT_RISK]): (
        _v("Plan at Risk", "Several missed. One easy ruck today."),
        _v("Reset Now", "Plan slipping. Short ruck today, or adjust it."),
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
    ),
    (_MIN, _MILESTONE): (
        _v(("{m_title}", "Milestone"), ("{M_label}.", "Milestone reached.")),
        _v("Milestone", ("{M_label}. Keep going.", "New milestone. Keep going.")),
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
) -> Content:
    """Render one specific variant: what :func:`render` does once it has picked one (tests reach each).

    The title and body each keep the most optional clauses that fit their limit. If the variant cannot fit at
    all (huge facts), the slot's other variants are tried in order, then a compact line (slots that name the
    session), and as a last resort the variant's shortest form is cut at a word boundary. ``template_key``
    names the variant the body came from ('v2', 'compact').
    """
    ntype = NotificationType(ntype)
    resolved = resolve_tone(tone)
    slot = _slot(ntype, facts.get("missed_state"))
    variants = _TEMPLATES[(resolved, slot)]
    if not 0 <= variant < len(variants):
        raise ValueError(f"variant {variant} out of range for {slot}/{resolved.value} ({len(variants)} variants)")
    values = _values(facts, resolved, prefer_metric)
    order = [variants[(variant + step) % len(variants)] for step in range(len(variants))]

    title = next((t for v in order if (t := _fit(v.titles, values, TITLE_MAX)) is not None), None)
    if title is None:
        title = _truncate(_first_usable(variants[variant].titles, values), TITLE_MAX)

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
    return Content(title=title, body=body, template_key=_template_key(ntype, resolved, slot, used))


def render(
    ntype: NotificationType,
    tone: str | Tone,
    facts: Mapping[str, str],
    *,
    notification_id: str,
    prefer_metric: bool = True,
) -> Content:
    """The template copy for one notification: same id and facts, same text (retries and replays agree).

    ``tone`` may be a tone id or any client display name (see :data:`TONE_ALIASES`); ``facts`` are the
    schedule's string facts, any of which may be missing. Distances and loads arrive metric and are shown in
    miles and pounds when ``prefer_metric`` is false. The result always satisfies
    :data:`TITLE_MAX` and :data:`BODY_MAX`.
    """
    count = variant_count(ntype, tone, facts.get("missed_state"))
    return render_variant(
        ntype, tone, facts, variant=variant_index(notification_id, count), prefer_metric=prefer_metric
    )


__all__ = [
    "BODY_MAX",
    "DEFAULT_TONE",
    "TITLE_MAX",
    "TONE_ALIASES",
    "Content",
    "Tone",
    "render",
    "render_variant",
    "resolve_tone",
    "tone_is_known",
    "variant_count",
    "variant_index",
]
