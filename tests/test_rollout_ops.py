"""Operating the rollout: ``coach rollout`` (bounds exit 2 naming the option, changes audited and shown), the HTTP
endpoints (service token, 422 naming the field), and ``coach rollout compare`` against legacy rows in RuckTracker's
shape (``plan_notification_audit``) across zones."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import text

from activities.database import make_engine, make_sessionmaker
from activities.db import NotificationLedgerEntry
from activities.migrate import upgrade_database
from activities.rollout import RolloutStore
from activities.rollout_compare import CompareError, compare, format_report
from activities.store import Store
from tests.test_cli import coach

TOKEN = "rollout-test-service-token-0123456789"


# ---- the CLI ----------------------------------------------------------------------------------------------------


@pytest.fixture
async def cli_db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    await upgrade_database(url)
    return url


async def test_the_cli_changes_flags_with_who_and_why_and_show_lists_them(cli_db: str) -> None:
    env = {"COACH_DATABASE_URL": cli_db, "USER": "dana"}
    a = str(uuid.uuid4())
    done = coach(
        "rollout", "set", "--default-mode", "shadow", "--percent", "5", "--allow-add", a,
        "--type-mode", "plan_missed_followup=shadow", "--reason", "start the shadow period", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert coach("rollout", "kill", "--reason", "incident 42", "--actor", "erin", env=env).returncode == 0
    shown = coach("rollout", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert state["flags"]["kill_switch"] is True and state["flags"]["default_mode"] == "shadow"
    assert state["flags"]["allow"] == [a] and state["flags"]["type_modes"] == {"plan_missed_followup": "shadow"}
    latest = state["changes"][0]
    assert (latest["key"], latest["old"], latest["new"], latest["actor"], latest["reason"]) == (
        "kill_switch", None, True, "erin", "incident 42",
    )  # fmt: skip
    assert {c["actor"] for c in state["changes"][1:]} == {"dana"} and len(state["changes"]) == 5
    table = coach("rollout", "show", env=env).stdout
    assert "erin: kill_switch (default) -> true" in table and "why: incident 42" in table
    assert coach("rollout", "unkill", "--reason", "resolved", env=env).returncode == 0
    assert (await RolloutStore(_sessionmaker(cli_db)).load()).kill_switch is False


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["set", "--percent", "100.5", "--reason", "r"], "--percent"),
        (["set", "--percent", "1.234", "--reason", "r"], "--percent"),
        (["set", "--default-mode", "loud", "--reason", "r"], "--default-mode"),
        (["set", "--allow-add", "not-a-user", "--reason", "r"], "--allow-add"),
        (["set", "--type-mode", "plan_nope=live", "--reason", "r"], "--type-mode"),
        (["set", "--type-mode", "plan_weekly_digest=loud", "--reason", "r"], "--type-mode"),
        (["set", "--reason", "r"], "nothing to change"),
        (["set", "--percent", "5", "--reason", ""], "--reason"),
        (["set", "--percent", "5", "--reason", "x" * 501], "--reason"),
        (["kill", "--reason", "r", "--actor", "a" * 101], "--actor"),
        (["kill"], "--reason"),
        (["show", "--history", "501"], "--history"),
        (["compare", "--since", "yesterday", "--until", "2031-01-02T00:00:00+00:00"], "--since"),
        (["compare", "--since", "2031-01-02T00:00:00", "--until", "2031-01-03T00:00:00+00:00"], "--since"),
        (["compare", "--since", "2031-01-02T00:00:00+00:00", "--until", "2031-01-01T00:00:00+00:00"], "--until"),
        (["compare", "--since", "2031-01-01T00:00:00+00:00", "--until", "2031-06-01T00:00:00+00:00"], "--until"),
    ],
)
async def test_cli_bounds_exit_2_naming_the_option_and_change_nothing(cli_db: str, args: list[str], says: str) -> None:
    done = coach("rollout", *args, env={"COACH_DATABASE_URL": cli_db, "USER": "dana"})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert await RolloutStore(_sessionmaker(cli_db)).history() == []


def _sessionmaker(url: str) -> Any:
    return make_sessionmaker(make_engine(url))


# ---- the HTTP API -----------------------------------------------------------------------------------------------


@pytest.fixture
async def http(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    from starter.api import create_app

    app = create_app(cast(Any, None), service_token=TOKEN, store=store)  # the rollout routes use no Temporal client
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as client:
        yield client


@pytest.mark.parametrize("schema", ["sqlite"])
async def test_the_api_changes_flags_audited_and_refuses_bad_input_naming_the_field(
    http: httpx.AsyncClient, store: Store
) -> None:
    assert (
        await http.get("/v1/rollout", headers={"Authorization": "Bearer wrong-token-wrong-token"})
    ).status_code == 401
    body = (await http.get("/v1/rollout")).json()
    assert body["flags"]["default_mode"] == "live" and body["stored"] == [] and body["changes"] == []

    changed = await http.put(
        "/v1/rollout", json={"actor": "fay", "reason": "1 % live", "default_mode": "shadow", "percent": 1}
    )
    assert changed.status_code == 200, changed.text
    assert {c["key"] for c in changed.json()["changed"]} == {"default_mode", "percent"}
    killed = await http.post("/v1/rollout/kill", json={"actor": "gil", "reason": "burst"})
    assert killed.status_code == 200 and killed.json()["state"]["flags"]["kill_switch"] is True
    assert (await RolloutStore(store.sessionmaker).load()).kill_switch
    again = await http.post("/v1/rollout/kill", json={"actor": "gil", "reason": "burst"})
    assert again.json()["changed"] == []  # already on: nothing recorded
    unkilled = await http.post("/v1/rollout/unkill", json={"actor": "gil", "reason": "ok"})
    assert unkilled.json()["changed"][0]["old"] is True and unkilled.json()["changed"][0]["new"] is False
    history = (await http.get("/v1/rollout", params={"history": 2})).json()["changes"]
    assert [(c["key"], c["actor"], c["reason"]) for c in history] == [
        ("kill_switch", "gil", "ok"),
        ("kill_switch", "gil", "burst"),
    ]

    for payload, field in (
        ({"actor": "a", "reason": "r", "percent": 100.01}, "percent"),
        ({"actor": "a", "reason": "r", "percent": 2.345}, "percent"),
        ({"actor": "a", "reason": "r", "default_mode": "loud"}, "default_mode"),
        ({"actor": "a", "reason": "r", "allow": ["nope"]}, "allow"),
        ({"actor": "a", "reason": "r", "deny": ["x" * 37]}, "deny"),
        ({"actor": "a", "reason": "r", "type_modes": {"plan_nope": "live"}}, "type_modes"),
        ({"actor": "a", "reason": "r", "surprise": 1}, "surprise"),
        ({"actor": "a", "reason": "r"}, "body"),
        ({"actor": "", "reason": "r", "percent": 2}, "actor"),
        ({"actor": "a", "reason": "r" * 501, "percent": 2}, "reason"),
        ({"reason": "r", "percent": 2}, "actor"),
    ):
        refused = await http.put("/v1/rollout", json=payload)
        assert refused.status_code == 422, (payload, refused.text)
        fields = [f["field"] for f in refused.json()["error"]["fields"]]
        assert any(field in f for f in fields), (payload, fields)
    assert (await http.post("/v1/rollout/kill", json={"actor": "a"})).status_code == 422
    assert (await http.get("/v1/rollout", params={"history": 501})).status_code == 422
    assert len(await RolloutStore(store.sessionmaker).history(100)) == 4  # the refusals recorded nothing


# ---- compare against the legacy audit table ----------------------------------------------------------------------

GUS = "aaaaaaaa-0000-4000-8000-000000000001"  # "user" zone UTC, plan 9001 in America/New_York: New York days
PRIYA = "bbbbbbbb-0000-4000-8000-000000000002"  # Asia/Calcutta (+05:30)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _legacy(store: Store, rows: list[tuple[str, int, str, str, str]]) -> None:
    async with store.sessionmaker.begin() as session:
        for user_id, plan_id, type, sent_at, status in rows:
            await session.execute(
                text(
                    "INSERT INTO plan_notification_audit (user_id, user_coaching_plan_id, notification_type, "
                    "scheduled_for, sent_at, status) VALUES (:u, :p, :t, :s, :s, :st)"
                ),
                {"u": uuid.UUID(user_id), "p": plan_id, "t": type, "s": _at(sent_at), "st": status},
            )


async def _ours(store: Store, rows: list[tuple[str, int, str, str, str]]) -> None:
    async with store.sessionmaker.begin() as session:
        for user_id, plan_id, type, sent_at, status in rows:
            session.add(
                NotificationLedgerEntry(
                    notification_id=f"test:{uuid.uuid4().hex}",
                    user_id=user_id,
                    plan_id=plan_id,
                    notification_type=type,
                    local_date=date(2031, 1, 14),
                    status=status,
                    scheduled_for=_at(sent_at),
                    sent_at=_at(sent_at),
                    payload={"title": "t", "body": "b"},
                    copy_source="template",
                )
            )


@pytest.mark.parametrize("schema", [pytest.param("rucktracker", marks=[pytest.mark.postgres, pytest.mark.rucktracker])])
async def test_compare_lines_up_shadow_with_legacy_per_athlete_and_local_day(store: Store, database_url: str) -> None:
    await _legacy(
        store,
        [
            (GUS, 9001, "plan_evening_brief", "2031-01-15T01:07:00", "sent"),  # 20:07 on the 14th in New York
            (GUS, 9001, "plan_missed_followup", "2031-01-15T13:07:00", "sent"),  # the 15th; the service sent none
            (GUS, 9001, "plan_morning_hype", "2031-01-15T11:07:00", "cancelled"),  # not sent: ignored
            (PRIYA, 9003, "plan_evening_brief", "2031-01-15T19:00:00", "sent"),  # 00:30 on the 16th in India
            (GUS, 9001, "plan_evening_brief", "2031-02-20T01:07:00", "sent"),  # outside the window
        ],
    )
    await _ours(
        store,
        [
            (GUS, 9001, "plan_evening_brief", "2031-01-15T01:00:00", "shadow"),  # 7 minutes before the legacy one
            (GUS, 9001, "plan_morning_hype", "2031-01-15T11:00:00", "shadow"),  # the legacy one was cancelled
            (GUS, 9001, "plan_weekly_digest", "2031-01-15T12:00:00", "skipped"),  # not sent: ignored
            (PRIYA, 9003, "plan_evening_brief", "2031-01-15T18:20:00", "sent"),  # 23:50 on the 15th in India
        ],
    )
    report = await compare(store.sessionmaker, _at("2031-01-14T00:00:00"), _at("2031-01-17T00:00:00"))
    data = report.as_dict()
    days = {(d["user_id"], d["local_date"]): d for d in data["days"]}
    assert set(days) == {(GUS, "2031-01-14"), (GUS, "2031-01-15"), (PRIYA, "2031-01-15"), (PRIYA, "2031-01-16")}
    assert days[(GUS, "2031-01-14")]["timezone"] == "America/New_York"
    assert days[(GUS, "2031-01-14")]["types"] == {
        "plan_evening_brief": {"service": 1, "legacy": 1, "deltas_seconds": [-420.0]}
    }
    gus_15 = days[(GUS, "2031-01-15")]
    assert gus_15["types"]["plan_morning_hype"] == {"service": 1, "legacy": 0, "deltas_seconds": []}
    assert gus_15["types"]["plan_missed_followup"] == {"service": 0, "legacy": 1, "deltas_seconds": []}
    assert [s["type"] for s in gus_15["service_only"]] == ["plan_morning_hype"]
    assert gus_15["service_only"][0]["status"] == "shadow"
    assert [s["type"] for s in gus_15["legacy_only"]] == ["plan_missed_followup"]
    # India's midnight splits Priya's two briefs into two local days: each side sent one the other did not.
    assert days[(PRIYA, "2031-01-15")]["timezone"] == "Asia/Calcutta"
    assert [s["type"] for s in days[(PRIYA, "2031-01-15")]["service_only"]] == ["plan_evening_brief"]
    assert [s["type"] for s in days[(PRIYA, "2031-01-16")]["legacy_only"]] == ["plan_evening_brief"]
    totals = data["totals"]
    assert totals["matched"] == 1 and totals["service_only"] == 2 and totals["legacy_only"] == 2
    assert totals["service_by_type"] == {"plan_evening_brief": 2, "plan_morning_hype": 1}
    assert totals["legacy_by_type"] == {"plan_evening_brief": 2, "plan_missed_followup": 1}
    assert totals["median_delta_seconds"] == -420.0
    table = format_report(report)
    assert "plan_evening_brief" in table and "-7m00s" in table and "legacy only" in table

    # The same through the command line, as JSON and as a table.
    env = {"COACH_DATABASE_URL": database_url}
    window = ["--since", "2031-01-14T00:00:00+00:00", "--until", "2031-01-17T00:00:00+00:00"]
    done = coach("rollout", "compare", *window, "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"] == json.loads(json.dumps(totals))
    assert "Sent by one side only" in coach("rollout", "compare", *window, env=env).stdout


@pytest.mark.parametrize("schema", ["sqlite"])
async def test_compare_needs_the_legacy_table(store: Store) -> None:
    with pytest.raises(CompareError, match="plan_notification_audit"):
        await compare(store.sessionmaker, _at("2031-01-14T00:00:00"), _at("2031-01-15T00:00:00"))
