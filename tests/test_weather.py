"""WeatherService against a local fake OpenWeatherMap, on SQLite and PostgreSQL.

The fake lists 40 slots from the next 3-hour boundary after its "now"; slot ``i`` is ``10 + i`` °C and cycles
clear sky (pop 0) / light rain (0.8) / broken clouds (0.3) / moderate rain (0.3) / light snow (0.1).
With NOW = 04:10 UTC the slots are 06:00 (slot 0), 09:00 (slot 1), 12:00 (slot 2), …
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import LocationPoint, RuckSession, WeatherCache
from activities.demo import ensure_athlete
from activities.weather import Slot, WeatherService, phrase
from tests.fakes.openweather import FakeOpenWeather

Sessions = async_sessionmaker[AsyncSession]

NOW = datetime(2026, 11, 25, 4, 10, tzinfo=UTC)
KEY = "test-owm-key"
# Exact points in one ~1 km cell (51.51, -0.13) and one elsewhere.
LONDON = (51.507351, -0.127758)
LONDON_NEIGHBOUR = (51.5061, -0.1322)
LEEDS = (53.800755, -1.549077)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def owm() -> Iterator[FakeOpenWeather]:
    with FakeOpenWeather(api_key=KEY, now=NOW) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


MakeService = Callable[..., WeatherService]


@pytest.fixture
def make_service(http: httpx.AsyncClient, db_sessionmaker: Sessions, owm: FakeOpenWeather, clock: Clock) -> MakeService:
    def make(**kwargs: object) -> WeatherService:
        options: dict[str, object] = {"base_url": owm.base_url, "clock": clock, "timeout_seconds": 2.0}
        options.update(kwargs)
        api_key = options.pop("api_key", KEY)
        return WeatherService(http, api_key, db_sessionmaker, **options)  # type: ignore[arg-type]

    return make


async def add_ruck(
    sessions: Sessions,
    user_id: str,
    points: list[tuple[float, float]],
    *,
    completed_at: datetime | None = NOW - timedelta(days=1),
    status: str = "completed",
) -> int:
    """A ruck of ``user_id`` whose GPS points are ``points``, one minute apart, in order."""
    async with sessions.begin() as session:
        await ensure_athlete(session, user_id, {})
        ruck = RuckSession(
            user_id=user_id,
            status=status,
            started_at=(completed_at or NOW) - timedelta(hours=1),
            completed_at=completed_at,
            ruck_weight_kg=12.0,
        )
        session.add(ruck)
        await session.flush()
        start = ((completed_at or NOW) - timedelta(hours=1)).replace(tzinfo=None)
        # Inserted last-first, so "first point" must come from the timestamp, not from insertion order.
        for i, (lat, lon) in reversed(list(enumerate(points))):
            session.add(
                LocationPoint(
                    session_id=ruck.id,
                    latitude=lat,
                    longitude=lon,
                    altitude=35.0,
                    timestamp=start + timedelta(minutes=i),
                )
            )
        return ruck.id


async def athlete(sessions: Sessions, where: tuple[float, float] = LONDON) -> str:
    user_id = str(uuid.uuid4())
    await add_ruck(sessions, user_id, [where, (where[0] + 0.05, where[1] + 0.05)])
    return user_id


async def cache_rows(sessions: Sessions) -> list[WeatherCache]:
    async with sessions() as session:
        return list((await session.scalars(select(WeatherCache).order_by(WeatherCache.slot_at))).all())


# ---- slot choice and units ----------------------------------------------------------------------------------


async def test_nearest_slot_in_celsius(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    service = make_service()
    user = await athlete(db_sessionmaker)
    at = NOW.replace(hour=10, minute=20)  # 09:00 is 80 min away, 12:00 is 100 min away
    assert await service.phrase_for(user, at, prefer_metric=True) == "11°C, light rain likely"
    assert await service.phrase_for(user, at.replace(minute=31), prefer_metric=True) == (
        "12°C, broken clouds, rain possible"
    )
    # Exactly between 09:00 and 12:00: the earlier slot.
    assert await service.phrase_for(user, at.replace(minute=30), prefer_metric=True) == "11°C, light rain likely"
    # A slot time itself, given in another zone (16:00+02:00 is 14:00 UTC, nearest 15:00 = slot 3).
    local = datetime(2026, 11, 25, 16, 0, tzinfo=ZoneInfo("Africa/Cairo"))
    assert await service.phrase_for(user, local, prefer_metric=True) == "13°C, moderate rain possible"
    assert owm.request_count == 1


async def test_fahrenheit(make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather) -> None:
    owm.override_slot(0, temp=-3.4, id=800, main="Clear", description="clear sky", pop=0.0)
    service = make_service()
    user = await athlete(db_sessionmaker)
    at = NOW.replace(hour=9)  # slot 1: 11 °C = 51.8 °F
    assert await service.phrase_for(user, at, prefer_metric=False) == "52°F, light rain likely"
    assert await service.phrase_for(user, NOW.replace(hour=6), prefer_metric=False) == "26°F, clear sky"
    assert await service.phrase_for(user, NOW.replace(hour=6), prefer_metric=True) == "-3°C, clear sky"
    # The API is always asked in metric; the conversion is ours.
    assert [r["units"] for r in owm.requests] == ["metric"]


# ---- location and rounding ----------------------------------------------------------------------------------


async def test_request_uses_rounded_start_of_latest_completed_ruck(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activities.weather")
    user = str(uuid.uuid4())
    await add_ruck(db_sessionmaker, user, [LEEDS], completed_at=NOW - timedelta(days=9))  # older
    await add_ruck(db_sessionmaker, user, [LONDON, LEEDS], completed_at=NOW - timedelta(days=2))  # latest with GPS
    await add_ruck(db_sessionmaker, user, [], completed_at=NOW - timedelta(days=1))  # manual: no GPS
    await add_ruck(db_sessionmaker, user, [(48.8566, 2.3522)], completed_at=None, status="in_progress")

    assert await make_service().phrase_for(user, NOW.replace(hour=6), prefer_metric=True) == "10°C, clear sky"

    (request,) = owm.requests
    assert (request["lat"], request["lon"], request["appid"], request["units"]) == ("51.51", "-0.13", KEY, "metric")
    rows = await cache_rows(db_sessionmaker)
    assert len(rows) == 40
    assert {(r.lat_e2, r.lon_e2) for r in rows} == {(5151, -13)}
    assert {r.fetched_at for r in rows} == {NOW}
    # Neither the exact point nor the rounded one is logged.
    assert "51.5" not in caplog.text and "0.12" not in caplog.text and "0.13" not in caplog.text


async def test_rounding_is_half_away_from_zero(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    user = await athlete(db_sessionmaker, (-33.86785, 151.20732))
    assert await make_service().phrase_for(user, NOW.replace(hour=6), prefer_metric=True) is not None
    assert (owm.requests[0]["lat"], owm.requests[0]["lon"]) == ("-33.87", "151.21")


async def test_no_location_is_none_without_a_request(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activities.weather")
    service = make_service()
    nobody = str(uuid.uuid4())
    manual_only = str(uuid.uuid4())
    await add_ruck(db_sessionmaker, manual_only, [])
    unfinished = str(uuid.uuid4())
    await add_ruck(db_sessionmaker, unfinished, [LONDON], status="in_progress")
    for user in (nobody, manual_only, unfinished):
        assert await service.phrase_for(user, NOW.replace(hour=6), prefer_metric=True) is None
    assert owm.request_count == 0
    assert caplog.text.count("no ruck with GPS points") == 3


# ---- the cache ----------------------------------------------------------------------------------------------


async def test_second_athlete_in_the_same_cell_is_served_from_the_cache(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    first = await athlete(db_sessionmaker, LONDON)
    second = await athlete(db_sessionmaker, LONDON_NEIGHBOUR)
    at = NOW.replace(hour=9)
    assert await make_service().phrase_for(first, at, prefer_metric=True) == "11°C, light rain likely"
    # Another worker (a new service, same database) and another exact point in the same rounded cell.
    assert await make_service().phrase_for(second, at, prefer_metric=False) == "52°F, light rain likely"
    assert owm.request_count == 1


async def test_another_cell_is_a_cache_miss(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    service = make_service()
    london = await athlete(db_sessionmaker, LONDON)
    leeds = await athlete(db_sessionmaker, LEEDS)
    assert await service.phrase_for(london, NOW.replace(hour=9), prefer_metric=True) is not None
    owm.override_slot(1, temp=2.0)
    assert await service.phrase_for(leeds, NOW.replace(hour=9), prefer_metric=True) == "2°C, light rain likely"
    assert [(r["lat"], r["lon"]) for r in owm.requests] == [("51.51", "-0.13"), ("53.80", "-1.55")]
    assert len(await cache_rows(db_sessionmaker)) == 80


async def test_concurrent_misses_for_one_cell_make_one_request(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    service = make_service()
    users = [await athlete(db_sessionmaker, LONDON) for _ in range(12)]
    phrases = await asyncio.gather(*(service.phrase_for(u, NOW.replace(hour=9), prefer_metric=True) for u in users))
    assert set(phrases) == {"11°C, light rain likely"}
    assert owm.request_count == 1


async def test_expired_cache_is_refetched_and_old_slots_pruned(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather, clock: Clock
) -> None:
    service = make_service()
    user = await athlete(db_sessionmaker)
    at = NOW.replace(hour=21)  # slot 5 at first
    assert await service.phrase_for(user, at, prefer_metric=True) == "15°C, clear sky"

    clock.now = NOW + timedelta(hours=2, minutes=59)  # within the 3 h TTL
    owm.set_now(clock.now)
    owm.override_slot(4, temp=-1.0, id=600, main="Snow", description="light snow", pop=0.9)
    assert await service.phrase_for(user, at, prefer_metric=True) == "15°C, clear sky"
    assert owm.request_count == 1

    clock.now = NOW + timedelta(hours=3, minutes=1)  # expired; the fake's first slot is now 09:00, 21:00 is slot 4
    owm.set_now(clock.now)
    assert await service.phrase_for(user, at, prefer_metric=True) == "-1°C, light snow likely"
    assert owm.request_count == 2
    rows = await cache_rows(db_sessionmaker)
    assert len(rows) == 41  # 06:00 of the first fetch stays until it is 6 h old
    assert {r.fetched_at for r in rows if r.slot_at >= NOW.replace(hour=9)} == {clock.now}

    clock.now = NOW + timedelta(days=1)
    owm.set_now(clock.now)
    assert await service.phrase_for(user, clock.now + timedelta(hours=2), prefer_metric=True) is not None
    assert owm.request_count == 3
    assert min(r.slot_at for r in await cache_rows(db_sessionmaker)) >= clock.now - timedelta(hours=6)


async def test_cache_ttl_is_configurable(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather, clock: Clock
) -> None:
    service = make_service(cache_ttl=timedelta(minutes=30))
    user = await athlete(db_sessionmaker)
    assert await service.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is not None
    clock.now = NOW + timedelta(minutes=31)
    assert await service.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is not None
    assert owm.request_count == 2


# ---- failures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["error", "slow", "malformed", "wrong_shape"])
async def test_failures_give_none_and_cache_nothing(
    mode: str,
    make_service: MakeService,
    db_sessionmaker: Sessions,
    owm: FakeOpenWeather,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="activities.weather")
    owm.set_mode(mode)  # type: ignore[arg-type]
    owm.set_slow_seconds(1.0)
    service = make_service(timeout_seconds=0.2)
    user = await athlete(db_sessionmaker)

    assert await service.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is None
    assert owm.request_count == 1
    assert await cache_rows(db_sessionmaker) == []
    (record,) = [r for r in caplog.records if r.name == "activities.weather"]
    assert record.levelno == logging.INFO
    expected = {"error": "HTTP 500", "slow": "timed out", "malformed": "malformed", "wrong_shape": "malformed"}[mode]
    assert expected in record.getMessage()
    assert "51.5" not in caplog.text and "0.13" not in caplog.text and KEY not in caplog.text

    # The next call tries again (a failure is not cached) and succeeds once the API is back.
    owm.set_mode("ok")
    assert await service.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) == "11°C, light rain likely"
    assert owm.request_count == 2


async def test_wrong_key_and_unreachable_api_give_none(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activities.weather")
    user = await athlete(db_sessionmaker)
    assert await make_service(api_key="wrong").phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is None
    assert "HTTP 401" in caplog.text
    closed = make_service(base_url="http://127.0.0.1:9")  # discard port: connection refused
    assert await closed.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is None
    assert "ConnectError" in caplog.text


async def test_times_outside_the_forecast_give_none(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    service = make_service()
    user = await athlete(db_sessionmaker)
    assert await service.phrase_for(user, NOW + timedelta(days=5, minutes=1), prefer_metric=True) is None
    assert await service.phrase_for(user, NOW - timedelta(hours=3, minutes=1), prefer_metric=True) is None
    assert await service.phrase_for(user, NOW.replace(tzinfo=None), prefer_metric=True) is None  # naive
    assert owm.request_count == 0
    # In range but before the first slot (06:00) by more than 3 h: fetched, then too far from any slot.
    assert await service.phrase_for(user, NOW - timedelta(hours=2, minutes=59), prefer_metric=True) is None
    assert await service.phrase_for(user, NOW.replace(hour=3, minute=0), prefer_metric=True) == "10°C, clear sky"
    assert owm.request_count == 1


async def test_disabled_without_a_key(
    make_service: MakeService, db_sessionmaker: Sessions, owm: FakeOpenWeather
) -> None:
    user = await athlete(db_sessionmaker)
    for key in (None, ""):
        service = make_service(api_key=key)
        assert not service.enabled
        assert await service.phrase_for(user, NOW.replace(hour=9), prefer_metric=True) is None
    assert owm.request_count == 0
    async with db_sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WeatherCache)) == 0


# ---- the phrase ---------------------------------------------------------------------------------------------


def _slot(temp_c: float, condition_id: int, condition: str, description: str, pop: float) -> Slot:
    return Slot(NOW, temp_c, condition_id, condition, description, pop)


@pytest.mark.parametrize(
    ("slot", "metric", "expected"),
    [
        (_slot(14.2, 500, "Rain", "light rain", 0.5), True, "14°C, light rain likely"),
        (_slot(14.5, 500, "Rain", "light rain", 0.49), True, "15°C, light rain possible"),
        (_slot(14.0, 500, "Rain", "light rain", 0.2), True, "14°C, light rain possible"),
        (_slot(14.0, 500, "Rain", "light rain", 0.19), True, "14°C, light rain"),
        (_slot(14.0, 800, "Clear", "clear sky", 0.0), False, "57°F, clear sky"),
        (_slot(-0.5, 804, "Clouds", "overcast clouds", 0.6), True, "0°C, overcast clouds, snow likely"),
        (_slot(-12.0, 601, "Snow", "snow", 0.9), False, "10°F, snow likely"),
        # Too long with the description: the group instead.
        (_slot(-10.0, 231, "Thunderstorm", "thunderstorm with heavy drizzle", 0.9), True, "-10°C, thunderstorm likely"),
        (_slot(25.0, 800, "Clear", "", 0.0), True, "25°C, clear"),
        (_slot(25.0, 800, "", "", 0.0), True, "25°C"),
    ],
)
def test_phrase(slot: Slot, metric: bool, expected: str) -> None:
    assert phrase(slot, prefer_metric=metric) == expected
    assert len(expected) <= 40
