"""The athlete endpoints and the effectiveness report over real HTTP, in front of a real local stack (SQLite).

Athletes sign in with Supabase JWTs (HS256, shared secret); the tests mint them with PyJWT. The report is checked
against a hand-made ledger in a window of its own (2020), so notifications sent by the stack's workflows never
count in it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from activities.analytics_store import AnalyticsStore
from activities.db import AppUser, NotificationLedgerEntry, RuckSession
from activities.demo import create_demo_plan
from activities.store import Store
from starter.api import create_app
from starter.sandbox import Stack, local_stack, wait_for
from tests.test_api import NY, TOKEN, error_of, serving

SECRET = "test-jwt-secret-0123456789abcdef0123456789"
SERVICE = {"Authorization": f"Bearer {TOKEN}"}


def token(sub: str | None, *, secret: str = SECRET, expires_in: int = 3600, **claims: Any) -> str:
    payload = {"sub": sub, "exp": datetime.now(UTC) + timedelta(seconds=expires_in), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
async def stack(module_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(module_database_url) as s:
        yield s


@pytest.fixture(scope="module")
async def base_url(stack: Stack) -> AsyncIterator[str]:
    app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=SECRET)
    async with serving(app) as url:
        yield url


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


async def make_plan(
    stack: Stack, user_id: str | None = None, tone: str = "supportive_friend", status: str = "active"
) -> tuple[int, str]:
    """A demo plan of ``user_id`` (a new athlete by default); returns the plan id and the user id. (RuckTracker allows
    one plan per athlete and status: a second live plan of an athlete is a paused one.)"""
    uid = user_id or str(uuid.uuid4())
    now = await stack.now()
    plan_id = await create_demo_plan(
        stack.store,
        user_id=uid,
        timezone=NY,
        start_date=now.date(),
        sessions=[{"scheduled_date": now.date() + timedelta(days=2), "planned_session_type": "Tempo Ruck"}],
        tone=tone,
        created_at=now,
        status=status,
    )
    return plan_id, uid


_ledger_seq = 0


async def ledger_row(
    store: Store,
    plan_id: int,
    user_id: str,
    *,
    ntype: str = "plan_evening_brief",
    sent_at: datetime | None = None,
    status: str = "sent",
    copy_source: str | None = "template",
) -> str:
    """Insert one ledger row directly; returns its notification id."""
    global _ledger_seq
    _ledger_seq += 1
    nid = f"test-{plan_id}-{ntype}-{_ledger_seq}"
    at = sent_at or datetime(2020, 1, 1, tzinfo=UTC)
    async with store.sessionmaker.begin() as session:
        session.add(
            NotificationLedgerEntry(
                notification_id=nid,
                user_id=user_id,
                plan_id=plan_id,
                notification_type=ntype,
                local_date=at.date(),
                status=status,
                copy_source=copy_source,
                scheduled_for=at,
                sent_at=sent_at if status == "sent" else None,
            )
        )
    return nid


async def completed_ruck(store: Store, user_id: str, completed_at: datetime, status: str = "completed") -> None:
    async with store.sessionmaker.begin() as session:
        session.add(
            RuckSession(
                user_id=user_id,
                status=status,
                started_at=completed_at - timedelta(hours=1),
                completed_at=completed_at,
                ruck_weight_kg=10.0,  # NOT NULL in RuckTracker's schema
            )
        )


# ---- authentication ---------------------------------------------------------------------------------------


async def test_a_valid_token_reads_the_athletes_own_schedule(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await make_plan(stack)
    await stack.plans.start_plan(plan_id)

    async def loaded() -> dict[str, Any] | None:
        response = await http.get(f"/v1/me/plans/{plan_id}/schedule", headers=bearer(token(uid, aud="authenticated")))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["upcoming"] else None

    body = await wait_for(loaded)
    assert body["plan_id"] == plan_id and body["timezone"] == NY


async def test_a_token_without_aud_is_accepted(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await make_plan(stack)
    await stack.plans.start_plan(plan_id)
    response = await http.get(f"/v1/me/plans/{plan_id}/schedule", headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    assert response.json()["plan_id"] == plan_id


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda uid: None, "missing"),
        (lambda uid: token(uid, expires_in=-60), "expired"),
        (lambda uid: token(uid, secret="another-secret-0123456789abcdef0123"), "signature"),
        (lambda uid: "not.a.jwt", "malformed"),
        (lambda uid: "garbage", "malformed"),
        (lambda uid: token(uid, aud="anon"), "audience"),
        (lambda uid: token("not-a-uuid"), "user id"),
        (lambda uid: jwt.encode({"sub": uid}, SECRET, algorithm="HS256"), "'exp'"),
        (lambda uid: token(None), "'sub'"),
    ],
)
async def test_a_bad_token_is_401_naming_the_reason(
    stack: Stack, http: httpx.AsyncClient, make: Any, reason: str
) -> None:
    plan_id, uid = await make_plan(stack)
    value = make(uid)
    headers = bearer(value) if value is not None else {}
    error = error_of(await http.get(f"/v1/me/plans/{plan_id}/schedule", headers=headers), 401, "unauthorized")
    assert reason in error["message"]
    if value:
        assert value not in error["message"]


async def test_another_athletes_plan_is_404_like_a_missing_one(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, _ = await make_plan(stack)
    await stack.plans.start_plan(plan_id)
    _, intruder = await make_plan(stack)
    mine = error_of(
        await http.get(f"/v1/me/plans/{plan_id}/schedule", headers=bearer(token(intruder))), 404, "plan_not_found"
    )
    missing = error_of(
        await http.get("/v1/me/plans/987654321/schedule", headers=bearer(token(intruder))), 404, "plan_not_found"
    )
    assert mine["message"].replace(str(plan_id), "N") == missing["message"].replace("987654321", "N")


async def test_without_a_jwt_secret_the_athlete_endpoints_are_503(stack: Stack) -> None:
    plan_id, uid = await make_plan(stack)
    async with serving(create_app(stack.plans, service_token=TOKEN, store=stack.store)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            response = await client.get(f"/v1/me/plans/{plan_id}/schedule", headers=bearer(token(uid)))
    error_of(response, 503, "not_configured")


# ---- notification events ----------------------------------------------------------------------------------


async def test_events_are_recorded_once(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await make_plan(stack)
    nid = await ledger_row(stack.store, plan_id, uid, sent_at=datetime(2020, 1, 1, 9, tzinfo=UTC))
    path = f"/v1/me/notifications/{nid}/events"
    opened_at = datetime(2020, 1, 1, 9, 5, tzinfo=UTC)
    answers = []
    for body in (
        {"event": "delivered"},
        {"event": "opened", "occurred_at": opened_at.isoformat()},
        {"event": "opened", "occurred_at": (opened_at + timedelta(minutes=3)).isoformat()},
        {"event": "delivered"},
    ):
        response = await http.post(path, json=body, headers=bearer(token(uid)))
        assert response.status_code == 202, response.text
        answers.append(response.json()["recorded"])
    assert answers == [True, True, False, False]
    events = await AnalyticsStore(stack.store.sessionmaker).events(nid)
    assert [e for e, _ in events] == ["delivered", "opened"]
    assert dict(events)["opened"] == opened_at  # the first report is kept


async def test_someone_elses_notification_is_404(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await make_plan(stack)
    nid = await ledger_row(stack.store, plan_id, uid)
    _, intruder = await make_plan(stack)
    for path in (f"/v1/me/notifications/{nid}/events", "/v1/me/notifications/no-such-notification/events"):
        response = await http.post(path, json={"event": "opened"}, headers=bearer(token(intruder)))
        error_of(response, 404, "notification_not_found")
    assert await AnalyticsStore(stack.store.sessionmaker).events(nid) == []


@pytest.mark.parametrize("status", ["skipped", "failed"])
async def test_an_event_for_a_notification_never_sent_is_409(
    stack: Stack, http: httpx.AsyncClient, status: str
) -> None:
    plan_id, uid = await make_plan(stack)
    nid = await ledger_row(stack.store, plan_id, uid, status=status)
    response = await http.post(
        f"/v1/me/notifications/{nid}/events", json={"event": "opened"}, headers=bearer(token(uid))
    )
    error_of(response, 409, "notification_not_sent")
    assert await AnalyticsStore(stack.store.sessionmaker).events(nid) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "clicked"}, "body.event"),
        ({}, "body.event"),
        ({"event": "opened", "occurred_at": "2020-01-01T09:00:00"}, "body.occurred_at"),  # naive
    ],
)
async def test_an_invalid_event_is_422_naming_the_field(
    stack: Stack, http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    plan_id, uid = await make_plan(stack)
    nid = await ledger_row(stack.store, plan_id, uid)
    response = await http.post(f"/v1/me/notifications/{nid}/events", json=body, headers=bearer(token(uid)))
    error = error_of(response, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == [field]
    assert await AnalyticsStore(stack.store.sessionmaker).events(nid) == []


# ---- the effectiveness report -----------------------------------------------------------------------------


async def test_the_effectiveness_report_counts_a_hand_made_ledger(stack: Stack, http: httpx.AsyncClient) -> None:
    day = datetime(2020, 3, 2, tzinfo=UTC)  # a window no workflow of the stack sends in
    store = stack.store
    # Two athletes with the same tone under two names (id and display name): one group after resolution.
    plan_a, a = await make_plan(stack, tone="drill_sergeant")
    plan_b, b = await make_plan(stack, tone="Drill Sergeant")
    plan_c, c = await make_plan(stack, tone="no-such-tone")  # resolves to the default, supportive_friend

    at9 = day + timedelta(hours=9, minutes=15)
    a1 = await ledger_row(store, plan_a, a, sent_at=at9)
    a2 = await ledger_row(store, plan_a, a, sent_at=at9 + timedelta(days=1))
    b1 = await ledger_row(store, plan_b, b, sent_at=at9 + timedelta(minutes=30))
    await ledger_row(store, plan_b, b, sent_at=at9, copy_source="ai")  # another copy source: its own group
    c1 = await ledger_row(store, plan_c, c, ntype="plan_morning_hype", sent_at=day + timedelta(hours=18))
    # Not counted: not sent, or sent outside the window.
    await ledger_row(store, plan_a, a, sent_at=at9, status="skipped")
    await ledger_row(store, plan_a, a, sent_at=day - timedelta(days=1, hours=-9))
    await ledger_row(store, plan_a, a, sent_at=day + timedelta(days=7, hours=9))

    # a1: followed (ruck 23 h later); a2: only a ruck 25 h later and one not completed; b1: only a ruck 20 min
    # before it (which follows b's "ai" notification, sent 10 min before that ruck).
    await completed_ruck(store, a, at9 + timedelta(hours=23))
    await completed_ruck(store, a, at9 + timedelta(days=1, hours=25))
    await completed_ruck(store, a, at9 + timedelta(days=1, hours=2), status="in_progress")
    await completed_ruck(store, b, at9 + timedelta(minutes=10))
    # c1 is followed (ruck an hour later).
    await completed_ruck(store, c, day + timedelta(hours=19))

    for nid, uid, events in (
        (a1, a, ["delivered", "opened", "cta_tapped"]),
        (a2, a, ["opened"]),
        (b1, b, ["opened", "opened", "dismissed"]),
        (c1, c, ["cta_tapped"]),
    ):
        for event in events:
            response = await http.post(
                f"/v1/me/notifications/{nid}/events", json={"event": event}, headers=bearer(token(uid))
            )
            assert response.status_code == 202, response.text

    params = {"since": day.isoformat(), "until": (day + timedelta(days=7)).isoformat()}
    response = await http.get("/v1/reports/effectiveness", params=params, headers=SERVICE)
    assert response.status_code == 200, response.text
    groups = {
        (g["notification_type"], g["tone"], g["hour_local"], g["copy_source"]): (
            g["sent"],
            g["opened"],
            g["cta_tapped"],
            g["followed_by_session"],
            g["followed_by_session_share"],
        )
        for g in response.json()["groups"]
    }
    assert groups == {
        # New York in March 2020 before DST (UTC-5): 09:15 and 09:45 UTC are 04:15 and 04:45, 18:00 UTC is 13:00.
        ("plan_evening_brief", "drill_sergeant", 4, "template"): (3, 3, 1, 1, pytest.approx(1 / 3)),
        ("plan_evening_brief", "drill_sergeant", 4, "ai"): (1, 0, 0, 1, 1.0),
        ("plan_morning_hype", "supportive_friend", 13, "template"): (1, 0, 1, 1, 1.0),
    }


async def test_the_report_requires_the_service_token(stack: Stack, http: httpx.AsyncClient) -> None:
    _, uid = await make_plan(stack)
    error_of(await http.get("/v1/reports/effectiveness"), 401, "unauthorized")
    error_of(await http.get("/v1/reports/effectiveness", headers=bearer(token(uid))), 401, "unauthorized")
    response = await http.get("/v1/reports/effectiveness", params={"since": "2020-01-01T00:00:00"}, headers=SERVICE)
    assert error_of(response, 422, "invalid_request")["fields"][0]["field"] == "query.since"


async def test_the_report_query_runs_on_both_databases(store: Store) -> None:
    """The same grouped SQL on SQLite and PostgreSQL (the interval and hour arithmetic is per dialect)."""
    uid = str(uuid.uuid4())
    plan_id = await create_demo_plan(
        store, user_id=uid, timezone=NY, start_date=date(2020, 1, 1), sessions=[], tone="minimalist"
    )
    sent = datetime(2020, 1, 1, 23, 30, tzinfo=UTC)
    nid = await ledger_row(store, plan_id, uid, sent_at=sent)
    await ledger_row(store, plan_id, uid, sent_at=sent - timedelta(minutes=1))
    await completed_ruck(store, uid, sent + timedelta(hours=24))  # exactly 24 h later: still counts for both
    analytics = AnalyticsStore(store.sessionmaker)
    assert await analytics.record_event(nid, uid, "opened", sent)
    assert not await analytics.record_event(nid, uid, "opened", sent)
    [row] = await analytics.effectiveness(since=sent - timedelta(hours=1), until=sent + timedelta(hours=1))
    assert (row.tone, row.hour_local, row.sent, row.opened, row.cta_tapped, row.followed_by_session) == (
        "minimalist",
        18,  # 23:29 and 23:30 UTC are 18:29 and 18:30 in New York
        2,
        1,
        0,
        1,
    )


@pytest.mark.parametrize(
    ("timezone", "sent", "hour_local"),
    [
        # +05:45: 09:14 UTC is 14:59, 09:15 UTC is 15:00 — one UTC hour, two local hours.
        ("Asia/Kathmandu", datetime(2020, 1, 1, 9, 14, tzinfo=UTC), 14),
        ("Asia/Kathmandu", datetime(2020, 1, 1, 9, 15, tzinfo=UTC), 15),
        # +05:30, and New York on both sides of the spring-forward night (2020-03-08).
        ("Asia/Kolkata", datetime(2020, 1, 1, 9, 29, tzinfo=UTC), 14),
        (NY, datetime(2020, 3, 8, 6, 30, tzinfo=UTC), 1),
        (NY, datetime(2020, 3, 8, 7, 30, tzinfo=UTC), 3),
    ],
)
async def test_the_report_hour_is_the_athletes_local_hour(
    store: Store, timezone: str, sent: datetime, hour_local: int
) -> None:
    uid = str(uuid.uuid4())
    plan_id = await create_demo_plan(store, user_id=uid, timezone=timezone, start_date=sent.date(), sessions=[])
    await ledger_row(store, plan_id, uid, sent_at=sent)
    analytics = AnalyticsStore(store.sessionmaker)
    [row] = await analytics.effectiveness(since=sent - timedelta(minutes=1), until=sent + timedelta(minutes=1))
    assert (row.hour_local, row.sent) == (hour_local, 1)


@pytest.mark.parametrize("minute", [15, 16, 29, 31, 44, 59])
async def test_the_report_groups_by_quarter_hour_in_sql(store: Store, minute: int) -> None:
    """The SQL buckets are quarter hours on both databases (local hours are derived from their starts)."""
    from sqlalchemy import select

    from activities.analytics_store import _quarter_hour

    uid = str(uuid.uuid4())
    plan_id = await create_demo_plan(store, user_id=uid, timezone=NY, start_date=date(2020, 1, 1), sessions=[])
    sent = datetime(2020, 1, 1, 9, minute, 42, tzinfo=UTC)
    nid = await ledger_row(store, plan_id, uid, sent_at=sent)
    async with store.sessionmaker() as session:
        dialect = session.get_bind().dialect.name
        quarter = await session.scalar(
            select(_quarter_hour(dialect, NotificationLedgerEntry.sent_at)).where(
                NotificationLedgerEntry.notification_id == nid
            )
        )
    assert quarter == datetime(2020, 1, 1, 9, minute // 15 * 15, tzinfo=UTC)


async def test_the_report_reads_the_zone_like_a_plan_load(store: Store) -> None:
    """An invalid zone on the athlete's ``"user"`` row is skipped for the plan's, as when the plan is loaded (not
    UTC)."""
    from sqlalchemy import update

    uid = str(uuid.uuid4())
    plan_id = await create_demo_plan(
        store, user_id=uid, timezone="Asia/Kathmandu", start_date=date(2020, 1, 1), sessions=[]
    )
    async with store.sessionmaker.begin() as session:
        await session.execute(update(AppUser).where(AppUser.id == uid).values(plan_notification_timezone="Mars/Base"))
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.timezone == "Asia/Kathmandu"
    sent = datetime(2020, 1, 1, 9, 20, tzinfo=UTC)  # 15:05 in Kathmandu
    await ledger_row(store, plan_id, uid, sent_at=sent)
    [row] = await AnalyticsStore(store.sessionmaker).effectiveness(since=sent, until=sent + timedelta(minutes=1))
    assert row.hour_local == 15


@pytest.mark.parametrize(
    ("user_tone", "plan_tone", "expected"),
    [
        ("Drill Sergeant", "Supportive Friend", "drill_sergeant"),  # the athlete's display name, as its id
        ("Supportive Friend", "Nature Lover", "nature_lover"),  # the athlete's is the default: the plan's
        (None, "Cowboy/Cowgirl", "cowboy_cowgirl"),
        ("minimalist", "Drill Sergeant", "minimalist"),  # a tone only the athlete's row can hold
        ("Sarcastic Robot", "Session Analyst", "session_analyst"),  # unknown: ignored
        (None, "Supportive Friend", "supportive_friend"),
    ],
)
async def test_the_report_reads_the_tone_like_a_plan_load(
    store: Store, user_tone: str | None, plan_tone: str, expected: str
) -> None:
    """Tones are stored as the client's display names (on ``"user"`` and on the plan); the report groups by the
    canonical id the plan load resolves, so an athlete whose row holds the id (an older spelling) is in the same group.
    """
    from sqlalchemy import update

    from activities.db import UserCoachingPlan

    sent = datetime(2020, 1, 1, 9, 20, tzinfo=UTC)
    for stored_user, stored_plan in ((user_tone, plan_tone), (expected, "Supportive Friend")):
        uid = str(uuid.uuid4())
        plan_id = await create_demo_plan(store, user_id=uid, timezone=NY, start_date=sent.date(), sessions=[])
        async with store.sessionmaker.begin() as session:
            await session.execute(update(AppUser).where(AppUser.id == uid).values(coaching_tone=stored_user))
            await session.execute(
                update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(coaching_personality=stored_plan)
            )
        snapshot = await store.load_plan_snapshot(plan_id)
        assert snapshot is not None and snapshot.prefs.coaching_tone == expected
        await ledger_row(store, plan_id, uid, sent_at=sent)
    [row] = await AnalyticsStore(store.sessionmaker).effectiveness(since=sent, until=sent + timedelta(minutes=1))
    assert (row.tone, row.sent) == (expected, 2)
