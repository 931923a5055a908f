"""Notification copy: how the facts shape it (units, garbage facts, long values, adaptive situations, the clock)."""

from __future__ import annotations

import re

import pytest

from coaching.content import Tone, render, render_variant, variant_count
from coaching.models import NotificationType
from coaching.templates import truncate
from tests.content_cases import (
    EXTREME_SESSION,
    FULL,
    LONG_FOCUS,
    MISSED_STATES,
    SESSION_FULL,
    SESSION_PLAIN,
    SESSION_REQUIRED,
    VARIANTS,
    N,
    assert_clean,
    assert_within_limits,
    variant_id,
    with_state,
)

# --- units and facts ----------------------------------------------------------------------------------------


def brief_spec(facts: dict[str, str], metric: bool) -> str:
    """The session analyst's spec variant, which prints distance, duration, load and pace."""
    return render_variant(N.EVENING_BRIEF, Tone.SESSION_ANALYST, facts, variant=1, prefer_metric=metric).body


def test_metric_units() -> None:
    body = brief_spec(FULL[N.EVENING_BRIEF], metric=True)
    assert "8 km" in body and "20 kg" in body and "/km" in body
    assert not re.search(r"\b(mi|lb)\b", body), body


@pytest.mark.parametrize(
    ("km", "kg", "miles", "pounds"),
    [("8", "20", "5.0 mi", "44 lb"), ("10", "9.1", "6.2 mi", "20 lb"), ("0.5", "13.6", "0.3 mi", "30 lb")],
)
def test_imperial_conversion(km: str, kg: str, miles: str, pounds: str) -> None:
    body = brief_spec({**SESSION_FULL, "distance_km": km, "weight_kg": kg}, metric=False)
    assert miles in body and pounds in body, body
    assert " km" not in body and " kg" not in body and "/km" not in body


def test_metric_numbers_drop_a_trailing_zero_decimal() -> None:
    body = brief_spec({**SESSION_FULL, "distance_km": "8.0", "weight_kg": "6.25"}, metric=True)
    assert "8 km" in body and "6.2 kg" in body


def test_pace_follows_the_unit_system() -> None:
    celebration = {"session_focus": "Ruck", "distance_km": "8", "duration_minutes": "96"}
    metric = render_variant(N.COMPLETION_CELEBRATION, Tone.SESSION_ANALYST, celebration, variant=1)
    imperial = render_variant(
        N.COMPLETION_CELEBRATION, Tone.SESSION_ANALYST, celebration, variant=1, prefer_metric=False
    )
    assert "12:00/km" in metric.body
    assert "19:19/mi" in imperial.body  # 96 min over 4.97 mi


def test_values_that_round_to_zero_are_left_out() -> None:
    for metric in (True, False):
        body = brief_spec({**SESSION_FULL, "distance_km": "0.01", "weight_kg": "0.04"}, metric=metric)
        assert "Plan: 90 min." in body, body


def test_long_durations_read_in_hours() -> None:
    body = brief_spec({**SESSION_FULL, "duration_minutes": "150"}, metric=True)
    assert "2 h 30 min" in body


@pytest.mark.parametrize("garbage", ["None", "null", "", "abc", "-5", "0", "nan", "inf", "1e400", "{x}"])
def test_garbage_numbers_and_nulls_are_dropped(garbage: str) -> None:
    facts = {
        **SESSION_FULL,
        "distance_km": garbage,
        "weight_kg": garbage,
        "duration_minutes": garbage,
        "weekday": garbage,
        "start_time": garbage,
        "planned_week": garbage,
    }
    for tone in Tone:
        for index in range(variant_count(N.EVENING_BRIEF, tone)):
            content = render_variant(N.EVENING_BRIEF, tone, facts, variant=index)
            assert_clean(content)
            assert " km" not in content.body and " kg" not in content.body


def test_null_text_facts_are_treated_as_missing() -> None:
    facts = {"session_focus": "None", "weekday": "null"}
    content = render_variant(N.MISSED_FOLLOWUP, Tone.DRILL_SERGEANT, facts, variant=0)
    assert content.body.startswith("Your ruck didn't happen.")


def test_braces_and_control_characters_in_facts_are_stripped() -> None:
    facts = {**SESSION_FULL, "session_focus": "Tempo\n{focus}\u202e Ruck\t"}
    content = render_variant(N.MORNING_HYPE, Tone.SUPPORTIVE_FRIEND, facts, variant=1)
    assert content.body.startswith("Your Tempo focus Ruck is up soon.")


def test_digest_computes_adherence_when_missing() -> None:
    content = render_variant(N.WEEKLY_DIGEST, Tone.SESSION_ANALYST, {"planned": "4", "completed": "2"}, variant=0)
    assert content.body.startswith("Adherence: 50% (2/4 sessions).")


@pytest.mark.parametrize(("pct", "verdict"), [("100", "climbing"), ("67", "holding"), ("20", "rebuilding")])
def test_digest_verdict_follows_adherence(pct: str, verdict: str) -> None:
    facts = {"planned": "3", "completed": "2", "adherence_pct": pct}
    assert verdict in render_variant(N.WEEKLY_DIGEST, Tone.SESSION_ANALYST, facts, variant=0).body


def test_digest_without_numbers_still_reads() -> None:
    for tone in Tone:
        content = render_variant(N.WEEKLY_DIGEST, tone, {"planned": "0", "completed": "0"}, variant=0)
        assert_clean(content)
        assert "0/0" not in content.body and "0 of 0" not in content.body


def test_milestone_label_is_derived_from_the_key() -> None:
    for key, label in [
        ("pct75", "75% of the plan done"),
        ("streak5", "5 sessions in a row"),
        ("first", "first"),
    ]:
        content = render_variant(N.MILESTONE_ALERT, Tone.SUPPORTIVE_FRIEND, {"milestone": key}, variant=0)
        assert label in content.body.casefold(), content.body
    pct100 = render_variant(N.MILESTONE_ALERT, Tone.MINIMALIST, {"milestone": "pct100"}, variant=0)
    assert pct100.title == "Plan Complete"


def test_kickoff_names_the_start_day() -> None:
    content = render_variant(N.KICKOFF_PRIMER, Tone.MINIMALIST, FULL[N.KICKOFF_PRIMER], variant=1)
    assert content.body == "First session: Monday, Mar 9."


def test_over_long_values_drop_their_clause_before_anything_is_cut() -> None:
    facts = {**SESSION_FULL, "session_focus": "Long Loaded Ruck With Hills"}
    content = render_variant(N.EVENING_BRIEF, Tone.SUPPORTIVE_FRIEND, facts, variant=0)
    # Only one of the two optional clauses still fits: the longer (more informative) one stays.
    assert content.body == (
        "Tomorrow's Long Loaded Ruck With Hills is all set (8 km, 90 min, 20 kg). "
        "Lay out your gear tonight and rest easy."
    )


def test_a_60_char_session_focus_is_never_truncated() -> None:
    facts = {**EXTREME_SESSION, "session_focus": LONG_FOCUS + "!"}
    for tone, ntype, state, index in VARIANTS:
        if ntype in (N.KICKOFF_PRIMER, N.WEEKLY_DIGEST, N.MILESTONE_ALERT):
            continue
        for metric in (True, False):
            content = render_variant(ntype, tone, with_state(facts, state), variant=index, prefer_metric=metric)
            assert_clean(content)  # includes no "Stairs!." where the template closes the sentence
            assert "…" not in content.body, content.body
            if ntype in (N.EVENING_BRIEF, N.MORNING_HYPE):  # every variant of these names the session
                assert LONG_FOCUS in content.body, content.body


def test_truncation_cuts_at_a_word_boundary() -> None:
    text = "Tomorrow at 06:30 the extraordinarily long session continues until everyone is exhausted"
    cut = truncate(text, 40)
    assert len(cut) <= 40 and cut.endswith("…")
    assert text.startswith(cut[:-1])
    assert text[len(cut) - 1] == " "  # the cut fell on a space
    assert truncate("x" * 200, 50) == "x" * 49 + "…"
    assert truncate("short", 50) == "short"


def test_a_huge_single_word_is_cut_to_the_limit() -> None:
    facts = {"session_focus": "Z" * 500, "missed_state": "first_miss"}
    for tone in Tone:
        for index in range(variant_count(N.MISSED_FOLLOWUP, tone, "first_miss")):
            assert_within_limits(render_variant(N.MISSED_FOLLOWUP, tone, facts, variant=index))


# --- adaptive copy ------------------------------------------------------------------------------------------

SITUATION_FACTS: dict[str, dict[str, str]] = {
    "early_start": {"start_time": "05:10"},
    "comeback": {"recent_misses": "2"},
    "last_week": {"planned_week": "8", "plan_weeks": "8"},
    "first_week": {"planned_week": "1", "plan_weeks": "8"},
    "streak": {"streak": "5"},
    "weekend": {"weekday": "Saturday", "session_date": "2026-03-14"},
}
SITUATION_TYPES: dict[str, list[NotificationType]] = {
    "early_start": [N.EVENING_BRIEF],
    "comeback": [N.EVENING_BRIEF, N.MORNING_HYPE, N.COMPLETION_CELEBRATION],
    "last_week": [N.EVENING_BRIEF, N.MORNING_HYPE, N.COMPLETION_CELEBRATION],
    "first_week": [N.EVENING_BRIEF, N.MORNING_HYPE],
    "streak": [N.EVENING_BRIEF, N.MORNING_HYPE, N.COMPLETION_CELEBRATION],
    "weekend": [N.EVENING_BRIEF, N.MORNING_HYPE],
}
ADAPTIVE_ALL = {
    **SESSION_FULL,
    "start_time": "05:10",
    "recent_misses": "1",
    "streak": "4",
    "plan_weeks": "3",
    "weather": "14°C, light rain likely",
    "week_completed": "2",
    "week_planned": "4",
}


def base_facts(ntype: NotificationType) -> dict[str, str]:
    return dict(FULL[ntype]) if ntype is N.COMPLETION_CELEBRATION else dict(SESSION_PLAIN)


@pytest.mark.parametrize("situation", sorted(SITUATION_FACTS))
def test_adaptive_copy_appears_when_its_facts_are_present(situation: str) -> None:
    for ntype in SITUATION_TYPES[situation]:
        bodies = set()
        for tone in Tone:
            plain = render(ntype, tone, base_facts(ntype), notification_id="p1:x:s1")
            adaptive = render(
                ntype, tone, {**base_facts(ntype), **SITUATION_FACTS[situation]}, notification_id="p1:x:s1"
            )
            assert_clean(adaptive)
            assert adaptive.template_key == f"{ntype.value}:{tone.value}:{situation}", adaptive.template_key
            assert not plain.template_key.endswith(situation)
            assert adaptive.body != plain.body
            if ntype is not N.COMPLETION_CELEBRATION:
                assert "Tempo Ruck" in adaptive.body, adaptive.body  # the lead still names the session
            if situation == "streak":
                assert "5" in adaptive.title + adaptive.body, adaptive
            bodies.add(adaptive.body)
        assert len(bodies) == len(Tone), bodies  # every tone says it in its own words


def test_early_morning_brief_says_lay_out_gear_and_sleep_early() -> None:
    for tone in Tone:
        for clock_24h in (True, False):
            facts = {**SESSION_PLAIN, "start_time": "05:10"}
            content = render(N.EVENING_BRIEF, tone, facts, notification_id="p1:b:s2", clock_24h=clock_24h)
            lower = content.body.casefold()
            assert "gear" in lower and ("sleep" in lower or "bed" in lower), content.body
            assert ("05:10" if clock_24h else "5:10 AM") in content.body, content.body


def test_adaptive_situations_apply_only_where_they_make_sense() -> None:
    early = render_variant(N.MORNING_HYPE, Tone.DRILL_SERGEANT, {**SESSION_PLAIN, "start_time": "05:10"}, variant=0)
    assert early.template_key.endswith(":v1")  # an early start changes the evening brief, not the hype
    weekend = {**FULL[N.COMPLETION_CELEBRATION], "weekday": "Sunday"}
    assert render_variant(N.COMPLETION_CELEBRATION, Tone.MINIMALIST, weekend, variant=2).template_key.endswith(":v3")
    for state in MISSED_STATES:  # the escalation state of a missed push is no comeback
        facts = {**SESSION_PLAIN, "missed_state": state, "streak": "9", "recent_misses": "3"}
        assert render_variant(N.MISSED_FOLLOWUP, Tone.NATURE_LOVER, facts, variant=0).template_key.endswith(":v1")
    for tone in Tone:
        for ntype in (N.KICKOFF_PRIMER, N.WEEKLY_DIGEST, N.MILESTONE_ALERT):
            content = render_variant(ntype, tone, {**FULL[ntype], **ADAPTIVE_ALL}, variant=1)
            assert content.template_key.endswith(":v2"), content.template_key


@pytest.mark.parametrize(
    ("extra", "situation"),
    [
        ({"start_time": "06:59", "planned_week": "1"}, "early_start"),  # early start beats everything
        ({"start_time": "07:00", "planned_week": "1"}, "first_week"),  # 07:00 is not early
        ({"missed_state": "repeated_miss", "streak": "4"}, "comeback"),
        ({"missed_state": "plan_at_risk"}, "comeback"),
        ({"missed_state": "first_miss"}, None),
        ({"recent_misses": "0"}, None),
        ({"planned_week": "1", "plan_weeks": "1"}, "first_week"),  # a one-week plan: not a "final week" on day one
        ({"planned_week": "2", "plan_weeks": "2"}, "last_week"),
        ({"planned_week": "7", "plan_weeks": "8"}, None),
        ({"streak": "2"}, None),
        ({"streak": "3", "weekday": "Sunday"}, "streak"),
        ({"weekday": "", "session_date": "2026-03-15"}, "weekend"),  # a Sunday, from the date
    ],
)
def test_adaptive_triggers_and_priority(extra: dict[str, str], situation: str | None) -> None:
    content = render_variant(N.EVENING_BRIEF, Tone.SUPPORTIVE_FRIEND, {**SESSION_PLAIN, **extra}, variant=0)
    expected = f":{situation}" if situation else ":v1"
    assert content.template_key.endswith(expected), content.template_key


@pytest.mark.parametrize("case", VARIANTS, ids=variant_id)
def test_every_variant_stays_clean_with_adaptive_facts(case: tuple[Tone, NotificationType, str | None, int]) -> None:
    tone, ntype, state, index = case
    for facts in (ADAPTIVE_ALL, {**EXTREME_SESSION, **ADAPTIVE_ALL, "session_focus": LONG_FOCUS}):
        for metric in (True, False):
            for clock_24h in (True, False):
                content = render_variant(
                    ntype, tone, with_state(facts, state), variant=index, prefer_metric=metric, clock_24h=clock_24h
                )
                assert_clean(content)


def test_adaptive_copy_holds_the_limits_when_the_session_name_is_huge() -> None:
    facts = {**SESSION_PLAIN, "start_time": "05:10", "session_focus": LONG_FOCUS + " " + LONG_FOCUS}
    for tone in Tone:
        content = render_variant(N.EVENING_BRIEF, tone, facts, variant=0)
        assert_clean(content)
        # The lead gives way ("Session tomorrow."), never the advice, and nothing is cut mid-sentence.
        assert content.template_key.endswith(":early_start")
        assert "…" not in content.body and "gear" in content.body.casefold(), content.body


def test_weather_and_week_so_far_close_briefs_and_hypes() -> None:
    weather = {**SESSION_REQUIRED, "weather": "14°C, light rain likely."}
    week = {**SESSION_REQUIRED, "week_completed": "2", "week_planned": "4"}
    both = {**weather, **week}
    for tone in Tone:
        with_both = 0
        for ntype in (N.EVENING_BRIEF, N.MORNING_HYPE):
            for index in range(3):
                content = render_variant(ntype, tone, weather, variant=index)
                assert_clean(content)
                assert content.body.endswith("14°C, light rain likely.") or content.body.endswith("likely!"), content
                assert "2/4" in render_variant(ntype, tone, week, variant=index).body
                combined = render_variant(ntype, tone, both, variant=index).body
                assert "14°C, light rain likely" in combined, combined  # the forecast outranks the tally
                with_both += "2/4" in combined
        assert with_both >= 1, tone  # short bodies have room for both
        celebration = render_variant(
            N.COMPLETION_CELEBRATION, tone, {**FULL[N.COMPLETION_CELEBRATION], **both}, variant=0
        )
        assert "rain" not in celebration.body and "2/4" not in celebration.body


@pytest.mark.parametrize(
    "extra",
    [
        {"weather": "None"},
        {"weather": "x" * 41},
        {"week_completed": "5", "week_planned": "4"},
        {"week_completed": "1", "week_planned": "0"},
        {"week_completed": "abc", "week_planned": "4"},
    ],
)
def test_bad_weather_and_week_facts_are_left_out(extra: dict[str, str]) -> None:
    plain = render_variant(N.EVENING_BRIEF, Tone.DRILL_SERGEANT, SESSION_REQUIRED, variant=0)
    assert render_variant(N.EVENING_BRIEF, Tone.DRILL_SERGEANT, {**SESSION_REQUIRED, **extra}, variant=0) == plain


# --- clock format -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "h24", "h12"),
    [
        ("17:10", "17:10", "5:10 PM"),
        ("07:05", "07:05", "7:05 AM"),
        ("7:05", "07:05", "7:05 AM"),
        ("00:05", "00:05", "12:05 AM"),
        ("12:00", "12:00", "12:00 PM"),
    ],
)
def test_start_time_follows_the_athletes_clock(start: str, h24: str, h12: str) -> None:
    facts = {**SESSION_PLAIN, "start_time": start}
    shown = 0
    for tone in Tone:
        for ntype in (N.EVENING_BRIEF, N.MORNING_HYPE):
            for index in range(3):
                as_24 = render_variant(ntype, tone, facts, variant=index, clock_24h=True).body
                as_12 = render_variant(ntype, tone, facts, variant=index, clock_24h=False).body
                assert "AM" not in as_24 and "PM" not in as_24, as_24
                # The same clause in either clock (a longer 12-hour label may only drop its clause).
                assert h24 in as_24 or h12 not in as_12, (as_24, as_12)
                shown += h12 in as_12
    assert shown >= len(Tone) * 3, shown
    if start.zfill(5) < "07:00":
        return  # an early start gets the adaptive brief instead of the spec variant
    body = brief_spec(facts, metric=True)
    assert f"at {h24}." in body
    assert f"at {h12}." in render_variant(N.EVENING_BRIEF, Tone.SESSION_ANALYST, facts, variant=1, clock_24h=False).body
