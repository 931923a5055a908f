"""Notification copy: deterministic, tone-aware pushes for the seven plan notification types.

This module composes a push from the copy (the lines themselves are data: ``coaching/copy/<tone>.toml``, loaded
and checked by :mod:`coaching.copybook` when this module is imported), the display values of the facts
(:mod:`coaching.facts`) and the template engine (:mod:`coaching.templates`). It is pure (stdlib + pydantic only):
the workflow sandbox and the activities both import it, and the templates are the fallback whenever AI copy is
off, slow or invalid, so they must always yield a sendable push.

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

Template syntax (explained for copywriters at the top of each copy file): ``{name}`` is a placeholder (see
:data:`coaching.templates.PLACEHOLDERS`); ``[ ... ]`` is an optional clause (no nesting). A candidate is usable when
every placeholder outside optional clauses has a value.

The tone registry (:class:`Tone`, its aliases and display names) lives in :mod:`coaching.tones`; it is re-exported
here because callers that render also resolve tones, and older imports name it here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from coaching.copybook import BRIEF, HYPE, SITUATION_SLOTS, Copy, load_copy
from coaching.facts import STREAK_MIN, clock_fact, count_fact, display_values, text_fact, weekday_fact
from coaching.models import MissedState, NotificationType
from coaching.payload import BODY_MAX_CHARS, TITLE_MAX_CHARS
from coaching.templates import first_usable, fit, render_template, truncate
from coaching.tones import (
    DEFAULT_TONE,
    DISPLAY_NAMES,
    TONE_ALIASES,
    Tone,
    display_name,
    resolve_tone,
    tone_is_known,
)

#: The push contract's limits (coaching.payload), which every rendering must meet.
TITLE_MAX = TITLE_MAX_CHARS
BODY_MAX = BODY_MAX_CHARS

#: The copy, read and checked once, at import: a broken copy file fails the worker's start, not a push. Workflows
#: import this module passed through the sandbox, so no file is read while a workflow runs.
COPY: Copy = load_copy()

#: Sessions starting from _EARLY_FROM_HOUR to before _EARLY_HOUR get the early-start brief (gear out tonight, sleep
#: early); one in the small hours (a 01:30 session) is a night session, not a sunrise start.
_EARLY_HOUR = 7
_EARLY_FROM_HOUR = 4
_COMEBACK_STATES = frozenset({MissedState.REPEATED_MISS.value, MissedState.PLAN_AT_RISK.value})


class Content(BaseModel):
    """The title and body of one push, and where they came from."""

    model_config = ConfigDict(frozen=True)

    title: str
    body: str
    template_key: str
    source: str = "template"


# --- adaptive copy ------------------------------------------------------------------------------------------


def _situation(slot: str, facts: Mapping[str, str]) -> str | None:
    """The highest-priority adaptive situation the facts show for this slot, if any."""
    week = count_fact(facts, "planned_week")
    plan_weeks = count_fact(facts, "plan_weeks")
    clock = clock_fact(facts)
    misses = count_fact(facts, "recent_misses")
    streak = count_fact(facts, "streak")
    done_before = count_fact(facts, "sessions_done")
    active = {
        "early_start": clock is not None and _EARLY_FROM_HOUR <= clock[0] < _EARLY_HOUR,
        # Only for an athlete who has rucked before (``sessions_done``, when the schedule says): no "welcome back"
        # to one who never came.
        "comeback": (bool(misses) or text_fact(facts, "missed_state").casefold() in _COMEBACK_STATES)
        and (done_before is None or done_before > 0),
        # A one-week plan's only week is its first, not a "final week" on day one.
        "last_week": week is not None and week > 1 and week == plan_weeks,
        "first_week": week == 1,
        "streak": streak is not None and streak >= STREAK_MIN,
        "weekend": weekday_fact(facts, "weekday", "session_date") in ("Saturday", "Sunday"),
    }
    return next((name for name, slots in SITUATION_SLOTS.items() if slot in slots and active[name]), None)


def _render_adaptive(tone: Tone, slot: str, situation: str, values: Mapping[str, str]) -> tuple[str, str] | None:
    """(title, body) for an adaptive situation: the tone's situational title, a lead and the tone's note."""
    copy = COPY.tones[tone].situations[situation]
    title = fit((copy.title,), values, TITLE_MAX)
    note = render_template(copy.note, values)
    if title is None or not note:
        return None
    lead = fit(COPY.adaptive_leads[slot], values, BODY_MAX - len(note) - 1)
    return None if lead is None else (title, f"{lead} {note}")


def _with_extras(body: str, tone: Tone, slot: str, values: Mapping[str, str]) -> str:
    """Briefs and hypes close with the tone's weather and week-so-far lines, each only when it fits."""
    if slot not in (BRIEF, HYPE):
        return body
    for template in COPY.tones[tone].closing_lines:
        line = render_template(template, values)
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
    """The copy's slot: the type without its 'plan_' prefix, and the escalation state of a missed follow-up."""
    slot = ntype.value.removeprefix("plan_")
    if ntype is NotificationType.MISSED_FOLLOWUP:
        return f"{slot}.{_missed_state(missed_state).value}"
    return slot


def _template_key(ntype: NotificationType, tone: Tone, slot: str, variant: str) -> str:
    """E.g. 'plan_evening_brief:session_analyst:v2' or 'plan_missed_followup:first_miss:drill_sergeant:v1'."""
    state = slot.split(".", 1)[1] + ":" if "." in slot else ""
    return f"{ntype.value}:{state}{tone.value}:{variant}"


def variant_count(ntype: NotificationType, tone: str | Tone, missed_state: str | None = None) -> int:
    """How many variants the (type, tone[, escalation state]) slot has."""
    return len(COPY.tones[resolve_tone(tone)].variants[_slot(NotificationType(ntype), missed_state)])


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
    copy = COPY.tones[resolved]
    variants = copy.variants[slot]
    if not 0 <= variant < len(variants):
        raise ValueError(f"variant {variant} out of range for {slot}/{resolved.value} ({len(variants)} variants)")
    values = display_values(
        facts, verdicts=copy.verdicts, milestones=COPY.milestones, prefer_metric=prefer_metric, clock_24h=clock_24h
    )

    situation = _situation(slot, facts)
    adaptive = _render_adaptive(resolved, slot, situation, values) if situation else None
    if adaptive is not None and situation is not None:
        return Content(
            title=adaptive[0],
            body=_with_extras(adaptive[1], resolved, slot, values),
            template_key=_template_key(ntype, resolved, slot, situation),
        )

    order = [variants[(variant + step) % len(variants)] for step in range(len(variants))]
    title_or_none = next((t for v in order if (t := fit(v.titles, values, TITLE_MAX)) is not None), None)
    title = title_or_none or truncate(first_usable(variants[variant].titles, values), TITLE_MAX)

    body: str | None = None
    used = f"v{variant + 1}"
    for step, candidate in enumerate(order):
        body = fit(candidate.bodies, values, BODY_MAX)
        if body is not None:
            used = f"v{(variant + step) % len(variants) + 1}"
            break
    if body is None:
        body, used = fit(copy.compact.get(slot, ()), values, BODY_MAX), "compact"
    if body is None:
        body = truncate(first_usable(variants[variant].bodies, values), BODY_MAX)
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
