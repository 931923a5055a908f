"""`coach simulate` and the scenario contract: the committed schema, the examples, the timeline, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from starter.simulate import ScenarioError, load_scenario, run_scenario, scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
SCHEMA = json.loads((ROOT / "schemas" / "scenario.schema.json").read_text())


def test_committed_schema_matches_the_model() -> None:
    assert SCHEMA == json.loads(json.dumps(scenario_json_schema(), sort_keys=True))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_follow_the_schema(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    load_scenario(path)


async def test_early_rucker_timeline() -> None:
    timeline = await run_scenario(load_scenario(ROOT / "examples" / "early_rucker_dst.json"))
    sent = [e for e in timeline.entries if e.status == "sent"]
    kinds = [e.type for e in sent]
    # The ruck reported twice is celebrated once; the missed Hill Ruck gets one follow-up.
    assert kinds.count("plan_completion_celebration") == 2
    assert kinds.count("plan_missed_followup") == 1
    # Briefs at 19:30 (a 05:30 session with a 20:30 usual brief time, ten hours' sleep), across spring-forward.
    briefs = [e.local_time for e in sent if e.type == "plan_evening_brief"]
    assert briefs and all(" 19:30 " in t for t in briefs)
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
    first_day = [
        e
        for e in timeline["entries"]
        if e["notification_id"].endswith(":2027-01-04") or ":2027-01-04" in e["notification_id"]
    ]
    statuses = {e["type"]: e["status"] for e in first_day}
    assert statuses.get("plan_kickoff_primer") == "sent"
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
