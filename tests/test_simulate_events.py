"""The simulator's athlete events (time zone, snooze, moved session, preferences, sessions changed, ruck history), its
per-notification output (due and sent time, session, missed_state, the rule), several scenarios at once, bad input,
and the `--html` picture rendered by headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from coaching.timeutil import to_local
from starter.scenario import ScenarioError, load_scenario
from starter.simulate import run_many
from starter.simulate_html import render_html
from starter.timeline import Timeline, TimelineEntry
from tests.chromium import dump_dom

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NEW_EXAMPLES = [
    "traveller_timezone",
    "snooze_and_move",
    "preferences_and_sessions",
    "learned_window_kathmandu",
    "plan_completed_early",
]


@pytest.fixture(scope="module")
async def timelines() -> dict[str, Timeline]:
    """Every example above, run side by side as `coach simulate` does (two at a time)."""
    results = await run_many([EXAMPLES / f"{name}.json" for name in NEW_EXAMPLES], jobs=2)
    out: dict[str, Timeline] = {}
    for path, result in results:
        assert isinstance(result, Timeline), f"{path}: {result!r}"
        out[path.stem] = result
    return out


def _sent(timeline: Timeline, ntype: str) -> list[TimelineEntry]:
    return [e for e in timeline.entries if e.status == "sent" and e.type == ntype]


def _clock(entry: TimelineEntry) -> str:
    """The local time the rules chose for a sent notification (its due time).

    The rules are what these tests are about. The sent time is the due time unless the push's attempt had to be
    tried again: on a loaded CI machine one was once sent 14 minutes late (most likely an attempt retried after
    back-off while time was skipped), which says nothing about the rules. That a sent notification never goes out
    before its due time is checked on its own.
    """
    assert entry.sent_at is not None and entry.due_at is not None and entry.timezone is not None
    assert entry.sent_at >= entry.due_at, f"{entry.notification_id} sent before it was due"
    return to_local(entry.due_at, entry.timezone).strftime("%a %H:%M %Z")


async def test_every_event_type_has_an_example() -> None:
    from typing import get_args

    from starter.scenario import EventType

    used = {e.type for p in EXAMPLES.glob("*.json") for e in load_scenario(p).events}
    assert used == set(get_args(EventType))
    assert any(load_scenario(p).ruck_history for p in EXAMPLES.glob("*.json"))


async def test_a_traveller_gets_reminders_on_the_new_wall_clock(timelines: dict[str, Timeline]) -> None:
    t = timelines["traveller_timezone"]
    briefs = [_clock(e) for e in _sent(t, "plan_evening_brief")]
    # 20:00 in New York before the move, 20:00 in London after it.
    assert briefs[0] == "Sun 20:00 EDT" and "Wed 20:00 BST" in briefs and "Fri 20:00 BST" in briefs
    assert [p.timezone for p in t.periods] == ["America/New_York", "Europe/London"]
    # The ruck that started Saturday 23:20 and ended after midnight counts for Saturday's session 3: celebrated,
    # and no missed follow-up for it.
    celebration = [e.session for e in _sent(t, "plan_completion_celebration")]
    assert celebration == [1, 2, 3]
    assert not [e for e in _sent(t, "plan_missed_followup") if e.session == 3]
    # The hype of the 23:15 session fell into quiet hours and could not go out in time: skipped, and why.
    hype = next(e for e in t.entries if e.type == "plan_morning_hype" and e.session == 3)
    assert hype.status == "skipped" and hype.rule and "quiet hours" in hype.rule
    assert hype.due_at is not None and to_local(hype.due_at, "Europe/London").strftime("%H:%M") == "22:15"


async def test_snoozes_hold_reminders_and_a_moved_session_moves_them(timelines: dict[str, Timeline]) -> None:
    t = timelines["snooze_and_move"]
    first, second = t.snoozes
    # A duration counts from when the workflow takes the snooze (a moment after the event).
    assert timedelta(days=1) <= first.end - first.start < timedelta(days=1, minutes=1)
    # The day-long snooze held the first session's brief and hype past their use: skipped, the rule says why.
    held = [e for e in t.entries if e.session == 1 and e.type in ("plan_evening_brief", "plan_morning_hype")]
    assert {e.status for e in held} == {"skipped"} and all("snoozed" in (e.rule or "") for e in held)
    # The second snooze (to 20:00) was cancelled at 14:00, so the moved session's hype went out at 17:30.
    assert second.end == second.start + timedelta(hours=4)
    hype = next(e for e in _sent(t, "plan_morning_hype") if e.session == 2)
    assert _clock(hype) == "Fri 17:30 IST" and hype.rule and "the time you set for this session" in hype.rule
    moved = next(s for s in t.sessions if s.number == 2)
    assert (str(moved.date), moved.start_time, moved.fixed) == ("2027-02-05", "18:30", True) or t.shifted_by_weeks
    # The explicit match: ruck 77 is celebrated as session 2's.
    assert [e.session for e in _sent(t, "plan_completion_celebration")] == [2]
    assert [e.missed_state for e in _sent(t, "plan_missed_followup")] == ["first_miss", "first_miss"]


async def test_preferences_categories_and_changed_sessions(timelines: dict[str, Timeline]) -> None:
    t = timelines["preferences_and_sessions"]
    # Categories off: milestones and digests are recorded as skipped, never sent.
    assert not _sent(t, "plan_weekly_digest") and not _sent(t, "plan_milestone_alert")
    assert {e.status for e in t.entries if e.type == "plan_weekly_digest"} == {"skipped"}
    # The brief moved to 19:00, on both sides of the clocks going back (BST, then GMT).
    briefs = [_clock(e) for e in _sent(t, "plan_evening_brief")]
    assert briefs and all(" 19:00 " in b for b in briefs)
    assert any(b.endswith("BST") for b in briefs) and any(b.endswith("GMT") for b in briefs)
    # Skipped sessions (2 from the start, 4 by the coach's change) get nothing; the added 5 and 6 do.
    sessions = {e.session for e in t.entries}
    assert 2 not in sessions and 4 not in sessions and {5, 6} <= sessions
    assert {s.number: s.status for s in t.sessions}[4] == "skipped"
    # A second miss in a row is a repeated miss.
    assert [e.missed_state for e in _sent(t, "plan_missed_followup")] == ["first_miss", "repeated_miss"]


async def test_ruck_history_drives_the_times_then_pause_and_cancel(timelines: dict[str, Timeline]) -> None:
    t = timelines["learned_window_kathmandu"]
    hypes = [e for e in t.entries if e.type == "plan_morning_hype"]
    # 05:10 rucks before the plan: the hype an hour before the window opens (04:55), not before a 07:00 default.
    first = hypes[0]
    assert first.status == "sent" and _clock(first).startswith("Wed 03:55")
    assert first.rule and "usual" in first.rule and "05:10" in first.rule
    # Paused from Thursday noon to Saturday noon: Friday's session's reminders are skipped.
    assert {e.status for e in t.entries if e.session == 2} == {"skipped"}
    # Cancelled on the 13th: nothing is sent afterwards.
    cancel = next(ev.at for ev in t.events if ev.type == "cancel")
    assert not [e for e in t.entries if e.status == "sent" and e.utc_time > cancel]


async def test_a_completed_plan_sends_nothing_more(timelines: dict[str, Timeline]) -> None:
    t = timelines["plan_completed_early"]
    complete = next(ev.at for ev in t.events if ev.type == "complete")
    assert not [e for e in t.entries if e.status == "sent" and e.utc_time > complete]
    # Ruck 2 (an explicit match a day early) is session 2's; the daily cap of 2 did not hold back the celebration.
    assert [e.session for e in _sent(t, "plan_completion_celebration")] == [1, 2]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.update(until="2027-02-05T18:00:00+05:30"), "until"),
        (lambda s: s["events"].append({"at": "2027-02-05T12:00:00+05:30", "type": "move_session"}), "session"),
        (lambda s: s["events"].append({"at": "2027-02-05T12:00:00+05:30", "type": "snooze"}), "until"),
        (
            lambda s: s["events"].append(
                {"at": "2027-02-05T12:00:00+05:30", "type": "move_session", "session": 9, "date": "2027-02-06"}
            ),
            "events.5.session",
        ),
        (
            lambda s: s["events"].append({"at": "2027-02-05T12:00:00+05:30", "type": "change_timezone"}),
            "timezone",
        ),
        (
            lambda s: s["events"].append(
                {"at": "2027-02-05T12:00:00+05:30", "type": "change_timezone", "timezone": "Mars/Base"}
            ),
            "events.5.timezone",
        ),
        (lambda s: s.update(ruck_history=[{"start_time": "05:00"}]), "ruck_history.0.start_time"),
    ],
)
def test_bad_events_name_the_field(tmp_path: Path, mutate: object, field: str) -> None:
    data = json.loads((EXAMPLES / "snooze_and_move.json").read_text())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=re.escape(field)):
        load_scenario(path)


def test_until_before_the_last_event_is_an_error(tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "snooze_and_move.json").read_text())
    data["until"] = "2027-02-05T19:00:00+05:30"  # before the 19:40 completion
    path = tmp_path / "short.json"
    path.write_text(json.dumps(data))
    result = subprocess.run(
        [sys.executable, "-m", "starter.cli", "simulate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "until" in result.stderr and "before the last event (session_completed" in result.stderr


def test_several_scenarios_run_and_one_bad_file_fails_the_command(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "plan_completed_early.json", tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"athlete": {}}')
    html_dir = tmp_path / "pictures"
    result = subprocess.run(
        [sys.executable, "-m", "starter.cli", "simulate", str(tmp_path), "--json", "--html", str(html_dir)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    # The good one still ran and printed; the bad one is named; the exit code says something failed.
    assert result.returncode == 2, result.stderr
    assert "b.json" in result.stderr and "1 of 2 scenario(s) failed" in result.stderr
    [timeline] = json.loads(result.stdout)
    assert timeline["scenario"].endswith("a.json") and timeline["entries"]
    assert (html_dir / "a.html").is_file() and not (html_dir / "b.html").exists()


# --- the picture -----------------------------------------------------------------------------------------------


def test_the_picture_is_self_contained_and_draws_every_notification(timelines: dict[str, Timeline]) -> None:
    t = timelines["snooze_and_move"]
    page = render_html(t, "snooze_and_move")
    # Nothing fetched: no external script, stylesheet, font or image.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "@import" not in page
    assert page.count('class="marker ') == len(t.entries)
    assert page.count('class="marker skipped"') == sum(e.status == "skipped" for e in t.entries)
    assert page.count('class="snooze"') >= 2 and 'class="quiet"' in page and 'class="session"' in page
    # Hovering shows title, body and the rule.
    hype = next(e for e in t.entries if e.type == "plan_morning_hype" and e.status == "sent")
    assert hype.title and hype.rule and f"rule: {hype.rule}" in page.replace("&#x27;", "'")
    dst = render_html(timelines["preferences_and_sessions"], "dst")
    assert 'class="dst"' in dst and "BST → GMT" in dst
    travel = render_html(timelines["traveller_timezone"], "travel")
    assert 'class="zone"' in travel and "America/New_York → Europe/London" in travel


def test_the_picture_renders_in_headless_chromium(timelines: dict[str, Timeline], tmp_path: Path) -> None:
    t = timelines["traveller_timezone"]
    page = tmp_path / "plan.html"
    page.write_text(render_html(t, "traveller"), encoding="utf-8")
    dom, console = dump_dom(page, tmp_path / "profile")
    # The page's script ran (it counts the markers into the body) and the browser drew every marker.
    assert f'data-rendered="{len(t.entries)}"' in dom
    assert dom.count('class="marker ') == len(t.entries)
    # Chromium logs the page's console messages and uncaught errors: none.
    assert not console, console
