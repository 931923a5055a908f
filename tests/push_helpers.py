"""The push payload's JSON schema and a sample message, shared by the push tests (``test_push*.py``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema

from coaching.ids import notification_id
from coaching.models import NotificationType
from coaching.payload import PushMessage, build_push_message

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "push_payload.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _message(**overrides: Any) -> PushMessage:
    args: dict[str, Any] = {
        "notification_id": notification_id(42, NotificationType.EVENING_BRIEF, 7, date(2026, 3, 8)),
        "type": NotificationType.EVENING_BRIEF.value,
        "plan_id": 42,
        "plan_session_id": 7,
        "title": "Tomorrow: 6 km ruck",
        "body": "Pack 12 kg tonight and you're out the door by 07:00.",
        "context": {
            "plan_name": "Base builder",
            "distance_km": 6.0,
            "scheduled_date": date(2026, 3, 9),
            "makeup_tip": None,
            "flags": {"first_week": True},
        },
    }
    args.update(overrides)
    return build_push_message(**args)
