"""The push delivery clients: the outbox, and FCM through the real SDK.

The FCM tests drive the real firebase-admin send path (real `credentials.Certificate`, real google-auth JWT
grant, real HTTP) against `tests.fakes.fcm.FakeFcm` on 127.0.0.1: nothing in firebase-admin is mocked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from activities.push import FcmPusher, OutboxPusher, PushRetryableError, PushTarget, TokenOutcome, make_pusher
from coaching.payload import ANDROID_CHANNEL_ID, MIN_PUSH_TTL, push_lifetime
from starter.sandbox import wait_for
from tests.fakes.fcm import FakeFcm, make_service_account
from tests.push_helpers import VALIDATOR, _message

# pytest re-enables DeprecationWarnings per test, overriding the narrow filter activities/push.py installs.
pytestmark = pytest.mark.filterwarnings(r"ignore:Message\.token is deprecated:DeprecationWarning")

PROJECT = "rucktracker-test"

PusherFactory = Callable[..., Awaitable[FcmPusher]]


def _token() -> str:
    return f"tok-{uuid.uuid4().hex}"


# ---- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="module")
def service_account(fcm: FakeFcm) -> dict[str, str]:
    return fcm.make_service_account(PROJECT)


@pytest.fixture
async def make_fcm_pusher(fcm: FakeFcm, service_account: dict[str, str]) -> AsyncIterator[PusherFactory]:
    created: list[FcmPusher] = []

    async def factory(**overrides: Any) -> FcmPusher:
        kwargs: dict[str, Any] = {
            "service_account": service_account,
            "endpoint": fcm.base_url,
            "timeout_seconds": 5.0,
        }
        kwargs.update(overrides)
        pusher = FcmPusher(**kwargs)
        created.append(pusher)
        return pusher

    yield factory
    for pusher in created:
        await pusher.close()


# ---- outbox ------------------------------------------------------------------------------------------------


async def test_outbox_reports_success_and_logs_ids_not_text_or_tokens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = _message()
    targets = [PushTarget("t1", "secret-token-1"), PushTarget("t2", "secret-token-2")]
    pusher = OutboxPusher()
    with caplog.at_level(logging.INFO, logger="activities.push"):
        outcomes = await pusher.send(message, targets)
    assert pusher.name == "outbox"
    assert [(o.token_id, o.ok, o.message_id) for o in outcomes] == [
        ("t1", True, f"outbox:{message.notification_id}"),
        ("t2", True, f"outbox:{message.notification_id}"),
    ]
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(info) == 1
    assert message.notification_id in info[0] and "plan_evening_brief" in info[0] and "targets=2" in info[0]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "secret-token" not in logged
    assert message.title not in info[0] and message.body not in info[0]
    await pusher.close()


async def test_make_pusher_picks_outbox_without_credentials_and_fcm_with_them(
    fcm: FakeFcm, service_account: dict[str, str], tmp_path: Path
) -> None:
    common: dict[str, Any] = {"project_id": None, "endpoint": fcm.base_url, "timeout_seconds": 5.0}
    outbox = make_pusher(credentials_json=None, credentials_path=None, **common)
    assert isinstance(outbox, OutboxPusher) and outbox.name == "outbox"

    inline = make_pusher(credentials_json=json.dumps(service_account), credentials_path=None, **common)
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(service_account))
    from_file = make_pusher(credentials_json=None, credentials_path=str(path), **common)
    try:
        for pusher in (inline, from_file):
            assert isinstance(pusher, FcmPusher) and pusher.name == "fcm"
            assert pusher.project_id == PROJECT  # taken from the service account
            token = _token()
            [outcome] = await pusher.send(_message(), [PushTarget("t", token)])
            assert outcome.ok and len(fcm.received_for(token)) == 1
    finally:
        await inline.close()
        await from_file.close()

    with pytest.raises(ValueError, match="not both"):
        make_pusher(credentials_json="{}", credentials_path=str(path), **common)
    with pytest.raises(ValueError, match="not valid JSON") as info:
        make_pusher(credentials_json='{"private_key": "SECRET', credentials_path=None, **common)
    assert "SECRET" not in str(info.value) and info.value.__cause__ is None


# ---- FCM through the real SDK ------------------------------------------------------------------------------


async def test_fcm_delivers_the_contract_to_each_token(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    pusher = await make_fcm_pusher()
    message = _message()
    tokens = [_token(), _token()]
    outcomes = await pusher.send(message, [PushTarget("a", tokens[0]), PushTarget("b", tokens[1])])

    assert [o.token_id for o in outcomes] == ["a", "b"]
    assert all(o.ok and not o.unregistered and o.error is None for o in outcomes)
    assert all((o.message_id or "").startswith(f"projects/{PROJECT}/messages/") for o in outcomes)
    assert fcm.token_requests >= 1  # the OAuth JWT grant really happened against the fake

    for token in tokens:
        [received] = fcm.received_for(token)
        sent = received.message
        assert received.project == PROJECT and not received.validate_only
        assert sent["notification"] == {"title": message.title, "body": message.body}
        assert sent["data"] == message.data
        assert all(isinstance(v, str) for v in sent["data"].values())
        VALIDATOR.validate({"notification": sent["notification"], "data": sent["data"]})
        assert json.loads(sent["data"]["context"])["plan_name"] == "Base builder"

        android = sent["android"]
        assert android["collapse_key"] == message.collapse_key
        assert android["priority"] == "high"
        assert android["notification"] == {
            "channel_id": ANDROID_CHANNEL_ID,
            "tag": message.collapse_key,
            "click_action": "FLUTTER_NOTIFICATION_CLICK",
        }
        assert "ttl" not in android  # no expiry given: FCM's default applies

        apns = sent["apns"]
        assert apns["headers"] == {"apns-collapse-id": message.collapse_key}
        assert apns["payload"]["aps"] == {
            "thread-id": "plan-42",
            "sound": "default",
            "category": "FLUTTER_NOTIFICATION_CLICK",
        }


async def test_fcm_expiry_becomes_android_ttl_and_apns_expiration(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    pusher = await make_fcm_pusher()
    expires_at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    nearly = datetime.now(UTC) + timedelta(seconds=5)
    expired_at = datetime.now(UTC) - timedelta(minutes=5)
    live, last_moment, stale = _token(), _token(), _token()
    before = datetime.now(UTC)
    await pusher.send(_message(expires_at=expires_at), [PushTarget("live", live)])
    await pusher.send(_message(expires_at=nearly), [PushTarget("last", last_moment)])
    await pusher.send(_message(expires_at=expired_at), [PushTarget("stale", stale)])
    after = datetime.now(UTC)

    [received] = fcm.received_for(live)
    ttl_seconds = float(received.message["android"]["ttl"].removesuffix("s"))
    assert 3500 < ttl_seconds <= 3600
    assert received.message["apns"]["headers"]["apns-expiration"] == str(int(expires_at.timestamp()))

    # Never zero or negative: at least MIN_PUSH_TTL (60 s) from the send, on both platforms.
    for token in (last_moment, stale):
        [received] = fcm.received_for(token)
        assert received.message["android"]["ttl"] == "60s"
        expiration = int(received.message["apns"]["headers"]["apns-expiration"])
        assert int((before + MIN_PUSH_TTL).timestamp()) <= expiration <= int((after + MIN_PUSH_TTL).timestamp())


@pytest.mark.parametrize(
    ("left", "ttl"),
    [
        (timedelta(hours=24), 86_400),
        (timedelta(minutes=45, milliseconds=1), 2_701),  # whole seconds, rounded up
        (timedelta(seconds=61), 61),
        (timedelta(seconds=60), 60),
        (timedelta(seconds=59), 60),
        (timedelta(0), 60),
        (timedelta(hours=-3), 60),
    ],
)
def test_push_lifetime_ends_at_the_staleness_limit_and_is_never_under_a_minute(left: timedelta, ttl: int) -> None:
    now = datetime(2027, 3, 14, 6, 59, 30, tzinfo=UTC)
    android_ttl, apns_expiration = push_lifetime(now + left, now)
    assert android_ttl == ttl
    assert apns_expiration == int((now + max(left, MIN_PUSH_TTL)).timestamp())


async def test_dead_tokens_come_back_unregistered_without_raising(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    pusher = await make_fcm_pusher()
    good, gone, malformed = _token(), _token(), _token()
    fcm.set_behaviour(gone, "unregistered")
    fcm.set_behaviour(malformed, "invalid")
    outcomes = await pusher.send(
        _message(), [PushTarget("good", good), PushTarget("gone", gone), PushTarget("bad", malformed)]
    )
    by_id = {o.token_id: o for o in outcomes}
    assert by_id["good"].ok
    for token_id in ("gone", "bad"):
        outcome = by_id[token_id]
        assert not outcome.ok and outcome.unregistered and not outcome.retryable
        assert outcome.error
    assert "NOT_FOUND" in (by_id["gone"].error or "")
    assert "INVALID_ARGUMENT" in (by_id["bad"].error or "")
    assert fcm.attempts(gone) == 1 and fcm.attempts(malformed) == 1


async def test_quota_raises_retryable_with_retry_after_and_partial_outcomes(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    good, limited, gone = _token(), _token(), _token()
    fcm.set_behaviour(limited, "quota")
    fcm.set_behaviour(gone, "unregistered")
    fcm.set_retry_after("17")
    with pytest.raises(PushRetryableError) as info:
        await pusher.send(
            _message(), [PushTarget("good", good), PushTarget("limited", limited), PushTarget("gone", gone)]
        )
    err = info.value
    assert err.retry_after == 17.0
    by_id = {o.token_id: o for o in err.outcomes}
    assert by_id["good"].ok  # delivered: the caller records it and does not resend
    assert by_id["gone"].unregistered  # the caller deactivates it even though the call raised
    assert by_id["limited"].retryable and not by_id["limited"].ok
    assert "RESOURCE_EXHAUSTED (QuotaExceededError)" in (by_id["limited"].error or "")
    assert err.pending_token_ids == ["limited"]
    assert len(fcm.received_for(good)) == 1 and fcm.attempts(limited) == 1


async def test_retry_after_as_an_http_date_is_converted_to_seconds(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    limited = _token()
    fcm.set_behaviour(limited, "quota")
    fcm.set_retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True))
    try:
        with pytest.raises(PushRetryableError) as info:
            await pusher.send(_message(), [PushTarget("limited", limited)])
    finally:
        fcm.set_retry_after("17")
    assert info.value.retry_after is not None and 110 <= info.value.retry_after <= 120


async def test_unavailable_is_retryable_and_sent_exactly_once_because_sdk_retries_are_off(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    down, internal = _token(), _token()
    fcm.set_behaviour(down, "unavailable")
    fcm.set_behaviour(internal, "internal")
    with pytest.raises(PushRetryableError) as info:
        await pusher.send(_message(), [PushTarget("down", down), PushTarget("internal", internal)])
    assert info.value.retry_after is None
    assert sorted(info.value.pending_token_ids) == ["down", "internal"]
    # firebase-admin's default urllib3 Retry would have sent 5 requests for each (status=4 on 500/503).
    assert fcm.attempts(down) == 1
    assert fcm.attempts(internal) == 1


async def test_a_retry_sends_only_to_the_tokens_that_failed(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    """The caller's retry loop, as the delivery activity runs it across Temporal attempts."""
    pusher = await make_fcm_pusher()
    steady, flaky = _token(), _token()
    fcm.fail_then_succeed(flaky, 2, "unavailable")
    targets = [PushTarget("steady", steady), PushTarget("flaky", flaky)]
    delivered: set[str] = set()
    attempts = 0
    while True:
        attempts += 1
        try:
            outcomes = await pusher.send(_message(), [t for t in targets if t.token_id not in delivered])
        except PushRetryableError as err:
            delivered |= {o.token_id for o in err.outcomes if o.ok}
            continue
        delivered |= {o.token_id for o in outcomes if o.ok}
        break
    assert attempts == 3
    assert delivered == {"steady", "flaky"}
    assert len(fcm.received_for(steady)) == 1  # never re-sent
    assert len(fcm.received_for(flaky)) == 1 and fcm.attempts(flaky) == 3


async def test_timeout_is_retryable_and_not_retried_by_the_sdk(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    pusher = await make_fcm_pusher(timeout_seconds=0.3)
    slow = _token()
    fcm.set_behaviour(slow, "slow")
    fcm.set_slow_seconds(1.0)
    with pytest.raises(PushRetryableError) as info:
        await pusher.send(_message(), [PushTarget("slow", slow)])
    assert "DEADLINE_EXCEEDED" in (info.value.outcomes[0].error or "")
    assert fcm.attempts(slow) == 1  # the SDK's default Retry(read=1) would have made it 2


async def test_connection_refused_is_retryable(service_account: dict[str, str], make_fcm_pusher: PusherFactory) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    pusher = await make_fcm_pusher(endpoint=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(PushRetryableError) as info:
        await pusher.send(_message(), [PushTarget("t", _token())])
    assert "UNAVAILABLE" in (info.value.outcomes[0].error or "")


async def test_duplicate_tokens_are_sent_once_and_empty_targets_send_nothing(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    token = _token()
    outcomes = await pusher.send(_message(), [PushTarget("row1", token), PushTarget("row2", token)])
    assert [(o.token_id, o.ok) for o in outcomes] == [("row1", True), ("row2", True)]
    assert fcm.attempts(token) == 1
    before = len(fcm.received)
    assert await pusher.send(_message(), []) == []
    assert len(fcm.received) == before


async def test_each_outcome_is_handed_over_as_soon_as_fcm_answers_that_token(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    fast, slow = _token(), _token()
    fcm.set_behaviour(slow, "slow")
    fcm.set_slow_seconds(1.5)
    reported: list[tuple[str, bool, int]] = []

    async def record(outcome: TokenOutcome) -> None:
        reported.append((outcome.token_id, outcome.ok, len(fcm.received_for(slow))))

    await pusher.send(_message(), [PushTarget("slow", slow), PushTarget("fast", fast)], on_outcome=record)
    # The fast token's outcome came while the slow one was still waiting for FCM, not after all of them.
    assert reported == [("fast", True, 0), ("slow", True, 1)]


async def test_a_cancelled_send_sees_the_request_on_the_wire_through_and_drops_the_queued_ones(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher(max_concurrency=1)
    first, queued = _token(), _token()
    fcm.set_behaviour(first, "slow")
    fcm.set_slow_seconds(1.5)
    reported: list[tuple[str, bool]] = []

    async def record(outcome: TokenOutcome) -> None:
        reported.append((outcome.token_id, outcome.ok))

    targets = [PushTarget("first", first), PushTarget("queued", queued)]
    sending = asyncio.create_task(pusher.send(_message(), targets, on_outcome=record))
    await wait_for(lambda: _attempted(fcm, first))
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending

    # The SDK's thread cannot be stopped: its push happened, so it was waited for and reported before cancelling.
    assert reported == [("first", True)] and len(fcm.received_for(first)) == 1
    assert fcm.attempts(queued) == 0  # still waiting for the slot: dropped, nothing sent
    [outcome] = await pusher.send(_message(), [PushTarget("queued", queued)])  # and the slot was given back
    assert outcome.ok


async def test_an_outcome_callback_error_is_raised_once_every_token_is_settled(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    pusher = await make_fcm_pusher()
    a, b = _token(), _token()
    reported: list[str] = []

    async def record(outcome: TokenOutcome) -> None:
        reported.append(outcome.token_id)
        if outcome.token_id == "a":
            raise ConnectionError("database connection lost")

    with pytest.raises(ConnectionError):
        await pusher.send(_message(), [PushTarget("a", a), PushTarget("b", b)], on_outcome=record)
    assert sorted(reported) == ["a", "b"]
    assert len(fcm.received_for(a)) == 1 and len(fcm.received_for(b)) == 1


async def test_the_outbox_hands_over_each_outcome_too() -> None:
    reported: list[str] = []

    async def record(outcome: TokenOutcome) -> None:
        reported.append(outcome.token_id)

    await OutboxPusher().send(_message(), [PushTarget("t1", "x"), PushTarget("t2", "y")], on_outcome=record)
    assert reported == ["t1", "t2"]


async def _attempted(fcm: FakeFcm, token: str) -> bool:
    return fcm.attempts(token) >= 1


async def test_credentials_the_token_endpoint_rejects_fail_permanently(
    fcm: FakeFcm, make_fcm_pusher: PusherFactory
) -> None:
    """A key the token endpoint does not know (revoked, wrong project) is not a transient error."""
    stranger = make_service_account(fcm.token_uri, PROJECT)  # not registered with the fake
    pusher = await make_fcm_pusher(service_account=stranger)
    token = _token()
    [outcome] = await pusher.send(_message(), [PushTarget("t", token)])
    assert not outcome.ok and not outcome.unregistered and not outcome.retryable
    assert (outcome.error or "").startswith("oauth: RefreshError")
    assert fcm.attempts(token) == 0


async def test_endpoint_override_is_per_pusher_not_global(fcm: FakeFcm, make_fcm_pusher: PusherFactory) -> None:
    from firebase_admin import messaging

    await make_fcm_pusher()
    assert messaging._MessagingService.FCM_URL.startswith("https://fcm.googleapis.com/")
