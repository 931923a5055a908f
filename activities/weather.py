"""Weather for the notification copy: "14°C, light rain likely" near the athlete at the session's start.

The forecast comes from OpenWeatherMap's 5-day / 3-hour API (``GET {base}/data/2.5/forecast``). The place is
the start of the athlete's latest completed ruck (the first ``location_point`` of their latest completed
``ruck_session`` that has GPS points), rounded to 2 decimals (about 1 km) before it is used for anything: the
request, the cache key and the database never see the exact point, and the logs see no coordinates at all.

Forecasts are cached in ``coach_weather_cache`` by (rounded place, slot): one fetch upserts all 40 slots of the
response in one statement, so every athlete of that ~1 km cell is served from one API call until the rows are
older than the TTL (3 hours by default). Concurrent misses for one cell in one worker wait for a single fetch.

Weather is decoration: every failure (no key, no location, HTTP error, timeout, malformed response, a time
outside the forecast) gives ``None`` and an INFO log line, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities import metrics
from activities.db import LocationPoint, RuckSession, WeatherCache
from activities.store_base import dialect_insert

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openweathermap.org"
DEFAULT_CACHE_TTL = timedelta(hours=3)
DEFAULT_TIMEOUT_SECONDS = 5.0
#: A slot further than this from the wanted time does not describe it.
MAX_SLOT_DISTANCE = timedelta(hours=3)
#: How far ahead the 5-day / 3-hour forecast reaches.
FORECAST_HORIZON = timedelta(days=5)
#: Cached slots this far in the past are deleted when their place is fetched again.
PRUNE_AFTER = timedelta(hours=6)
MAX_PHRASE_CHARS = 40
LIKELY_POP = 0.5
POSSIBLE_POP = 0.2


@dataclass(frozen=True)
class Slot:
    """One forecast slot, in metric units."""

    slot_at: datetime
    temp_c: float
    condition_id: int
    condition: str
    description: str
    pop: float


class _Condition(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    main: str
    description: str


class _Main(BaseModel):
    model_config = ConfigDict(extra="ignore")
    temp: float


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    dt: int
    main: _Main
    weather: list[_Condition] = Field(min_length=1)
    pop: float = Field(default=0.0, ge=0.0, le=1.0)


class _Forecast(BaseModel):
    model_config = ConfigDict(extra="ignore")
    entries: list[_Entry] = Field(alias="list", min_length=1)


class WeatherUnavailable(Exception):
    """Why there is no phrase; the message is logged, so it must never carry coordinates or the key."""


class WeatherService:
    """Short forecast phrases for notification copy, cached per ~1 km cell; built once per worker.

    ``api_key=None`` disables it (every call returns None without I/O). ``client`` is used as given (its
    lifetime is the caller's); ``clock`` exists for tests.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        base_url: str = DEFAULT_BASE_URL,
        cache_ttl: timedelta = DEFAULT_CACHE_TTL,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._api_key = api_key or None
        self._sessionmaker = sessionmaker
        self._base_url = base_url.rstrip("/")
        self._cache_ttl = cache_ttl
        self._timeout = timeout_seconds
        self._clock = clock
        self._locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def enabled(self) -> bool:
        return self._api_key is not None

    async def phrase_for(self, user_id: str, at: datetime, *, prefer_metric: bool) -> str | None:
        """E.g. "14°C, light rain likely" for the athlete's usual place at ``at``, or None (never raises)."""
        if self._api_key is None:
            return None
        try:
            slot = await self.slot_for(user_id, at)
        except WeatherUnavailable as why:
            log.info("no weather for user %s: %s", user_id, why)
            return None
        except Exception as err:  # weather must never break a notification
            # Only the type: messages of HTTP and database errors can hold the URL or parameters (coordinates).
            log.info("no weather for user %s: %s", user_id, type(err).__name__)
            return None
        return phrase(slot, prefer_metric=prefer_metric)

    async def slot_for(self, user_id: str, at: datetime) -> Slot:
        """The forecast slot nearest ``at`` at the athlete's rounded place; raises :class:`WeatherUnavailable`."""
        if self._api_key is None:
            raise WeatherUnavailable("disabled (no API key)")
        if at.tzinfo is None or at.utcoffset() is None:
            raise WeatherUnavailable("naive time")
        at = at.astimezone(UTC)
        now = self._clock()
        if at < now - MAX_SLOT_DISTANCE or at > now + FORECAST_HORIZON:
            raise WeatherUnavailable("time outside the forecast")
        cell = await self._cell_of(user_id)
        if cell is None:
            raise WeatherUnavailable("no ruck with GPS points")
        slots = await self._cached(cell, now, at)
        if slots is None:
            lock = self._locks.get(cell)
            if lock is None:
                lock = self._locks[cell] = asyncio.Lock()
            async with lock:
                slots = await self._cached(cell, self._clock(), at)
                if slots is None:
                    metrics.weather_cache(hit=False)
                    slots = await self._fetch(cell)
                    await self._store(cell, slots, self._clock())
                else:
                    metrics.weather_cache(hit=True)  # fetched by the look-up this one waited for
        else:
            metrics.weather_cache(hit=True)
        return _nearest(slots, at)

    # ---- location ------------------------------------------------------------------------------------------

    async def _cell_of(self, user_id: str) -> tuple[int, int] | None:
        """The start of the athlete's latest completed ruck with GPS, in hundredths of a degree (rounded)."""
        latest_ruck = (
            select(RuckSession.id)
            .where(
                RuckSession.user_id == user_id,
                RuckSession.status == "completed",
                exists().where(LocationPoint.session_id == RuckSession.id),
            )
            .order_by(RuckSession.completed_at.desc().nulls_last(), RuckSession.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        async with self._sessionmaker() as session:
            found = (
                await session.execute(
                    select(LocationPoint.latitude, LocationPoint.longitude)
                    .where(LocationPoint.session_id == latest_ruck)
                    .order_by(LocationPoint.timestamp, LocationPoint.id)
                    .limit(1)
                )
            ).first()
        if found is None:
            return None
        lat, lon = float(found[0]), float(found[1])
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return _round_e2(lat), _round_e2(lon)

    # ---- cache ---------------------------------------------------------------------------------------------

    async def _cached(self, cell: tuple[int, int], now: datetime, at: datetime) -> list[Slot] | None:
        """The fresh cached slots of ``cell``, or None for a miss: none fresh, or none reaching as far as ``at``."""
        async with self._sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(WeatherCache).where(
                        WeatherCache.lat_e2 == cell[0],
                        WeatherCache.lon_e2 == cell[1],
                        WeatherCache.fetched_at > now - self._cache_ttl,
                    )
                )
            ).all()
        if not rows or max(r.slot_at for r in rows) + MAX_SLOT_DISTANCE < at:
            return None
        return [
            Slot(r.slot_at, r.temp_c, r.condition_id, r.condition, r.description, r.pop)
            for r in sorted(rows, key=lambda r: r.slot_at)
        ]

    async def _store(self, cell: tuple[int, int], slots: list[Slot], now: datetime) -> None:
        """Upsert every slot of one response in one statement, and drop this cell's long-past slots."""
        values = [
            {
                "lat_e2": cell[0],
                "lon_e2": cell[1],
                "slot_at": s.slot_at,
                "temp_c": s.temp_c,
                "condition_id": s.condition_id,
                "condition": s.condition,
                "description": s.description,
                "pop": s.pop,
                "fetched_at": now,
            }
            for s in slots
        ]
        async with self._sessionmaker.begin() as session:
            stmt = dialect_insert(session, WeatherCache).values(values)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["lat_e2", "lon_e2", "slot_at"],
                    set_={
                        name: stmt.excluded[name]
                        for name in ("temp_c", "condition_id", "condition", "description", "pop", "fetched_at")
                    },
                )
            )
            await session.execute(
                delete(WeatherCache).where(
                    WeatherCache.lat_e2 == cell[0],
                    WeatherCache.lon_e2 == cell[1],
                    WeatherCache.slot_at < now - PRUNE_AFTER,
                )
            )

    # ---- OpenWeatherMap ------------------------------------------------------------------------------------

    async def _fetch(self, cell: tuple[int, int]) -> list[Slot]:
        assert self._api_key is not None
        params = {
            "lat": f"{cell[0] / 100:.2f}",
            "lon": f"{cell[1] / 100:.2f}",
            "appid": self._api_key,
            "units": "metric",
        }
        try:
            response = await self._client.get(
                f"{self._base_url}/data/2.5/forecast", params=params, timeout=self._timeout
            )
        except httpx.TimeoutException as err:
            raise WeatherUnavailable(f"forecast request timed out ({type(err).__name__})") from None
        except httpx.HTTPError as err:
            raise WeatherUnavailable(f"forecast request failed ({type(err).__name__})") from None
        if response.status_code != 200:
            raise WeatherUnavailable(f"forecast answered HTTP {response.status_code}")
        try:
            forecast = _Forecast.model_validate_json(response.content)
        except ValidationError as err:
            raise WeatherUnavailable(f"malformed forecast ({err.error_count()} errors)") from None
        try:
            return [
                Slot(
                    slot_at=datetime.fromtimestamp(e.dt, UTC),
                    temp_c=e.main.temp,
                    condition_id=e.weather[0].id,
                    condition=e.weather[0].main,
                    description=e.weather[0].description,
                    pop=e.pop,
                )
                for e in forecast.entries
            ]
        except (OverflowError, OSError, ValueError):
            raise WeatherUnavailable("malformed forecast (bad slot time)") from None


# ---- pure helpers --------------------------------------------------------------------------------------------


def _round_e2(degrees: float) -> int:
    """Degrees in whole hundredths, rounded half away from zero (``51.505`` → 5151, ``-0.125`` → -13)."""
    return int(math.copysign(math.floor(abs(degrees) * 100 + 0.5), degrees))


def _nearest(slots: list[Slot], at: datetime) -> Slot:
    """The slot nearest ``at`` (the earlier one on a tie); raises when even that is too far."""
    if not slots:
        raise WeatherUnavailable("empty forecast")
    best = min(slots, key=lambda s: (abs(s.slot_at - at), s.slot_at))
    if abs(best.slot_at - at) > MAX_SLOT_DISTANCE:
        raise WeatherUnavailable("no forecast slot near that time")
    return best


def _is_precipitation(condition_id: int) -> bool:
    """OpenWeatherMap groups 2xx thunderstorm, 3xx drizzle, 5xx rain and 6xx snow."""
    return 200 <= condition_id < 700


def temperature_label(temp_c: float, *, prefer_metric: bool) -> str:
    value = temp_c if prefer_metric else temp_c * 9 / 5 + 32
    return f"{math.floor(value + 0.5)}°{'C' if prefer_metric else 'F'}"


def phrase(slot: Slot, *, prefer_metric: bool) -> str:
    """E.g. "14°C, light rain likely" (pop ≥ 0.5), "… possible" (0.2 ≤ pop < 0.5), else "14°C, clear sky".

    A precipitation description takes the qualifier itself; any other gets ", rain"/", snow" + qualifier.
    At most :data:`MAX_PHRASE_CHARS`: longer variants fall back to the condition group ("Thunderstorm").
    """
    temp = temperature_label(slot.temp_c, prefer_metric=prefer_metric)
    description = " ".join(slot.description.split()) or slot.condition.lower()
    qualifier = "likely" if slot.pop >= LIKELY_POP else "possible" if slot.pop >= POSSIBLE_POP else None
    candidates: list[str] = []
    if qualifier is not None:
        if _is_precipitation(slot.condition_id):
            candidates += [f"{temp}, {description} {qualifier}", f"{temp}, {slot.condition.lower()} {qualifier}"]
        else:
            kind = "rain" if slot.temp_c > 1 else "snow"
            candidates += [f"{temp}, {description}, {kind} {qualifier}", f"{temp}, {kind} {qualifier}"]
    candidates += [f"{temp}, {description}", f"{temp}, {slot.condition.lower()}"]
    return next((c for c in candidates if len(c) <= MAX_PHRASE_CHARS and not c.endswith(", ")), temp)
