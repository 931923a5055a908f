"""`coach simulate` and the scenario contract: the committed schema, the examples, the timeline, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from coaching.timeutil import to_local
from starter.scenario import Scenario, ScenarioError, _moved, load_scenario, scenario_json_schema, shifted
from starter.simulate import run_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
SCHEMA = json.loads((ROOT / "schemas" / "scenario.schema.json").read_text())


def test_committed_schema_matches_the_model() -> None:
    assert SCHEMA == json.loads(json.dumps(scenario_json_schema(), sort_keys=True))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_follow_the_schema(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    load_scenario(path)


@pytest.mark.parametrize("weeks_back", [0, 53], ids=["as-written", "a-year-earlier"])
async def test_early_rucker_timeline(weeks_back: int) -> None:
    scenario = load_scenario(ROOT / "examples" / "early_rucker_dst.json")
    # 53 weeks earlier is the 2026 spring-forward weekend, in the past: the simulator must shift it forward by
    # about a year and land on a spring-forward weekend again (as it will do for the example itself after 2027).
    scenario = _moved(scenario, -weeks_back)
    timeline = await run_scenario(scenario)
    assert timeline.dst_aligned
    if weeks_back:
        assert timeline.shifted_by_weeks >= weeks_back
    sent = [e for e in timeline.entries if e.status == "sent"]
    kinds = [e.type for e in sent]
    # The ruck reported twice is celebrated once; the missed Hill Ruck gets one follow-up.
    assert kinds.count("plan_completion_celebration") == 2
    assert kinds.count("plan_missed_followup") == 1
    # Briefs ten hours of sleep before a 05:30 session (the usual brief time is 20:30): 19:30, and 18:30 on the
    # spring-forward eve, whose night is an hour shorter (RULES_V2: elapsed time, not wall-clock minutes).
    briefs = [e.local_time for e in sent if e.type == "plan_evening_brief"]
    assert briefs and all((" 18:30 " if t.startswith("Sat") else " 19:30 ") in t for t in briefs), briefs
    assert any(t.startswith("Sat") for t in briefs)
    assert any(t.endswith("EST") for t in briefs) and any(t.endswith("EDT") for t in briefs)
    assert all(e.title and e.body and len(e.title) <= 50 and len(e.body) <= 120 for e in sent)
    # Imperial units for this athlete.
    celebration = next(e for e in sent if e.type == "plan_completion_celebration")
    assert celebration.body and " mi" in celebration.body


def test_cli_prints_the_timeline_as_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "starter.cli",
            "simulate",
            str(ROOT / "examples" / "late_signup_kathmandu.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    timeline = json.loads(out.stdout)
    assert timeline["timezone"] == "Asia/Kathmandu"
    # The scenario is shifted by whole weeks once its dates are past.
    day = (date(2027, 1, 4) + timedelta(weeks=timeline["shifted_by_weeks"])).isoformat()
    first_day = [e for e in timeline["entries"] if f":{day}" in e["notification_id"]]
    statuses = {e["type"]: e["status"] for e in first_day}
    assert statuses.get("plan_kickoff_primer") == "sent"
    # The kickoff names the scenario's plan, not the demo template.
    kickoff = next(e for e in first_day if e["type"] == "plan_kickoff_primer")
    assert "Daily Discipline Streak" in kickoff["body"]
    assert "plan_missed_followup" not in statuses  # the session was over before the athlete joined
    assert all(e["status"] != "sent" for e in first_day if e["type"] in ("plan_evening_brief", "plan_morning_hype"))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s["athlete"].update(timezone="Mars/Olympus"), "athlete.timezone"),
        (lambda s: s["athlete"].update(quiet_hours={"start": "22:00", "end": "22:00"}), "athlete.quiet_hours.end"),
        (lambda s: s["plan"].update(created_at="2027-01-04T23:00:00"), "plan.created_at"),
        (lambda s: s["plan"].update(sessions=[]), "plan.sessions"),
        (lambda s: s["events"].append({"at": "2027-01-05T08:00:00Z", "type": "explode"}), "events.3.type"),
        (lambda s: s["events"][0].pop("ruck_id"), "events.0.ruck_id"),
        (lambda s: s["events"][1].update(at="2027-01-04T12:00:00+05:45"), "events.1.at"),
        (lambda s: s.update(until="2027-01-04T22:00:00+05:45"), "until"),
    ],
)
def test_bad_scenarios_name_the_field(tmp_path: Path, mutate: object, field: str) -> None:
    data = json.loads((ROOT / "examples" / "late_signup_kathmandu.json").read_text())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        load_scenario(path)
    result = subprocess.run(
        [sys.executable, "-m", "starter.cli", "simulate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and field in result.stderr and "Traceback" not in result.stderr


def test_unreadable_scenarios_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"description": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(latin1)
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(ScenarioError, match="the scenario must be a JSON object, not an array"):
        load_scenario(array)


# --- shifting a past scenario ------------------------------------------------------------------------------


def _spring_forward_2026() -> Scenario:
    """New York, around 2026-03-08 (spring forward): a session the day before, one that morning, one after."""
    return Scenario.model_validate(
        {
            "athlete": {"timezone": "America/New_York"},
            "plan": {
                "created_at": "2026-03-05T19:00:00-05:00",
                "sessions": [
                    {"date": "2026-03-07", "start_time": "05:30"},
                    {"date": "2026-03-08", "start_time": "05:30"},
                    {"date": "2026-03-10", "start_time": "05:30"},
                ],
            },
            "events": [
                {"at": "2026-03-07T06:40:00-05:00", "type": "session_completed", "ruck_id": 1},
                {"at": "2026-03-10T06:50:00-04:00", "type": "session_completed", "ruck_id": 2},
            ],
            "until": "2026-03-16T12:00:00-04:00",
        }
    )


def _local(instant: datetime) -> str:
    return to_local(instant, "America/New_York").strftime("%a %H:%M %Z")


@pytest.mark.parametrize("year", [2027, 2028, 2031])
def test_shift_keeps_wall_times_and_dst_sides(year: int) -> None:
    scenario = _spring_forward_2026()
    not_before = datetime(year, 1, 1, tzinfo=UTC)
    moved, weeks, aligned = shifted(scenario, not_before)
    assert aligned and weeks > 0 and moved.plan.created_at >= not_before
    assert moved.plan.created_at.year == year  # about a year per 52 weeks, not more
    # Every time keeps its weekday, local clock time and UTC offset (EST before the transition, EDT after).
    assert _local(moved.plan.created_at) == "Thu 19:00 EST"
    assert [_local(e.at) for e in moved.events] == ["Sat 06:40 EST", "Tue 06:50 EDT"]
    assert moved.until is not None and _local(moved.until) == "Mon 12:00 EDT"
    assert [s.date.weekday() for s in moved.plan.sessions] == [5, 6, 1]
    # The Sunday session is on the spring-forward day again: 05:30 EDT, the day before at 05:30 EST.
    sunday = moved.plan.sessions[1].date
    assert to_local(datetime(sunday.year, sunday.month, sunday.day, 12, tzinfo=UTC), "America/New_York").dst()
    saturday = moved.plan.sessions[0].date
    assert not to_local(datetime(saturday.year, saturday.month, saturday.day, 12, tzinfo=UTC), "America/New_York").dst()


def test_a_shift_moves_local_wall_times_not_instants() -> None:
    scenario = _spring_forward_2026()
    # Three weeks would be enough, but would put everything after spring-forward: 53 weeks keeps the sides.
    moved, weeks, aligned = shifted(scenario, datetime(2026, 3, 20, tzinfo=UTC))
    assert (weeks, aligned) == (53, True)
    # The plain three-week move (the fallback) keeps local clock times, not instants: 06:40 EST becomes 06:40 EDT.
    three_weeks = _moved(scenario, 3)
    assert [_local(e.at) for e in three_weeks.events] == ["Sat 06:40 EDT", "Tue 06:50 EDT"]
    assert _local(three_weeks.plan.created_at) == "Thu 19:00 EDT"
    assert three_weeks.events[0].at - scenario.events[0].at == timedelta(weeks=3, hours=-1)


def test_a_scenario_in_the_future_is_not_shifted() -> None:
    scenario = _spring_forward_2026()
    assert shifted(scenario, datetime(2026, 3, 1, tzinfo=UTC)) == (scenario, 0, True)
