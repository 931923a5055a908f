"""The push payload contract: the built message against the JSON schema
(``schemas/push_payload.schema.json``), the schema's own checks, and the example the Flutter team reads
(``docs/push-payload.md``).

The delivery clients: ``test_push_fcm.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import jsonschema
import pytest

from coaching.ids import notification_id
from coaching.models import NotificationType
from coaching.payload import (
    ANDROID_CHANNEL_ID,
    DATA_KEYS,
    PushMessage,
    build_push_message,
    collapse_key,
    deep_link,
    push_lifetime,
)
from coaching.schedule import MAX_LATENESS
from tests.push_helpers import SCHEMA, SCHEMA_PATH, VALIDATOR, _message


def _client_view(message: PushMessage) -> dict[str, Any]:
    """What the Flutter client receives: `RemoteMessage.notification` and `RemoteMessage.data`."""
    return {"notification": {"title": message.title, "body": message.body}, "data": message.data}


# ---- payload builder ---------------------------------------------------------------------------------------


def test_built_message_matches_the_schema_with_flat_string_data() -> None:
    message = _message()
    VALIDATOR.validate(_client_view(message))
    assert tuple(message.data) == DATA_KEYS
    assert all(isinstance(value, str) for value in message.data.values())
    assert message.data["schema_version"] == "1"
    assert message.data["type"] == "plan_evening_brief"
    assert message.data["plan_id"] == "42"
    assert message.data["plan_session_id"] == "7"
    assert message.data["deep_link"] == "rucktracker://coaching/plan/42/session/7"
    assert message.collapse_key == message.notification_id == message.data["notification_id"]


def test_context_is_compact_sorted_json_never_a_python_repr() -> None:
    context = _message().data["context"]
    assert json.loads(context) == {
        "distance_km": 6.0,
        "flags": {"first_week": True},
        "makeup_tip": None,
        "plan_name": "Base builder",
        "scheduled_date": "2026-03-09",
    }
    assert context.startswith('{"distance_km":6.0,"flags":{"first_week":true},"makeup_tip":null')
    assert "None" not in context and "'" not in context


def test_non_finite_numbers_become_null_so_strict_json_parsers_accept_the_context() -> None:
    context = _message(context={"pace": float("nan"), "load": [float("inf"), 1.5]}).data["context"]
    assert "NaN" not in context and "Infinity" not in context
    assert json.loads(context) == {"load": [None, 1.5], "pace": None}


def test_plan_level_notification_has_empty_session_and_plan_deep_link() -> None:
    message = _message(
        notification_id=notification_id(42, NotificationType.WEEKLY_DIGEST, None, date(2026, 3, 8)),
        type=NotificationType.WEEKLY_DIGEST.value,
        plan_session_id=None,
        context={},
    )
    VALIDATOR.validate(_client_view(message))
    assert message.data["plan_session_id"] == ""
    assert message.data["deep_link"] == "rucktracker://coaching/plan/42"
    assert message.data["context"] == "{}"
    assert deep_link(5, 9) == "rucktracker://coaching/plan/5/session/9"


def test_every_notification_type_builds_a_valid_message() -> None:
    for ntype in NotificationType:
        VALIDATOR.validate(_client_view(_message(type=ntype.value)))


def test_unknown_type_and_empty_text_are_rejected() -> None:
    with pytest.raises(ValueError):
        _message(type="ruck_started")
    with pytest.raises(ValueError):
        _message(title="  ")


def test_long_text_is_clipped_to_the_display_limits() -> None:
    message = _message(title="T" * 80, body="word " * 60)
    assert len(message.title) == 50 and message.title.endswith("…")
    assert len(message.body) <= 120 and message.body.endswith("…")
    VALIDATOR.validate(_client_view(message))


def test_oversized_context_is_dropped_to_keep_the_payload_under_fcms_4kb_limit() -> None:
    message = _message(context={"blob": "x" * 5000})
    assert message.data["context"] == "{}"
    assert len(json.dumps(_client_view(message)).encode()) < 4096


def test_collapse_id_fits_apns_64_bytes_and_is_stable() -> None:
    short = "p1:evening_brief:s2:2026-03-08"
    assert collapse_key(short) == short
    exactly_64 = "a" * 64
    assert collapse_key(exactly_64) == exactly_64
    long_id = notification_id(123456789, NotificationType.MILESTONE_ALERT, 987654321, date(2026, 3, 8), "x" * 40)
    # 30 characters but 90 bytes: the limit is in bytes, not characters.
    multibyte = "€" * 30
    for nid in (long_id, multibyte, "b" * 65):
        key = collapse_key(nid)
        assert len(key.encode("utf-8")) == 64
        assert key == collapse_key(nid)  # deterministic across calls (and processes: sha256, not hash())
    assert collapse_key(long_id) != collapse_key(long_id + "y")
    message = _message(notification_id=long_id)
    assert message.collapse_key == collapse_key(long_id)
    assert message.data["notification_id"] == long_id  # the data keeps the full id for the client


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("plan_id", 42),  # not a string: the str()-free contract
        ("plan_id", "42.0"),
        ("schema_version", "2"),
        ("type", "ruck_started"),
        ("deep_link", "/coaching/plan/42"),
        ("context", "plain text"),
        ("plan_session_id", "None"),  # today's str(None) bug
    ],
)
def test_schema_rejects_contract_violations(key: str, value: object) -> None:
    view = _client_view(_message())
    view["data"][key] = value
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(view)


def test_schema_rejects_extra_or_missing_keys() -> None:
    view = _client_view(_message())
    view["data"]["session_context"] = "{}"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(view)
    view = _client_view(_message())
    del view["data"]["notification_id"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(view)


def test_schema_type_enum_matches_the_models() -> None:
    enum = SCHEMA["properties"]["data"]["properties"]["type"]["enum"]
    assert sorted(enum) == sorted(t.value for t in NotificationType)


def test_the_documented_example_matches_the_schema_and_the_builder() -> None:
    """docs/push-payload.md is what the Flutter team reads: its example must stay true."""
    doc = (SCHEMA_PATH.parent.parent / "docs" / "push-payload.md").read_text()
    example = json.loads(doc.split("```json\n", 1)[1].split("\n```", 1)[0])["message"]
    VALIDATOR.validate({"notification": example["notification"], "data": example["data"]})
    built = build_push_message(
        notification_id=example["data"]["notification_id"],
        type=example["data"]["type"],
        plan_id=int(example["data"]["plan_id"]),
        plan_session_id=int(example["data"]["plan_session_id"]),
        title=example["notification"]["title"],
        body=example["notification"]["body"],
        context=json.loads(example["data"]["context"]),
    )
    assert built.data == example["data"]
    assert example["android"]["notification"]["channel_id"] == ANDROID_CHANNEL_ID
    assert example["android"]["collapse_key"] == built.collapse_key
    assert example["apns"]["headers"]["apns-collapse-id"] == built.collapse_key
    # The example's expiry: a brief sent at its time (20:00 in Berlin) lives until its staleness limit.
    sent_at = datetime(2026, 3, 8, 19, 0, tzinfo=UTC)
    ttl, expiration = push_lifetime(sent_at + MAX_LATENESS[NotificationType.EVENING_BRIEF], sent_at)
    assert example["android"]["ttl"] == f"{ttl}s"
    assert example["apns"]["headers"]["apns-expiration"] == str(expiration)
