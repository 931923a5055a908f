"""The athletes' push tokens (RuckTracker's ``user_device_tokens``): which to push to, and which FCM disowned."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db import UserDeviceToken
from activities.store_base import TableStore, as_user_id, rows_affected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceToken:
    """An active push token of an athlete."""

    id: str
    fcm_token: str
    device_type: str | None


class DeviceTokenStore(TableStore):
    """Reads an athlete's active tokens; deactivates the ones FCM reports unregistered."""

    async def active_tokens(self, user_id: str, *, in_session: AsyncSession | None = None) -> list[DeviceToken]:
        """The athlete's active push tokens, oldest first, each FCM token only once."""
        async with self._using(in_session) as session:
            rows = await session.scalars(
                select(UserDeviceToken)
                .where(UserDeviceToken.user_id == as_user_id(user_id), UserDeviceToken.is_active.is_(True))
                .order_by(UserDeviceToken.created_at, UserDeviceToken.id)
            )
            tokens: list[DeviceToken] = []
            seen: set[str] = set()
            for row in rows:
                if row.fcm_token in seen:
                    continue
                seen.add(row.fcm_token)
                tokens.append(DeviceToken(id=row.id, fcm_token=row.fcm_token, device_type=row.device_type))
            return tokens

    async def deactivate_tokens(self, token_ids: list[str]) -> int:
        """Mark tokens inactive (FCM reported them unregistered); returns how many were active before."""
        ids = sorted({parsed for parsed in (_maybe_uuid(t) for t in token_ids) if parsed is not None})
        if not ids:
            return 0
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(UserDeviceToken)
                .where(UserDeviceToken.id.in_(ids), UserDeviceToken.is_active.is_(True))
                .values(is_active=False)
                .execution_options(synchronize_session=False)
            )
            return rows_affected(result)


def _maybe_uuid(value: str) -> str | None:
    try:
        return as_user_id(value)
    except ValueError:
        log.warning("ignoring device token id %r: not a UUID", value)
        return None
