"""The push payload contract: what a plan notification looks like on the wire (FCM `notification` + `data`).

Pure (stdlib + pydantic): it is imported inside the Temporal workflow sandbox, and by the delivery activity.

The contract is written down in `schemas/push_payload.schema.json` and `docs/push-payload.md`. It exists
because of the bugs in today's RuckTracker payload (reference §3):

* every `data` value is a **string** (FCM requires it), built here on purpose rather than with `str(value)`,
  so `None` never becomes `"None"` and bools never become `"True"`;
* `context` is **JSON** (`json.dumps`), never a Python repr;
* every message carries a `notification_id` and a `collapse_key`, so a retried or duplicated send replaces the
  notification already on the device instead of stacking a second copy;
* navigation travels as a `deep_link`, so the client need not guess from `type`.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta

from pydantic import Field

from coaching.models import AwareDatetime, Model, NotificationType

#: Version of the `data` contract; bump it when a key changes meaning or disappears (adding keys is
#: compatible).
SCHEMA_VERSION = "1"

#: The only channel the Flutter app creates (`firebase_messaging_service.dart`). Today's server sends
#: `'default'`, which does not exist on the device, so Android falls back to FCM's miscellaneous channel.
ANDROID_CHANNEL_ID = "rucking_app_notifications"

#: Deep-link scheme and prefix for coaching plans.
DEEP_LINK_PREFIX = "rucktracker://coaching/plan/"

#: Display limits (characters, i.e. code points). Longer text is cut with an ellipsis rather than rejected, so
#: a wordy template can never make a notification undeliverable; the schema enforces the same limits.
TITLE_MAX_CHARS = 50
BODY_MAX_CHARS = 120

#: APNs rejects an `apns-collapse-id` longer than 64 bytes (FCM's Android `collapse_key` has no such small
#: limit), so 64 bytes is the one limit that binds both platforms.
COLLAPSE_ID_MAX_BYTES = 64

#: FCM rejects a message whose payload exceeds 4096 bytes. `context` is the only unbounded part; when the data
#: would exceed this budget, `context` is replaced by `{}` (it is an enrichment; navigation uses `deep_link`).
DATA_BUDGET_BYTES = 3500

#: The shortest life a push is given, even when its notification is about to expire: the sender's clock and FCM's or
#: APNs' differ by seconds, and a push that expires while it is still being handed over would be dropped by the
#: platform after the server already counted it as sent.
MIN_PUSH_TTL = timedelta(seconds=60)

#: The exact, ordered set of `data` keys (the schema lists the same set, with `additionalProperties: false`).
DATA_KEYS: tuple[str, ...] = (
    "schema_version",
    "notification_id",
    "type",
    "plan_id",
    "plan_session_id",
    "deep_link",
    "context",
)


class PushMessage(Model):
    """One push, platform-neutral: the delivery client maps it to FCM (Android + APNs) per device token.

    `data` is flat `str -> str`, exactly `DATA_KEYS`. `expires_at`, when set, is when the notification stops
    being worth showing (its staleness limit): the FCM client turns it into an Android TTL and an
    `apns-expiration` (`push_lifetime`), so a device that was offline does not get a morning hype at midnight.
    """

    notification_id: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS)
    body: str = Field(min_length=1, max_length=BODY_MAX_CHARS)
    data: dict[str, str]
    collapse_key: str = Field(min_length=1)
    expires_at: AwareDatetime | None = None

    @property
    def type(self) -> str:
        return self.data["type"]

    @property
    def plan_id(self) -> int:
        return int(self.data["plan_id"])


def push_lifetime(expires_at: datetime, now: datetime) -> tuple[int, int]:
    """How long a push sent at `now` stays worth showing: (Android `ttl` in whole seconds, APNs `apns-expiration` as
    epoch seconds), both ending at the notification's `expires_at` (its staleness limit), and never sooner than
    `MIN_PUSH_TTL` from now, so neither is ever zero or negative.

    A phone that comes online after that moment is not shown this morning's hype hours later.
    """
    until = max(expires_at, now + MIN_PUSH_TTL)
    return math.ceil((until - now).total_seconds()), math.floor(until.timestamp())


def deep_link(plan_id: int, plan_session_id: int | None) -> str:
    """The in-app link for a plan notification: the plan, or one session of it."""
    link = f"{DEEP_LINK_PREFIX}{plan_id}"
    if plan_session_id is not None:
        link += f"/session/{plan_session_id}"
    return link


def collapse_key(notification_id: str) -> str:
    """The collapse id for a notification: the notification id itself when it fits in 64 bytes, else its
    sha256.

    The notification id is the business key (plan, type, session, local day), so using it as the collapse id
    makes a re-send of the same notification replace the copy on the device (Android `collapse_key` +
    notification `tag`, APNs `apns-collapse-id`). APNs caps `apns-collapse-id` at 64 bytes and rejects longer
    ones, so a longer id is replaced by its sha256 hex digest: exactly 64 ASCII characters, stable across
    processes and retries (unlike `hash()`), and still unique per notification.
    """
    if len(notification_id.encode("utf-8")) <= COLLAPSE_ID_MAX_BYTES:
        return notification_id
    return hashlib.sha256(notification_id.encode("utf-8")).hexdigest()


def encode_context(context: dict[str, object]) -> str:
    """`context` as compact, key-sorted JSON (deterministic, so workflow replays build identical payloads).

    Values JSON cannot hold become strings (`default=str`: dates, enums, decimals). NaN and infinities become
    `null`, because `json.dumps` would emit the bare tokens `NaN`/`Infinity`, which Dart's `jsonDecode`
    rejects.
    """
    return json.dumps(_finite(context), sort_keys=True, separators=(",", ":"), default=str)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # newlines and runs of spaces render badly in a one-line banner
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_push_message(
    *,
    notification_id: str,
    type: str,
    plan_id: int,
    plan_session_id: int | None,
    title: str,
    body: str,
    context: dict[str, object],
    expires_at: datetime | None = None,
) -> PushMessage:
    """Build the push for one plan notification, following the contract in `docs/push-payload.md`.

    Raises `ValueError` for an unknown notification type or an empty title/body (a bug upstream, not data).
    """
    ntype = NotificationType(type)  # rejects anything that is not one of the seven plan_* types
    data = {
        "schema_version": SCHEMA_VERSION,
        "notification_id": notification_id,
        "type": ntype.value,
        "plan_id": str(plan_id),
        "plan_session_id": "" if plan_session_id is None else str(plan_session_id),
        "deep_link": deep_link(plan_id, plan_session_id),
        "context": encode_context(context),
    }
    if len(json.dumps(data).encode("utf-8")) > DATA_BUDGET_BYTES:
        data["context"] = "{}"
    return PushMessage(
        notification_id=notification_id,
        title=_clip(title, TITLE_MAX_CHARS),
        body=_clip(body, BODY_MAX_CHARS),
        data=data,
        collapse_key=collapse_key(notification_id),
        expires_at=expires_at,
    )
