"""What `coach run` (`make run`) keeps between runs and does around the demo: the development secrets and the demo
athlete under ``var/``, its database (a pre-release one kept aside), the demo plan's sessions and a few weeks of the
demo athlete's rucks (so a learned window shows), the search attributes of a dev server started elsewhere, and the
logs in files so the terminal shows only the run's summary. The launcher itself is :mod:`starter.cli_run`.

Development only: nothing here is used by the worker or the HTTP API in production.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from activities.store import Store
from coaching.ids import SEARCH_ATTRIBUTES
from coaching.timeutil import local_to_utc
from starter.cli_args import UsageError
from starter.settings import Settings

SECRETS_FILE = Path("var") / "dev-secrets.json"
LOG_FILE = Path("var") / "coach-run.log"
TEMPORAL_LOG_FILE = Path("var") / "temporal-dev.log"

#: The demo athlete's habit: a ruck at 05:20 local on each of the last 21 days (three weeks: enough confidence).
DEMO_RUCK_MINUTE = 5 * 60 + 20
DEMO_RUCK_DAYS = 21


@dataclass(frozen=True)
class DevSecrets:
    """The service token, the JWT secret and the demo athlete of development runs, the same on every run."""

    service_token: str
    jwt_secret: str
    demo_user_id: str


def dev_secrets(path: Path = SECRETS_FILE) -> DevSecrets:
    """The secrets kept in ``path`` (made once, readable by this user only), so tokens printed by an earlier run
    still work after a restart. A damaged file is replaced."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kept = DevSecrets(str(data["service_token"]), str(data["jwt_secret"]), str(uuid.UUID(data["demo_user_id"])))
        if len(kept.service_token) >= 16 and len(kept.jwt_secret) >= 32:
            return kept
    except (OSError, ValueError, KeyError, TypeError):
        pass
    made = DevSecrets(secrets.token_urlsafe(24), secrets.token_urlsafe(32), str(uuid.uuid4()))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(made.__dict__, out, indent=2)
    return made


async def upgrade_dev_database(settings: Settings) -> None:
    """Install or migrate the run's database. A local SQLite file of the pre-release layout cannot be upgraded in
    place: it is kept beside, renamed, and a new one is made (say so)."""
    from sqlalchemy.engine import make_url

    from activities.migrate import PreReleaseDatabaseError, upgrade_database

    try:
        await upgrade_database(settings.database_url, settings.database_mode)
        return
    except PreReleaseDatabaseError as exc:
        url = make_url(settings.database_url)
        path = Path(url.database or "") if url.get_backend_name() == "sqlite" else None
        if path is None or not path.is_file():
            raise UsageError(str(exc)) from exc
        kept = path.with_name(f"{path.name}.pre-release-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        for suffix in ("-wal", "-shm", ""):  # the write-ahead log holds committed rows too: it goes along
            if Path(f"{path}{suffix}").exists():
                Path(f"{path}{suffix}").rename(f"{kept}{suffix}")
        print(f"{path} had the pre-release layout (not upgradable); kept it as {kept} and started a new one")
    await upgrade_database(settings.database_url, settings.database_mode)


def demo_sessions(today: datetime) -> list[dict[str, Any]]:
    """Two weeks of a 'Get Faster' plan starting tomorrow: an early tempo ruck, an evening one, a weekend long one."""
    start = today.date() + timedelta(days=1)
    sessions: list[dict[str, Any]] = []
    pattern = [(0, "Tempo Ruck", "05:30", 5.0), (2, "Hill Ruck", "18:00", 6.0), (5, "Long Ruck", None, 12.0)]
    for week in range(2):
        for offset, kind, start_time, km in pattern:
            sessions.append(
                {
                    "scheduled_date": start + timedelta(days=7 * week + offset),
                    "planned_session_type": kind,
                    "planned_week": week + 1,
                    "scheduled_start_time": start_time,
                    "target_distance_km": km,
                }
            )
    return sessions


async def seed_demo_rucks(store: Store, user_id: str, timezone: str, today: date) -> int:
    """Give the demo athlete three weeks of 05:20 rucks (once: none if they have rucks already), then learn their
    window, as the nightly job would, for their plans (the new demo plan too); returns the rucks added."""
    from activities.cadence_store import CadenceStore
    from activities.db import RuckSession

    added = 0
    async with store.sessionmaker.begin() as session:
        if not await session.scalar(select(func.count()).where(RuckSession.user_id == user_id)):
            first_id = (await session.scalar(select(func.max(RuckSession.id))) or 0) + 1
            rows = []
            for back in range(1, DEMO_RUCK_DAYS + 1):
                started = local_to_utc(today - timedelta(days=back), DEMO_RUCK_MINUTE + 7 * (back % 3), timezone)
                rows.append(
                    {
                        "id": first_id + back,
                        "user_id": user_id,
                        "status": "completed",
                        "started_at": started,
                        "completed_at": started + timedelta(minutes=50),
                        "duration_seconds": 50 * 60,
                        "distance_km": 5.0,
                    }
                )
            await session.execute(insert(RuckSession), rows)
            added = len(rows)
    cadence = CadenceStore(store.sessionmaker)
    await cadence.save(await cadence.analyze_athletes([user_id], datetime.now(UTC)))
    return added


def log_to_file(path: Path = LOG_FILE) -> None:
    """Send the run's log lines to ``path``; the terminal keeps warnings and errors only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(formatter)
    root.addHandler(to_file)


@contextlib.contextmanager
def child_output_to(path: Path = TEMPORAL_LOG_FILE) -> Iterator[None]:
    """Processes started inside write their stdout and stderr to ``path`` (the dev server's banner and log lines),
    for as long as they run; this process's own output is back on the terminal afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log, 1)
        os.dup2(log, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log):
            os.close(fd)


def ui_origins(settings: Settings) -> list[str]:
    """The configured Web UI origins, and the dev server's own UI (whatever its port)."""
    ui = settings.dev_server_ui_port
    return list(dict.fromkeys([*settings.codec_cors_origins, f"http://localhost:{ui}", f"http://127.0.0.1:{ui}"]))


async def register_search_attributes(client: Any, namespace: str) -> None:
    """Add the service's search attributes to a Temporal server started elsewhere (one that has them is left as it
    is)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.service import RPCError

    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    request = AddSearchAttributesRequest(
        namespace=namespace, search_attributes={k: kinds[v] for k, v in SEARCH_ATTRIBUTES.items()}
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as err:
        if "already" not in str(err).lower():
            raise
