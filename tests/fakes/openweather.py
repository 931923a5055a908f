"""A local fake of OpenWeatherMap's 5-day / 3-hour forecast API (`GET /data/2.5/forecast`).

It answers with the real response shape (`cod`, `cnt`, `list` of 40 slots with `dt`, `main`, `weather`, `clouds`,
`wind`, `visibility`, `pop`, `sys`, `dt_txt`, and `city`), generated relative to a given "now": the first slot
is the next whole 3-hour UTC boundary after it, as the real API does. Slot `i` has a temperature of `10 + i` °C
unless overridden, so a test can tell which slot was chosen.

It checks `appid`, `lat`, `lon` and `units` the way the real API does (401 for a wrong key, 400 for a bad
coordinate), records every request's query, and can be switched to fail: `error` (500), `slow` (stalls
`slow_seconds`, to provoke client timeouts), `malformed` (a truncated JSON body) or `wrong_shape` (valid JSON,
not a forecast). Use it as a context manager; it serves on 127.0.0.1 with an ephemeral port from a thread.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LoopbackServer

Mode = Literal["ok", "error", "slow", "malformed", "wrong_shape"]

SLOT = timedelta(hours=3)
SLOTS = 40

#: (condition id, group, description, pop) cycled through the slots when not overridden.
CONDITIONS: list[tuple[int, str, str, float]] = [
    (800, "Clear", "clear sky", 0.0),
    (500, "Rain", "light rain", 0.8),
    (803, "Clouds", "broken clouds", 0.3),
    (501, "Rain", "moderate rain", 0.3),
    (600, "Snow", "light snow", 0.1),
]


def first_slot(now: datetime) -> datetime:
    """The first slot the forecast lists at `now`: the next whole 3-hour UTC boundary after it."""
    now = now.astimezone(UTC)
    floor = now.replace(hour=now.hour - now.hour % 3, minute=0, second=0, microsecond=0)
    return floor + SLOT


def forecast_payload(
    now: datetime, lat: float, lon: float, overrides: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A real-shaped 5-day forecast at `now`; `overrides[i]` may set `temp`, `id`, `main`, `description`, `pop`."""
    start = first_slot(now)
    entries = []
    for i in range(SLOTS):
        slot = start + i * SLOT
        cond_id, group, description, pop = CONDITIONS[i % len(CONDITIONS)]
        spec: dict[str, Any] = {"temp": 10.0 + i, "id": cond_id, "main": group, "description": description, "pop": pop}
        spec.update((overrides or {}).get(i, {}))
        temp = float(spec["temp"])
        entry: dict[str, Any] = {
            "dt": int(slot.timestamp()),
            "main": {
                "temp": temp,
                "feels_like": temp - 1.3,
                "temp_min": temp - 0.4,
                "temp_max": temp + 0.2,
                "pressure": 1012,
                "sea_level": 1012,
                "grnd_level": 1008,
                "humidity": 71,
                "temp_kf": 0.6,
            },
            "weather": [{"id": spec["id"], "main": spec["main"], "description": spec["description"], "icon": "10d"}],
            "clouds": {"all": 75},
            "wind": {"speed": 4.1, "deg": 230, "gust": 7.9},
            "visibility": 10000,
            "pop": spec["pop"],
            "sys": {"pod": "d" if 6 <= slot.hour < 18 else "n"},
            "dt_txt": slot.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if spec["id"] // 100 == 5:
            entry["rain"] = {"3h": 0.42}
        entries.append(entry)
    return {
        "cod": "200",
        "message": 0,
        "cnt": len(entries),
        "list": entries,
        "city": {
            "id": 2643743,
            "name": "Fakeville",
            "coord": {"lat": lat, "lon": lon},
            "country": "GB",
            "population": 1000000,
            "timezone": 0,
            "sunrise": int(now.timestamp()) - 3600,
            "sunset": int(now.timestamp()) + 8 * 3600,
        },
    }


@dataclass
class _State:
    api_key: str
    now: datetime
    lock: threading.Lock = field(default_factory=threading.Lock)
    mode: Mode = "ok"
    slow_seconds: float = 2.0
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)


class FakeOpenWeather(LoopbackServer):
    """The fake server. Set its clock, slot overrides and failure mode; read back the requests' queries.

    >>> with FakeOpenWeather(api_key="k", now=datetime(2026, 11, 25, 4, tzinfo=UTC)) as owm:
    ...     owm.set_mode("error")
    """

    thread_name = "fake-openweather"

    def __init__(self, api_key: str, now: datetime) -> None:
        self._state = _State(api_key=api_key, now=now)
        super().__init__(_make_handler(self._state))

    @property
    def base_url(self) -> str:
        return self.origin

    # ---- configuration -------------------------------------------------------------------------------------

    def set_now(self, now: datetime) -> None:
        """The time the forecasts are generated at (their first slot is the next 3-hour boundary)."""
        with self._state.lock:
            self._state.now = now

    def set_mode(self, mode: Mode) -> None:
        with self._state.lock:
            self._state.mode = mode

    def set_slow_seconds(self, seconds: float) -> None:
        with self._state.lock:
            self._state.slow_seconds = seconds

    def override_slot(self, index: int, **spec: Any) -> None:
        """Set `temp`, `id`, `main`, `description` or `pop` of slot `index` (0 = the first listed slot)."""
        with self._state.lock:
            self._state.overrides.setdefault(index, {}).update(spec)

    # ---- observation ---------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, str]]:
        """The query parameters of every forecast request, in arrival order (a copy)."""
        with self._state.lock:
            return [dict(r) for r in self._state.requests]

    @property
    def request_count(self) -> int:
        with self._state.lock:
            return len(self._state.requests)


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default per-request stderr logging."""

        def _reply(self, status: int, raw: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._reply(status, json.dumps(body).encode())

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/data/2.5/forecast":
                self._json(404, {"cod": "404", "message": "Internal error"})
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with state.lock:
                state.requests.append(query)
                mode, slow_seconds, now = state.mode, state.slow_seconds, state.now
                overrides = {i: dict(spec) for i, spec in state.overrides.items()}
            if query.get("appid") != state.api_key:
                self._json(
                    401,
                    {
                        "cod": 401,
                        "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
                    },
                )
                return
            try:
                lat, lon = float(query["lat"]), float(query["lon"])
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError
            except (KeyError, ValueError):
                self._json(400, {"cod": "400", "message": "wrong latitude"})
                return
            if mode == "slow":
                time.sleep(slow_seconds)
            elif mode == "error":
                self._json(500, {"cod": "500", "message": "Internal server error"})
                return
            elif mode == "malformed":
                self._reply(200, b'{"cod":"200","message":0,"cnt":40,"list":[{"dt":17')
                return
            elif mode == "wrong_shape":
                self._json(200, {"cod": "200", "cnt": 1, "list": [{"dt": "soon", "main": {}, "weather": []}]})
                return
            payload = forecast_payload(now, lat, lon, overrides)
            if query.get("units") == "imperial":
                for entry in payload["list"]:
                    entry["main"]["temp"] = entry["main"]["temp"] * 9 / 5 + 32
            elif query.get("units") != "metric":
                for entry in payload["list"]:
                    entry["main"]["temp"] = entry["main"]["temp"] + 273.15
            self._json(200, payload)

    return Handler
