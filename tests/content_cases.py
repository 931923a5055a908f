"""The facts, slots and checks the content tests share (tests/test_content.py, tests/test_content_facts.py)."""

from __future__ import annotations

from collections.abc import Iterator

from coaching.content import BODY_MAX, TITLE_MAX, Content, Tone, variant_count
from coaching.models import MissedState, NotificationType

N = NotificationType
MISSED_STATES = [state.value for state in MissedState]

#: (type, missed state) for each of the nine template slots per tone.
SLOTS: list[tuple[NotificationType, str | None]] = [
    (n, None) for n in NotificationType if n is not N.MISSED_FOLLOWUP
] + [(N.MISSED_FOLLOWUP, state) for state in MISSED_STATES]

SESSION_FULL = {
    "session_focus": "Tempo Ruck",
    "weekday": "Tuesday",
    "start_time": "07:30",
    "session_date": "2026-03-10",
    "planned_week": "3",
    "distance_km": "8",
    "duration_minutes": "90",
    "weight_kg": "20",
}
FULL: dict[NotificationType, dict[str, str]] = {
    N.KICKOFF_PRIMER: {"plan_name": "Ruck Foundations", "start_date": "2026-03-09"},
    N.EVENING_BRIEF: SESSION_FULL,
    N.MORNING_HYPE: SESSION_FULL,
    N.MISSED_FOLLOWUP: SESSION_FULL,
    N.COMPLETION_CELEBRATION: {
        "session_focus": "Tempo Ruck",
        "distance_km": "8",
        "duration_minutes": "96",
        "source": "app",
    },
    N.WEEKLY_DIGEST: {"planned": "4", "completed": "3", "adherence_pct": "75"},
    N.MILESTONE_ALERT: {"milestone": "pct50", "milestone_label": "50% of the plan done"},
}
#: What the schedule always sends (no optional distance, duration, load or celebration facts), outside every
#: adaptive situation (week 2 of the plan, a weekday, not before 07:00).
SESSION_REQUIRED = {
    "session_focus": "Ruck",
    "weekday": "Friday",
    "start_time": "07:00",
    "session_date": "2026-03-13",
    "planned_week": "2",
}
REQUIRED: dict[NotificationType, dict[str, str]] = {
    N.KICKOFF_PRIMER: {"plan_name": "Coaching plan", "start_date": "2026-03-09"},
    N.EVENING_BRIEF: SESSION_REQUIRED,
    N.MORNING_HYPE: SESSION_REQUIRED,
    N.MISSED_FOLLOWUP: SESSION_REQUIRED,
    N.COMPLETION_CELEBRATION: {"source": "import"},
    N.WEEKLY_DIGEST: {"planned": "3", "completed": "0", "adherence_pct": "0"},
    N.MILESTONE_ALERT: {"milestone": "first", "milestone_label": "first session done"},
}
LONG_FOCUS = "Extended Loaded Endurance Ruck With Hill Repeats And Stairs"  # 59 chars
EXTREME_SESSION = {
    "session_focus": LONG_FOCUS + "!",
    "weekday": "Wednesday",
    "start_time": "23:59",
    "session_date": "2026-12-30",
    "planned_week": "999999999",
    "distance_km": "999999.99",
    "duration_minutes": "99999",
    "weight_kg": "999999.9",
}
EXTREME: dict[NotificationType, dict[str, str]] = {
    N.KICKOFF_PRIMER: {"plan_name": "The " + "Very " * 20 + "Long Plan", "start_date": "2026-09-30"},
    N.EVENING_BRIEF: EXTREME_SESSION,
    N.MORNING_HYPE: EXTREME_SESSION,
    N.MISSED_FOLLOWUP: EXTREME_SESSION,
    N.COMPLETION_CELEBRATION: {
        "session_focus": "Supercalifragilisticexpialidocious" * 3,
        "distance_km": "123456.789",
        "duration_minutes": "987654",
        "source": "auto_complete",
    },
    N.WEEKLY_DIGEST: {"planned": "123456789", "completed": "123456788", "adherence_pct": "100"},
    N.MILESTONE_ALERT: {"milestone": "streak30", "milestone_label": "thirty sessions in a row " * 4},
}
#: The adaptive facts, added to FACT_KEYS for the property test.
ADAPTIVE_KEYS = ["recent_misses", "streak", "plan_weeks", "weather", "week_completed", "week_planned"]
FACT_KEYS = sorted(
    {key for facts in (*FULL.values(), *EXTREME.values()) for key in facts} | {"missed_state", *ADAPTIVE_KEYS}
)
CLIENT_DISPLAY_NAMES: dict[str, Tone] = {
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


def with_state(facts: dict[str, str], state: str | None) -> dict[str, str]:
    return {**facts, "missed_state": state} if state else dict(facts)


def all_variants() -> Iterator[tuple[Tone, NotificationType, str | None, int]]:
    for tone in Tone:
        for ntype, state in SLOTS:
            for index in range(variant_count(ntype, tone, state)):
                yield tone, ntype, state, index


def variant_id(case: tuple[Tone, NotificationType, str | None, int]) -> str:
    tone, ntype, state, index = case
    return f"{tone.value}-{ntype.value.removeprefix('plan_')}{'-' + state if state else ''}-v{index + 1}"


VARIANTS = list(all_variants())


def assert_within_limits(content: Content) -> None:
    assert 0 < len(content.title) <= TITLE_MAX, content.title
    assert 0 < len(content.body) <= BODY_MAX, content.body
    for text in (content.title, content.body):
        assert "{" not in text and "}" not in text, text
        assert text == text.strip(), text


def assert_clean(content: Content) -> None:
    """Limits plus the marks of a broken template: leftover syntax, nulls, holes where a value was missing."""
    assert_within_limits(content)
    for text in (content.title, content.body):
        assert "[" not in text and "]" not in text, text
        assert "None" not in text and "null" not in text, text
        assert "  " not in text, text
        for hole in (
            " .",
            " ,",
            " :",
            " ;",
            " !",
            " ?",
            "()",
            "( ",
            " )",
            "at .",
            "..",
            ",,",
            ": .",
            "!.",
            "?.",
        ):
            assert hole not in text, (hole, text)


#: A session outside every adaptive situation (week 3, a Tuesday, 07:30).
SESSION_PLAIN = {**SESSION_FULL, "planned_week": "3", "weekday": "Tuesday", "start_time": "07:30"}
